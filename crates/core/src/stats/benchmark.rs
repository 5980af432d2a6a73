//! Statistics against an external benchmark series (an index, a fund, another asset)
//! instead of the traded asset's own buy-and-hold.
//!
//! Definitions (the test fixture's script, `testdata/benchmark/make_reference.py`, computes
//! them independently with pandas):
//!
//! - **Alignment.** Each bar takes the benchmark's last close at or before its timestamp
//!   (an as-of join, as `pandas.merge_asof`), so a benchmark on another calendar (a holiday
//!   the asset trades, a daily index under hourly bars) never looks ahead. The benchmark must
//!   have a close at or before the first bar and reach the last bar's day.
//! - **Return** from the warm-up bar to the end, as `Buy & Hold Return [%]`.
//! - **Beta** and **alpha** exactly as backtesting.py's `Beta` and `Alpha [%]`, with the
//!   benchmark in place of the asset's close: `β = cov(Δln equity, Δln benchmark) /
//!   var(Δln benchmark)` over every bar, `α = return − β·benchmark return` (%). Given the
//!   asset itself, they are backtesting.py's numbers.
//! - **Correlation** of the same per-bar log returns (Pearson).
//! - **Active returns** `a = r − b` of equity and benchmark per resampling period (the
//!   periods of `Sharpe Ratio`: calendar days for intraday and daily data, else weeks,
//!   months or years): **tracking error** `std(a, ddof=1)·√N`, **active return** `mean(a)·N`
//!   and **information ratio** their quotient, `mean(a) / std(a)·√N`, with `N` the periods
//!   per year (252 or 365 for days, as backtesting.py decides).

use super::{Periods, mean, var_ddof1};
use crate::bars::TimestampNs;
use crate::stats::calendar::day_number;

/// A benchmark's close on each bar of a run.
#[derive(Debug, Clone, PartialEq)]
pub struct AlignedBenchmark {
    close: Vec<f64>,
    filled: usize,
}

/// Why a benchmark cannot be aligned to a run's bars.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BenchmarkError {
    /// The benchmark has no rows.
    #[error("the benchmark has no rows")]
    Empty,
    /// Its first close comes after the run's first bar.
    #[error(
        "the benchmark starts {starts}, after the run's first bar {first_bar}: give a benchmark \
         that covers the run, or start the run later (--from)"
    )]
    StartsAfter {
        /// The benchmark's first timestamp.
        starts: When,
        /// The run's first bar.
        first_bar: When,
    },
    /// Its last close comes before the day of the run's last bar.
    #[error(
        "the benchmark ends {ends}, before the run's last bar {last_bar}: give a benchmark \
         that covers the run, or end the run earlier (--to)"
    )]
    EndsBefore {
        /// The benchmark's last timestamp.
        ends: When,
        /// The run's last bar.
        last_bar: When,
    },
}

/// A timestamp as errors print it: the date, with the time of day when it has one (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct When(pub TimestampNs);

impl std::fmt::Display for When {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secs = self.0.div_euclid(1_000_000_000);
        match chrono::DateTime::from_timestamp(secs, 0) {
            Some(d) if secs % 86_400 == 0 => write!(f, "{}", d.format("%Y-%m-%d")),
            Some(d) => write!(f, "{}", d.format("%Y-%m-%d %H:%M:%S")),
            None => write!(f, "{} ns", self.0),
        }
    }
}

impl AlignedBenchmark {
    /// Aligns a benchmark (strictly increasing `time`, positive `close`) to a run's bar
    /// times: each bar gets the last close at or before it.
    pub fn align(
        time: &[TimestampNs],
        close: &[f64],
        bars: &[TimestampNs],
    ) -> Result<AlignedBenchmark, BenchmarkError> {
        let (Some(&starts), Some(&ends)) = (time.first(), time.last()) else {
            return Err(BenchmarkError::Empty);
        };
        let (Some(&first), Some(&last)) = (bars.first(), bars.last()) else {
            return Ok(AlignedBenchmark {
                close: Vec::new(),
                filled: 0,
            });
        };
        if starts > first {
            return Err(BenchmarkError::StartsAfter {
                starts: When(starts),
                first_bar: When(first),
            });
        }
        if day_number(ends) < day_number(last) {
            return Err(BenchmarkError::EndsBefore {
                ends: When(ends),
                last_bar: When(last),
            });
        }
        let mut j = 0;
        let mut filled = 0;
        let close = bars
            .iter()
            .map(|&t| {
                while j + 1 < time.len() && time[j + 1] <= t {
                    j += 1;
                }
                filled += usize::from(time[j] != t);
                close[j]
            })
            .collect();
        Ok(AlignedBenchmark { close, filled })
    }

