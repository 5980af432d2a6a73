//! Linearly weighted moving average.

/// Weighted moving average over `n` bars, weights `1..=n` with the newest bar heaviest.
///
/// # Formula
/// `WMA[i] = Σ_{j=0}^{n-1} (n − j)·x[i−j] / (n(n+1)/2)`, updated in O(1) a bar from the
/// running plain sum `S` and weighted sum `W`: `W' = W + n·x_new − S`, `S' = S + x_new − x_old`.
///
/// # Warm-up
/// `NaN` for `i < n - 1`. Checked against TA-Lib's `WMA`.
pub fn wma(values: &[f64], n: usize) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    if n == 0 || len < n {
        return out;
    }
    let denom = (n * (n + 1)) as f64 / 2.0;
    let (mut plain, mut weighted) = (0.0, 0.0);
    for (j, &x) in values[..n].iter().enumerate() {
        plain += x;
        weighted += (j + 1) as f64 * x;
    }
    out[n - 1] = weighted / denom;
    for i in n..len {
        weighted += n as f64 * values[i] - plain;
        plain += values[i] - values[i - n];
        out[i] = weighted / denom;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_newest_most() {
        let w = wma(&[1.0, 2.0, 3.0, 4.0], 3);
        assert!((w[2] - (1.0 + 4.0 + 9.0) / 6.0).abs() < 1e-15);
        assert!((w[3] - (2.0 + 6.0 + 12.0) / 6.0).abs() < 1e-15);
    }
}
