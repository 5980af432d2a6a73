//! Williams %R.

use super::extremes::{highest, lowest};

/// Williams %R over `n` bars.
///
/// # Formula
/// `%R = −100·(HH(n) − Close) / (HH(n) − LL(n))`, from −100 (close at the low) to 0 (close
/// at the high); 0 when the range is 0. `HH`/`LL` are the highest high and lowest low
/// of the last `n` bars, the current one included.
///
/// # Warm-up
/// `NaN` for `i < n − 1`; everything NaN when `n == 0`. Same as TA-Lib's `WILLR`; checked
/// against it.
pub fn williams_r(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Vec<f64> {
    let len = high.len().min(low.len()).min(close.len());
    let hh = highest(&high[..len], n);
    let ll = lowest(&low[..len], n);
    (0..len)
        .map(|i| {
            if hh[i].is_nan() || ll[i].is_nan() {
                return f64::NAN;
            }
            let d = (hh[i] - ll[i]) / -100.0;
            if d != 0.0 {
                (hh[i] - close[i]) / d
            } else {
                0.0
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_at_high_is_zero_at_low_is_minus_100() {
        let r = williams_r(&[3.0, 4.0, 5.0], &[1.0, 1.0, 2.0], &[2.0, 1.0, 5.0], 2);
        assert!(r[0].is_nan());
        assert_eq!(r[1], -100.0);
        assert_eq!(r[2], 0.0);
    }
}
