//! Chande momentum oscillator, as TA-Lib computes it.

use super::talib_is_zero;

/// Chande momentum oscillator over `n` bars, with TA-Lib's Wilder-smoothed sums.
///
/// # Formula
/// `Δ[i] = x[i] − x[i−1]`; the average gain `G` and loss `L` are seeded with the plain
/// mean of `Δ[1..=n]`'s positive/negative parts and then smoothed as Wilder does
/// (`G = (G·(n−1) + gain) / n`), exactly as in [`rsi`](super::rsi).
/// `CMO = 100·(G − L) / (G + L)`, 0 when `|G + L| < 1e-8`.
///
/// Chande's original CMO uses plain `n`-bar sums of gains and losses; TA-Lib's `CMO`
/// smooths them like RSI (so `CMO = 2·RSI − 100`). We follow TA-Lib.
///
/// # Warm-up
/// `NaN` for `i < n` (first value at index `n`); everything NaN when `n == 0`. Checked
/// against TA-Lib's `CMO`.
pub fn cmo(values: &[f64], n: usize) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    if n == 0 || len <= n {
        return out;
    }
    let (mut gain, mut loss) = (0.0, 0.0);
    for i in 1..=n {
        let d = values[i] - values[i - 1];
        if d < 0.0 {
            loss -= d;
        } else {
            gain += d;
        }
    }
    let nf = n as f64;
    gain /= nf;
    loss /= nf;
    let value = |g: f64, l: f64| {
        if talib_is_zero(g + l) {
            0.0
        } else {
            100.0 * ((g - l) / (g + l))
        }
    };
    out[n] = value(gain, loss);
    for i in n + 1..len {
        let d = values[i] - values[i - 1];
        gain *= nf - 1.0;
        loss *= nf - 1.0;
        if d < 0.0 {
            loss -= d;
        } else {
            gain += d;
        }
        gain /= nf;
        loss /= nf;
        out[i] = value(gain, loss);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_flat() {
        let up = cmo(&[1.0, 2.0, 3.0, 4.0], 2);
        assert!(up[1].is_nan());
        assert_eq!(&up[2..], &[100.0, 100.0]);
        assert_eq!(cmo(&[1.0, 0.0, -1.0], 2)[2], -100.0);
        assert_eq!(cmo(&[5.0; 4], 2)[3], 0.0);
    }
}
