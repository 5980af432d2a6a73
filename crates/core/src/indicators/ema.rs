//! Exponential moving average.

/// Exponential moving average over `n` bars, seeded with the SMA of the first `n` values.
///
/// # Formula
/// `k = 2 / (n + 1)`; `EMA[n-1] = mean(x[0..n])`; `EMA[i] = EMA[i-1] + k·(x[i] − EMA[i-1])`.
///
/// # Warm-up
/// `NaN` for `i < n - 1`, and before the first run of `n` non-NaN values (leading NaNs,
/// e.g. from another indicator, shift the seed). A NaN after the seed propagates.
///
/// Same definition as TA-Lib's `EMA`; checked against it (`testdata/indicators/`).
pub fn ema(values: &[f64], n: usize) -> Vec<f64> {
    exp_smooth(values, n, 2.0 / (n as f64 + 1.0))
}

/// Seeded exponential smoothing with factor `k`, shared by EMA and Wilder's averages.
pub(crate) fn exp_smooth(values: &[f64], n: usize, k: f64) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if n == 0 {
        return out;
    }
    let Some(first) = values.iter().position(|x| !x.is_nan()) else {
        return out;
    };
    let seed_end = first + n;
    if seed_end > values.len() {
        return out;
    }
    let mut prev = values[first..seed_end].iter().sum::<f64>() / n as f64;
    out[seed_end - 1] = prev;
    for i in seed_end..values.len() {
        prev += k * (values[i] - prev);
        out[i] = prev;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_with_sma_then_smooths() {
        let e = ema(&[1.0, 2.0, 3.0, 4.0], 3);
        assert!(e[1].is_nan());
        assert_eq!(e[2], 2.0);
        assert_eq!(e[3], 2.0 + 0.5 * (4.0 - 2.0));
    }

    #[test]
    fn leading_nans_shift_the_seed() {
        let e = ema(&[f64::NAN, 1.0, 3.0], 2);
        assert_eq!(e[2], 2.0);
        assert!(e[1].is_nan());
    }
}
