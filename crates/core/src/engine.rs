//! The backtest loop: `init`, then per bar broker fills → equity → `next`.

use crate::bars::Bars;
use crate::broker::{Broker, BrokerConfig, ClosedTrade};
use crate::error::Error;
use crate::strategy::{Context, IndicatorCache, Init, Strategy};

/// A trade still open when the data ran out.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenTrade {
    /// Units, negative when short.
    pub size: f64,
    /// Bar index of the entry fill.
    pub entry_bar: usize,
    /// Entry price including the spread.
    pub entry_price: f64,
    /// Stop-loss, if set.
    pub sl: Option<f64>,
    /// Take-profit, if set.
    pub tp: Option<f64>,
    /// Label of the order that opened it.
    pub tag: Option<String>,
}

/// Everything a run produces; summarise it with [`crate::stats::compute`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Closed trades in closing order.
    pub trades: Vec<ClosedTrade>,
    /// Trades open at the end (not in the trade statistics, but in the equity).
    pub open_trades: Vec<OpenTrade>,
    /// Account equity at each bar's close.
    pub equity: Vec<f64>,
    /// Broker and engine warnings (cancelled orders, open trades at the end, …).
    pub warnings: Vec<String>,
    /// First bar at which every indicator is non-NaN; `next` first runs on `warmup + 1`.
    pub warmup: usize,
    /// Indicator names in registration order.
    pub indicator_names: Vec<String>,
    /// True if the run stopped early because equity fell to zero or below.
    pub out_of_money: bool,
}

/// Runs `strategy` over `bars` with the broker settings `cfg`.
///
/// Deterministic: the same inputs give bit-identical results.
pub fn run(
    bars: &Bars,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
) -> Result<RunResult, Error> {
    run_with_cache(bars, strategy, cfg, None)
}

/// [`run`] sharing indicator series through `cache` (for many runs on the same bars).
pub fn run_with_cache(
    bars: &Bars,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
    cache: Option<&IndicatorCache>,
) -> Result<RunResult, Error> {
    run_reusing(bars, strategy, cfg, cache, Vec::new())
}

/// [`run_with_cache`] writing the equity curve into `equity` (its contents are replaced):
/// a sweep hands each run the previous run's curve, so it allocates no new memory per
/// combination.
pub fn run_reusing(
    bars: &Bars,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
    cache: Option<&IndicatorCache>,
    equity: Vec<f64>,
) -> Result<RunResult, Error> {
    cfg.validate()?;
    if bars.is_empty() {
        return Err(Error::TooFewBars { needed: 1, got: 0 });
    }
    match cfg.fractional_unit {
        Some(unit) if unit != 1.0 => {
            // Trade whole units of a series whose unit is `unit` of a share, then convert
            // back: backtesting.py's FractionalBacktest, and the same last bits.
            let scaled = bars.scaled_prices(unit);
            // The cache is keyed by series name, not data: scaled prices get no cache.
            let mut res = run_units(&scaled, strategy, cfg, None, equity)?;
            for t in &mut res.trades {
                t.size *= unit;
                t.entry_price /= unit;
                t.exit_price /= unit;
                t.sl = t.sl.map(|p| p / unit);
                t.tp = t.tp.map(|p| p / unit);
            }
            for t in &mut res.open_trades {
                t.size *= unit;
                t.entry_price /= unit;
                t.sl = t.sl.map(|p| p / unit);
                t.tp = t.tp.map(|p| p / unit);
            }
            Ok(res)
        }
        _ => run_units(bars, strategy, cfg, cache, equity),
    }
}

/// Writes `equity_at(close[k])` into `out[k]` while it stays positive; returns how many
/// bars were written (a non-positive equity is left for `next_bar`, which liquidates and
/// stops, as on any bar).
#[inline]
fn fill_equity(out: &mut [f64], close: &[f64], equity_at: impl Fn(f64) -> f64) -> usize {
    for (k, (o, &c)) in out.iter_mut().zip(close).enumerate() {
        let e = equity_at(c);
        if e <= 0.0 {
            return k;
        }
        *o = e;
    }
    out.len()
}