    /// The benchmark's close on each bar.
    pub fn close(&self) -> &[f64] {
        &self.close
    }

    /// Bars with no benchmark row at their exact time (given the last earlier close).
    pub fn filled(&self) -> usize {
        self.filled
    }
}

/// A run's statistics against a benchmark (see the module's definitions).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BenchmarkStats {
    /// The benchmark's return from the warm-up bar to the end, %.
    pub return_pct: f64,
    /// `return − β·benchmark return`, %.
    pub alpha_pct: f64,
    /// Covariance of per-bar log returns of equity and benchmark over the benchmark's variance.
    pub beta: f64,
    /// Correlation of the same log returns.
    pub correlation: f64,
    /// Mean active return per period, annualised (× periods per year), %.
    pub active_return_ann_pct: f64,
    /// Standard deviation of the active returns, annualised (× √periods per year), %.
    pub tracking_error_ann_pct: f64,
    /// Annualised active return over tracking error.
    pub information_ratio: f64,
}

impl BenchmarkStats {
    /// Every statistic under its JSON key, in output order, with its table label.
    pub fn entries(&self) -> [(&'static str, &'static str, f64); 7] {
        [
            ("return_pct", "Benchmark Return [%]", self.return_pct),
            ("alpha_pct", "Alpha vs Benchmark [%]", self.alpha_pct),
            ("beta", "Beta vs Benchmark", self.beta),
            ("correlation", "Correlation", self.correlation),
            (
                "active_return_ann_pct",
                "Active Return (Ann.) [%]",
                self.active_return_ann_pct,
            ),
            (
                "tracking_error_ann_pct",
                "Tracking Error (Ann.) [%]",
                self.tracking_error_ann_pct,
            ),
            (
                "information_ratio",
                "Information Ratio",
                self.information_ratio,
            ),
        ]
    }

