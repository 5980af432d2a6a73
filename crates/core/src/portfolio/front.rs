//! The two front ends of a portfolio: per-bar decisions and a plan computed up front.

use super::Intent;
use super::account::Account;
use crate::bars::TimestampNs;
use crate::error::Error;
use crate::universe::Universe;

/// A strategy over a universe that decides bar by bar.
///
/// `next` runs at the close of every bar the strategy says it may act on
/// ([`PortfolioStrategy::next_active`]); it sees each asset's bars up to the current one
/// and places orders by asset, which fill at this close or the next open depending on the
/// configuration.
///
/// ```
/// use backtide_core::portfolio::{self, PortfolioConfig, PortfolioContext, PortfolioStrategy};
/// use backtide_core::{Bars, Error, Universe};
///
/// /// Every 20 bars, all in the asset whose close rose most over those 20 bars.
/// struct Leader;
///
/// impl PortfolioStrategy for Leader {
///     fn next(&mut self, ctx: &mut PortfolioContext<'_>) -> Result<(), Error> {
///         let mut best: Option<(f64, usize)> = None;
///         for a in 0..ctx.n_assets() {
///             let c = ctx.bars(a).close; // this asset's closes up to now
///             if ctx.has_bar(a) && c.len() > 20 {
///                 let r = c[c.len() - 1] / c[c.len() - 21];
///                 if best.is_none_or(|(b, _)| r > b) {
///                     best = Some((r, a));
///                 }
///             }
///         }
///         if let Some((_, winner)) = best {
///             for a in 0..ctx.n_assets() {
///                 if a != winner && ctx.position(a) > 0.0 {
///                     ctx.close(a)?;
///                 }
///             }
///             ctx.order_target_percent(winner, 0.99)?;
///         }
///         Ok(())
///     }
///     fn next_active(&self, from: usize) -> usize {
///         from.next_multiple_of(20)
///     }
/// }
///
/// let day = 86_400_000_000_000i64;
/// let asset = |drift: f64| {
///     let close: Vec<f64> = (0..200).map(|i| 50.0 + drift * i as f64 + (i as f64).sin()).collect();
///     Bars::try_new(
///         (0..200).map(|i| i * day).collect(),
///         close.clone(),
///         close.iter().map(|c| c + 1.0).collect(),
///         close.iter().map(|c| c - 1.0).collect(),
///         close,
///         vec![f64::NAN; 200],
///     )
/// };
/// let u = Universe::try_new([
///     ("UP".to_string(), "up".to_string(), asset(0.1)?),
///     ("FLAT".to_string(), "flat".to_string(), asset(0.0)?),
/// ])?;
/// let res = portfolio::run(&u, &mut Leader, &PortfolioConfig::default())?;
/// assert!(res.fills.iter().all(|f| f.asset == 0)); // it only ever holds UP
/// assert!(res.value[199] > 10_000.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait PortfolioStrategy: Send {
    /// Called once before the first bar (compute indicators here).
    fn init(&mut self, universe: &Universe) -> Result<(), Error> {
        let _ = universe;
        Ok(())
    }

    /// Decides on the current bar.
    fn next(&mut self, ctx: &mut PortfolioContext<'_>) -> Result<(), Error>;

    /// The first bar at or after `from` on which `next` may place an order; the engine
    /// does not call `next` before it. The default is every bar.
    fn next_active(&self, from: usize) -> usize {
        from
    }
}

/// One asset's bars up to the current bar (the last element is the latest bar the asset
/// has, which may be older than the current union bar).
#[derive(Debug, Clone, Copy)]
pub struct AssetView<'a> {
    /// Timestamps.
    pub time: &'a [TimestampNs],
    /// Opens.
    pub open: &'a [f64],
    /// Highs.
    pub high: &'a [f64],
    /// Lows.
    pub low: &'a [f64],
    /// Closes.
    pub close: &'a [f64],
    /// Volumes.
    pub volume: &'a [f64],
}

