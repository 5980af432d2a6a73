//! Percentage price oscillator (TA-Lib's `PPO` with EMAs).

use super::{ema::ema, talib_is_zero};

/// Percentage price oscillator with exponential averages, as TA-Lib's
/// `PPO(fast, slow, matype = EMA)`.
///
/// # Formula
/// `PPO = 100·(EMA(fast) − EMA(slow)) / EMA(slow)`, 0 when `|EMA(slow)| < 1e-8`. If
/// `fast > slow` the two are swapped, as TA-Lib does.
///
/// Both EMAs are plain [`ema`]s over the whole input, each seeded with the mean of its
/// first `fast`/`slow` values. TA-Lib's own `MACD` seeds its fast EMA at bar `slow − 1`
/// instead; its `PPO`/`APO` do not, and this matches them (checked: the fixture agrees
/// with `(EMA(12) − EMA(26)) / EMA(26)` bit for bit, not with the late-seeded variant).
///
/// # Warm-up
/// `NaN` for `i < slow − 1`; everything NaN when either period is 0. Checked against
/// TA-Lib's `PPO(12, 26, matype=1)`.
pub fn ppo(values: &[f64], fast: usize, slow: usize) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    let (fast, slow) = (fast.min(slow), fast.max(slow));
    if fast == 0 || len < slow {
        return out;
    }
    let f = ema(values, fast);
    let s = ema(values, slow);
    for i in slow - 1..len {
        let sl = s[i];
        out[i] = if talib_is_zero(sl) {
            0.0
        } else {
            ((f[i] - sl) / sl) * 100.0
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_emas_start_at_bar_zero() {
        let v = [10.0, 2.0, 4.0, 8.0];
        let p = ppo(&v, 2, 3);
        assert!(p[1].is_nan());
        // Slow seed mean(10, 2, 4) = 16/3; fast: mean(10, 2) = 6, then 6 + 2/3·(4 − 6).
        let (s, f) = (16.0 / 3.0, 6.0 + 2.0 / 3.0 * (4.0 - 6.0));
        assert!((p[2] - 100.0 * (f - s) / s).abs() < 1e-12);
        let swapped = ppo(&v, 3, 2);
        assert!(
            swapped
                .iter()
                .zip(&p)
                .all(|(a, b)| a.to_bits() == b.to_bits())
        );
    }
}
