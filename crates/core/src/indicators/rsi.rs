//! Relative strength index (Wilder).

/// Wilder's RSI over `n` bars.
///
/// # Formula
/// `Δ[i] = x[i] − x[i−1]`; the first average gain/loss is the plain mean of `Δ[1..=n]`'s
/// positive/negative parts; then `avg = (avg·(n−1) + current) / n` (Wilder smoothing).
/// `RSI = 100·gain / (gain + loss)`, and 0 when both are 0.
///
/// # Warm-up
/// `NaN` for `i < n` (first value at index `n`). Same definition as TA-Lib's `RSI`
/// (unstable period 0); checked against it.
pub fn rsi(values: &[f64], n: usize) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    if n == 0 || len <= n {
        return out;
    }
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=n {
        let d = values[i] - values[i - 1];
        if d > 0.0 {
            gain += d;
        } else {
            loss -= d;
        }
    }
    let nf = n as f64;
    gain /= nf;
    loss /= nf;
    let value = |g: f64, l: f64| {
        if g + l != 0.0 {
            100.0 * (g / (g + l))
        } else {
            0.0
        }
    };
    out[n] = value(gain, loss);
    for i in n + 1..len {
        let d = values[i] - values[i - 1];
        let (g, l) = if d > 0.0 { (d, 0.0) } else { (0.0, -d) };
        gain = (gain * (nf - 1.0) + g) / nf;
        loss = (loss * (nf - 1.0) + l) / nf;
        out[i] = value(gain, loss);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_gains_is_100() {
        let r = rsi(&[1.0, 2.0, 3.0, 4.0], 2);
        assert!(r[1].is_nan());
        assert_eq!(r[2], 100.0);
        assert_eq!(r[3], 100.0);
    }

    #[test]
    fn flat_series_is_zero() {
        assert_eq!(rsi(&[5.0; 4], 2)[3], 0.0);
    }
}
