//! Rules across assets: a `score` expression ranks the assets on each rebalance bar, the
//! `top` (or `bottom`) ones are held, at equal weight or at their `weight` expression's
//! value normalised over the chosen assets. `score=ret(close, 126)`, `top=2` is
//! `momentum_rotation`'s decision written as a rule.

use super::plan::{self, CrossRule, Plan, Val};
use super::strategy::{Program, RulesStrategy, expression_texts};
use crate::error::Error;
use crate::portfolio::builtin::{PerAssetSignals, REBALANCE, Rebalance, SIZE_TYPE};
use crate::portfolio::{
    EntrySize, Intent, OrderPlan, PlanDriven, PlannedOrder, PortfolioPlan, PortfolioStrategy,
};
use crate::strategy::{DefaultValue, Init, ParamKind, ParamSpec, ParamValue, Params};
use crate::universe::Universe;

/// Which end of the ranking is held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    /// The `n` highest scores.
    Top(usize),
    /// The `n` lowest scores.
    Bottom(usize),
}

/// The cross-sectional rule plan (see the module docs).
pub(crate) struct RulesSelection {
    pub(crate) program: Program,
    pub(crate) params: Params,
    pub(crate) pick: Pick,
    pub(crate) rebalance: Rebalance,
    pub(crate) cross: CrossRule,
}

/// An expression's numbers on `n` rows.
fn numbers(v: &Val<'_>, n: usize) -> Vec<f64> {
    match v {
        Val::Num(x) => vec![*x; n],
        Val::Series(c) => c.values().to_vec(),
        _ => unreachable!("checked: numbers"),
    }
}

impl PortfolioPlan for RulesSelection {
    fn plan(&mut self, u: &Universe) -> Result<OrderPlan, Error> {
        let value = self.program.values(&self.params)?;
        // Per asset, on its own bars: the score, the weight (if any), and the first row
        // at which every registered indicator has a value (decisions wait for it, as for
        // one asset).
        let mut per_asset: Vec<(Vec<f64>, Option<Vec<f64>>, usize)> = Vec::new();
        for asset in u.assets() {
            let mut plan = Plan::default();
            let score = self
                .program
                .lower("score", &mut plan, &value)?
                .expect("checked: score is given");
            let weight = self.program.lower("weight", &mut plan, &value)?;
            let mut init = Init::new(asset.bars(), None);
            let vals = plan::evaluate(&plan, &mut init, self.cross);
            let n = asset.bars().len();
            let warm = init
                .indicators
                .iter()
                .map(|r| r.first_valid)
                .max()
                .unwrap_or(0);
            per_asset.push((
                numbers(&vals[score], n),
                weight.map(|w| numbers(&vals[w], n)),
                warm,
            ));
        }
        let (count, best_first) = match self.pick {
            Pick::Top(n) => (n, true),
            Pick::Bottom(n) => (n, false),
        };
        let mut orders = Vec::new();
        let mut scored: Vec<(f64, usize, f64)> = Vec::new();
        for i in self.rebalance.bars(u.time()) {
            scored.clear();
            for (a, asset) in u.assets().iter().enumerate() {
                let Some(k) = asset.row_at(i) else { continue };
                let (score, weight, warm) = &per_asset[a];
                let w = weight.as_ref().map_or(1.0, |w| w[k]);
                if k >= *warm && !score[k].is_nan() && w > 0.0 && w.is_finite() {
                    scored.push((score[k], a, w));
                }
            }
            if scored.is_empty() {
                continue;
            }
            // A stable sort keeps ties in column order.
            if best_first {
                scored.sort_by(|x, y| y.0.total_cmp(&x.0));
            } else {
                scored.sort_by(|x, y| x.0.total_cmp(&y.0));
            }
            scored.truncate(count);
            let total: f64 = scored.iter().map(|s| s.2).sum();
            let equal = 1.0 / count as f64;
            for (a, asset) in u.assets().iter().enumerate() {
                if asset.row_at(i).is_none() {
                    continue;
                }
                let weight = match scored.iter().find(|s| s.1 == a) {
                    None => 0.0,
                    Some(s) if per_asset[a].1.is_some() => s.2 / total,
                    Some(_) => equal,
                };
                orders.push(PlannedOrder {
                    bar: i,
                    asset: a,
                    intent: Intent::TargetPercent(weight),
                });
            }
        }
        Ok(OrderPlan { orders })
    }
}

/// The portfolio expression parameters and whether each is a condition.
pub(crate) const PORTFOLIO_ROLES: &[(&str, bool)] = &[
    ("entry", true),
    ("exit", true),
    ("score", false),
    ("weight", false),
];