    /// The statistics of a per-bar `equity` curve on bars at `time` (warm-up bar `warmup`)
    /// against `bench`, aligned to the same bars.
    ///
    /// # Panics
    ///
    /// If `time`, `equity` and the benchmark differ in length.
    pub fn compute(
        time: &[TimestampNs],
        equity: &[f64],
        warmup: usize,
        bench: &AlignedBenchmark,
    ) -> BenchmarkStats {
        let b = bench.close();
        assert!(
            time.len() == equity.len() && equity.len() == b.len(),
            "time, equity and benchmark must cover the same bars"
        );
        let n = equity.len();
        let nan = BenchmarkStats {
            return_pct: f64::NAN,
            alpha_pct: f64::NAN,
            beta: f64::NAN,
            correlation: f64::NAN,
            active_return_ann_pct: f64::NAN,
            tracking_error_ann_pct: f64::NAN,
            information_ratio: f64::NAN,
        };
        if n == 0 {
            return nan;
        }
        let ret = (equity[n - 1] - equity[0]) / equity[0] * 100.0;
        let bench_ret = if warmup < n {
            (b[n - 1] - b[warmup]) / b[warmup] * 100.0
        } else {
            f64::NAN
        };

        // Per-bar log returns; numpy's covariance (ddof cancels in the ratios).
        let x: Vec<f64> = equity.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        let y: Vec<f64> = b.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
        let (mx, my) = (mean(x.iter().copied()), mean(y.iter().copied()));
        let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
        for (xi, yi) in x.iter().zip(&y) {
            let (dx, dy) = (xi - mx, yi - my);
            sxy += dx * dy;
            sxx += dx * dx;
            syy += dy * dy;
        }
        // numpy needs two observations for a covariance.
        let (beta, correlation) = if x.len() >= 2 {
            (sxy / syy, sxy / (sxx * syy).sqrt())
        } else {
            (f64::NAN, f64::NAN)
        };

        let Periods {
            annual,
            bucket_ends,
            ..
        } = Periods::of(time);
        let active: Vec<f64> = bucket_ends
            .windows(2)
            .map(|w| {
                let r = equity[w[1]] / equity[w[0]] - 1.0;
                let rb = b[w[1]] / b[w[0]] - 1.0;
                r - rb
            })
            .filter(|a| !a.is_nan())
            .collect();
        let m = mean(active.iter().copied());
        let sd = var_ddof1(&active).sqrt();
        BenchmarkStats {
            return_pct: bench_ret,
            alpha_pct: ret - beta * bench_ret,
            beta,
            correlation,
            active_return_ann_pct: m * annual * 100.0,
            tracking_error_ann_pct: sd * annual.sqrt() * 100.0,
            information_ratio: m / sd * annual.sqrt(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000_000_000;

    #[test]
    fn alignment_takes_the_last_close_at_or_before_each_bar() {
        // Benchmark on days 0, 2, 3; bars on days 1, 2, 3 and at noon of day 3.
        let bench_t = [0, 2 * DAY, 3 * DAY];
        let bench_c = [10.0, 12.0, 13.0];
        let bars = [DAY, 2 * DAY, 3 * DAY, 3 * DAY + DAY / 2];
        let a = AlignedBenchmark::align(&bench_t, &bench_c, &bars).unwrap();
        assert_eq!(a.close(), [10.0, 12.0, 13.0, 13.0]);
        assert_eq!(a.filled(), 2);
    }

    #[test]
    fn a_benchmark_that_does_not_cover_the_run_is_refused_with_both_ranges() {
        let bars = [DAY, 2 * DAY, 3 * DAY];
        let late = AlignedBenchmark::align(&[2 * DAY, 3 * DAY], &[1.0, 2.0], &bars).unwrap_err();
        assert_eq!(
            late.to_string(),
            "the benchmark starts 1970-01-03, after the run's first bar 1970-01-02: give a \
             benchmark that covers the run, or start the run later (--from)"
        );
        let early = AlignedBenchmark::align(&[0, DAY], &[1.0, 2.0], &bars).unwrap_err();
        assert!(
            matches!(early, BenchmarkError::EndsBefore { .. }),
            "{early}"
        );
        assert_eq!(
            AlignedBenchmark::align(&[], &[], &bars).unwrap_err(),
            BenchmarkError::Empty
        );
    }

    /// A hand-worked case: equity that is exactly twice as volatile as the benchmark in
    /// log terms has β = 2, correlation 1.
    #[test]
    fn hand_worked_beta_and_tracking() {
        let time: Vec<i64> = (0..5).map(|d| d * DAY).collect();
        let bench = [100.0, 110.0, 99.0, 99.0, 108.9];
        let equity: Vec<f64> = bench
            .iter()
            .map(|b: &f64| 1000.0 * (b / 100.0).powi(2))
            .collect();
        let a = AlignedBenchmark::align(&time, &bench, &time).unwrap();
        let s = BenchmarkStats::compute(&time, &equity, 0, &a);
        assert!((s.beta - 2.0).abs() < 1e-12, "{}", s.beta);
        assert!((s.correlation - 1.0).abs() < 1e-12);
        assert!((s.return_pct - 8.9).abs() < 1e-9);
        let ret = (equity[4] / equity[0] - 1.0) * 100.0;
        assert!((s.alpha_pct - (ret - 2.0 * 8.9)).abs() < 1e-9);
        // Daily simple returns r and b; a = r − b = b² + b (as (1+b)² − 1 − b).
        let a: Vec<f64> = bench
            .windows(2)
            .map(|w| {
                let b = w[1] / w[0] - 1.0;
                b * b + b
            })
            .collect();
        let m = a.iter().sum::<f64>() / 4.0;
        let sd = (a.iter().map(|x| (x - m).powi(2)).sum::<f64>() / 3.0).sqrt();
        // Five consecutive days include a weekend: 365 periods a year.
        assert!((s.tracking_error_ann_pct - sd * 365f64.sqrt() * 100.0).abs() < 1e-9);
        assert!((s.information_ratio - m / sd * 365f64.sqrt()).abs() < 1e-9);
    }
}
