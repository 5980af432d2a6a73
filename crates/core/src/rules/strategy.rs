//! The `rules` strategy: entry/exit conditions, size and stops written as expressions,
//! run through the signal front end like every built-in.

use std::sync::Mutex;

use super::plan::{self, CrossRule, NodeId, ParamUse, Plan};
use super::syntax::{self, Expr};
use crate::broker::Expiry;
use crate::error::Error;
use crate::strategy::builtin::StrategyInfo;
use crate::strategy::{
    Decision, DefaultValue, EntryOrders, EntryRule, Init, ParamKind, ParamSpec, ParamValue, Params,
    PerBar, SignalDriven, SignalStrategy, Signals, SparseSignals,
};

/// The expression texts among `p`'s values, for the roles in `roles`.
pub(crate) fn expression_texts<'p>(
    p: &'p Params,
    roles: &[(&'static str, bool)],
) -> Vec<(&'static str, &'p str)> {
    roles
        .iter()
        .filter_map(|(r, _)| match p.values().get(*r) {
            Some(ParamValue::Str(s)) => Some((*r, s.as_str())),
            _ => None,
        })
        .collect()
}

const fn expr(name: &'static str, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Expr,
        default: None,
        doc,
    }
}

/// The `rules` strategy's own parameters (a specialised one adds its `$parameters`).
pub(crate) static PARAMS: &[ParamSpec] = &[
    expr(
        "entry",
        "condition to go long, e.g. `rsi(close, 14) < 30 and close > sma(close, 200)`",
    ),
    expr(
        "exit",
        "condition to close a long (with long_short and no short_entry: to reverse to short)",
    ),
    expr(
        "short_entry",
        "condition to go short (long_short or short_only)",
    ),
    expr("short_exit", "condition to cover a short"),
    expr(
        "size",
        "order size, a number or a series: fraction of available margin if < 1, whole units if >= 1 (default: all margin)",
    ),
    expr(
        "sl",
        "stop-loss price at entry, e.g. `close - 2 * atr(high, low, close, 14)`",
    ),
    expr("tp", "take-profit price at entry"),
    expr(
        "entry_stop",
        "enter long with a buy-stop at this price, read on the signal bar (e.g. `highest(high, 20)`), instead of at the market",
    ),
    expr(
        "entry_limit",
        "enter long with a buy-limit at this price (e.g. `close * 0.98`); with entry_stop, a stop-limit",
    ),
    expr(
        "short_entry_stop",
        "enter short with a sell-stop at this price",
    ),
    expr(
        "short_entry_limit",
        "enter short with a sell-limit at this price",
    ),
    expr("short_sl", "stop-loss price of short entries (default: sl)"),
    expr(
        "short_tp",
        "take-profit price of short entries (default: tp)",
    ),
    ParamSpec {
        name: "sl_pct",
        kind: ParamKind::Float {
            min: 1e-6,
            max: 0.99,
        },
        default: None,
        doc: "stop-loss distance from the signal close, as a fraction",
    },
    ParamSpec {
        name: "tp_pct",
        kind: ParamKind::Float {
            min: 1e-6,
            max: 100.0,
        },
        default: None,
        doc: "take-profit distance from the signal close, as a fraction",
    },
    ParamSpec {
        name: "direction",
        kind: ParamKind::Choice(&["long_only", "long_short", "short_only"]),
        default: Some(DefaultValue::Str("long_only")),
        doc: "long_only: enter on entry when flat, close on exit; long_short: also short (on short_entry, or on exit when short_entry is not given), reversing; short_only: short_entry / short_exit only",
    },
    ParamSpec {
        name: "cross",
        kind: ParamKind::Choice(&["strict", "stateful"]),
        default: Some(DefaultValue::Str("strict")),
        doc: "crossover/crossunder rule: strict (backtesting.py) or stateful (vectorbt); --profile vectorbt defaults to stateful",
    },
    ParamSpec {
        name: "valid_for",
        kind: ParamKind::Int {
            min: 1,
            max: 100_000,
        },
        default: None,
        doc: "a stop or limit entry not filled on the next N bars is cancelled (default: good till cancelled)",
    },
    ParamSpec {
        name: "tif",
        kind: ParamKind::Choice(&["gtc", "session"]),
        default: Some(DefaultValue::Str("gtc")),
        doc: "time in force of stop and limit entries: gtc (good till cancelled) or session (lapses at the end of the session it can first fill in; sessions start at --session-start)",
    },
    ParamSpec {
        name: "oco",
        kind: ParamKind::Choice(&["false", "true"]),
        default: Some(DefaultValue::Str("false")),
        doc: "true: a bar with both entry and short_entry places both orders as a one-cancels-other pair (a breakout either way); false: the long alone",
    },
    ParamSpec {
        name: "exit_portion",
        kind: ParamKind::Float {
            min: 1e-6,
            max: 1.0,
        },
        default: None,
        doc: "fraction of the position an exit closes (backtesting.py's position.close(portion): whole units, half to even, at least one); default 1",
    },
    ParamSpec {
        name: "entries",
        kind: ParamKind::Choice(&["reverse", "reenter", "when_flat"]),
        default: Some(DefaultValue::Str("reverse")),
        doc: "an entry while in a position: reverse closes an opposite one and is ignored on the same side; reenter closes and enters again (backtesting.py's `position.close(); buy()`); when_flat only enters when flat",
    },
];

