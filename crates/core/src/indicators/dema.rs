//! Double exponential moving average.

use super::ema::ema;

/// Double exponential moving average (Mulloy) over `n` bars.
///
/// # Formula
/// `E1 = EMA(x, n)`, `E2 = EMA(E1, n)` (each seeded with the mean of the first `n` values
/// of its input, see [`ema`]); `DEMA = 2·E1 − E2`.
///
/// # Warm-up
/// `NaN` for `i < 2(n − 1)`; everything NaN when `n == 0`. Same as TA-Lib's `DEMA`;
/// checked against it.
pub fn dema(values: &[f64], n: usize) -> Vec<f64> {
    let e1 = ema(values, n);
    let e2 = ema(&e1, n);
    e1.iter().zip(&e2).map(|(a, b)| 2.0 * a - b).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_a_line_without_lag() {
        let v: Vec<f64> = (0..10).map(|i| i as f64).collect();
        let d = dema(&v, 3);
        assert!(d[3].is_nan());
        // EMA of a line lags by (n−1)/2 = 1 and EMA of that by another 1: 2·(i−1) − (i−2) = i.
        for (i, x) in d.iter().enumerate().skip(4) {
            assert!((x - i as f64).abs() < 1e-12);
        }
    }
}
