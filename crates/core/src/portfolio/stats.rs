//! Statistics of a portfolio, computed on the portfolio's own value curve and on the
//! trades of all assets pooled: never an average of per-asset statistics (vectorbt's
//! grouped `stats()` without `cash_sharing` averages, which users rightly complain about).
//! The benchmark is an equal-weight buy-and-hold basket of every asset.

use super::Direction;
use super::engine::PortfolioResult;
use super::trades::{AssetTrade, TradeStatus};
use crate::bars::Bars;
use crate::broker::ClosedTrade;
use crate::stats::{self, Stats, VbtStats, VbtTrade, data_period};
use crate::universe::Universe;

/// The value of `cash` split equally across every asset on the first bar and held, no
/// fees: an asset that lists later is bought at its first close and counts at that
/// price until it lists (vectorbt's benchmark with back-filled closes).
pub fn benchmark(universe: &Universe, cash: f64) -> Vec<f64> {
    let n = universe.len();
    let per = cash / universe.n_assets() as f64;
    let mut value = vec![0.0; n];
    for a in universe.assets() {
        let close = a.bars().close();
        let units = per / close[0];
        let mut k = 0usize;
        let mut c = close[0];
        for (t, v) in value.iter_mut().enumerate() {
            while k < a.rows().len() && a.rows()[k] as usize <= t {
                c = close[k];
                k += 1;
            }
            *v += units * c;
        }
    }
    value
}

/// The [`benchmark`] basket as bars on the union timeline (open = high = low = close =
/// its value): what the single-asset statistics and outputs read as "the market" of a
/// portfolio.
pub fn basket_bars(universe: &Universe, cash: f64) -> Bars {
    Bars::try_from_close(universe.time().to_vec(), benchmark(universe, cash))
        .expect("a basket of valid bars is valid")
}

/// The last value of [`benchmark`], summed as it sums the last bar, without the series.
fn benchmark_end(universe: &Universe, cash: f64) -> f64 {
    let per = cash / universe.n_assets() as f64;
    let mut v = 0.0;
    for a in universe.assets() {
        let close = a.bars().close();
        v += per / close[0] * close[close.len() - 1];
    }
    v
}

/// Closed trades as the single-asset statistics take them; the symbol goes in the tag.
pub fn closed_trades(universe: &Universe, trades: &[AssetTrade]) -> Vec<ClosedTrade> {
    trades
        .iter()
        .filter(|t| t.status == TradeStatus::Closed)
        .map(|t| ClosedTrade {
            // backtesting.py's sign convention: a short trade's size is negative.
            size: match t.direction {
                Direction::Long => t.size,
                Direction::Short => -t.size,
            },
            entry_bar: t.entry_bar,
            exit_bar: t.exit_bar,
            entry_price: t.entry_price,
            exit_price: t.exit_price,
            sl: None,
            tp: None,
            commission: t.entry_fees + t.exit_fees,
            tag: Some(universe.assets()[t.asset].symbol().to_string()),
        })
        .collect()
}

/// vectorbt 1.2's `Portfolio.stats()` of a group with shared cash.
pub fn vectorbt(universe: &Universe, result: &PortfolioResult, trades: &[AssetTrade]) -> VbtStats {
    let time = universe.time();
    let n = time.len();
    let freq = data_period(time);
    let init = result.init_cash;
    let eq = &result.value;
    let bench_end = benchmark_end(universe, init);
    // vectorbt's gross exposure: Σ |asset value| / (Σ |asset value| + free cash), at
    // its highest (kept by the engine).
    let max_exposure = result.max_gross_exposure;
    let open: Vec<&AssetTrade> = trades
        .iter()
        .filter(|t| t.status == TradeStatus::Open)
        .collect();
    let mut s = VbtStats {
        start: time[0],
        end: time[n - 1],
        period: n as i64 * freq,
        start_value: init,
        end_value: eq[n - 1],
        total_return_pct: (eq[n - 1] - init) / init * 100.0,
        benchmark_return_pct: (bench_end / init - 1.0) * 100.0,
        max_gross_exposure_pct: max_exposure * 100.0,
        total_fees_paid: result.fills.iter().map(|f| f.fees).sum(),
        total_trades: trades.len(),
        total_open_trades: open.len(),
        open_trade_pnl: open.iter().map(|t| t.pnl()).sum(),
        ..VbtStats::default()
    };
    s.fill_returns(eq, init, freq);
    s.fill_trades(
        trades
            .iter()
            .filter(|t| t.status == TradeStatus::Closed)
            .map(|t| VbtTrade {
                pnl: t.pnl(),
                ret: t.return_frac(),
                bars: (t.exit_bar - t.entry_bar) as f64,
            }),
        freq,
    );
    s
}

/// backtesting.py's statistics of the portfolio: its value curve as the equity, its
/// closed trades pooled, and the equal-weight basket as the buy-and-hold series (so
/// `Buy & Hold Return`, alpha and beta are against the basket).
pub fn backtesting_py(
    universe: &Universe,
    result: &PortfolioResult,
    trades: &[AssetTrade],
) -> Stats {
    let bars = basket_bars(universe, result.init_cash);
    stats::compute_parts(&bars, &closed_trades(universe, trades), &result.value, 0)
}

/// One asset's share of a portfolio run.
#[derive(Debug, Clone, PartialEq)]
pub struct AssetSummary {
    /// The asset's symbol.
    pub symbol: String,
    /// Trades (closed and open).
    pub trades: usize,
    /// Filled orders.
    pub orders: usize,
    /// Share of bars with a position, %.
    pub exposure_pct: f64,
    /// Profit of its trades, open ones at the last close, net of fees.
    pub pnl: f64,
    /// `pnl` as a share of the initial cash, %.
    pub contribution_pct: f64,
    /// Its value at the last close over the portfolio's, %.
    pub final_weight_pct: f64,
}

/// Per-asset table of a run.
pub fn per_asset(
    universe: &Universe,
    result: &PortfolioResult,
    trades: &[AssetTrade],
) -> Vec<AssetSummary> {
    let n = universe.len();
    let final_value = result.value[n - 1];
    // One pass over the fills and the trades, grouped by asset.
    let mut fills: Vec<Vec<&super::Fill>> = vec![Vec::new(); universe.n_assets()];
    for f in &result.fills {
        fills[f.asset].push(f);
    }
    let mut traded = vec![(0usize, 0.0f64); universe.n_assets()];
    for t in trades {
        traded[t.asset].0 += 1;
        traded[t.asset].1 += t.pnl();
    }
    universe
        .assets()
        .iter()
        .zip(fills.iter().zip(&traded))
        .map(|(asset, (fills, &(count, pnl)))| {
            // Bars held: from each position's first fill to the fill that empties it.
            let (mut held, mut since, mut pos) = (0usize, 0usize, 0.0f64);
            for f in fills {
                if pos == 0.0 && f.position_after != 0.0 {
                    since = f.bar;
                } else if pos != 0.0 && f.position_after == 0.0 {
                    held += f.bar - since;
                }
                pos = f.position_after;
            }
            if pos != 0.0 {
                held += n - since;
            }
            let last_close = asset.bars().close()[asset.bars().len() - 1];
            AssetSummary {
                symbol: asset.symbol().to_string(),
                trades: count,
                orders: fills.len(),
                exposure_pct: held as f64 / n as f64 * 100.0,
                pnl,
                contribution_pct: pnl / result.init_cash * 100.0,
                final_weight_pct: pos * last_close / final_value * 100.0,
            }
        })
        .collect()
}