fn run_units(
    bars: &Bars,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
    cache: Option<&IndicatorCache>,
    mut equity: Vec<f64>,
) -> Result<RunResult, Error> {
    let n = bars.len();
    let mut init = Init::new(bars, cache);
    strategy.init(&mut init)?;
    let indicators = init.indicators;
    // backtesting.py takes argmin of isnan: an all-NaN indicator counts as warm at 0.
    let warmup = indicators
        .iter()
        .map(|r| if r.first_valid == n { 0 } else { r.first_valid })
        .max()
        .unwrap_or(0);
    let start = 1 + warmup;

    let mut broker = Broker::new(cfg.clone());
    equity.clear();
    equity.resize(n, f64::NAN);
    let mut out_of_money = false;
    let mut completed = true;
    let mut i = start;
    while i < n {
        match broker.next_bar(bars, i) {
            Ok(e) => equity[i] = e,
            Err(_) => {
                equity[i..].fill(0.0);
                out_of_money = true;
                completed = false;
                break;
            }
        }
        let mut ctx = Context {
            i,
            bars,
            indicators: &indicators,
            broker: &mut broker,
        };
        strategy.next(&mut ctx)?;
        if cfg.same_bar_close_fills && !broker.orders.is_empty() {
            broker.fill_at_close(bars, i);
            let e = broker.equity(bars.close()[i]);
            if e <= 0.0 {
                // As on any bar: liquidate at this close and stop.
                broker.liquidate(bars.close()[i], i);
                equity[i..].fill(0.0);
                out_of_money = true;
                completed = false;
                break;
            }
            equity[i] = e;
        }
        i += 1;
        // Fast-forward over bars where the strategy promises to do nothing and no order is
        // pending: only equity changes, computed exactly as `next_bar` computes it.
        let idle_to = strategy.idle_until(i).min(n);
        if idle_to > i && broker.orders.is_empty() {
            let close = &bars.close()[..idle_to];
            let from = i;
            i = match broker.trades.as_slice() {
                // Flat: equity is the cash on every bar.
                [] if broker.cash > 0.0 => {
                    equity[i..idle_to].fill(broker.cash);
                    idle_to - i
                }
                // One trade (the usual case): the same sum as `Broker::equity`, inlined.
                [t] => fill_equity(&mut equity[i..idle_to], &close[i..], |c| {
                    broker.cash + t.pl_at(c)
                }),
                _ => fill_equity(&mut equity[i..idle_to], &close[i..], |c| broker.equity(c)),
            } + from;
            if i > from {
                broker.i = i - 1;
            }
        }
    }
    if completed && cfg.finalize_trades && start < n {
        let ids: Vec<_> = broker.trades.iter().rev().map(|t| t.id).collect();
        for id in ids {
            broker.close_trade_order(id, 1.0);
        }
        // Fill the closing orders (and anything placed on the last bar) once more on the
        // last bar's prices.
        match broker.next_bar(bars, n - 1) {
            Ok(e) => equity[n - 1] = e,
            Err(_) => {
                equity[n - 1] = 0.0;
                out_of_money = true;
            }
        }
    }
    // Bars before the first decision carry the initial cash. (backtesting.py back-fills from
    // the first recorded equity, which is always the initial cash there: no order can exist
    // when it is recorded. A same-bar-close fill can change that bar's equity, so fill with
    // the cash itself.)
    for e in equity.iter_mut().take(start.min(n)) {
        *e = cfg.cash;
    }

    let mut warnings = std::mem::take(&mut broker.warnings);
    let open_trades: Vec<OpenTrade> = broker
        .trades
        .iter()
        .map(|t| OpenTrade {
            size: t.size,
            entry_bar: t.entry_bar,
            entry_price: t.entry_price,
            sl: t.sl,
            tp: t.tp,
            tag: t.tag.clone(),
        })
        .collect();
    if !open_trades.is_empty() {
        warnings.push(format!(
            "{} trade(s) remain open at the end and are left out of the trade statistics; \
             use finalize_trades to close them on the last bar",
            open_trades.len()
        ));
    }
    if out_of_money {
        warnings.push("equity fell to zero or below: positions liquidated, run stopped".into());
    }
    Ok(RunResult {
        trades: std::mem::take(&mut broker.closed),
        open_trades,
        equity,
        warnings,
        warmup,
        indicator_names: indicators.into_iter().map(|r| r.name).collect(),
        out_of_money,
    })
}
