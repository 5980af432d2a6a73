//! Statistics in vectorbt 1.2's dialect (`Portfolio.stats()`), over the same trades and
//! equity as the backtesting.py dialect.
//!
//! Conventions (see `shared/reference/vectorbt.md`): `freq` is the data period (median bar
//! spacing), `ann_factor = 365 days / freq`; per-bar returns `r` of portfolio value, the
//! first against the initial cash; durations count bars and are multiplied by `freq`; trade
//! statistics use closed trades; a trade's return is `pnl / (|size| · entry price)`.

use super::{StatsContext, mean};
use crate::bars::{Bars, TimestampNs};
use crate::broker::BrokerConfig;
use crate::engine::RunResult;

/// vectorbt's `Portfolio.stats()` keys.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct VbtStats {
    /// First timestamp.
    pub start: TimestampNs,
    /// Last timestamp.
    pub end: TimestampNs,
    /// Bars × freq, ns.
    pub period: i64,
    /// Initial cash.
    pub start_value: f64,
    /// Final portfolio value.
    pub end_value: f64,
    /// %.
    pub total_return_pct: f64,
    /// Buy-and-hold of the close from the first to the last bar, %.
    pub benchmark_return_pct: f64,
    /// max(|position value| / (|position value| + free cash)), %.
    pub max_gross_exposure_pct: f64,
    /// Fees of all orders (closed trades' entries and exits, open trades' entries).
    pub total_fees_paid: f64,
    /// Deepest drawdown, % (positive).
    pub max_drawdown_pct: f64,
    /// Longest drawdown (peak to recovery, +1 bar if not recovered), ns.
    pub max_drawdown_duration: Option<i64>,
    /// Closed + open trades.
    pub total_trades: usize,
    /// Closed trades.
    pub total_closed_trades: usize,
    /// Open trades.
    pub total_open_trades: usize,
    /// PnL of open trades at the last close (net of entry fees).
    pub open_trade_pnl: f64,
    /// %.
    pub win_rate_pct: f64,
    /// %.
    pub best_trade_pct: f64,
    /// %.
    pub worst_trade_pct: f64,
    /// %.
    pub avg_winning_trade_pct: f64,
    /// %.
    pub avg_losing_trade_pct: f64,
    /// ns.
    pub avg_winning_trade_duration: Option<i64>,
    /// ns.
    pub avg_losing_trade_duration: Option<i64>,
    /// Σ winning PnL / |Σ losing PnL|.
    pub profit_factor: f64,
    /// In cash: `W·mean(win PnL) − (1−W)·|mean(loss PnL)|`.
    pub expectancy: f64,
    /// `mean(r)/std(r)·√ann_factor`.
    pub sharpe_ratio: f64,
    /// Annualised return / max drawdown.
    pub calmar_ratio: f64,
    /// Σ gains / Σ losses of `r` (threshold 0).
    pub omega_ratio: f64,
    /// `mean(r)·√ann_factor / √mean(min(r, 0)²)`.
    pub sortino_ratio: f64,
}

/// A duration of `bars` bars at `freq` ns per bar (fractional bars truncated to ns).
fn bars_ns(bars: f64, freq: i64) -> Option<i64> {
    bars.is_finite().then_some((bars * freq as f64) as i64)
}

/// Computes vectorbt's statistics of a run (`cfg` supplies the open trades' entry fees).
pub fn compute_vectorbt(bars: &Bars, run: &RunResult, cfg: &BrokerConfig) -> VbtStats {
    compute_vectorbt_with(&StatsContext::lean(bars), bars, run, cfg)
}