/// The strategy as the registry lists it (no `$parameters`).
pub(crate) const RULES: StrategyInfo = StrategyInfo::with_specialize(
    "rules",
    "your own strategy: entry/exit conditions, size and stops as expressions over price \
     series and indicators (docs/rules.md)",
    PARAMS,
    |p| Ok(Box::new(SignalDriven::new(RulesStrategy::from_params(p)?))),
    |p| Ok(Box::new(SignalDriven::new(RulesStrategy::from_params(p)?))),
    |p| Ok(Box::new(RulesStrategy::from_params(p)?)),
    specialize,
);

/// The expressions of one strategy, parsed and checked, with their `$parameters`.
#[derive(Debug, Clone)]
pub struct Program {
    /// (role, source text, tree), in [`ROLES`] order.
    exprs: Vec<(&'static str, String, Expr)>,
    /// `$parameters` in order of first use, with how each is used.
    pub params: Vec<(String, ParamUse)>,
}

fn located(role: &str, source: &str, e: syntax::SyntaxError) -> Error {
    Error::Param {
        param: role.to_string(),
        message: e.render(source),
    }
}

/// The single-asset expression parameters and whether each is a condition.
pub(crate) const ASSET_ROLES: &[(&str, bool)] = &[
    ("entry", true),
    ("exit", true),
    ("short_entry", true),
    ("short_exit", true),
    ("size", false),
    ("sl", false),
    ("tp", false),
    ("entry_stop", false),
    ("entry_limit", false),
    ("short_entry_stop", false),
    ("short_entry_limit", false),
    ("short_sl", false),
    ("short_tp", false),
];

impl Program {
    /// Parses and type-checks the single-asset expression parameters among `given`
    /// (`name=text`).
    pub fn parse<'a>(
        given: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Program, Error> {
        Self::parse_roles(given, ASSET_ROLES, PARAMS)
    }

