//! Triple exponential moving average.

use super::ema::ema;

/// Triple exponential moving average (Mulloy) over `n` bars.
///
/// # Formula
/// `E1 = EMA(x, n)`, `E2 = EMA(E1, n)`, `E3 = EMA(E2, n)` (each seeded with the mean of the
/// first `n` values of its input, see [`ema`]); `TEMA = E3 + (3·E1 − 3·E2)`.
///
/// # Warm-up
/// `NaN` for `i < 3(n − 1)`; everything NaN when `n == 0`. Same as TA-Lib's `TEMA`;
/// checked against it.
pub fn tema(values: &[f64], n: usize) -> Vec<f64> {
    let e1 = ema(values, n);
    let e2 = ema(&e1, n);
    let e3 = ema(&e2, n);
    (0..e1.len())
        .map(|i| e3[i] + (3.0 * e1[i] - 3.0 * e2[i]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_a_line_without_lag() {
        let v: Vec<f64> = (0..12).map(|i| 2.0 * i as f64).collect();
        let t = tema(&v, 3);
        assert!(t[5].is_nan());
        for (i, x) in t.iter().enumerate().skip(6) {
            assert!((x - 2.0 * i as f64).abs() < 1e-12);
        }
    }
}
