//! Normalized average true range.

use super::{atr::atr, talib_is_zero};

/// Average true range as a percentage of the close: `100·ATR(n)[i] / Close[i]`, 0 when
/// `|Close| < 1e-8`.
///
/// # Warm-up
/// `NaN` for `i < n`, as [`atr`]; everything NaN when `n == 0`. Same as TA-Lib's
/// `NATR`; checked against it.
pub fn natr(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Vec<f64> {
    atr(high, low, close, n)
        .into_iter()
        .zip(close)
        .map(|(a, &c)| {
            if a.is_nan() {
                f64::NAN
            } else if talib_is_zero(c) {
                0.0
            } else {
                (a / c) * 100.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_atr_by_close() {
        let h = [11.0, 22.0, 23.0];
        let l = [9.0, 18.0, 19.0];
        let c = [10.0, 20.0, 20.0];
        let a = atr(&h, &l, &c, 1);
        let n = natr(&h, &l, &c, 1);
        assert!(n[0].is_nan());
        assert_eq!(n[2], a[2] / 20.0 * 100.0);
    }
}
