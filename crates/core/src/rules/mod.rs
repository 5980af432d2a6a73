//! The rule language: strategies written as expressions instead of Rust.
//!
//! ```text
//! backtide run --data sample:GOOG --strategy rules \
//!   --param 'entry=rsi(close, 14) < 30 and close > sma(close, 200)' \
//!   --param 'exit=rsi(close, 14) > 70'
//! ```
//!
//! An expression is parsed once ([`syntax`]), type-checked with its `$parameters` typed by
//! their first use, bound to the parameters' values and lowered into a plan in which
//! each distinct subexpression is one node, then evaluated a whole column at a time.
//! The resulting condition vectors go through the signal front end
//! ([`crate::strategy::SignalDriven`]) like any built-in's, so orders, fills and
//! statistics are the broker's. Every function reads only the current and earlier bars,
//! `tf(timeframe, x)` (x on coarser bars) only buckets that closed before the bar opened,
//! and `shift` refuses a negative lag, so a rule cannot look ahead. The grammar and the
//! function list are in `docs/rules.md`.

pub mod functions;
mod plan;
mod select;
mod strategy;
pub mod syntax;

pub use functions::{FUNCTIONS, Function};
pub use plan::{ParamUse, SERIES};
pub(crate) use select::{portfolio_dollar_params, portfolio_params, portfolio_strategy};
pub(crate) use strategy::RULES;
pub use strategy::{Program, RulesStrategy};

use crate::bars::Bars;
use crate::error::Error;
use crate::timeframe::Session;

/// One expression's values on every bar.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// A condition.
    Flags(Vec<bool>),
    /// A number series.
    Numbers(Vec<f64>),
}

/// Evaluates one expression over `bars`, with `$parameters` from `params` and crossings
/// by vectorbt's stateful rule when `stateful_cross` (else backtesting.py's strict one):
/// what a `rules` strategy computes for it, for inspection and tests.
pub fn evaluate(
    bars: &Bars,
    source: &str,
    params: &[(&str, f64)],
    stateful_cross: bool,
) -> Result<Values, Error> {
    evaluate_in(Session::default(), bars, source, params, stateful_cross)
}

/// [`evaluate`] with trading days starting at `session`'s start: `tf(timeframe, x)`
/// resamples to that session's buckets ([`crate::timeframe::Timeframe::resample_in`]).
pub fn evaluate_in(
    session: Session,
    bars: &Bars,
    source: &str,
    params: &[(&str, f64)],
    stateful_cross: bool,
) -> Result<Values, Error> {
    let at = |e: syntax::SyntaxError| Error::Param {
        param: "expression".into(),
        message: e.render(source),
    };
    let e = syntax::parse(source).map_err(at)?;
    let mut uses = Vec::new();
    plan::check(&e, &mut uses).map_err(at)?;
    let mut p = plan::Plan::default();
    let value = |name: &str| params.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let root = p.lower(&e, &value).map_err(at)?;
    let mut ctx = crate::strategy::Init::new(bars, None);
    let cross = if stateful_cross {
        plan::CrossRule::Stateful
    } else {
        plan::CrossRule::Strict
    };
    let n = bars.len();
    let vals = plan::evaluate_in(&p, &mut ctx, cross, session);
    Ok(match &vals[root] {
        plan::Val::Num(v) => Values::Numbers(vec![*v; n]),
        plan::Val::Series(c) => Values::Numbers(c.values().to_vec()),
        v @ (plan::Val::Bool(_) | plan::Val::Flags(_)) => Values::Flags(v.flags(n).into_owned()),
    })
}

/// Calls the indicator function `name` (see [`FUNCTIONS`]; `registered` ones) on whole
/// series: its series arguments in `series`, then its windows, shifts and numbers in
/// `numbers`, checked as in a rule. What `backtide.ta` calls from Python.
pub fn call_indicator(name: &str, series: &[&[f64]], numbers: &[f64]) -> Result<Vec<f64>, Error> {
    let bad = |message: String| Error::Param {
        param: name.to_string(),
        message,
    };
    let f = functions::FUNCTIONS
        .iter()
        .find(|f| f.name == name && f.registered)
        .ok_or_else(|| bad("not an indicator function".into()))?;
    let n_series = f
        .args
        .iter()
        .filter(|(_, a)| *a == functions::Arg::Series)
        .count();
    if series.len() != n_series || series.len() + numbers.len() != f.args.len() {
        return Err(bad(format!(
            "{} takes {} series and {} numbers",
            f.signature(),
            n_series,
            f.args.len() - n_series
        )));
    }
    let n = series.first().map_or(0, |s| s.len());
    let (mut ints, mut nums) = (Vec::new(), Vec::new());
    for ((arg, kind), v) in f.args[n_series..].iter().zip(numbers) {
        match kind {
            functions::Arg::Window | functions::Arg::Lag => {
                ints.push(kind.whole(f, *v).map_err(|m| bad(format!("{arg}: {m}")))?);
            }
            _ if !v.is_finite() => {
                return Err(bad(format!("{arg}: expected a finite number, got {v}")));
            }
            _ => nums.push(*v),
        }
    }
    Ok(functions::compute_from_first_valid(
        f.op, series, &ints, &nums, n,
    ))
}