/// What a portfolio strategy sees and does on one bar.
pub struct PortfolioContext<'a> {
    pub(crate) universe: &'a Universe,
    pub(crate) bar: usize,
    /// Per asset, how many of its own bars are at or before `bar`.
    pub(crate) seen: &'a [usize],
    pub(crate) account: &'a Account,
    pub(crate) last_close: &'a [f64],
    pub(crate) orders: &'a mut Vec<(usize, Intent)>,
}

impl PortfolioContext<'_> {
    /// The current bar's index on the union timeline.
    pub fn index(&self) -> usize {
        self.bar
    }
    /// Union timestamps up to the current bar.
    pub fn time(&self) -> &[TimestampNs] {
        &self.universe.time()[..=self.bar]
    }
    /// Number of assets.
    pub fn n_assets(&self) -> usize {
        self.universe.n_assets()
    }
    /// The symbol of asset `a`.
    pub fn symbol(&self, a: usize) -> &str {
        self.universe.assets()[a].symbol()
    }
    /// The column of `symbol`, or an error naming the symbols there are.
    pub fn asset(&self, symbol: &str) -> Result<usize, Error> {
        self.universe
            .symbols()
            .position(|s| s == symbol)
            .ok_or_else(|| {
                Error::Order(format!(
                    "unknown symbol `{symbol}` (universe: {})",
                    self.universe.symbols().collect::<Vec<_>>().join(", ")
                ))
            })
    }
    /// Asset `a`'s bars up to the current bar.
    pub fn bars(&self, a: usize) -> AssetView<'_> {
        let b = self.universe.assets()[a].bars();
        let k = self.seen[a];
        AssetView {
            time: &b.time()[..k],
            open: &b.open()[..k],
            high: &b.high()[..k],
            low: &b.low()[..k],
            close: &b.close()[..k],
            volume: &b.volume()[..k],
        }
    }
    /// True when asset `a` has a bar at the current union bar.
    pub fn has_bar(&self, a: usize) -> bool {
        let k = self.seen[a];
        k > 0 && self.universe.assets()[a].rows()[k - 1] as usize == self.bar
    }
    /// Units of asset `a` held.
    pub fn position(&self, a: usize) -> f64 {
        self.account.position[a]
    }
    /// Cash left.
    pub fn cash(&self) -> f64 {
        self.account.cash
    }
    /// Cash plus every position at its last close.
    pub fn value(&self) -> f64 {
        self.account.cash
            + self
                .account
                .position
                .iter()
                .zip(self.last_close)
                .filter(|(p, _)| **p != 0.0)
                .map(|(p, c)| p * c)
                .sum::<f64>()
    }
    /// Places an order for asset `a` (replacing one placed for it earlier on this bar or
    /// still waiting for its next bar).
    pub fn order(&mut self, a: usize, intent: Intent) -> Result<(), Error> {
        if a >= self.n_assets() {
            return Err(Error::Order(format!(
                "no asset {a} (universe of {})",
                self.n_assets()
            )));
        }
        intent.check()?;
        // The engine applies the bar's orders in turn: a later one for the same asset wins.
        self.orders.push((a, intent));
        Ok(())
    }
    /// Hold `weight` × the pre-trade portfolio value in asset `a`.
    pub fn order_target_percent(&mut self, a: usize, weight: f64) -> Result<(), Error> {
        self.order(a, Intent::TargetPercent(weight))
    }
    /// Hold `value` worth of asset `a`.
    pub fn order_target_value(&mut self, a: usize, value: f64) -> Result<(), Error> {
        self.order(a, Intent::TargetValue(value))
    }
    /// Hold `units` of asset `a`.
    pub fn order_target_units(&mut self, a: usize, units: f64) -> Result<(), Error> {
        self.order(a, Intent::TargetUnits(units))
    }
    /// Buy `units` of asset `a`.
    pub fn buy(&mut self, a: usize, units: f64) -> Result<(), Error> {
        self.order(a, Intent::Units(units))
    }
    /// Sell `units` of asset `a` (at most what is held).
    pub fn sell(&mut self, a: usize, units: f64) -> Result<(), Error> {
        self.order(a, Intent::Units(-units))
    }
    /// Sell all of asset `a`.
    pub fn close(&mut self, a: usize) -> Result<(), Error> {
        self.order(a, Intent::Close)
    }
}

