//! Stochastic RSI.

use super::{
    extremes::{highest, lowest},
    first_valid,
    rsi::rsi,
    sma::sma,
};

/// Fast %K and %D of the stochastic RSI.
#[derive(Debug, Clone, PartialEq)]
pub struct StochRsi {
    /// Fast %K of the RSI.
    pub k: Vec<f64>,
    /// `SMA(%K, d)`.
    pub d: Vec<f64>,
}

/// Stochastic RSI: the fast stochastic of `RSI(x, n)` over `k` bars, %D its `d`-bar SMA
/// (TA-Lib `STOCHRSI(n, fastk_period = k, fastd_period = d, fastd_matype = SMA)`).
///
/// # Formula
/// `R = RSI(x, n)` (Wilder, [`rsi`]); `%K = 100·(R − min(R, k)) / (max(R, k) − min(R, k))`,
/// 0 when the range is 0; `%D = SMA(%K, d)`.
///
/// # Warm-up
/// Both lines are NaN for `i < n + k + d − 2` (first value at `n + k + d − 2`): as TA-Lib,
/// %K is held back until %D exists, `d − 1` bars after %K is defined (unlike
/// [`super::stochastic`], whose %K starts as soon as it is defined). Leading NaNs shift
/// everything; any window of 0 gives all NaN. Checked against TA-Lib's `STOCHRSI`.
///
/// Reference: T. Chande and S. Kroll, *The New Technical Trader* (1994).
pub fn stoch_rsi(values: &[f64], n: usize, k: usize, d: usize) -> StochRsi {
    let len = values.len();
    let mut out = StochRsi {
        k: vec![f64::NAN; len],
        d: vec![f64::NAN; len],
    };
    if n == 0 || k == 0 || d == 0 {
        return out;
    }
    let start = first_valid(values);
    let r = rsi(&values[start..], n);
    let from = n.saturating_add(k - 1);
    if from >= r.len() {
        return out;
    }
    let (hh, ll) = (highest(&r[n..], k), lowest(&r[n..], k));
    let fast: Vec<f64> = r[n..]
        .iter()
        .zip(hh.iter().zip(&ll))
        .skip(k - 1)
        .map(|(x, (h, l))| {
            let range = (h - l) / 100.0;
            if range != 0.0 { (x - l) / range } else { 0.0 }
        })
        .collect();
    let smooth = sma(&fast, d);
    let base = start + from;
    for (j, (kv, dv)) in fast.iter().zip(&smooth).enumerate().skip(d - 1) {
        out.k[base + j] = *kv;
        out.d[base + j] = *dv;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rsi_at_its_extremes() {
        // n = 2: RSI = 100 on the rises (bars 2, 3), then the fall on bar 4 gives
        // gain 1·1/2 = 0.5, loss 2/2 = 1 → RSI = 100/3.
        let x = [1.0, 2.0, 3.0, 4.0, 2.0];
        let s = stoch_rsi(&x, 2, 2, 2);
        // First value at n + k + d − 2 = 4.
        assert!(s.k[3].is_nan() && s.d[3].is_nan());
        // %K[3]: R = (100, 100), range 0 → 0. %K[4]: R = (100, 33.3), at the low → 0.
        assert_eq!(s.k[4], 0.0);
        assert_eq!(s.d[4], 0.0);
        let s = stoch_rsi(&[1.0, 2.0, 3.0, 2.0, 4.0], 2, 2, 1);
        // R[2] = 100, R[3] = 100·0.5/(0.5 + 0.5) = 50, R[4] = 100·1.25/(1.25 + 0.25) = 83.3.
        // %K[3] = (50 − 50)/(100 − 50) = 0, %K[4] = 100 (the high); d = 1: %D = %K.
        assert!(s.k[2].is_nan());
        assert_eq!(s.k[3], 0.0);
        assert!((s.k[4] - 100.0).abs() < 1e-12);
        assert_eq!(s.d[4], s.k[4]);
    }

    #[test]
    fn zero_windows_and_short_input_give_nan() {
        let x = [1.0, 2.0, 3.0];
        assert!(stoch_rsi(&x, 0, 2, 2).k.iter().all(|v| v.is_nan()));
        assert!(stoch_rsi(&x, 2, 2, 2).d.iter().all(|v| v.is_nan()));
        assert!(stoch_rsi(&[], 14, 5, 3).k.is_empty());
    }
}
