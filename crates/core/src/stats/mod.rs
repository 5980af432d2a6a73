//! Statistics in backtesting.py 0.6.6's dialect: every key it reports, same formulas.
//!
//! The formulas are listed in `shared/reference/backtesting-py.md` and summarised on each
//! field of [`Stats`]. Values backtesting.py reports as NaN are NaN here (`null` in JSON);
//! durations are nanoseconds, `None` where backtesting.py reports `NaT`.

mod benchmark;
pub(crate) mod calendar;
mod vectorbt;

pub use benchmark::{AlignedBenchmark, BenchmarkError, BenchmarkStats, When};
use calendar::{Bucket, NS_PER_DAY, NS_PER_SEC, ceil_to_resolution, weekday};
pub(crate) use vectorbt::VbtTrade;
pub use vectorbt::{VbtStats, compute_vectorbt, compute_vectorbt_with};

use crate::bars::{Bars, TimestampNs};
use crate::broker::ClosedTrade;
use crate::engine::RunResult;

/// The summary of a run.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// First timestamp.
    pub start: TimestampNs,
    /// Last timestamp.
    pub end: TimestampNs,
    /// `end − start`, ns.
    pub duration: i64,
    /// Share of bars with a closed trade open (entry..=exit bar), %.
    pub exposure_time_pct: f64,
    /// Last equity.
    pub equity_final: f64,
    /// Highest equity.
    pub equity_peak: f64,
    /// Commissions of closed trades.
    pub commissions: f64,
    /// Total return, %.
    pub return_pct: f64,
    /// Close-to-close return from the warm-up bar to the end, %.
    pub buy_and_hold_return_pct: f64,
    /// `((1+g)^N − 1)·100`, `g` the geometric mean period return.
    pub return_ann_pct: f64,
    /// Volatility of compounded returns, annualised, %.
    pub volatility_ann_pct: f64,
    /// Compound annual growth over the calendar duration (365.25-day years), %.
    pub cagr_pct: f64,
    /// `return_ann_pct / volatility_ann_pct` (risk-free rate 0).
    pub sharpe_ratio: f64,
    /// Annualised return over annualised downside deviation.
    pub sortino_ratio: f64,
    /// Annualised return over the maximum drawdown.
    pub calmar_ratio: f64,
    /// `return − β·buy_and_hold_return`, %.
    pub alpha_pct: f64,
    /// Covariance of per-bar log returns of equity and close over the close's variance.
    pub beta: f64,
    /// Deepest drawdown, % (negative).
    pub max_drawdown_pct: f64,
    /// Mean depth of drawdown periods, % (negative).
    pub avg_drawdown_pct: f64,
    /// Longest drawdown period, ns, rounded up to the data resolution.
    pub max_drawdown_duration: Option<i64>,
    /// Mean drawdown period, ns, rounded up.
    pub avg_drawdown_duration: Option<i64>,
    /// Closed trades.
    pub num_trades: usize,
    /// Share of trades with positive PnL, %.
    pub win_rate_pct: f64,
    /// Best trade return, %.
    pub best_trade_pct: f64,
    /// Worst trade return, %.
    pub worst_trade_pct: f64,
    /// Geometric mean trade return, %.
    pub avg_trade_pct: f64,
    /// Longest trade, ns, rounded up.
    pub max_trade_duration: Option<i64>,
    /// Mean trade duration, ns, rounded up.
    pub avg_trade_duration: Option<i64>,
    /// Sum of winning over losing trade returns (returns, not PnL).
    pub profit_factor: f64,
    /// Arithmetic mean trade return, %.
    pub expectancy_pct: f64,
    /// System Quality Number: `sqrt(n)·mean(PnL)/std(PnL)`.
    pub sqn: f64,
    /// Kelly criterion.
    pub kelly_criterion: f64,
}

/// One statistic's value, typed for output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StatValue {
    /// A timestamp (ns since the epoch).
    Time(TimestampNs),
    /// A number (NaN where backtesting.py reports NaN).
    Num(f64),
    /// A duration in ns (`None` where backtesting.py reports `NaT`).
    Duration(Option<i64>),
    /// A count.
    Count(usize),
}

impl StatValue {
    /// The value as a number for ranking (durations in seconds, times in ns).
    pub fn as_f64(self) -> f64 {
        match self {
            StatValue::Time(t) => t as f64,
            StatValue::Num(x) => x,
            StatValue::Duration(d) => d.map_or(f64::NAN, |d| d as f64 / 1e9),
            StatValue::Count(c) => c as f64,
        }
    }
}

impl Stats {
    /// Every statistic under its JSON key (backtesting.py's name in snake case, see
    /// `shared/reference/backtesting-py.md`), in backtesting.py's order.
    pub fn entries(&self) -> [(&'static str, StatValue); 32] {
        use StatValue::{Count, Duration, Num, Time};
        [
            ("start", Time(self.start)),
            ("end", Time(self.end)),
            ("duration_s", Duration(Some(self.duration))),
            ("exposure_time_pct", Num(self.exposure_time_pct)),
            ("equity_final", Num(self.equity_final)),
            ("equity_peak", Num(self.equity_peak)),
            ("commissions", Num(self.commissions)),
            ("return_pct", Num(self.return_pct)),
            ("buy_and_hold_return_pct", Num(self.buy_and_hold_return_pct)),
            ("return_ann_pct", Num(self.return_ann_pct)),
            ("volatility_ann_pct", Num(self.volatility_ann_pct)),
            ("cagr_pct", Num(self.cagr_pct)),
            ("sharpe_ratio", Num(self.sharpe_ratio)),
            ("sortino_ratio", Num(self.sortino_ratio)),
            ("calmar_ratio", Num(self.calmar_ratio)),
            ("alpha_pct", Num(self.alpha_pct)),
            ("beta", Num(self.beta)),
            ("max_drawdown_pct", Num(self.max_drawdown_pct)),
            ("avg_drawdown_pct", Num(self.avg_drawdown_pct)),
            (
                "max_drawdown_duration_s",
                Duration(self.max_drawdown_duration),
            ),
            (
                "avg_drawdown_duration_s",
                Duration(self.avg_drawdown_duration),
            ),
            ("num_trades", Count(self.num_trades)),
            ("win_rate_pct", Num(self.win_rate_pct)),
            ("best_trade_pct", Num(self.best_trade_pct)),
            ("worst_trade_pct", Num(self.worst_trade_pct)),
            ("avg_trade_pct", Num(self.avg_trade_pct)),
            ("max_trade_duration_s", Duration(self.max_trade_duration)),
            ("avg_trade_duration_s", Duration(self.avg_trade_duration)),
            ("profit_factor", Num(self.profit_factor)),
            ("expectancy_pct", Num(self.expectancy_pct)),
            ("sqn", Num(self.sqn)),
            ("kelly_criterion", Num(self.kelly_criterion)),
        ]
    }

    /// Every statistic key, in output order.
    pub fn keys() -> [&'static str; 32] {
        Stats::default().entries().map(|(k, _)| k)
    }

    /// A statistic by its JSON key.
    pub fn get(&self, key: &str) -> Option<StatValue> {
        self.entries()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
    }
}

/// Per-bar drawdown `1 − equity / running max` (a fraction ≥ 0).
pub fn drawdown(equity: &[f64]) -> Vec<f64> {
    let mut peak = f64::NEG_INFINITY;
    equity
        .iter()
        .map(|&e| {
            peak = peak.max(e);
            1.0 - e / peak
        })
        .collect()
}

fn mean(v: impl IntoIterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0usize);
    for x in v {
        s += x;
        n += 1;
    }
    if n == 0 { f64::NAN } else { s / n as f64 }
}

