//! Keltner channels.

use super::{atr::atr, ema::ema};

/// Upper, middle and lower Keltner channel lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Keltner {
    /// `EMA + k·ATR`.
    pub upper: Vec<f64>,
    /// `EMA(close, n)`.
    pub middle: Vec<f64>,
    /// `EMA − k·ATR`.
    pub lower: Vec<f64>,
}

/// Keltner channels (Linda Raschke's ATR form): an EMA of the close with bands `k` average
/// true ranges away.
///
/// # Formula
/// `middle = EMA(close, n)` ([`ema`]); `upper/lower = middle ± k·ATR(high, low, close, n)`
/// (Wilder's [`atr`]).
///
/// # Warm-up
/// The middle line is NaN for `i < n − 1`, as the EMA; the bands for `i < n`, as the ATR
/// (it needs a previous close). All NaN when `n == 0`. TA-Lib has no Keltner function;
/// checked against that composition of TA-Lib's `EMA` and `ATR`
/// (`testdata/indicators/make_fixtures.py`).
pub fn keltner(high: &[f64], low: &[f64], close: &[f64], n: usize, k: f64) -> Keltner {
    let len = high.len().min(low.len()).min(close.len());
    let middle = ema(&close[..len], n);
    let range = atr(&high[..len], &low[..len], &close[..len], n);
    let band = |sign: f64| -> Vec<f64> {
        middle
            .iter()
            .zip(&range)
            .map(|(m, a)| m + sign * k * a)
            .collect()
    };
    let (upper, lower) = (band(1.0), band(-1.0));
    Keltner {
        upper,
        middle,
        lower,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_are_k_atrs_from_the_ema() {
        let high = [11.0, 12.0, 13.0];
        let low = [9.0, 10.0, 12.0];
        let close = [10.0, 11.0, 12.5];
        let kc = keltner(&high, &low, &close, 2, 2.0);
        // EMA(2) seeds at bar 1 with 10.5; ATR(2) at bar 2 = mean(TR 2, TR 2) = 2.
        assert!(kc.middle[0].is_nan() && kc.upper[1].is_nan());
        assert_eq!(kc.middle[1], 10.5);
        // EMA[2] = 10.5 + 2/3·(12.5 − 10.5) = 11.8333…
        let m = 10.5 + 2.0 / 3.0 * 2.0;
        assert!((kc.middle[2] - m).abs() < 1e-12);
        assert!((kc.upper[2] - (m + 4.0)).abs() < 1e-12);
        assert!((kc.lower[2] - (m - 4.0)).abs() < 1e-12);
    }
}