/// [`compute_vectorbt`] with the bar-only context precomputed (from the same `bars`).
pub fn compute_vectorbt_with(
    ctx: &StatsContext,
    bars: &Bars,
    run: &RunResult,
    cfg: &BrokerConfig,
) -> VbtStats {
    let freq = ctx.period;
    let time = bars.time();
    let close = bars.close();
    let eq = &run.equity;
    let n = eq.len();
    let init = cfg.cash;

    // Gross exposure = |asset value| / (|asset value| + free cash), per bar close. vectorbt
    // books a short's entry value out of free cash as it does a long's, so with long value
    // L, short value S (absolute) and short cost basis B (Σ |units| · entry price):
    // cash = equity − L + S, free cash = cash − 2B, and exposure = (L + S) / (equity + 2S − 2B).
    // (Checked against vectorbt 1.2 itself on the bt-emulation case, whose peak is on a
    // short bar.) Positions per bar come from the trade records: held at the close of the
    // entry bar up to, not including, the exit bar.
    let mut d_long = vec![0.0; n + 1];
    let mut d_short = vec![0.0; n + 1];
    let mut d_basis = vec![0.0; n + 1];
    let mut add = |entry: usize, exit: usize, size: f64, price: f64| {
        let (units, basis) = (size.abs(), size.abs() * price);
        if size > 0.0 {
            d_long[entry] += units;
            d_long[exit] -= units;
        } else {
            d_short[entry] += units;
            d_short[exit] -= units;
            d_basis[entry] += basis;
            d_basis[exit] -= basis;
        }
    };
    for t in &run.trades {
        add(t.entry_bar, t.exit_bar.min(n), t.size, t.entry_price);
    }
    for t in &run.open_trades {
        add(t.entry_bar, n, t.size, t.entry_price);
    }
    let (mut long, mut short, mut basis, mut max_exposure) = (0.0, 0.0, 0.0, f64::NEG_INFINITY);
    for i in 0..n {
        long += d_long[i];
        short += d_short[i];
        basis += d_basis[i];
        let (l, s) = (long * close[i], short * close[i]);
        let exposure = if l == 0.0 && s == 0.0 {
            0.0
        } else {
            (l + s) / (eq[i] + 2.0 * s - 2.0 * basis)
        };
        max_exposure = max_exposure.max(exposure);
    }

    let closed = &run.trades;
    let last = close[n - 1];
    let open_fees: f64 = run
        .open_trades
        .iter()
        .map(|t| cfg.commission.of(t.size, t.entry_price))
        .sum();
    let open_pnl: f64 = run
        .open_trades
        .iter()
        .map(|t| t.size * (last - t.entry_price) - cfg.commission.of(t.size, t.entry_price))
        .sum();
    let mut s = VbtStats {
        start: time[0],
        end: time[n - 1],
        period: n as i64 * freq,
        start_value: init,
        end_value: eq[n - 1],
        total_return_pct: (eq[n - 1] - init) / init * 100.0,
        benchmark_return_pct: (close[n - 1] / close[0] - 1.0) * 100.0,
        max_gross_exposure_pct: max_exposure * 100.0,
        total_fees_paid: closed.iter().map(|t| t.commission).sum::<f64>() + open_fees,
        total_trades: closed.len() + run.open_trades.len(),
        total_open_trades: run.open_trades.len(),
        open_trade_pnl: open_pnl,
        ..VbtStats::default()
    };
    s.fill_returns(eq, init, freq);
    s.fill_trades(
        closed.iter().map(|t| VbtTrade {
            pnl: t.pnl(),
            ret: t.pnl() / (t.size.abs() * t.entry_price),
            bars: (t.exit_bar - t.entry_bar) as f64,
        }),
        freq,
    );
    s
}

/// What vectorbt's trade statistics read of a closed trade.
#[derive(Debug, Clone, Copy)]
pub(crate) struct VbtTrade {
    /// Profit net of fees.
    pub(crate) pnl: f64,
    /// Return as a fraction of the entry value.
    pub(crate) ret: f64,
    /// Exit bar − entry bar.
    pub(crate) bars: f64,
}