/// [`mean`] from a sum and its count.
fn mean_of(sum: f64, n: usize) -> f64 {
    if n == 0 { f64::NAN } else { sum / n as f64 }
}

fn var_ddof1(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return f64::NAN;
    }
    let m = mean(v.iter().copied());
    v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() - 1) as f64
}

/// `exp(mean(log(1 + r))) − 1`; 0 if any `1 + r <= 0`; NaN if empty. NaN returns count as 0.
///
/// The logarithms go through [`ln_ratio`] (a trade's or a period's return is usually small,
/// where its series is exact to a few ulps and several times cheaper than `ln`).
fn geometric_mean(r: &[f64]) -> f64 {
    if r.is_empty() {
        return f64::NAN;
    }
    let mut sum = 0.0;
    for x in r {
        let one_plus = if x.is_nan() { 1.0 } else { x + 1.0 };
        if one_plus <= 0.0 {
            return 0.0;
        }
        sum += ln_ratio(one_plus, 1.0);
    }
    (sum / r.len() as f64).exp() - 1.0
}

/// `ln(b / a)`. Bar-to-bar equity ratios are close to 1, where
/// `ln(b/a) = 2·atanh(s)`, `s = (b − a)/(b + a)`, and the odd series
/// `2s(1 + s²/3 + s⁴/5 + … + s¹²/13)` truncates at ~1e-19 relative for |s| < 0.05; with
/// rounding the result is within ~1e-15 relative of `ln` (a few ulps, tested), far inside
/// the 1e-9 that beta is checked to, for one division and a few multiply-adds instead of a
/// libm call. Larger moves use `ln`.
#[inline]
fn ln_ratio(b: f64, a: f64) -> f64 {
    let s = (b - a) / (b + a);
    if s.abs() < 0.05 {
        2.0 * s * ln_ratio_series(s * s)
    } else {
        (b / a).ln()
    }
}

/// `1 + t/3 + t²/5 + … + t⁶/13`, the series of [`ln_ratio`] in `t = s²`.
#[inline]
fn ln_ratio_series(t: f64) -> f64 {
    1.0 + t
        * (1.0 / 3.0
            + t * (1.0 / 5.0
                + t * (1.0 / 7.0 + t * (1.0 / 9.0 + t * (1.0 / 11.0 + t * (1.0 / 13.0))))))
}

/// Bars per block of the statistics' walk over equity (a multiple of [`LANES`], so every
/// block starts on lane 0 and the sums do not depend on how the walk is cut).
pub(crate) const COV_BLOCK: usize = 2048;

/// Independent partial sums of the covariance: bar `k`'s term goes to lane `k % LANES`,
/// which lets the compiler run the lanes side by side in vector registers (one AVX-512
/// register, two AVX2 ones), each lane one addition per eight bars.
const LANES: usize = 8;

/// `Σ ln(e[k+1]/e[k])·y[k]`, summed lane by lane ([`LANES`]).
#[derive(Default)]
struct CovSum {
    lanes: [f64; LANES],
}

impl CovSum {
    /// Adds the terms of `equity` (one longer than `y`) whose first bar is a multiple of
    /// [`LANES`] bars after the first bar of the first call.
    #[inline]
    fn add(&mut self, equity: &[f64], y: &[f64]) {
        debug_assert_eq!(equity.len(), y.len() + 1);
        // One AVX-512 register of lanes, written out ([`add_avx512`]); four lanes in one
        // AVX2 register, or two, compiled from the portable loop. The same bits either way.
        #[cfg(target_arch = "x86_64")]
        if crate::simd::tier() == crate::simd::Tier::Avx512 {
            // SAFETY: `tier()` reports AVX-512F only where the CPU has it.
            #[allow(unsafe_code, reason = "measured hot loop: runtime CPU dispatch")]
            unsafe {
                add_avx512(self, equity, y);
            }
            return;
        }
        crate::simd::wide_kernel!(fn add_wide(s: &mut CovSum, equity: &[f64], y: &[f64]) = CovSum::add_lanes;);
        add_wide(self, equity, y);
    }

    #[inline(always)]
    fn add_lanes(&mut self, equity: &[f64], y: &[f64]) {
        // The running sums stay in registers for the whole call: a round with a large
        // move takes its exact terms from an out-of-line function, so the loop itself
        // calls nothing that would make the compiler keep the sums in memory across it.
        let mut lanes = self.lanes;
        // Two rounds of the lanes a step: twice the independent work between the lanes'
        // additions (the series is a chain of dependent multiply-adds). Each lane still adds
        // its terms in bar order, so the sums are those of one round a step.
        const STEP: usize = 2 * LANES;
        let pairs = y.len() / STEP * STEP;
        for (k, ys) in y[..pairs].chunks_exact(STEP).enumerate() {
            let e = &equity[k * STEP..k * STEP + STEP + 1];
            let (lo, hi) = (terms(&e[..=LANES]), terms(&e[LANES..]));
            for j in 0..LANES {
                lanes[j] += lo[j] * ys[j];
            }
            for j in 0..LANES {
                lanes[j] += hi[j] * ys[LANES + j];
            }
        }
        let whole = y.len() / LANES * LANES;
        if whole > pairs {
            let x = terms(&equity[pairs..=whole]);
            for j in 0..LANES {
                lanes[j] += x[j] * y[pairs + j];
            }
        }
        for (j, &yj) in y[whole..].iter().enumerate() {
            let k = whole + j;
            lanes[k % LANES] += log_step(equity[k], equity[k + 1]) * yj;
        }
        self.lanes = lanes;
    }

    fn total(&self) -> f64 {
        let l = &self.lanes;
        ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]))
    }
}

/// The log returns of one round of the lanes: `e` holds [`LANES`] + 1 bars of equity.
/// The series of `ln_ratio` without its branch, for every term at once; a round with a
/// large move (or a zero or non-finite equity) is redone exactly.
#[inline(always)]
fn terms(e: &[f64]) -> [f64; LANES] {
    let e: &[f64; LANES + 1] = e.try_into().expect("a round of bars");
    let mut x = [0.0f64; LANES];
    let mut near = true;
    for j in 0..LANES {
        let (a, b) = (e[j], e[j + 1]);
        let s = (b - a) / (b + a);
        near &= s.abs() < 0.05;
        x[j] = 2.0 * s * ln_ratio_series(s * s);
    }
    if !near {
        x = exact_terms(e);
    }
    x
}

