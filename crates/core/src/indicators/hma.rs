//! Hull moving average.

use super::{first_valid, wma::wma};

/// Alan Hull's moving average over `n` bars.
///
/// # Formula
/// `HMA = WMA(2·WMA(x, ⌊n/2⌋) − WMA(x, n), ⌊√n⌋)`, with [`wma`] (TA-Lib's `WMA`); the half
/// window is rounded down (`n = 15` → 7) and so is the square root (`n = 20` → 4). The
/// outer WMA runs over the difference from its first value on.
///
/// # Warm-up
/// `NaN` for `i < n + ⌊√n⌋ − 2` (first value at `n − 1 + ⌊√n⌋ − 1`); all NaN when `n < 2`
/// (the half window would be empty). Leading NaNs shift it. TA-Lib has no HMA; checked
/// against that composition of TA-Lib's `WMA` (`testdata/indicators/make_fixtures.py`).
///
/// Reference: A. Hull, "Hull Moving Average" (2005), alanhull.com.
pub fn hma(values: &[f64], n: usize) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    if n < 2 {
        return out;
    }
    let root = n.isqrt();
    let start = first_valid(values);
    let x = &values[start..];
    if x.len() < n {
        return out;
    }
    let (half, full) = (wma(x, n / 2), wma(x, n));
    let diff: Vec<f64> = half[n - 1..]
        .iter()
        .zip(&full[n - 1..])
        .map(|(h, f)| 2.0 * h - f)
        .collect();
    let base = start + n - 1;
    for (j, v) in wma(&diff, root).into_iter().enumerate() {
        out[base + j] = v;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn composes_three_wmas() {
        // n = 4: WMA(x, 2) and WMA(x, 4) from bar 3, outer WMA over 2 → first value at 4.
        let x = [1.0, 2.0, 4.0, 8.0, 16.0];
        let h = hma(&x, 4);
        assert!(h[3].is_nan());
        let w2 = |a: f64, b: f64| (a + 2.0 * b) / 3.0;
        let w4 = |a: f64, b: f64, c: f64, d: f64| (a + 2.0 * b + 3.0 * c + 4.0 * d) / 10.0;
        let d3 = 2.0 * w2(4.0, 8.0) - w4(1.0, 2.0, 4.0, 8.0);
        let d4 = 2.0 * w2(8.0, 16.0) - w4(2.0, 4.0, 8.0, 16.0);
        assert!((h[4] - w2(d3, d4)).abs() < 1e-12);
    }

    #[test]
    fn short_windows_and_input_give_nan() {
        assert!(hma(&[1.0, 2.0], 1).iter().all(|v| v.is_nan()));
        assert!(hma(&[1.0, 2.0], 3).iter().all(|v| v.is_nan()));
        assert!(hma(&[], 3).is_empty());
    }
}