impl VbtStats {
    /// The statistics of the value curve `eq` (drawdowns and risk-adjusted ratios), the
    /// first bar's return against `init`, annualised with `freq` ns per bar.
    pub(crate) fn fill_returns(&mut self, eq: &[f64], init: f64, freq: i64) {
        let n = eq.len();
        let ann = 365.0 * 86_400e9 / freq as f64;
        // Returns, first bar against the initial cash, recomputed where needed instead of
        // stored. One pass folds every accumulator in bar order (the same sums, products
        // and bits as separate passes: `Sum` of floats starts at −0.0, `mean` at 0.0) and
        // the drawdown walk; a second pass takes the variance around the mean.
        // vectorbt's `get_return_nb` where the value was not positive (a short book can
        // lose more than the account): a return on a negative value has its sign
        // flipped, one on zero is ±inf (0 when it stays at zero).
        let ret = |i: usize| {
            let prev = if i == 0 { init } else { eq[i - 1] };
            if prev > 0.0 {
                eq[i] / prev - 1.0
            } else if prev < 0.0 {
                -((eq[i] - prev) / prev)
            } else if eq[i] == 0.0 {
                0.0
            } else {
                f64::INFINITY * eq[i].signum()
            }
        };
        let (mut sum, mut growth, mut down, mut gains, mut losses_neg) =
            (0.0f64, 1.0f64, 0.0f64, -0.0f64, -0.0f64);
        // Drawdown records in bars. vectorbt's record starts at the first bar below the peak and
        // ends at the recovery (first bar back at the peak), or at the last bar +1 when still
        // open; the golden cases pin this down (a peak-to-recovery count is one bar longer).
        let (mut peak, mut peak_i, mut max_dd, mut longest) =
            (f64::NEG_INFINITY, 0usize, 0.0f64, None::<usize>);
        let mut in_dd = false;
        for (i, &e) in eq.iter().enumerate() {
            let x = ret(i);
            sum += x;
            growth *= 1.0 + x;
            down += x.min(0.0).powi(2);
            if x > 0.0 {
                gains += x;
            }
            if x < 0.0 {
                losses_neg += x;
            }
            if e >= peak {
                if in_dd {
                    let d = i - peak_i - 1;
                    longest = Some(longest.map_or(d, |l: usize| l.max(d)));
                    in_dd = false;
                }
                peak = e;
                peak_i = i;
            } else {
                in_dd = true;
                max_dd = max_dd.max(1.0 - e / peak);
            }
        }
        let nf = n as f64;
        let (mr, downside) = if n == 0 {
            (f64::NAN, f64::NAN)
        } else {
            (sum / nf, (down / nf).sqrt())
        };
        let sd = {
            let mut v = -0.0f64;
            for i in 0..n {
                let x = ret(i);
                v += (x - mr) * (x - mr);
            }
            (v / (nf - 1.0)).sqrt()
        };
        let ann_return = growth.powf(ann / nf) - 1.0;
        let losses = -losses_neg;
        if in_dd {
            let d = (n - 1) - (peak_i + 1) + 1;
            longest = Some(longest.map_or(d, |l| l.max(d)));
        }
        self.max_drawdown_pct = max_dd * 100.0;
        self.max_drawdown_duration = longest.map(|b| b as i64 * freq);
        self.sharpe_ratio = mr / sd * ann.sqrt();
        self.calmar_ratio = ann_return / max_dd;
        self.omega_ratio = gains / losses;
        self.sortino_ratio = mr * ann / (downside * ann.sqrt());
    }