/// A round's terms through `ln`, out of line (see [`CovSum::add_lanes`]).
#[cold]
#[inline(never)]
fn exact_terms(e: &[f64; LANES + 1]) -> [f64; LANES] {
    std::array::from_fn(|j| log_step(e[j], e[j + 1]))
}

/// [`CovSum::add_lanes`] with the eight lanes in one AVX-512 register, operation for
/// operation (the same bits, tested tier by tier). Written out because the compiler, left
/// to the portable loop, kept the sums in memory around the exact terms' library call
/// and split the rounds across narrower registers: a store and a reload on the chain of
/// additions every round.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn add_avx512(sum: &mut CovSum, equity: &[f64], y: &[f64]) {
    use std::arch::x86_64::{
        _CMP_LT_OQ, _mm512_abs_pd, _mm512_add_pd, _mm512_cmp_pd_mask, _mm512_div_pd,
        _mm512_loadu_pd, _mm512_mul_pd, _mm512_set1_pd, _mm512_storeu_pd, _mm512_sub_pd,
    };
    assert_eq!(
        equity.len(),
        y.len() + 1,
        "one more bar of equity than terms"
    );
    let whole = y.len() / LANES * LANES;
    // SAFETY (every load and store below): `lanes` holds LANES values; for k + LANES <=
    // whole, y[k..k + LANES] and equity[k..k + LANES + 1] are in bounds (checked above).
    #[allow(unsafe_code, reason = "vector loads of checked ranges")]
    let mut lanes = unsafe { _mm512_loadu_pd(sum.lanes.as_ptr()) };
    let c = |v: f64| _mm512_set1_pd(v);
    let (one, two, limit) = (c(1.0), c(2.0), c(0.05));
    let (c3, c5, c7, c9, c11, c13) = (
        c(1.0 / 3.0),
        c(1.0 / 5.0),
        c(1.0 / 7.0),
        c(1.0 / 9.0),
        c(1.0 / 11.0),
        c(1.0 / 13.0),
    );
    let mut k = 0;
    while k < whole {
        #[allow(unsafe_code, reason = "vector loads of checked ranges")]
        let (a, b, yv) = unsafe {
            (
                _mm512_loadu_pd(equity.as_ptr().add(k)),
                _mm512_loadu_pd(equity.as_ptr().add(k + 1)),
                _mm512_loadu_pd(y.as_ptr().add(k)),
            )
        };
        // `terms`: s = (b − a)/(b + a); 2s·(1 + t(1/3 + t(1/5 + … t(1/13)))) with t = s².
        let s = _mm512_div_pd(_mm512_sub_pd(b, a), _mm512_add_pd(b, a));
        let x = if _mm512_cmp_pd_mask::<_CMP_LT_OQ>(_mm512_abs_pd(s), limit) == 0xff {
            let t = _mm512_mul_pd(s, s);
            let mut p = _mm512_mul_pd(t, c13);
            for ck in [c11, c9, c7, c5, c3] {
                p = _mm512_mul_pd(t, _mm512_add_pd(ck, p));
            }
            let series = _mm512_add_pd(one, p);
            _mm512_mul_pd(_mm512_mul_pd(two, s), series)
        } else {
            let e: &[f64; LANES + 1] = equity[k..=k + LANES].try_into().expect("a round");
            let x = exact_terms(e);
            #[allow(unsafe_code, reason = "a vector load of an array")]
            unsafe {
                _mm512_loadu_pd(x.as_ptr())
            }
        };
        lanes = _mm512_add_pd(lanes, _mm512_mul_pd(x, yv));
        k += LANES;
    }
    #[allow(unsafe_code, reason = "a vector store into an array")]
    unsafe {
        _mm512_storeu_pd(sum.lanes.as_mut_ptr(), lanes);
    }
    for (j, &yj) in y[whole..].iter().enumerate() {
        let k = whole + j;
        sum.lanes[k % LANES] += log_step(equity[k], equity[k + 1]) * yj;
    }
}

/// Drawdown periods, fed equity block by block.
///
/// dd = 1 − e/peak is 0 exactly when e is at its running peak; a period runs between
/// consecutive such bars (the last bar closing the final one). Within a period the peak is
/// fixed, so its depth is 1 − min(e)/peak: rounding is monotone, so this is the largest
/// per-bar dd bit for bit, at one division per period instead of one per bar.
struct Drawdowns {
    peak: f64,
    /// Lowest equity since the peak (infinite at the peak).
    low: f64,
    /// Bar of the current peak.
    last_zero: usize,
    /// Each finished period's length, ns, and depth.
    durations: Vec<i64>,
    depths: Vec<f64>,
    /// Deepest finished period.
    max: f64,
}

impl Default for Drawdowns {
    fn default() -> Self {
        Drawdowns {
            peak: f64::NEG_INFINITY,
            low: f64::INFINITY,
            last_zero: 0,
            durations: Vec::new(),
            depths: Vec::new(),
            max: 0.0,
        }
    }
}

impl Drawdowns {
    /// Feeds the equity of bars `from..from + equity.len()`.
    fn feed(&mut self, equity: &[f64], from: usize, time: &[TimestampNs]) {
        let mut i = 0;
        while i < equity.len() {
            let e = equity[i];
            if e >= self.peak {
                let bar = from + i;
                if bar > self.last_zero + 1 {
                    let depth = 1.0 - self.low / self.peak;
                    self.max = self.max.max(depth);
                    self.durations.push(time[bar] - time[self.last_zero]);
                    self.depths.push(depth);
                }
                self.peak = e;
                self.last_zero = bar;
                self.low = f64::INFINITY;
                i += 1;
            } else {
                // Below the peak: most bars are. Runs of bars wholly below it are taken
                // four at a time in four running minima (a minimum does not depend on the
                // order).
                let peak = self.peak;
                let mut lanes = [self.low.min(e); 4];
                i += 1;
                while let Some(c) = equity.get(i..i + 4) {
                    if (c[0] >= peak) | (c[1] >= peak) | (c[2] >= peak) | (c[3] >= peak) {
                        break;
                    }
                    for (l, &v) in lanes.iter_mut().zip(c) {
                        *l = if v < *l { v } else { *l };
                    }
                    i += 4;
                }
                self.low = lanes[0].min(lanes[1]).min(lanes[2].min(lanes[3]));
            }
        }
    }
}

/// One bar's log return of equity: 0 for unchanged equity (without a logarithm), else
/// [`ln_ratio`].
#[inline]
fn log_step(a: f64, b: f64) -> f64 {
    if a == b && b != 0.0 {
        0.0
    } else {
        ln_ratio(b, a)
    }
}

fn or_nan(x: f64) -> f64 {
    if x == 0.0 { f64::NAN } else { x }
}

