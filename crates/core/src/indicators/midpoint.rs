//! Midpoint of a window's range: TA-Lib's MIDPOINT and MIDPRICE.

use super::extremes::{highest, lowest};

/// `(highest + lowest) / 2` of the last `n` values of one series (TA-Lib's `MIDPOINT`).
///
/// # Warm-up
/// `NaN` for `i < n − 1`; all NaN when `n == 0`. Checked against TA-Lib's `MIDPOINT`.
pub fn midpoint(values: &[f64], n: usize) -> Vec<f64> {
    midprice(values, values, n)
}

/// `(highest high + lowest low) / 2` of the last `n` bars (TA-Lib's `MIDPRICE`).
///
/// # Warm-up
/// `NaN` for `i < n − 1`; all NaN when `n == 0`. Checked against TA-Lib's `MIDPRICE`.
pub fn midprice(high: &[f64], low: &[f64], n: usize) -> Vec<f64> {
    let len = high.len().min(low.len());
    let (hh, ll) = (highest(&high[..len], n), lowest(&low[..len], n));
    hh.iter().zip(&ll).map(|(h, l)| (h + l) / 2.0).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn halves_the_window_range() {
        let m = midpoint(&[3.0, 1.0, 4.0, 1.0, 5.0], 3);
        assert!(m[1].is_nan());
        assert_eq!(&m[2..], &[2.5, 2.5, 3.0]);
        let p = midprice(&[3.0, 5.0, 4.0], &[1.0, 2.0, 0.0], 2);
        assert!(p[0].is_nan());
        assert_eq!(&p[1..], &[3.0, 2.5]);
        assert!(midprice(&[1.0], &[], 1).is_empty());
    }
}