    /// The statistics of closed trades (win rate, best/worst, averages, profit factor,
    /// expectancy), durations at `freq` ns per bar.
    pub(crate) fn fill_trades(&mut self, closed: impl Iterator<Item = VbtTrade>, freq: i64) {
        let closed: Vec<VbtTrade> = closed.collect();
        let wins: Vec<&VbtTrade> = closed.iter().filter(|t| t.pnl > 0.0).collect();
        let losses_t: Vec<&VbtTrade> = closed.iter().filter(|t| t.pnl < 0.0).collect();
        let nt = closed.len();
        let win_rate = if nt == 0 {
            f64::NAN
        } else {
            wins.len() as f64 / nt as f64
        };
        let dur = |ts: &[&VbtTrade]| bars_ns(mean(ts.iter().map(|t| t.bars)), freq);
        let avg_win_pnl = mean(wins.iter().map(|t| t.pnl));
        let avg_loss_pnl = mean(losses_t.iter().map(|t| t.pnl));
        let win_pnl: f64 = wins.iter().map(|t| t.pnl).sum();
        let loss_pnl: f64 = losses_t.iter().map(|t| t.pnl).sum();
        let fold =
            |f: fn(f64, f64) -> f64| closed.iter().map(|t| t.ret).reduce(f).unwrap_or(f64::NAN);
        self.total_closed_trades = nt;
        self.win_rate_pct = win_rate * 100.0;
        self.best_trade_pct = fold(f64::max) * 100.0;
        self.worst_trade_pct = fold(f64::min) * 100.0;
        self.avg_winning_trade_pct = mean(wins.iter().map(|t| t.ret)) * 100.0;
        self.avg_losing_trade_pct = mean(losses_t.iter().map(|t| t.ret)) * 100.0;
        self.avg_winning_trade_duration = dur(&wins);
        self.avg_losing_trade_duration = dur(&losses_t);
        self.profit_factor = win_pnl / loss_pnl.abs();
        self.expectancy = win_rate * avg_win_pnl - (1.0 - win_rate) * avg_loss_pnl.abs();
    }
}

impl VbtStats {
    /// Every statistic key, in output order.
    pub fn keys() -> [&'static str; 28] {
        VbtStats::default().entries().map(|(k, _)| k)
    }

    /// A statistic by its JSON key.
    pub fn get(&self, key: &str) -> Option<super::StatValue> {
        self.entries()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }

    /// Every statistic under its JSON key (`shared/reference/vectorbt.md`), in vectorbt's
    /// order; durations in ns.
    pub fn entries(&self) -> [(&'static str, super::StatValue); 28] {
        use super::StatValue::{Count, Duration, Num, Time};
        [
            ("start", Time(self.start)),
            ("end", Time(self.end)),
            ("period_s", Duration(Some(self.period))),
            ("start_value", Num(self.start_value)),
            ("end_value", Num(self.end_value)),
            ("total_return_pct", Num(self.total_return_pct)),
            ("benchmark_return_pct", Num(self.benchmark_return_pct)),
            ("max_gross_exposure_pct", Num(self.max_gross_exposure_pct)),
            ("total_fees_paid", Num(self.total_fees_paid)),
            ("max_drawdown_pct", Num(self.max_drawdown_pct)),
            (
                "max_drawdown_duration_s",
                Duration(self.max_drawdown_duration),
            ),
            ("total_trades", Count(self.total_trades)),
            ("total_closed_trades", Count(self.total_closed_trades)),
            ("total_open_trades", Count(self.total_open_trades)),
            ("open_trade_pnl", Num(self.open_trade_pnl)),
            ("win_rate_pct", Num(self.win_rate_pct)),
            ("best_trade_pct", Num(self.best_trade_pct)),
            ("worst_trade_pct", Num(self.worst_trade_pct)),
            ("avg_winning_trade_pct", Num(self.avg_winning_trade_pct)),
            ("avg_losing_trade_pct", Num(self.avg_losing_trade_pct)),
            (
                "avg_winning_trade_duration_s",
                Duration(self.avg_winning_trade_duration),
            ),
            (
                "avg_losing_trade_duration_s",
                Duration(self.avg_losing_trade_duration),
            ),
            ("profit_factor", Num(self.profit_factor)),
            ("expectancy", Num(self.expectancy)),
            ("sharpe_ratio", Num(self.sharpe_ratio)),
            ("calmar_ratio", Num(self.calmar_ratio)),
            ("omega_ratio", Num(self.omega_ratio)),
            ("sortino_ratio", Num(self.sortino_ratio)),
        ]
    }
}