/// The data period: median of the last 100 timestamp differences.
pub(crate) fn data_period(time: &[TimestampNs]) -> i64 {
    let tail = &time[time.len().saturating_sub(100)..];
    let mut d: Vec<i64> = tail.windows(2).map(|w| w[1] - w[0]).collect();
    if d.is_empty() {
        return NS_PER_DAY;
    }
    d.sort_unstable();
    let m = d.len() / 2;
    if d.len() % 2 == 1 {
        d[m]
    } else {
        (d[m - 1] + d[m]) / 2
    }
}

/// The data's bar spacing, periods per year and resampling buckets: what annualised
/// statistics need from the timestamps alone (backtesting.py's rules).
pub(crate) struct Periods {
    /// Median bar spacing (ns) of the last 100 bars.
    pub(crate) period: i64,
    /// Periods per year for annualisation.
    pub(crate) annual: f64,
    /// Index of the last bar of each resampling bucket (day, week, month or year).
    pub(crate) bucket_ends: Vec<usize>,
}

impl Periods {
    /// One pass over the times: the calendar arithmetic (weekday, bucket key) is done once
    /// per day the data has, not once per bar (every bucket is a union of whole days).
    pub(crate) fn of(time: &[TimestampNs]) -> Periods {
        let n = time.len();
        let period = data_period(time);
        let bucket = match period.div_euclid(NS_PER_DAY) {
            7 => Bucket::Week,
            31 => Bucket::Month,
            365 => Bucket::Year,
            _ => Bucket::Day,
        };
        let mut bucket_ends = Vec::new();
        let (mut weekend, mut weekend_bars) = (false, 0usize);
        let (mut day_end, mut key) = (i64::MIN, None::<i64>);
        for (i, &t) in time.iter().enumerate() {
            if t >= day_end {
                let day = calendar::day_number(t);
                day_end = (day + 1).saturating_mul(NS_PER_DAY);
                weekend = weekday(t) >= 5;
                let k = bucket.key(t);
                if key.is_some_and(|prev| prev != k) {
                    bucket_ends.push(i - 1);
                }
                key = Some(k);
            }
            weekend_bars += usize::from(weekend);
        }
        if n > 0 {
            bucket_ends.push(n - 1);
        }
        let annual = match bucket {
            Bucket::Week => 52.0,
            Bucket::Month => 12.0,
            Bucket::Year => 1.0,
            Bucket::Day if weekend_bars as f64 / n.max(1) as f64 > 2.0 / 7.0 * 0.6 => 365.0,
            Bucket::Day => 252.0,
        };
        Periods {
            period,
            annual,
            bucket_ends,
        }
    }
}

/// What the statistics need from the bars alone: computed once and shared by every run on
/// the same bars (a sweep's combinations).
#[derive(Debug, Clone)]
pub struct StatsContext {
    /// Median bar spacing (ns) of the last 100 bars.
    period: i64,
    /// Periods per year for annualisation.
    annual: f64,
    /// Index of the last bar of each resampling bucket (day, week, month or year).
    bucket_ends: Vec<usize>,
    /// Per-bar market log returns (`ln(c[i]/c[i−1])` at index `i−1`), minus their mean;
    /// kept only by [`StatsContext::new`] (sweeps), recomputed per use otherwise.
    market_centered: Option<Vec<f64>>,
    /// Mean of the market log returns.
    market_mean: f64,
    /// Σ of the squared centred market log returns.
    market_ss: f64,
}

impl StatsContext {
    /// Precomputes the bar-only parts of the statistics, keeping the market returns
    /// (8 bytes a bar) so many runs on the same bars share them.
    pub fn new(bars: &Bars) -> StatsContext {
        let mut ctx = Self::lean(bars);
        let close = bars.close();
        ctx.market_centered = Some(
            close
                .windows(2)
                .map(|w| (w[1] / w[0]).ln() - ctx.market_mean)
                .collect(),
        );
        ctx
    }

    /// As [`StatsContext::new`] without the per-bar vector (one run: no extra memory a bar).
    pub fn lean(bars: &Bars) -> StatsContext {
        let close = bars.close();
        let Periods {
            period,
            annual,
            bucket_ends,
        } = Periods::of(bars.time());
        let market_mean = mean(close.windows(2).map(|w| (w[1] / w[0]).ln()));
        let market_ss = close
            .windows(2)
            .map(|w| (w[1] / w[0]).ln() - market_mean)
            .map(|y| y * y)
            .sum();
        StatsContext {
            period,
            annual,
            bucket_ends,
            market_centered: None,
            market_mean,
            market_ss,
        }
    }
}

/// Computes every statistic for a run over `bars`.
///
/// `bars` must be the series the run used (before any fractional-unit scaling).
pub fn compute(bars: &Bars, run: &RunResult) -> Stats {
    compute_with(
        &StatsContext::lean(bars),
        bars,
        &run.trades,
        &run.equity,
        run.warmup,
    )
}

/// [`compute`] from its parts: closed trades, per-bar equity and the warm-up bar.
pub fn compute_parts(bars: &Bars, trades: &[ClosedTrade], equity: &[f64], warmup: usize) -> Stats {
    compute_with(&StatsContext::lean(bars), bars, trades, equity, warmup)
}

/// [`compute_parts`] with the bar-only work precomputed in `ctx` (which must come from
/// the same `bars`).
pub fn compute_with(
    ctx: &StatsContext,
    bars: &Bars,
    trades: &[ClosedTrade],
    equity: &[f64],
    warmup: usize,
) -> Stats {
    let mut walk = EquityWalk::new(ctx, bars, equity.len(), 0);
    for block in equity.chunks(COV_BLOCK) {
        walk.feed(block);
    }
    walk.finish().stats(ctx, bars, trades, warmup)
}

/// The statistics' single walk over an equity curve, fed block by block: the whole curve
/// (a single run) or the blocks a sweep's run hands over as it marks them, so a sweep never
/// holds a whole curve. Every sum is added in the same order either way: the same bits.
pub(crate) struct EquityWalk<'a> {
    ctx: &'a StatsContext,
    bars: &'a Bars,
    /// Bars in the whole curve, and fed so far.
    n: usize,
    fed: usize,
    /// Σ Δlog(equity)·ỹ for beta; the term pairing the last bar of a block with the first
    /// of the next is added when that next block arrives.
    cov: CovSum,
    dd: Drawdowns,
    first: f64,
    prev: f64,
    /// Equity at each resampling bucket's last bar (`ctx.bucket_ends`), in order.
    bucket_equity: Vec<f64>,
    profile: Option<crate::sweep::overfitting::ProfileWalk>,
}

/// What [`EquityWalk`] keeps of a curve.
pub(crate) struct EquitySummary {
    n: usize,
    first: f64,
    last: f64,
    peak: f64,
    cov: f64,
    dd: Drawdowns,
    bucket_equity: Vec<f64>,
    /// Return moments and block sums for the overfitting checks, if asked for.
    pub(crate) profile: Option<crate::sweep::overfitting::ReturnProfile>,
}

