//! The portfolio bar loop.

use super::account::{Account, Fill, OrderAt, Outcome, Rejected};
use super::front::{PortfolioContext, PortfolioStrategy};
use super::stops::{ActiveStops, BarPrices};
use super::{CallSeq, ExitOf, FillAt, Intent, PortfolioConfig};
use crate::error::Error;
use crate::universe::Universe;

/// What a portfolio run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct PortfolioResult {
    /// Initial cash.
    pub init_cash: f64,
    /// Filled orders in execution order.
    pub fills: Vec<Fill>,
    /// Orders that did not fill.
    pub rejected: Vec<Rejected>,
    /// Portfolio value after each bar: cash + Σ position × last close.
    pub value: Vec<f64>,
    /// Cash after each bar.
    pub cash: Vec<f64>,
    /// vectorbt's highest gross exposure over the bars: Σ |position| × last close (the
    /// gross asset value) over itself plus the cash not tied up by short positions
    /// (`cash(free=True)`). Only this maximum is kept, not the two series.
    pub max_gross_exposure: f64,
}

/// The gross exposure of one bar (0 when there is neither value nor free cash).
#[inline]
fn exposure(gross: f64, free_cash: f64) -> f64 {
    let denom = super::account::add(gross, free_cash);
    if denom == 0.0 { 0.0 } else { gross / denom }
}

/// Runs `strategy` over `universe` with one shared account.
pub fn run(
    universe: &Universe,
    strategy: &mut dyn PortfolioStrategy,
    cfg: &PortfolioConfig,
) -> Result<PortfolioResult, Error> {
    cfg.validate()?;
    strategy.init(universe)?;
    let n = universe.len();
    let na = universe.n_assets();
    let assets = universe.assets();
    let mut book = Book {
        cfg,
        account: Account::new(cfg.cash, na),
        val_price: vec![f64::NAN; na],
        pending: vec![None; na],
        stops: vec![None; na],
        waiting: 0,
        batch: Vec::new(),
        out: PortfolioResult {
            init_cash: cfg.cash,
            fills: Vec::new(),
            rejected: Vec::new(),
            value: Vec::with_capacity(n),
            cash: Vec::with_capacity(n),
            max_gross_exposure: f64::NEG_INFINITY,
        },
    };
    // Per asset: own bars at or before the current union bar; whether it has one now.
    let mut seen = vec![0usize; na];
    let mut present = vec![false; na];
    let mut last_close = vec![f64::NAN; na];
    let mut decided: Vec<(usize, Intent)> = Vec::new();
    let mut active = strategy.next_active(0);
    // Every asset has a bar on every bar of the timeline (one asset, or assets that share
    // their dates): the stretches without anything to do can be run in one loop.
    let full = assets.iter().all(|a| a.rows().len() == n);
    let mut t = 0;
    while t < n {
        if full
            && t < active
            && book.waiting == 0
            && (0..na).all(|a| book.stops[a].is_none() || book.account.position[a] == 0.0)
        {
            // No decision due, no order waiting, no stop to check or trail: only the value
            // moves, worked out exactly as at the end of a bar below.
            let end = active.min(n);
            let cash = book.account.cash;
            let free_cash = book.account.free_cash;
            let position = &book.account.position;
            let out = &mut book.out;
            let mut max_exposure = out.max_gross_exposure;
            for s in t..end {
                let mut value = cash;
                let mut gross = 0.0;
                for (a, p) in position.iter().enumerate() {
                    if *p != 0.0 {
                        let c = assets[a].bars().close()[s];
                        value += p * c;
                        gross += (p * c).abs();
                    }
                }
                out.value.push(value);
                max_exposure = max_exposure.max(exposure(gross, free_cash));
            }
            out.max_gross_exposure = max_exposure;
            out.cash.resize(end, cash);
            for (a, asset) in assets.iter().enumerate() {
                last_close[a] = asset.bars().close()[end - 1];
                seen[a] = end;
                present[a] = true;
            }
            t = end;
            continue;
        }
        for (a, asset) in assets.iter().enumerate() {
            let k = seen[a];
            let here = k < asset.rows().len() && asset.rows()[k] as usize == t;
            present[a] = here;
            if here {
                seen[a] = k + 1;
            }
        }
        let close = |a: usize| assets[a].bars().close()[seen[a] - 1];
        if cfg.fill == FillAt::NextOpen && book.waiting > 0 {
            let price = |a: usize| assets[a].bars().open()[seen[a] - 1];
            book.execute(t, &present, &price, &close)?;
        }
        for a in 0..na {
            if present[a] {
                last_close[a] = assets[a].bars().close()[seen[a] - 1];
            }
        }
        if t >= active {
            decided.clear();
            let mut ctx = PortfolioContext {
                universe,
                bar: t,
                seen: &seen,
                account: &book.account,
                last_close: &last_close,
                orders: &mut decided,
            };
            strategy.next(&mut ctx)?;
            // A new decision for an asset replaces any order still waiting for it.
            for &(a, intent) in &decided {
                if let Intent::Enter(e) = intent
                    && !e.stops.is_empty()
                    && cfg.fill != FillAt::Close
                {
                    return Err(Error::Config {
                        field: "fill",
                        message: "stops are checked within the bar and need fills at the \
                                  close"
                            .into(),
                    });
                }
                book.place(a, Pending::Decided(intent));
            }
            active = strategy.next_active(t + 1);
        }
        if cfg.fill == FillAt::Close {
            // A stop hit on this bar replaces the bar's own decision (vectorbt: "stop
            // signal comes first").
            for a in 0..na {
                let pos = book.account.position[a];
                if !present[a] || pos == 0.0 {
                    continue;
                }
                let Some(stops) = book.stops[a].as_mut() else {
                    continue;
                };
                let b = assets[a].bars();
                let k = seen[a] - 1;
                let bar = BarPrices {
                    open: b.open()[k],
                    high: b.high()[k],
                    low: b.low()[k],
                };
                let hit = stops.hit(pos > 0.0, bar);
                stops.trail(pos > 0.0, bar);
                if let Some(price) = hit {
                    book.place(a, Pending::Stop { price });
                }
            }
            if book.waiting > 0 {
                book.execute(t, &present, &close, &close)?;
            }
        }
        let mut value = book.account.cash;
        let mut gross = 0.0;
        for (p, c) in book.account.position.iter().zip(&last_close) {
            if *p != 0.0 {
                value += p * c;
                gross += (p * c).abs();
            }
        }
        book.out.value.push(value);
        book.out.cash.push(book.account.cash);
        book.out.max_gross_exposure = book
            .out
            .max_gross_exposure
            .max(exposure(gross, book.account.free_cash));
        t += 1;
    }
    Ok(book.out)
}