fn expr(name: &'static str, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Expr,
        default: None,
        doc,
    }
}

fn count(name: &'static str, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Int {
            min: 1,
            max: 10_000,
        },
        default: None,
        doc,
    }
}

/// The portfolio `rules` strategy's own parameters.
pub(crate) fn portfolio_params() -> Vec<ParamSpec> {
    vec![
        expr(
            "entry",
            "per asset: condition to buy when flat (shared cash)",
        ),
        expr("exit", "per asset: condition to sell the whole position"),
        expr(
            "score",
            "across assets: the number that ranks them on each rebalance bar, e.g. `ret(close, 126)`",
        ),
        expr(
            "weight",
            "across assets: each chosen asset's weight before normalising to 1 (default: 1/top each)",
        ),
        count("top", "with score: hold the assets with the highest scores"),
        count(
            "bottom",
            "with score: hold the assets with the lowest scores",
        ),
        REBALANCE,
        ParamSpec {
            name: "size",
            kind: ParamKind::Float {
                min: 1e-9,
                max: 1e12,
            },
            default: None,
            doc: "per asset: entry size, read as `size_type` says (default: all the cash left)",
        },
        SIZE_TYPE,
        ParamSpec {
            name: "direction",
            kind: ParamKind::Choice(&["long_only"]),
            default: Some(DefaultValue::Str("long_only")),
            doc: "portfolios are long-only: enter when flat, sell out on the exit signal",
        },
        ParamSpec {
            name: "cross",
            kind: ParamKind::Choice(&["strict", "stateful"]),
            default: Some(DefaultValue::Str("strict")),
            doc: "crossover/crossunder rule: strict (backtesting.py) or stateful (vectorbt); --profile vectorbt defaults to stateful",
        },
    ]
}

/// The `$parameters` of the portfolio expressions among `given`, as parameter specs.
pub(crate) fn portfolio_dollar_params(
    given: &[(&str, &str)],
    fixed: &[ParamSpec],
) -> Result<Vec<ParamSpec>, Error> {
    Ok(Program::parse_roles(given.iter().copied(), PORTFOLIO_ROLES, fixed)?.specs())
}

/// Builds the portfolio `rules` strategy from validated parameters.
pub(crate) fn portfolio_strategy(
    p: &Params,
    rebalance: Rebalance,
    size: EntrySize,
) -> Result<Box<dyn PortfolioStrategy>, Error> {
    let fixed = portfolio_params();
    let program = Program::parse_roles(
        expression_texts(p, PORTFOLIO_ROLES),
        PORTFOLIO_ROLES,
        &fixed,
    )?;
    // Every `$parameter` has a value.
    program.values(p).map(drop)?;
    let refuse = |param: &str, message: &str| {
        Err(Error::Param {
            param: param.into(),
            message: message.into(),
        })
    };
    let int = |name: &str| match p.values().get(name) {
        Some(ParamValue::Int(v)) => Some(*v as usize),
        _ => None,
    };
    if program.has("score") {
        for r in ["entry", "exit"] {
            if program.has(r) {
                return refuse(
                    r,
                    "is per asset; with score the assets are chosen by rank (give one or the other)",
                );
            }
        }
        let pick = match (int("top"), int("bottom")) {
            (Some(n), None) => Pick::Top(n),
            (None, Some(n)) => Pick::Bottom(n),
            (Some(_), Some(_)) => return refuse("bottom", "give top or bottom, not both"),
            (None, None) => return refuse("top", "is required with score (or give bottom)"),
        };
        let cross = if p.str("cross")? == "stateful" {
            CrossRule::Stateful
        } else {
            CrossRule::Strict
        };
        return Ok(Box::new(PlanDriven::new(RulesSelection {
            program,
            params: p.clone(),
            pick,
            rebalance,
            cross,
        })));
    }
    if !program.has("entry") {
        return refuse(
            "entry",
            "is required (per asset), or give score to rank the assets",
        );
    }
    for r in ["weight", "top", "bottom"] {
        if program.has(r) || int(r).is_some() {
            return refuse(r, "goes with score (the cross-sectional form)");
        }
    }
    // The per-asset form is the single-asset `rules` on each asset's bars: checked once
    // here, not on the first asset.
    RulesStrategy::from_params(p)?;
    let info = crate::strategy::builtin::find("rules")?;
    Ok(Box::new(PlanDriven::new(PerAssetSignals::new(
        info,
        p.clone(),
        size,
    ))))
}