impl<'a> EquityWalk<'a> {
    /// A walk over `n` bars of equity on `bars` (`n >= 1`); `profile_blocks > 0` also
    /// builds the overfitting checks' return profile with that many blocks.
    pub(crate) fn new(
        ctx: &'a StatsContext,
        bars: &'a Bars,
        n: usize,
        profile_blocks: usize,
    ) -> EquityWalk<'a> {
        EquityWalk {
            ctx,
            bars,
            n,
            fed: 0,
            cov: CovSum::default(),
            dd: Drawdowns::default(),
            first: f64::NAN,
            prev: f64::NAN,
            bucket_equity: Vec::with_capacity(ctx.bucket_ends.len()),
            profile: (profile_blocks > 0)
                .then(|| crate::sweep::overfitting::ProfileWalk::new(n, profile_blocks)),
        }
    }

    /// The centred market log return of bar `t` to `t + 1`.
    fn market(&self, t: usize) -> f64 {
        match &self.ctx.market_centered {
            Some(m) => m[t],
            None => {
                let close = self.bars.close();
                (close[t + 1] / close[t]).ln() - self.ctx.market_mean
            }
        }
    }

    /// Feeds the next bars' equity: at most [`COV_BLOCK`] of them, and a multiple of four
    /// except for the last block (so each block starts on covariance lane 0).
    pub(crate) fn feed(&mut self, block: &[f64]) {
        let from = self.fed;
        let Some(&last) = block.last() else { return };
        debug_assert!(block.len() <= COV_BLOCK && from.is_multiple_of(LANES));
        if from == 0 {
            self.first = block[0];
        } else {
            // The term across the blocks' edge goes to its lane before this block's terms.
            let t = from - 1;
            self.cov.lanes[t % LANES] += log_step(self.prev, block[0]) * self.market(t);
        }
        let terms = block.len() - 1;
        if terms > 0 {
            match &self.ctx.market_centered {
                Some(market) => self.cov.add(block, &market[from..from + terms]),
                None => {
                    // One run: the market returns computed per block (no per-bar vector).
                    let mut y = [0.0f64; COV_BLOCK];
                    for (j, v) in y[..terms].iter_mut().enumerate() {
                        *v = self.market(from + j);
                    }
                    self.cov.add(block, &y[..terms]);
                }
            }
        }
        self.dd.feed(block, from, self.bars.time());
        let ends = &self.ctx.bucket_ends[self.bucket_equity.len()..];
        let within = ends.partition_point(|&e| e < from + block.len());
        self.bucket_equity
            .extend(ends[..within].iter().map(|&e| block[e - from]));
        if let Some(p) = &mut self.profile {
            p.feed(block);
        }
        self.prev = last;
        self.fed += block.len();
    }

    pub(crate) fn finish(self) -> EquitySummary {
        debug_assert_eq!(self.fed, self.n, "every bar fed");
        EquitySummary {
            n: self.n,
            first: self.first,
            last: self.prev,
            // The drawdowns' running peak is the highest equity (NaN bars never count).
            peak: if self.dd.peak == f64::NEG_INFINITY {
                f64::NAN
            } else {
                self.dd.peak
            },
            cov: self.cov.total(),
            dd: self.dd,
            bucket_equity: self.bucket_equity,
            profile: self.profile.map(|p| p.finish()),
        }
    }
}

/// Every per-trade sum of the statistics, from one pass over the closed trades (and one
/// over their times). Each sum
/// adds its terms in trade order from the start value its own pass over a vector had
/// (`Iterator::sum` of floats starts at −0.0, [`mean`] at 0.0), so every bit is that of
/// summing them one at a time; one pass lets the CPU run the independent chains of
/// additions side by side instead of one latency-bound pass each.
struct TradeSums {
    count: usize,
    commissions: f64,
    /// P&L: sum (for the mean, from 0.0), and the winners' and losers' sums and counts.
    pnl_sum: f64,
    wins: usize,
    wins_sum: f64,
    losses: usize,
    losses_sum: f64,
    /// Returns: sum (from 0.0), the positive and negative ones' sums (from −0.0), the
    /// best and worst, and `Σ ln(1 + r)` of the geometric mean (NaN counting as 0).
    returns_sum: f64,
    gains: f64,
    losses_frac: f64,
    best: f64,
    worst: f64,
    log_sum: f64,
    /// A return of −100 % or worse: the geometric mean is 0.
    wiped_out: bool,
    /// Durations: the longest, and their sum.
    longest: Option<i64>,
    durations_sum: i128,
}

impl TradeSums {
    fn of(trades: &[ClosedTrade], time: &[TimestampNs]) -> TradeSums {
        let first = trades.first().map_or(f64::NAN, ClosedTrade::return_frac);
        let mut s = TradeSums {
            count: trades.len(),
            commissions: -0.0,
            pnl_sum: 0.0,
            wins: 0,
            wins_sum: 0.0,
            losses: 0,
            losses_sum: 0.0,
            returns_sum: 0.0,
            gains: -0.0,
            losses_frac: -0.0,
            best: first,
            worst: first,
            log_sum: 0.0,
            wiped_out: false,
            longest: None,
            durations_sum: 0,
        };
        // Winners and losers come in no pattern a branch predictor could learn, so a term
        // left out of a sum is added as −0.0 instead: x + (−0.0) is x for every x, signed
        // zeros included.
        let only = |keep: bool, x: f64| if keep { x } else { -0.0 };
        for t in trades {
            s.commissions += t.commission;
            let pnl = t.pnl();
            s.pnl_sum += pnl;
            s.wins += usize::from(pnl > 0.0);
            s.wins_sum += only(pnl > 0.0, pnl);
            s.losses += usize::from(pnl < 0.0);
            s.losses_sum += only(pnl < 0.0, pnl);
            let r = t.return_frac();
            s.returns_sum += r;
            s.gains += only(r > 0.0, r);
            s.losses_frac += only(r < 0.0, r);
            s.best = s.best.max(r);
            s.worst = s.worst.min(r);
            // Once a trade has lost everything the geometric mean is 0, whatever the sum.
            let one_plus = if r.is_nan() { 1.0 } else { r + 1.0 };
            s.wiped_out |= one_plus <= 0.0;
            s.log_sum += ln_ratio(one_plus, 1.0);
        }
        // The durations read the bars' times, a cache miss a trade on long data: in a loop
        // of their own the misses overlap (in the loop above they stalled it).
        for t in trades {
            let d = time[t.exit_bar] - time[t.entry_bar];
            s.longest = Some(s.longest.map_or(d, |l| l.max(d)));
            s.durations_sum += d as i128;
        }
        s
    }

    /// [`mean`] of the P&L.
    fn mean_pnl(&self) -> f64 {
        mean_of(self.pnl_sum, self.count)
    }