/// An order on its way to the account.
#[derive(Debug, Clone, Copy)]
enum Pending {
    /// What the strategy decided, filled at the bar's price with slippage.
    Decided(Intent),
    /// A stop that was hit: close the position at `price`, without slippage.
    Stop { price: f64 },
}

impl Pending {
    fn intent(self) -> Intent {
        match self {
            Pending::Decided(intent) => intent,
            Pending::Stop { .. } => Intent::Exit(ExitOf::Any),
        }
    }
}

/// The account and the orders on their way to it.
struct Book<'a> {
    cfg: &'a PortfolioConfig,
    account: Account,
    /// The price a held asset is valued at before the bar's orders: the order price where
    /// it has a bar, else the last one (vectorbt's `ffill_val_price`).
    val_price: Vec<f64>,
    /// Per asset, the order decided and not yet executed (next open, or waiting for the
    /// asset's bar); a newer decision replaces it.
    pending: Vec<Option<Pending>>,
    /// Per asset, the stops of its open position.
    stops: Vec<Option<ActiveStops>>,
    /// How many assets have a pending order.
    waiting: usize,
    /// The bar's executable orders with their sort keys (reused).
    batch: Vec<(usize, Pending, f64)>,
    out: PortfolioResult,
}

impl Book<'_> {
    /// Makes `order` asset `a`'s pending order, replacing any other.
    fn place(&mut self, a: usize, order: Pending) {
        if self.pending[a].replace(order).is_none() {
            self.waiting += 1;
        }
    }

    /// Executes the pending orders of assets that have a bar at `t`, at `price(a)` (a
    /// stop at its own price), in the configured call sequence, all sized against the
    /// same pre-trade value. An entry that opens or reverses a position sets its stops,
    /// with the bar's `close(a)` as their reference.
    fn execute(
        &mut self,
        t: usize,
        present: &[bool],
        price: &dyn Fn(usize) -> f64,
        close: &dyn Fn(usize) -> f64,
    ) -> Result<(), Error> {
        let Book {
            cfg,
            account,
            val_price,
            pending,
            stops,
            waiting,
            batch,
            out,
        } = self;
        for (a, v) in val_price.iter_mut().enumerate() {
            if present[a] {
                *v = price(a);
            }
        }
        let mut value = account.cash;
        for (p, v) in account.position.iter().zip(val_price.iter()) {
            if *p != 0.0 {
                value += p * v;
            }
        }
        // Column order first; `auto` then sorts stably by estimate, NaN last.
        batch.clear();
        for (a, slot) in pending.iter_mut().enumerate() {
            if present[a]
                && let Some(intent) = slot.take()
            {
                batch.push((a, intent, 0.0));
                *waiting -= 1;
            }
        }
        if cfg.call_seq == CallSeq::Auto {
            for (a, order, est) in batch.iter_mut() {
                *est = account.estimate(*a, order.intent(), val_price[*a], value);
            }
            batch.sort_by(|x, y| match (x.2.is_nan(), y.2.is_nan()) {
                (false, false) => x.2.partial_cmp(&y.2).unwrap_or(std::cmp::Ordering::Equal),
                (a, b) => a.cmp(&b),
            });
        }
        for &(a, order, _) in batch.iter() {
            let (intent, price, slippage) = match order {
                Pending::Decided(intent) => (intent, price(a), cfg.slippage),
                Pending::Stop { price } => (order.intent(), price, 0.0),
            };
            let before = account.position[a];
            let order_at = OrderAt {
                bar: t,
                asset: a,
                intent,
                price,
                slippage,
                val_price: val_price[a],
                value,
            };
            match account.execute(cfg, order_at)? {
                Outcome::Filled(f) => {
                    out.fills.push(f);
                    let after = account.position[a];
                    if after == 0.0 {
                        stops[a] = None;
                    } else if before == 0.0 || (before > 0.0) != (after > 0.0) {
                        // Opened or reversed: the entry's stops, if any.
                        stops[a] = match intent {
                            Intent::Enter(e) => ActiveStops::new(e.stops, close(a)),
                            _ => None,
                        };
                    }
                }
                Outcome::Rejected(reason) => out.rejected.push(Rejected {
                    bar: t,
                    asset: a,
                    reason,
                }),
                Outcome::Nothing => {}
            }
        }
        Ok(())
    }
}