    /// Parses and type-checks the expressions among `given` named in `roles` (name, and
    /// whether it is a condition rather than a number); `$parameters` must not reuse the
    /// names of `fixed`.
    pub(crate) fn parse_roles<'a>(
        given: impl IntoIterator<Item = (&'a str, &'a str)>,
        roles: &[(&'static str, bool)],
        fixed: &[ParamSpec],
    ) -> Result<Program, Error> {
        let given: Vec<(&str, &str)> = given.into_iter().collect();
        let mut exprs = Vec::new();
        let mut params = Vec::new();
        for &(role, want_bool) in roles {
            let Some((_, text)) = given.iter().rev().find(|(k, _)| *k == role) else {
                continue;
            };
            let e = syntax::parse(text).map_err(|e| located(role, text, e))?;
            let (ty, constant) =
                plan::check(&e, &mut params).map_err(|e| located(role, text, e))?;
            let ok = if want_bool {
                ty == plan::Ty::Bool
            } else {
                ty == plan::Ty::Num
            };
            if !ok {
                let got = match (ty, constant) {
                    (plan::Ty::Num, true) => "a number",
                    (plan::Ty::Num, false) => "a number series",
                    (plan::Ty::Bool, _) => "a condition",
                };
                let want = if want_bool {
                    "a condition (true/false per bar, e.g. `close > sma(close, 20)`)"
                } else {
                    "a number or a number series"
                };
                let e = syntax::SyntaxError {
                    message: format!("{role} must be {want}, got {got}"),
                    span: e.span.clone(),
                };
                return Err(located(role, text, e));
            }
            exprs.push((role, text.to_string(), e));
        }
        for (name, _) in &params {
            if fixed.iter().any(|p| p.name == name.as_str()) {
                return Err(Error::Param {
                    param: name.clone(),
                    message: format!(
                        "`${name}` has the name of a parameter of `rules`; rename it (e.g. `${name}_`)"
                    ),
                });
            }
        }
        Ok(Program { exprs, params })
    }

    /// The bound plan node of `role`'s expression, if given.
    pub(crate) fn lower(
        &self,
        role: &str,
        plan: &mut Plan,
        value: &dyn Fn(&str) -> Option<f64>,
    ) -> Result<Option<NodeId>, Error> {
        match self.get(role) {
            None => Ok(None),
            Some((r, text, e)) => plan
                .lower(e, value)
                .map(Some)
                .map_err(|err| located(r, text, err)),
        }
    }

    /// Checks that every `$parameter` has a value in `p`; the values by name.
    pub(crate) fn values<'p>(
        &self,
        p: &'p Params,
    ) -> Result<impl Fn(&str) -> Option<f64> + 'p, Error> {
        let value = move |name: &str| match p.values().get(name) {
            Some(ParamValue::Int(v)) => Some(*v as f64),
            Some(ParamValue::Float(v)) => Some(*v),
            _ => None,
        };
        let all = self
            .params
            .iter()
            .map(|(n, _)| format!("${n}"))
            .collect::<Vec<_>>()
            .join(", ");
        for (name, _) in &self.params {
            if value(name).is_none() {
                return Err(Error::Param {
                    param: name.clone(),
                    message: format!(
                        "is required: the expressions use {all}; give it with --param {name}=VALUE \
                         (or sweep it with --grid {name}=…)"
                    ),
                });
            }
        }
        Ok(value)
    }

    /// True when `role` was given.
    pub(crate) fn has(&self, role: &str) -> bool {
        self.get(role).is_some()
    }

    fn get(&self, role: &str) -> Option<&(&'static str, String, Expr)> {
        self.exprs.iter().find(|(r, _, _)| *r == role)
    }

    /// The `$parameters` as parameter specs: windows and shifts are whole numbers, the
    /// rest any finite number.
    pub(crate) fn specs(&self) -> Vec<ParamSpec> {
        self.params
            .iter()
            .map(|(name, u)| ParamSpec {
                name: intern(name),
                kind: match u {
                    ParamUse::Window => ParamKind::Int {
                        min: 1,
                        max: 100_000,
                    },
                    ParamUse::Lag => ParamKind::Int {
                        min: 0,
                        max: 100_000,
                    },
                    ParamUse::Number => ParamKind::Float {
                        min: -f64::MAX,
                        max: f64::MAX,
                    },
                },
                default: None,
                doc: match u {
                    ParamUse::Window => "a window of the rule expressions (whole number >= 1)",
                    ParamUse::Lag => "a shift of the rule expressions (whole number >= 0)",
                    ParamUse::Number => "a number of the rule expressions",
                },
            })
            .collect()
    }
}

/// At most this many distinct sets of `$parameters` per process (each is registered once,
/// like an interned string, so the registry can hand out `'static` strategy descriptions).
const MAX_SPECIALISED: usize = 10_000;

static SPECIALISED: Mutex<Vec<&'static StrategyInfo>> = Mutex::new(Vec::new());
static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

