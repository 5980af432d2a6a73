//! Built-in portfolio strategies and their registry.
//!
//! The rebalance calendar, `equal_weight` and `momentum_rotation` follow the rules that
//! produced the golden portfolios (`testdata/golden/portfolio/README.md`), so they
//! reproduce vectorbt's orders exactly; `inverse_volatility` and per-asset signals are
//! built the same way.

use std::sync::OnceLock;

use super::front::{OrderPlan, PlannedOrder, PortfolioContext, PortfolioPlan, PortfolioStrategy};
use super::{Entry, EntrySize, ExitOf, Intent, PlanDriven};
use crate::bars::TimestampNs;
use crate::error::Error;
use crate::stats::calendar::{day_number, weekday, year_month};
use crate::strategy::builtin::{self as single, StrategyInfo};
use crate::strategy::{DefaultValue, Init, ParamKind, ParamSpec, Params};
use crate::universe::Universe;

/// When a portfolio is rebalanced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rebalance {
    /// The first bar of each calendar day.
    Daily,
    /// The first bar of each ISO week (Monday to Sunday).
    Weekly,
    /// The first bar of each calendar month.
    Monthly,
    /// The first bar of each calendar quarter.
    Quarterly,
    /// The first bar of each calendar year.
    Yearly,
    /// Every `n` bars of the union timeline, from the first.
    Bars(usize),
}

impl Rebalance {
    /// Parses `daily|weekly|monthly|quarterly|yearly` or a bar count.
    pub fn parse(raw: &str) -> Result<Rebalance, Error> {
        Ok(match raw.trim() {
            "daily" => Rebalance::Daily,
            "weekly" => Rebalance::Weekly,
            "monthly" => Rebalance::Monthly,
            "quarterly" => Rebalance::Quarterly,
            "yearly" => Rebalance::Yearly,
            other => match other.parse::<usize>() {
                Ok(n) if n >= 1 => Rebalance::Bars(n),
                _ => {
                    return Err(Error::Param {
                        param: "rebalance".into(),
                        message: format!(
                            "expected daily, weekly, monthly, quarterly, yearly or a number of bars >= 1, got `{other}`"
                        ),
                    });
                }
            },
        })
    }

    fn period(self, t: TimestampNs) -> i64 {
        match self {
            Rebalance::Daily => day_number(t),
            // The Monday that starts the ISO week identifies (year, week).
            Rebalance::Weekly => day_number(t) - weekday(t),
            Rebalance::Monthly => {
                let (y, m) = year_month(t);
                y * 12 + m
            }
            Rebalance::Quarterly => {
                let (y, m) = year_month(t);
                y * 4 + (m - 1) / 3
            }
            Rebalance::Yearly => year_month(t).0,
            Rebalance::Bars(_) => 0,
        }
    }

    /// The rebalance bars of a timeline: bar 0, and every bar whose period differs from
    /// the previous bar's (periods of the union timeline's dates, not each asset's).
    pub fn bars(self, time: &[TimestampNs]) -> Vec<usize> {
        if let Rebalance::Bars(n) = self {
            return (0..time.len()).step_by(n).collect();
        }
        (0..time.len())
            .filter(|&i| i == 0 || self.period(time[i]) != self.period(time[i - 1]))
            .collect()
    }
}

/// Equal weight over the assets that have a bar, on each rebalance bar: `1/m` each (the
/// double `1.0 / m`); assets without a bar get no order. With a drift `threshold`, a
/// rebalance bar trades only when some asset's weight is more than `threshold` away from
/// its target (weights at the close, before trading).
#[derive(Debug, Clone)]
pub struct EqualWeight {
    rebalance: Rebalance,
    threshold: Option<f64>,
    bars: Vec<usize>,
}

impl EqualWeight {
    /// Equal weight rebalanced on `rebalance`, optionally only past a drift `threshold`.
    pub fn new(rebalance: Rebalance, threshold: Option<f64>) -> EqualWeight {
        EqualWeight {
            rebalance,
            threshold,
            bars: Vec::new(),
        }
    }
}

impl PortfolioStrategy for EqualWeight {
    fn init(&mut self, universe: &Universe) -> Result<(), Error> {
        self.bars = self.rebalance.bars(universe.time());
        Ok(())
    }

