//! Stochastic oscillator.

use super::{
    extremes::{highest, lowest},
    sma::sma,
};

/// Slow %K and %D lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Stochastic {
    /// `SMA(fast %K, smooth_k)`.
    pub k: Vec<f64>,
    /// `SMA(%K, d)`.
    pub d: Vec<f64>,
}

/// Stochastic oscillator.
///
/// # Formula
/// `fast %K = 100·(Close − LL(n)) / (HH(n) − LL(n))` (0 when the range is 0);
/// `%K = SMA(fast %K, smooth_k)`; `%D = SMA(%K, d)`.
///
/// # Warm-up
/// `%K` is NaN for `i < n + smooth_k − 2`; `%D` for `i < n + smooth_k + d − 3`.
/// Same as TA-Lib `STOCH(n, smooth_k, SMA, d, SMA)`; checked against it.
pub fn stochastic(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    n: usize,
    smooth_k: usize,
    d: usize,
) -> Stochastic {
    let hh = highest(high, n);
    let ll = lowest(low, n);
    let fast: Vec<f64> = close
        .iter()
        .zip(hh.iter().zip(&ll))
        .map(|(c, (h, l))| {
            let range = h - l;
            if range.is_nan() {
                f64::NAN
            } else if range > 0.0 {
                100.0 * (c - l) / range
            } else {
                0.0
            }
        })
        .collect();
    let k = sma_skip_nan(&fast, smooth_k);
    let dd = sma_skip_nan(&k, d);
    Stochastic { k, d: dd }
}

/// SMA over a series with leading NaNs (the warm-up of another indicator).
fn sma_skip_nan(values: &[f64], n: usize) -> Vec<f64> {
    let start = values
        .iter()
        .position(|x| !x.is_nan())
        .unwrap_or(values.len());
    let mut out = vec![f64::NAN; start];
    out.extend(sma(&values[start..], n));
    out
}