pub(crate) fn intern(name: &str) -> &'static str {
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.to_string().into_boxed_str());
    names.push(n);
    n
}

/// `rules` with the `$parameters` that the expressions among `given` use, so that they
/// can be given (`--param fast=10`), swept (`--grid fast=5:30:5`) and constrained like
/// any parameter.
fn specialize(given: &[(&str, &str)]) -> Result<&'static StrategyInfo, Error> {
    let program = Program::parse(given.iter().copied())?;
    let listed = crate::strategy::builtin::find("rules")?;
    if program.params.is_empty() {
        return Ok(listed);
    }
    let extra = program.specs();
    let mut all = SPECIALISED.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(info) = all.iter().find(|i| i.params[PARAMS.len()..] == extra[..]) {
        return Ok(info);
    }
    if all.len() >= MAX_SPECIALISED {
        return Err(Error::Param {
            param: "strategy".into(),
            message: format!(
                "more than {MAX_SPECIALISED} different sets of rule parameters in one process"
            ),
        });
    }
    let params: &'static [ParamSpec] = Box::leak(
        PARAMS
            .iter()
            .cloned()
            .chain(extra)
            .collect::<Vec<_>>()
            .into_boxed_slice(),
    );
    let info: &'static StrategyInfo = Box::leak(Box::new(listed.with_params(params)));
    all.push(info);
    Ok(info)
}

/// The signal strategy a `rules` parameter set compiles to.
#[derive(Debug)]
pub struct RulesStrategy {
    plan: Plan,
    long_entry: Option<NodeId>,
    long_exit: Option<NodeId>,
    short_entry: Option<NodeId>,
    short_exit: Option<NodeId>,
    size: Option<NodeId>,
    sl: Option<NodeId>,
    tp: Option<NodeId>,
    sl_pct: Option<f64>,
    tp_pct: Option<f64>,
    cross: CrossRule,
    entry_rule: EntryRule,
    /// `entry_stop`, `entry_limit`, `short_entry_stop`, `short_entry_limit`, `short_sl`,
    /// `short_tp`.
    entry_prices: [Option<NodeId>; 6],
    expiry: Expiry,
    oco: bool,
    exit_portion: f64,
}