    fn next(&mut self, ctx: &mut PortfolioContext<'_>) -> Result<(), Error> {
        let present: Vec<usize> = (0..ctx.n_assets()).filter(|&a| ctx.has_bar(a)).collect();
        if present.is_empty() {
            return Ok(());
        }
        let w = 1.0 / present.len() as f64;
        if let Some(th) = self.threshold {
            let value = ctx.value();
            let drifted = (0..ctx.n_assets()).any(|a| {
                let close = ctx.bars(a).close.last().copied().unwrap_or(f64::NAN);
                let held = if ctx.position(a) == 0.0 {
                    0.0
                } else {
                    ctx.position(a) * close / value
                };
                let target = if ctx.has_bar(a) { w } else { held };
                (held - target).abs() > th
            });
            if !drifted {
                return Ok(());
            }
        }
        for a in present {
            ctx.order_target_percent(a, w)?;
        }
        Ok(())
    }

    fn next_active(&self, from: usize) -> usize {
        let k = self.bars.partition_point(|&b| b < from);
        self.bars.get(k).copied().unwrap_or(usize::MAX)
    }
}

/// Each asset's close on the union timeline (NaN where it has no bar).
fn closes_on_union(u: &Universe) -> Vec<Vec<f64>> {
    u.assets()
        .iter()
        .map(|a| a.on_union(u.len(), a.bars().close()))
        .collect()
}

/// Rotation into the `top` assets with the best `lookback`-bar return, `1/top` each, on
/// each rebalance bar `i ≥ lookback`. An asset is eligible when it has a close at `i` and
/// at `i − lookback` on the union timeline; score `close[i] / close[i−L] − 1`, ties to the
/// earlier column. Every other asset with a bar at `i` is sold out; assets without one get
/// no order; with no eligible asset the bar holds.
#[derive(Debug, Clone, Copy)]
pub struct MomentumRotation {
    /// Lookback in union bars.
    pub lookback: usize,
    /// How many assets to hold.
    pub top: usize,
    /// When to rotate.
    pub rebalance: Rebalance,
}

