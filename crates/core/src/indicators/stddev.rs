//! Rolling standard deviation.

/// Rolling standard deviation over `n` bars with `ddof` delta degrees of freedom
/// (`0`: population, as TA-Lib's `STDDEV` and Bollinger Bands; `1`: sample, as pandas'
/// `rolling(n).std()`).
///
/// # Formula
/// `sqrt(Σ(x − mean)² / (n − ddof))`, maintained online with Welford's add/remove
/// updates (O(1) a bar, no catastrophic `E[x²] − E[x]²` cancellation).
///
/// # Warm-up
/// `NaN` for `i < n − 1`, and everywhere when `n <= ddof`.
pub fn rolling_std(values: &[f64], n: usize, ddof: usize) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    if n == 0 || n <= ddof {
        return out;
    }
    let (mut mean, mut m2, mut count) = (0.0f64, 0.0f64, 0usize);
    for i in 0..len {
        if i >= n {
            let x = values[i - n];
            let old_mean = mean;
            count -= 1;
            mean -= (x - mean) / count as f64;
            m2 -= (x - old_mean) * (x - mean);
        }
        let x = values[i];
        count += 1;
        let delta = x - mean;
        mean += delta / count as f64;
        m2 += delta * (x - mean);
        if i + 1 >= n {
            out[i] = (m2.max(0.0) / (n - ddof) as f64).sqrt();
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn population_and_sample() {
        let v = [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0];
        assert!((rolling_std(&v, 8, 0)[7] - 2.0).abs() < 1e-12);
        let s = rolling_std(&[1.0, 2.0, 3.0, 4.0], 2, 1);
        assert!((s[3] - 0.5f64.sqrt()).abs() < 1e-12);
        assert!(rolling_std(&v, 1, 1).iter().all(|x| x.is_nan()));
    }
}