    /// The standard deviation of the P&L ([`var_ddof1`]): its second pass, around the
    /// mean, over the same `trades`.
    fn pnl_std(&self, trades: &[ClosedTrade]) -> f64 {
        if self.count < 2 {
            return f64::NAN;
        }
        let m = self.mean_pnl();
        let mut ss = -0.0;
        for t in trades {
            let d = t.pnl() - m;
            ss += d * d;
        }
        (ss / (self.count - 1) as f64).sqrt()
    }

    /// [`mean`] of the winners' and of the losers' P&L.
    fn avg_win(&self) -> f64 {
        mean_of(self.wins_sum, self.wins)
    }

    fn avg_loss(&self) -> f64 {
        mean_of(self.losses_sum, self.losses)
    }

    /// [`mean`] of the returns.
    fn expectancy(&self) -> f64 {
        mean_of(self.returns_sum, self.count)
    }

    /// [`geometric_mean`] of the returns.
    fn geometric(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else if self.wiped_out {
            0.0
        } else {
            (self.log_sum / self.count as f64).exp() - 1.0
        }
    }
}

impl EquitySummary {
    /// Every statistic, from this summary of the run's equity and its closed trades.
    pub(crate) fn stats(
        self,
        ctx: &StatsContext,
        bars: &Bars,
        trades: &[ClosedTrade],
        warmup: usize,
    ) -> Stats {
        let time = bars.time();
        let close = bars.close();
        let n = self.n;
        let (start, end) = (time[0], time[n - 1]);
        let duration = end - start;
        // Beta = cov(Δlog equity, Δlog close) / var(Δlog close). With the market returns
        // centred once per bar series (`ctx`), the covariance is Σ x·ỹ (Σ ỹ = 0). A
        // non-finite x (equity at 0) makes beta NaN, as numpy's covariance does: the sum is
        // then non-finite too.
        let cov = self.cov;
        let finite = cov.is_finite();
        let Drawdowns {
            peak,
            low,
            last_zero,
            durations: mut dd_durations,
            depths: mut dd_peaks,
            max: mut max_dd,
        } = self.dd;
        // Still below the peak at the end: the last bar closes the final period (if it spans
        // more than one bar) and counts toward the maximum either way.
        let trailing = if low.is_finite() {
            1.0 - low / peak
        } else {
            f64::NAN
        };
        if !trailing.is_nan() {
            max_dd = max_dd.max(trailing);
            if n - 1 > last_zero + 1 {
                dd_durations.push(time[n - 1] - time[last_zero]);
                dd_peaks.push(trailing);
            }
        }
        let beta = if n > 2 && finite {
            cov / ctx.market_ss
        } else {
            f64::NAN
        };
        // With no period, pandas averages the non-zero drawdowns: only a last-bar dip can
        // exist.
        let avg_dd_depth = if dd_peaks.is_empty() {
            trailing
        } else {
            mean(dd_peaks.iter().copied())
        };

        let period = ctx.period;
        let round = |v: Option<i64>| v.map(|x| ceil_to_resolution(x, period));
        let mean_ns = |v: &[i64]| {
            if v.is_empty() {
                None
            } else {
                Some((v.iter().map(|&x| x as i128).sum::<i128>() / v.len() as i128) as i64)
            }
        };

        // Bars with a position: the union of the closed trades' [entry, exit] bar ranges.
        let mut spans: Vec<(usize, usize)> = trades
            .iter()
            .map(|t| (t.entry_bar.min(n - 1), t.exit_bar.min(n - 1)))
            .collect();
        spans.sort_unstable();
        let (mut covered, mut reach) = (0usize, None::<usize>);
        for (a, b) in spans {
            let from = reach.map_or(a, |r| a.max(r + 1));
            if b >= from {
                covered += b - from + 1;
            }
            reach = Some(reach.map_or(b, |r| r.max(b)));
        }
        let exposure = covered as f64 / n as f64 * 100.0;

        let (equity_first, equity_final, equity_peak) = (self.first, self.last, self.peak);
        let return_pct = (equity_final - equity_first) / equity_first * 100.0;
        let bh = if warmup < n {
            (close[n - 1] - close[warmup]) / close[warmup] * 100.0
        } else {
            f64::NAN
        };

        let annual = ctx.annual;
        let r: Vec<f64> = self
            .bucket_equity
            .windows(2)
            .map(|w| w[1] / w[0] - 1.0)
            .filter(|r| !r.is_nan())
            .collect();
        let g = geometric_mean(&r);
        let ann_return = (1.0 + g).powf(annual) - 1.0;
        let var = var_ddof1(&r);
        let vol = ((var + (1.0 + g).powi(2)).powf(annual) - (1.0 + g).powf(2.0 * annual)).sqrt();
        let years = ((duration.div_euclid(NS_PER_DAY)) as f64
            + (duration.rem_euclid(NS_PER_DAY) / NS_PER_SEC) as f64 / 86_400.0)
            / 365.25;
        let cagr = if years != 0.0 {
            ((equity_final / equity_first).powf(1.0 / years) - 1.0) * 100.0
        } else {
            f64::NAN
        };
        let sharpe = ann_return * 100.0 / or_nan(vol * 100.0);
        let downside = mean(r.iter().map(|x| x.min(0.0).powi(2))).sqrt();
        let sortino = ann_return / (downside * annual.sqrt());
        let calmar = ann_return / or_nan(max_dd);

        let t = TradeSums::of(trades, time);
        let nt = trades.len();
        let win_rate = if nt == 0 {
            f64::NAN
        } else {
            t.wins as f64 / nt as f64
        };
        let fold = |v: f64| if nt == 0 { f64::NAN } else { v };
        let (avg_pnl, pnl_std) = (t.mean_pnl(), t.pnl_std(trades));
        let (avg_win, avg_loss) = (t.avg_win(), t.avg_loss());
        let mean_duration = (nt > 0).then(|| (t.durations_sum / nt as i128) as i64);

        Stats {
            start,
            end,
            duration,
            exposure_time_pct: exposure,
            equity_final,
            equity_peak,
            commissions: t.commissions,
            return_pct,
            buy_and_hold_return_pct: bh,
            return_ann_pct: ann_return * 100.0,
            volatility_ann_pct: vol * 100.0,
            cagr_pct: cagr,
            sharpe_ratio: sharpe,
            sortino_ratio: sortino,
            calmar_ratio: calmar,
            alpha_pct: return_pct - beta * bh,
            beta,
            max_drawdown_pct: -max_dd * 100.0,
            avg_drawdown_pct: -avg_dd_depth * 100.0,
            max_drawdown_duration: round(dd_durations.iter().copied().max()),
            avg_drawdown_duration: round(mean_ns(&dd_durations)),
            num_trades: nt,
            win_rate_pct: win_rate * 100.0,
            best_trade_pct: fold(t.best) * 100.0,
            worst_trade_pct: fold(t.worst) * 100.0,
            avg_trade_pct: t.geometric() * 100.0,
            max_trade_duration: round(t.longest),
            avg_trade_duration: round(mean_duration),
            profit_factor: t.gains / or_nan(t.losses_frac.abs()),
            expectancy_pct: t.expectancy() * 100.0,
            sqn: (nt as f64).sqrt() * avg_pnl / or_nan(pnl_std),
            kelly_criterion: win_rate - (1.0 - win_rate) / (avg_win / -avg_loss),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// An equity curve of `n` bars from `steps` (relative moves, some large, some exactly 0),
    /// with an optional stretch at zero (an account wiped out).
    fn curve(steps: &[f64], zero_at: Option<usize>) -> Vec<f64> {
        let mut e = 10_000.0;
        let mut out: Vec<f64> = steps
            .iter()
            .map(|r| {
                e *= 1.0 + r;
                e
            })
            .collect();
        if let Some(z) = zero_at.filter(|&z| z < out.len()) {
            out[z..].fill(0.0);
        }
        out
    }

    fn step() -> impl Strategy<Value = f64> {
        prop_oneof![
            4 => -0.01f64..0.01,
            1 => Just(0.0),
            1 => -0.4f64..0.6,
        ]
    }

    /// The covariance lanes summed one round of [`LANES`] bars a step, in bar order (the
    /// kernel's definition).
    fn one_round_a_step(equity: &[f64], y: &[f64]) -> [f64; LANES] {
        let mut lanes = [0.0f64; LANES];
        let whole = y.len() / LANES * LANES;
        for k in (0..whole).step_by(LANES) {
            let x = terms(&equity[k..=k + LANES]);
            for j in 0..LANES {
                lanes[j] += x[j] * y[k + j];
            }
        }
        for k in whole..y.len() {
            lanes[k % LANES] += log_step(equity[k], equity[k + 1]) * y[k];
        }
        lanes
    }

    proptest! {
        /// The covariance kernel: the dispatched (AVX2 where the CPU has it) and the
        /// portable build give the same bits, cutting the walk into blocks changes nothing,
        /// and the sum agrees with plain `ln` terms summed in order.
        #[test]
        fn covariance_kernel_is_exact_and_cut_independent(
            steps in prop::collection::vec(step(), 2..300),
            ys in prop::collection::vec(-0.01f64..0.01, 300),
            zero_at in prop::option::of(0usize..300),
            cut in 1usize..40,
        ) {
            let e = curve(&steps, zero_at);
            let y = &ys[..e.len() - 1];
            let mut whole = CovSum::default();
            whole.add(&e, y);
            // Two rounds a step: the bits of one round a step, lane by lane.
            prop_assert_eq!(
                whole.lanes.map(f64::to_bits),
                one_round_a_step(&e, y).map(f64::to_bits)
            );
            let mut portable = CovSum::default();
            portable.add_lanes(&e, y);
            prop_assert_eq!(whole.total().to_bits(), portable.total().to_bits());
            for tier in crate::simd::TIERS {
                let mut t = CovSum::default();
                crate::simd::capped(tier, || t.add(&e, y));
                prop_assert_eq!(t.total().to_bits(), portable.total().to_bits(), "{:?}", tier);
            }
            let mut blocks = CovSum::default();
            let cut = cut * LANES;
            let mut k = 0;
            while k < y.len() {
                let m = (k + cut).min(y.len());
                blocks.add(&e[k..=m], &y[k..m]);
                k = m;
            }
            prop_assert_eq!(whole.total().to_bits(), blocks.total().to_bits());
            let terms: Vec<f64> = e.windows(2).zip(y).map(|(w, y)| (w[1] / w[0]).ln() * y).collect();
            let plain: f64 = terms.iter().sum();
            if plain.is_finite() {
                // Summed in another order: the error is bounded by the terms' magnitudes.
                // And `ln(b / a)` rounds the ratio first, an absolute error of about one
                // ulp of 1 (2.2e-16) in each term the kernel does not make: for a small
                // move that is far more than 1e-13 of the term (the kernel is the closer).
                let scale: f64 = terms.iter().map(|t| t.abs()).sum();
                let ratio_rounding: f64 = y.iter().map(|y| 4.0 * f64::EPSILON * y.abs()).sum();
                prop_assert!(
                    (whole.total() - plain).abs() <= 1e-13 * scale.max(1e-300) + ratio_rounding
                );
            } else {
                prop_assert!(!whole.total().is_finite());
            }
        }

        /// Drawdowns fed in blocks give the deepest per-bar drawdown bit for bit, and one
        /// period per return to a peak.
        #[test]
        fn drawdowns_match_the_per_bar_series(
            steps in prop::collection::vec(step(), 1..300),
            cut in 1usize..50,
        ) {
            let e = curve(&steps, None);
            let time: Vec<TimestampNs> = (0..e.len() as i64).collect();
            let mut dd = Drawdowns::default();
            let mut k = 0;
            while k < e.len() {
                let m = (k + cut).min(e.len());
                dd.feed(&e[k..m], k, &time);
                k = m;
            }
            let per_bar = drawdown(&e);
            let trailing = if dd.low.is_finite() { 1.0 - dd.low / dd.peak } else { 0.0 };
            let deepest = per_bar.iter().copied().fold(0.0f64, f64::max);
            prop_assert_eq!(dd.max.max(trailing).to_bits(), deepest.to_bits());
            let periods = per_bar
                .windows(2)
                .zip(1..)
                .filter(|(w, i)| w[1] == 0.0 && w[0] > 0.0 && *i > 0)
                .count();
            prop_assert_eq!(dd.depths.len(), periods);
        }
    }

    proptest! {
        /// The once-a-day walk finds the per-bar definition's buckets and annualisation.
        #[test]
        fn periods_equal_the_per_bar_definition(
            start in -4_000_000_000_000_000_000i64..4_000_000_000_000_000_000,
            steps in prop::collection::vec(
                prop_oneof![
                    Just(60_000_000_000i64),
                    Just(3_600_000_000_000),
                    Just(NS_PER_DAY),
                    Just(3 * NS_PER_DAY),
                    Just(7 * NS_PER_DAY),
                    Just(31 * NS_PER_DAY),
                    Just(365 * NS_PER_DAY),
                    1i64..100 * NS_PER_DAY,
                ],
                0..300,
            ),
        ) {
            let mut time = vec![start];
            for s in steps {
                time.push(time[time.len() - 1] + s);
            }
            let got = Periods::of(&time);
            let n = time.len();
            let period = data_period(&time);
            let freq_days = period.div_euclid(NS_PER_DAY);
            let weekend_share =
                time.iter().filter(|&&t| weekday(t) >= 5).count() as f64 / n as f64;
            let (annual, bucket) = match freq_days {
                7 => (52.0, Bucket::Week),
                31 => (12.0, Bucket::Month),
                365 => (1.0, Bucket::Year),
                _ => (if weekend_share > 2.0 / 7.0 * 0.6 { 365.0 } else { 252.0 }, Bucket::Day),
            };
            let ends: Vec<usize> = (0..n)
                .filter(|&i| i + 1 == n || bucket.key(time[i + 1]) != bucket.key(time[i]))
                .collect();
            prop_assert_eq!(got.bucket_ends, ends);
            prop_assert_eq!(got.annual, annual);
            prop_assert_eq!(got.period, period);
        }
    }

    proptest! {
        /// The per-trade statistics from one pass over the trades ([`TradeSums`]) have the
        /// bits of the definition, one vector and one pass per statistic (as backtesting.py
        /// computes them from its trades frame): no trades, one, zero P&L, NaN returns (a
        /// zero entry price), returns of −100 % or worse, and negative zeros included.
        #[test]
        fn one_pass_over_the_trades_gives_each_statistics_own_bits(
            trades in proptest::collection::vec(
                (
                    prop_oneof![4 => -50.0f64..50.0, 1 => Just(1.0), 1 => Just(-0.0)],
                    0usize..40,
                    0usize..40,
                    prop_oneof![6 => 1.0f64..200.0, 1 => Just(0.0)],
                    prop_oneof![6 => 0.0f64..300.0, 1 => Just(100.0)],
                    prop_oneof![3 => 0.0f64..2.0, 1 => Just(0.0), 1 => Just(-0.0)],
                ),
                0..30,
            ),
        ) {
            let time: Vec<i64> = (0..40i64).map(|i| i * 60_000_000_000).collect();
            let trades: Vec<ClosedTrade> = trades
                .into_iter()
                .map(|(size, a, b, entry_price, exit_price, commission)| ClosedTrade {
                    size,
                    entry_bar: a.min(b),
                    exit_bar: a.max(b),
                    entry_price,
                    exit_price,
                    sl: None,
                    tp: None,
                    commission,
                    tag: None,
                })
                .collect();
            let got = TradeSums::of(&trades, &time);
            let pnl: Vec<f64> = trades.iter().map(ClosedTrade::pnl).collect();
            let rets: Vec<f64> = trades.iter().map(ClosedTrade::return_frac).collect();
            let durations: Vec<i64> = trades
                .iter()
                .map(|t| time[t.exit_bar] - time[t.entry_bar])
                .collect();
            let bits = |x: f64| x.to_bits();
            let commissions: f64 = trades.iter().map(|t| t.commission).sum();
            prop_assert_eq!(bits(got.commissions), bits(commissions));
            prop_assert_eq!(bits(got.mean_pnl()), bits(mean(pnl.iter().copied())));
            prop_assert_eq!(bits(got.pnl_std(&trades)), bits(var_ddof1(&pnl).sqrt()));
            prop_assert_eq!(got.wins, pnl.iter().filter(|p| **p > 0.0).count());
            let wins = mean(pnl.iter().copied().filter(|p| *p > 0.0));
            prop_assert_eq!(bits(got.avg_win()), bits(wins));
            let losses = mean(pnl.iter().copied().filter(|p| *p < 0.0));
            prop_assert_eq!(bits(got.avg_loss()), bits(losses));
            let expectancy = mean(rets.iter().copied());
            prop_assert_eq!(bits(got.expectancy()), bits(expectancy));
            let gains: f64 = rets.iter().filter(|r| **r > 0.0).sum();
            let losses: f64 = rets.iter().filter(|r| **r < 0.0).sum();
            prop_assert_eq!(bits(got.gains), bits(gains));
            prop_assert_eq!(bits(got.losses_frac), bits(losses));
            if let Some(&first) = rets.first() {
                prop_assert_eq!(bits(got.best), bits(rets.iter().copied().fold(first, f64::max)));
                prop_assert_eq!(bits(got.worst), bits(rets.iter().copied().fold(first, f64::min)));
            }
            prop_assert_eq!(bits(got.geometric()), bits(geometric_mean(&rets)));
            prop_assert_eq!(got.longest, durations.iter().copied().max());
            let sum: i128 = durations.iter().map(|&d| d as i128).sum();
            prop_assert_eq!(got.durations_sum, sum);
        }
    }

    #[test]
    fn sweep_and_single_run_contexts_give_the_same_bits() {
        let n = 5_000;
        let mut x = 7u64;
        let mut rnd = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut close = Vec::with_capacity(n);
        let mut p = 100.0;
        for _ in 0..n {
            p *= 1.0 + (rnd() - 0.5) * 0.02;
            close.push(p);
        }
        let time: Vec<i64> = (0..n as i64)
            .map(|i| 1_600_000_000_000_000_000 + i * 60_000_000_000)
            .collect();
        let bars = Bars::try_new(
            time,
            close.clone(),
            close.iter().map(|c| c * 1.001).collect(),
            close.iter().map(|c| c * 0.999).collect(),
            close.clone(),
            vec![f64::NAN; n],
        )
        .unwrap();
        // A leveraged-looking curve with flat stretches and a wipe-out-free big jump.
        let equity: Vec<f64> = close
            .iter()
            .enumerate()
            .map(|(i, c)| {
                if i % 700 < 100 {
                    10_000.0
                } else {
                    10_000.0 + 40.0 * (c - 100.0) + if i > 4000 { 3000.0 } else { 0.0 }
                }
            })
            .collect();
        let a = compute_with(&StatsContext::new(&bars), &bars, &[], &equity, 10);
        let b = compute_with(&StatsContext::lean(&bars), &bars, &[], &equity, 10);
        assert_eq!(a.beta.to_bits(), b.beta.to_bits());
        // Debug prints each float's shortest round-trip form (and NaN as NaN).
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert!(a.beta.is_finite() && a.max_drawdown_pct < 0.0);
    }

    #[test]
    fn geometric_mean_edge_cases() {
        assert_eq!(geometric_mean(&[0.1, -1.0]), 0.0);
        assert!(geometric_mean(&[]).is_nan());
        assert!((geometric_mean(&[0.21, 0.0]) - 0.1).abs() < 1e-12);
    }

    #[test]
    fn ln_ratio_matches_ln() {
        for (b, a) in [
            (1.0f64, 1.0f64),
            (101.0, 100.0),
            (99.0, 100.0),
            (1.09, 1.0),
            (1.2, 1.0),
            (0.5, 1.0),
            (1e-9, 3.0),
        ] {
            let (want, got) = ((b / a).ln(), ln_ratio(b, a));
            assert!(
                (want - got).abs() <= 1e-14 * want.abs().max(1e-300),
                "{b}/{a}: {want} vs {got}"
            );
        }
        assert!(ln_ratio(0.0, 5.0).is_infinite() && ln_ratio(f64::NAN, 1.0).is_nan());
    }

    #[test]
    fn drawdown_is_fraction_below_peak() {
        assert_eq!(
            drawdown(&[100.0, 50.0, 100.0, 120.0]),
            vec![0.0, 0.5, 0.0, 0.0]
        );
    }
}