/// One planned order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlannedOrder {
    /// Union bar of the decision.
    pub bar: usize,
    /// Asset index.
    pub asset: usize,
    /// What to do.
    pub intent: Intent,
}

/// Every decision of a run, computed up front: sorted by bar, then asset.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OrderPlan {
    /// The orders, ascending by `(bar, asset)`, at most one per pair.
    pub orders: Vec<PlannedOrder>,
}

impl OrderPlan {
    /// A plan from target weights: one row per decision bar, a weight per asset (NaN = no
    /// order for that asset), as vectorbt's `from_orders(size_type='targetpercent')`.
    pub fn from_weights(rows: impl IntoIterator<Item = (usize, Vec<f64>)>) -> OrderPlan {
        let mut orders = Vec::new();
        for (bar, w) in rows {
            for (asset, &x) in w.iter().enumerate() {
                if !x.is_nan() {
                    orders.push(PlannedOrder {
                        bar,
                        asset,
                        intent: Intent::TargetPercent(x),
                    });
                }
            }
        }
        OrderPlan { orders }
    }

    fn check(&self, u: &Universe) -> Result<(), Error> {
        let bad = |m: String| {
            Err(Error::Param {
                param: "plan".into(),
                message: m,
            })
        };
        for w in self.orders.windows(2) {
            if (w[0].bar, w[0].asset) >= (w[1].bar, w[1].asset) {
                return bad(format!(
                    "orders must ascend by (bar, asset) without repeats, got ({}, {}) then ({}, {})",
                    w[0].bar, w[0].asset, w[1].bar, w[1].asset
                ));
            }
        }
        for o in &self.orders {
            if o.bar >= u.len() || o.asset >= u.n_assets() {
                return bad(format!(
                    "order at bar {} for asset {} is outside the universe ({} bars, {} assets)",
                    o.bar,
                    o.asset,
                    u.len(),
                    u.n_assets()
                ));
            }
            o.intent.check()?;
        }
        Ok(())
    }
}

/// A strategy that decides all at once: per-asset signals or target weights.
pub trait PortfolioPlan: Send {
    /// Every decision. The decision at bar `i` must depend on data up to bar `i` only.
    fn plan(&mut self, universe: &Universe) -> Result<OrderPlan, Error>;
}

/// Runs a [`PortfolioPlan`] through the per-bar loop, so a plan and a per-bar strategy
/// that decides the same place the same orders through the same account.
pub struct PlanDriven<S> {
    inner: S,
    plan: OrderPlan,
    cursor: usize,
}

impl<S: PortfolioPlan> PlanDriven<S> {
    /// Wraps a plan.
    pub fn new(inner: S) -> Self {
        PlanDriven {
            inner,
            plan: OrderPlan::default(),
            cursor: 0,
        }
    }
}

impl<S: PortfolioPlan> PortfolioStrategy for PlanDriven<S> {
    fn init(&mut self, universe: &Universe) -> Result<(), Error> {
        self.plan = self.inner.plan(universe)?;
        self.plan.check(universe)?;
        self.cursor = 0;
        Ok(())
    }

    fn next(&mut self, ctx: &mut PortfolioContext<'_>) -> Result<(), Error> {
        let orders = &self.plan.orders;
        while self.cursor < orders.len() && orders[self.cursor].bar < ctx.bar {
            self.cursor += 1;
        }
        while self.cursor < orders.len() && orders[self.cursor].bar == ctx.bar {
            let o = orders[self.cursor];
            ctx.order(o.asset, o.intent)?;
            self.cursor += 1;
        }
        Ok(())
    }

    fn next_active(&self, from: usize) -> usize {
        let orders = &self.plan.orders;
        let k = self.cursor + orders[self.cursor..].partition_point(|o| o.bar < from);
        orders.get(k).map_or(usize::MAX, |o| o.bar)
    }
}

impl<S: PortfolioPlan + ?Sized> PortfolioPlan for Box<S> {
    fn plan(&mut self, universe: &Universe) -> Result<OrderPlan, Error> {
        (**self).plan(universe)
    }
}