impl RulesStrategy {
    /// Parses, checks and binds the expressions to the parameters' values.
    pub fn from_params(p: &Params) -> Result<RulesStrategy, Error> {
        let program = Program::parse(expression_texts(p, ASSET_ROLES))?;
        let value = program.values(p)?;
        let direction = p.str("direction")?;
        let has = |r: &str| program.has(r);
        let refuse = |r: &str, why: &str| {
            Err(Error::Param {
                param: r.to_string(),
                message: why.to_string(),
            })
        };
        match direction {
            "long_only" | "long_short" if !has("entry") => {
                return refuse("entry", "is required (the condition to go long)");
            }
            "long_only" if has("short_entry") || has("short_exit") => {
                let r = if has("short_entry") {
                    "short_entry"
                } else {
                    "short_exit"
                };
                return refuse(r, "needs direction=long_short or short_only");
            }
            "long_short" if !has("short_entry") && !has("exit") => {
                return refuse(
                    "short_entry",
                    "is required with long_short (or give exit, which then reverses to short)",
                );
            }
            "short_only" if !has("short_entry") => {
                return refuse("short_entry", "is required with short_only");
            }
            "short_only" if has("entry") || has("exit") => {
                let r = if has("entry") { "entry" } else { "exit" };
                return refuse(
                    r,
                    "is for longs; short_only takes short_entry and short_exit",
                );
            }
            _ => {}
        }
        for (a, b) in [("sl", "sl_pct"), ("tp", "tp_pct")] {
            if has(a) && p.float_opt(b).is_some() {
                return refuse(a, &format!("give {a} or {b}, not both"));
            }
        }
        for (a, needs) in [
            ("short_entry_stop", "short_entry"),
            ("short_entry_limit", "short_entry"),
            ("short_sl", "short_entry"),
            ("short_tp", "short_entry"),
        ] {
            if has(a) && direction == "long_only" {
                return refuse(
                    a,
                    &format!(
                        "is for shorts: it needs direction=long_short or short_only and {needs}"
                    ),
                );
            }
        }
        if (has("short_sl") && p.float_opt("sl_pct").is_some())
            || (has("short_tp") && p.float_opt("tp_pct").is_some())
        {
            let r = if has("short_sl") {
                "short_sl"
            } else {
                "short_tp"
            };
            return refuse(
                r,
                "give the short stops as prices or sl_pct/tp_pct for both sides, not both",
            );
        }
        let valid_for = p.float_opt("valid_for");
        let session = p.str("tif").is_ok_and(|t| t == "session");
        let priced = [
            "entry_stop",
            "entry_limit",
            "short_entry_stop",
            "short_entry_limit",
        ]
        .iter()
        .any(|r| has(r));
        if (valid_for.is_some() || session) && !priced {
            let r = if session { "tif" } else { "valid_for" };
            return refuse(
                r,
                "applies to stop and limit entries: give entry_stop, entry_limit, short_entry_stop or short_entry_limit",
            );
        }
        if valid_for.is_some() && session {
            return refuse("valid_for", "give valid_for or tif=session, not both");
        }
        let expiry =
            match valid_for {
                Some(n) => Expiry::Bars(std::num::NonZeroU32::new(n as u32).ok_or_else(|| {
                    Error::Param {
                        param: "valid_for".into(),
                        message: format!("must be a whole number of bars >= 1, got {n}"),
                    }
                })?),
                None if session => Expiry::Session,
                None => Expiry::Gtc,
            };
        let oco = p.str("oco").is_ok_and(|o| o == "true");
        if oco && direction != "long_short" {
            return refuse(
                "oco",
                "pairs a long and a short entry: it needs direction=long_short",
            );
        }
        let mut plan = Plan::default();
        let mut lower = |role: &str| program.lower(role, &mut plan, &value);
        let entry = lower("entry")?;
        let exit = lower("exit")?;
        let short_entry = lower("short_entry")?;
        let short_exit = lower("short_exit")?;
        let size = lower("size")?;
        let sl = lower("sl")?;
        let tp = lower("tp")?;
        let entry_prices = [
            lower("entry_stop")?,
            lower("entry_limit")?,
            lower("short_entry_stop")?,
            lower("short_entry_limit")?,
            lower("short_sl")?,
            lower("short_tp")?,
        ];
        if let Some(id) = size
            && let plan::Node::Num(s) = plan.nodes[id]
            && !(s.is_finite() && s > 0.0 && (s < 1.0 || s.fract() == 0.0))
        {
            return refuse(
                "size",
                &format!(
                    "must be a fraction in (0, 1) of available margin or a whole number of \
                     units >= 1, got {s}"
                ),
            );
        }
        let (long_entry, long_exit, short_entry, short_exit) = match direction {
            "long_only" => (entry, exit, None, None),
            "short_only" => (None, None, short_entry, short_exit),
            _ => (entry, exit, short_entry.or(exit), short_exit),
        };
        // Portfolios have no `entries` (their per-asset entries only act when flat).
        let entry_rule = match p.str("entries").unwrap_or("reverse") {
            "reenter" => EntryRule::Reenter,
            "when_flat" => EntryRule::OnlyWhenFlat,
            _ => EntryRule::IfNotSameSide,
        };
        Ok(RulesStrategy {
            plan,
            long_entry,
            long_exit,
            short_entry,
            short_exit,
            size,
            sl,
            tp,
            sl_pct: p.float_opt("sl_pct"),
            tp_pct: p.float_opt("tp_pct"),
            cross: if p.str("cross")? == "stateful" {
                CrossRule::Stateful
            } else {
                CrossRule::Strict
            },
            entry_rule,
            entry_prices,
            expiry,
            oco,
            exit_portion: p.float_opt("exit_portion").unwrap_or(1.0),
        })
    }
}