impl PortfolioPlan for MomentumRotation {
    fn plan(&mut self, u: &Universe) -> Result<OrderPlan, Error> {
        let close = closes_on_union(u);
        let l = self.lookback;
        let mut orders = Vec::new();
        let mut scored: Vec<(f64, usize)> = Vec::new();
        for i in self.rebalance.bars(u.time()) {
            if i < l {
                continue;
            }
            scored.clear();
            scored.extend((0..u.n_assets()).filter_map(|a| {
                let (now, then) = (close[a][i], close[a][i - l]);
                (!now.is_nan() && !then.is_nan()).then(|| (now / then - 1.0, a))
            }));
            if scored.is_empty() {
                continue;
            }
            // Best first; a stable sort keeps ties in column order.
            scored.sort_by(|x, y| y.0.total_cmp(&x.0));
            let chosen: Vec<usize> = scored.iter().take(self.top).map(|s| s.1).collect();
            let w = 1.0 / self.top as f64;
            for (a, c) in close.iter().enumerate() {
                if c[i].is_nan() {
                    continue;
                }
                let weight = if chosen.contains(&a) { w } else { 0.0 };
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

/// Weights proportional to the inverse of each asset's volatility (the sample standard
/// deviation of its last `lookback` close-to-close returns on its own bars), normalised to
/// sum to 1, on each rebalance bar. Assets without a bar, or with fewer than `lookback`
/// returns, or with zero volatility, get no order and no weight.
#[derive(Debug, Clone, Copy)]
pub struct InverseVolatility {
    /// Returns per volatility estimate.
    pub lookback: usize,
    /// When to rebalance.
    pub rebalance: Rebalance,
}

impl PortfolioPlan for InverseVolatility {
    fn plan(&mut self, u: &Universe) -> Result<OrderPlan, Error> {
        let l = self.lookback;
        let mut orders = Vec::new();
        // Per asset: 1 / volatility on this rebalance bar (0 = no weight).
        let mut inv = vec![0.0; u.n_assets()];
        for i in self.rebalance.bars(u.time()) {
            inv.fill(0.0);
            for (a, asset) in u.assets().iter().enumerate() {
                let Some(k) = asset.row_at(i) else { continue };
                if k < l {
                    continue;
                }
                let c = &asset.bars().close()[k - l..=k];
                let r: Vec<f64> = c.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
                let m = r.iter().sum::<f64>() / l as f64;
                let var = r.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (l as f64 - 1.0);
                let sd = var.sqrt();
                if sd > 0.0 && sd.is_finite() {
                    inv[a] = 1.0 / sd;
                }
            }
            let total: f64 = inv.iter().sum();
            if total == 0.0 {
                continue;
            }
            for (a, asset) in u.assets().iter().enumerate() {
                if asset.row_at(i).is_none() {
                    continue;
                }
                let w = inv[a] / total;
                orders.push(PlannedOrder {
                    bar: i,
                    asset: a,
                    intent: Intent::TargetPercent(w),
                });
            }
        }
        Ok(OrderPlan { orders })
    }
}

/// A single-asset signal strategy applied to each asset on its own bars, sharing one
/// account: an entry buys when flat (sized by `size`), an exit sells everything when
/// long, as vectorbt's long-only `from_signals`. An entry and an exit on the same bar
/// cancel out (vectorbt's `upon_long_conflict='ignore'`). Decisions before an asset's
/// warm-up (its indicators' first valid bar) are dropped, as for a single asset.
pub struct PerAssetSignals {
    info: &'static StrategyInfo,
    params: Params,
    size: EntrySize,
}

impl PerAssetSignals {
    /// `info` with `params` on every asset, entries sized by `size`.
    pub fn new(info: &'static StrategyInfo, params: Params, size: EntrySize) -> PerAssetSignals {
        PerAssetSignals { info, params, size }
    }
}

impl PortfolioPlan for PerAssetSignals {
    fn plan(&mut self, u: &Universe) -> Result<OrderPlan, Error> {
        let mut per_asset: Vec<Vec<(usize, Intent)>> = Vec::with_capacity(u.n_assets());
        for asset in u.assets() {
            let mut s = self
                .info
                .signal_source(&self.params)
                .ok_or_else(|| Error::Param {
                    param: "strategy".into(),
                    message: format!(
                        "`{}` has no vectorized form to apply per asset",
                        self.info.name
                    ),
                })??;
            let mut init = Init::new(asset.bars(), None);
            let sig = s.sparse_signals(&mut init)?;
            let warm = init
                .indicators
                .iter()
                .map(|r| r.first_valid)
                .max()
                .unwrap_or(0);
            let rows = asset.rows();
            per_asset.push(
                sig.decisions
                    .iter()
                    .filter(|d| d.bar >= warm && d.long_entry != d.long_exit)
                    .map(|d| {
                        let intent = if d.long_entry {
                            Intent::Enter(Entry::long(self.size))
                        } else {
                            Intent::Exit(ExitOf::Long)
                        };
                        (rows[d.bar] as usize, intent)
                    })
                    .collect(),
            );
        }
        let mut orders: Vec<PlannedOrder> = per_asset
            .into_iter()
            .enumerate()
            .flat_map(|(a, v)| {
                v.into_iter().map(move |(bar, intent)| PlannedOrder {
                    bar,
                    asset: a,
                    intent,
                })
            })
            .collect();
        orders.sort_by_key(|o| (o.bar, o.asset));
        Ok(OrderPlan { orders })
    }
}

/// A portfolio strategy's name, parameters and constructor.
pub struct PortfolioStrategyInfo {
    /// Name used by `--strategy`.
    pub name: &'static str,
    /// One line of what it does.
    pub about: String,
    /// Its parameters.
    pub params: Vec<ParamSpec>,
    kind: Kind,
}

enum Kind {
    EqualWeight,
    Momentum,
    InverseVol,
    PerAsset(&'static StrategyInfo),
    /// The rule language: per-asset entry/exit, or a cross-sectional score.
    Rules,
}

pub(crate) const REBALANCE: ParamSpec = ParamSpec {
    name: "rebalance",
    kind: ParamKind::Text,
    default: Some(DefaultValue::Str("monthly")),
    doc: "daily, weekly, monthly, quarterly, yearly (first bar of each period of the union timeline) or every N bars",
};

pub(crate) const SIZE_TYPE: ParamSpec = ParamSpec {
    name: "size_type",
    kind: ParamKind::Choice(&["amount", "value", "percent"]),
    default: Some(DefaultValue::Str("amount")),
    doc: "how an entry's `size` is read: amount = units (default: all the cash left), value = cash worth, percent = fraction of the cash left",
};

fn int(name: &'static str, min: i64, max: i64, default: i64, doc: &'static str) -> ParamSpec {
    ParamSpec {
        name,
        kind: ParamKind::Int { min, max },
        default: Some(DefaultValue::Int(default)),
        doc,
    }
}

/// Every portfolio strategy: the three allocation strategies, then each single-asset
/// strategy with a vectorized form, applied per asset.
pub fn strategies() -> &'static [PortfolioStrategyInfo] {
    static ALL: OnceLock<Vec<PortfolioStrategyInfo>> = OnceLock::new();
    ALL.get_or_init(|| {
        let mut v = vec![
            PortfolioStrategyInfo {
                name: "equal_weight",
                about: "equal weight over the assets with a bar, on each rebalance bar".into(),
                params: vec![
                    REBALANCE,
                    ParamSpec {
                        name: "threshold",
                        kind: ParamKind::Float { min: 0.0, max: 1.0 },
                        default: None,
                        doc: "trade on a rebalance bar only when some weight drifted more than this from its target",
                    },
                ],
                kind: Kind::EqualWeight,
            },
            PortfolioStrategyInfo {
                name: "momentum_rotation",
                about: "hold the `top` assets with the best `lookback`-bar return, 1/top each".into(),
                params: vec![
                    int("lookback", 1, 100_000, 126, "return window in bars of the union timeline"),
                    int("top", 1, 10_000, 2, "assets to hold"),
                    REBALANCE,
                ],
                kind: Kind::Momentum,
            },
            PortfolioStrategyInfo {
                name: "inverse_volatility",
                about: "weights ∝ 1 / volatility of each asset's last `lookback` returns".into(),
                params: vec![
                    int("lookback", 2, 100_000, 63, "returns per volatility estimate (the asset's own bars)"),
                    REBALANCE,
                ],
                kind: Kind::InverseVol,
            },
        ];
        v.push(PortfolioStrategyInfo {
            name: "rules",
            about: "your own rules (docs/rules.md): per asset, entry/exit with shared cash; or \
                    across assets, hold the `top`/`bottom` by a `score` expression on each \
                    rebalance bar, at equal weight or by a `weight` expression"
                .into(),
            params: crate::rules::portfolio_params(),
            kind: Kind::Rules,
        });
        // `rules` has its own entry above (its parameters depend on its expressions).
        for s in single::STRATEGIES
            .iter()
            .filter(|s| s.has_signal_source() && !s.is_specialized_by_params())
        {
            let mut params: Vec<ParamSpec> = s
                .params
                .iter()
                .filter(|p| !matches!(p.name, "sl_pct" | "sl_trail" | "tp_pct" | "trail_atr" | "trail_pct" | "risk_pct"))
                .map(|p| match p.name {
                    "direction" => ParamSpec {
                        kind: ParamKind::Choice(&["long_only"]),
                        default: Some(DefaultValue::Str("long_only")),
                        doc: "portfolios are long-only: enter when flat, sell out on the exit signal",
                        ..p.clone()
                    },
                    "size" => ParamSpec {
                        doc: "entry size, read as `size_type` says (default: all the cash left)",
                        ..p.clone()
                    },
                    _ => p.clone(),
                })
                .collect();
            params.push(SIZE_TYPE);
            v.push(PortfolioStrategyInfo {
                name: s.name,
                about: format!("per asset, shared cash: {}", s.about),
                params,
                kind: Kind::PerAsset(s),
            });
        }
        v
    })
}

/// Looks up a portfolio strategy by name.
pub fn find(name: &str) -> Result<&'static PortfolioStrategyInfo, Error> {
    strategies()
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::UnknownStrategy {
            name: name.to_string(),
            known: strategies()
                .iter()
                .map(|s| s.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

impl PortfolioStrategyInfo {
    /// True for a single-asset strategy applied per asset (false for the allocation
    /// strategies, which only make sense on a universe).
    pub fn is_per_asset(&self) -> bool {
        matches!(self.kind, Kind::PerAsset(_) | Kind::Rules)
    }

    /// The description to validate `given` (`name=value` pairs) against: the strategy
    /// itself, or for `rules` the strategy with the `$parameters` its expressions use.
    pub fn specialize(
        &'static self,
        given: &[(&str, &str)],
    ) -> Result<&'static PortfolioStrategyInfo, Error> {
        if !matches!(self.kind, Kind::Rules) {
            return Ok(self);
        }
        let extra = crate::rules::portfolio_dollar_params(given, &self.params)?;
        if extra.is_empty() {
            return Ok(self);
        }
        static SPECIALISED: std::sync::Mutex<Vec<&'static PortfolioStrategyInfo>> =
            std::sync::Mutex::new(Vec::new());
        let mut all = SPECIALISED.lock().unwrap_or_else(|e| e.into_inner());
        let n = self.params.len();
        if let Some(info) = all.iter().find(|i| i.params[n..] == extra[..]) {
            return Ok(info);
        }
        if all.len() >= 10_000 {
            return Err(Error::Param {
                param: "strategy".into(),
                message: "more than 10000 different sets of rule parameters in one process".into(),
            });
        }
        // Registered once per set of `$parameters`, like an interned string.
        let info: &'static PortfolioStrategyInfo = Box::leak(Box::new(PortfolioStrategyInfo {
            name: self.name,
            about: self.about.clone(),
            params: self.params.iter().cloned().chain(extra).collect(),
            kind: Kind::Rules,
        }));
        all.push(info);
        Ok(info)
    }

    /// Builds the strategy from validated parameters.
    pub fn build(&self, p: &Params) -> Result<Box<dyn PortfolioStrategy>, Error> {
        let rebalance = || Rebalance::parse(p.str("rebalance")?);
        let window = |name: &str| Ok::<usize, Error>(p.int(name)? as usize);
        Ok(match self.kind {
            Kind::EqualWeight => Box::new(EqualWeight::new(rebalance()?, p.float_opt("threshold"))),
            Kind::Momentum => Box::new(PlanDriven::new(MomentumRotation {
                lookback: window("lookback")?,
                top: window("top")?,
                rebalance: rebalance()?,
            })),
            Kind::InverseVol => Box::new(PlanDriven::new(InverseVolatility {
                lookback: window("lookback")?,
                rebalance: rebalance()?,
            })),
            Kind::PerAsset(info) => {
                let size = entry_size(p)?;
                // The single-asset strategy checks its own rules (fast < slow, …) now,
                // not on the first asset.
                info.build(p)?;
                Box::new(PlanDriven::new(PerAssetSignals::new(info, p.clone(), size)))
            }
            Kind::Rules => crate::rules::portfolio_strategy(p, rebalance()?, entry_size(p)?)?,
        })
    }
}

/// How a per-asset entry is sized (`size` read as `size_type` says).
fn entry_size(p: &Params) -> Result<EntrySize, Error> {
    Ok(match (p.str("size_type")?, p.float_opt("size")) {
        (_, None) => EntrySize::AllCash,
        ("value", Some(v)) => EntrySize::Value(v),
        ("percent", Some(v)) if v <= 1.0 => EntrySize::Percent(v),
        ("percent", Some(v)) => {
            return Err(Error::Param {
                param: "size".into(),
                message: format!("with size_type=percent must be in (0, 1], got {v}"),
            });
        }
        (_, Some(v)) => EntrySize::Units(v),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000_000;

    #[test]
    fn rebalance_bars_start_each_period() {
        // 2000-01-31 (Mon), 2000-02-01, 2000-02-07 (Mon), 2000-04-03, 2001-01-02.
        let days = [10_987i64, 10_988, 10_994, 11_050, 11_324];
        let t: Vec<i64> = days.iter().map(|d| d * DAY).collect();
        assert_eq!(Rebalance::Monthly.bars(&t), vec![0, 1, 3, 4]);
        assert_eq!(Rebalance::Weekly.bars(&t), vec![0, 2, 3, 4]);
        assert_eq!(Rebalance::Quarterly.bars(&t), vec![0, 3, 4]);
        assert_eq!(Rebalance::Yearly.bars(&t), vec![0, 4]);
        assert_eq!(Rebalance::Bars(2).bars(&t), vec![0, 2, 4]);
        assert!(Rebalance::parse("fortnightly").is_err());
        assert!(Rebalance::parse("0").is_err());
    }

    #[test]
    fn every_portfolio_strategy_builds_with_defaults() {
        for s in strategies() {
            // `rules` has no default expressions: the smallest strategy it takes.
            let given: &[(&str, &str)] = if s.name == "rules" {
                &[("entry", "close > 1")]
            } else {
                &[]
            };
            let p = Params::from_pairs(&s.params, given.iter().copied()).unwrap();
            assert!(s.build(&p).is_ok(), "{}", s.name);
        }
        let sma = find("sma_cross").unwrap();
        let bad = Params::from_pairs(&sma.params, [("direction", "long_short")]);
        assert!(bad.is_err());
    }
}
