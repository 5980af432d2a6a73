//! Commodity channel index.

/// Commodity channel index over `n` bars.
///
/// # Formula
/// `TP = (High + Low + Close) / 3`; `CCI = (TP − mean(TP, n)) / (0.015·MD)` with
/// `MD = mean(|TP − mean(TP, n)|)` over the same `n` bars; 0 when the numerator or `MD`
/// is 0. The mean deviation is recomputed for each window: O(len·n), as TA-Lib.
///
/// # Warm-up
/// `NaN` for `i < n − 1`; everything NaN when `n == 0`. Same as TA-Lib's `CCI`; checked
/// against it.
pub fn cci(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Vec<f64> {
    let len = high.len().min(low.len()).min(close.len());
    let mut out = vec![f64::NAN; len];
    if n == 0 || len < n {
        return out;
    }
    let tp: Vec<f64> = (0..len)
        .map(|i| (high[i] + low[i] + close[i]) / 3.0)
        .collect();
    let nf = n as f64;
    for i in n - 1..len {
        let window = &tp[i + 1 - n..=i];
        let mean = window.iter().sum::<f64>() / nf;
        let dev = window.iter().map(|x| (x - mean).abs()).sum::<f64>();
        let d = tp[i] - mean;
        out[i] = if d != 0.0 && dev != 0.0 {
            d / (0.015 * (dev / nf))
        } else {
            0.0
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_prices_are_zero_and_rise_is_positive() {
        let flat = cci(&[2.0; 4], &[1.0; 4], &[1.5; 4], 3);
        assert!(flat[1].is_nan());
        assert_eq!(&flat[2..], &[0.0, 0.0]);
        let up = cci(&[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], &[1.0, 2.0, 3.0], 3);
        // TP 1, 2, 3: mean 2, mean deviation 2/3, (3 − 2) / (0.015·2/3) = 100.
        assert!((up[2] - 100.0).abs() < 1e-12);
    }
}