impl SignalStrategy for RulesStrategy {
    fn signals(&mut self, ctx: &mut Init<'_>) -> Result<Signals, Error> {
        Ok(self.sparse_signals(ctx)?.into_dense())
    }

    /// Decisions listed where a condition holds, read from the plan's columns without
    /// copying them (a sweep builds these for every combination).
    fn sparse_signals(&mut self, ctx: &mut Init<'_>) -> Result<SparseSignals, Error> {
        let close = ctx.bars().close();
        let n = close.len();
        let vals = plan::evaluate(&self.plan, ctx, self.cross);
        let flags = |id: Option<NodeId>| id.map(|id| vals[id].flags(n));
        let (le, lx, se, sx) = (
            flags(self.long_entry),
            flags(self.long_exit),
            flags(self.short_entry),
            flags(self.short_exit),
        );
        let at =
            |f: &Option<std::borrow::Cow<'_, [bool]>>, i: usize| f.as_ref().is_some_and(|v| v[i]);
        let present: Vec<&[bool]> = [&le, &lx, &se, &sx]
            .into_iter()
            .flatten()
            .map(|c| &c[..])
            .collect();
        let mut decisions = Vec::new();
        // Conditions are rare: OR whole blocks first and look closer only where one holds.
        const W: usize = 64;
        let mut base = 0;
        while base < n {
            let end = (base + W).min(n);
            let any = present
                .iter()
                .any(|v| v[base..end].iter().fold(false, |a, b| a | b));
            if any {
                for i in base..end {
                    let d = Decision {
                        bar: i,
                        long_entry: at(&le, i),
                        long_exit: at(&lx, i),
                        short_entry: at(&se, i),
                        short_exit: at(&sx, i),
                    };
                    if d.long_entry | d.long_exit | d.short_entry | d.short_exit {
                        decisions.push(d);
                    }
                }
            }
            base = end;
        }
        let per_bar = |id: Option<NodeId>| match id.map(|id| &vals[id]) {
            None => PerBar::Unset,
            Some(plan::Val::Num(v)) => PerBar::Const(*v),
            Some(plan::Val::Series(c)) => PerBar::Values(c.values().to_vec()),
            Some(_) => unreachable!("checked: numbers"),
        };
        let mut s = SparseSignals {
            n,
            decisions,
            size: per_bar(self.size),
            sl: per_bar(self.sl),
            tp: per_bar(self.tp),
            entry_rule: self.entry_rule,
            risk: None,
            entry_orders: EntryOrders::default(),
        };
        let [
            long_stop,
            long_limit,
            short_stop,
            short_limit,
            short_sl,
            short_tp,
        ] = self.entry_prices.map(per_bar);
        s.entry_orders = EntryOrders {
            long_stop,
            long_limit,
            short_stop,
            short_limit,
            short_sl,
            short_tp,
            expiry: self.expiry,
            oco: self.oco,
            exit_portion: self.exit_portion,
        };
        // Percent stops from the signal bar's close, on the side the entry takes (a long
        // entry is tried first), as the built-ins compute them; a pair's short side (`oco`)
        // takes its own.
        let e = &mut s.entry_orders;
        for (pct, sign_of_stop, stop, short_stop) in [
            (self.sl_pct, -1.0, &mut s.sl, &mut e.short_sl),
            (self.tp_pct, 1.0, &mut s.tp, &mut e.short_tp),
        ] {
            if let Some(pct) = pct {
                let mut v = vec![f64::NAN; n];
                let mut short = self.oco.then(|| vec![f64::NAN; n]);
                for d in &s.decisions {
                    let at = |side: f64| close[d.bar] * (1.0 + sign_of_stop * side * pct);
                    if d.long_entry {
                        v[d.bar] = at(1.0);
                        if let Some(short) = &mut short
                            && d.short_entry
                        {
                            short[d.bar] = at(-1.0);
                        }
                    } else if d.short_entry {
                        v[d.bar] = at(-1.0);
                    }
                }
                *stop = PerBar::Values(v);
                if let Some(short) = short {
                    *short_stop = PerBar::Values(short);
                }
            }
        }
        Ok(s)
    }
}
