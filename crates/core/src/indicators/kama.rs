//! Kaufman adaptive moving average.

use super::talib_is_zero;

/// Kaufman's adaptive moving average with efficiency period `n` (fast and slow smoothing
/// periods fixed at 2 and 30, as TA-Lib's `KAMA`).
///
/// # Formula
/// Efficiency ratio `ER = |x[i] − x[i−n]| / Σ_{j=i−n+1..=i} |x[j] − x[j−1]|` (1 when the
/// sum is below 1e-8 or not above the signed change); `sc = (ER·(2/3 − 2/31) + 2/31)²`;
/// `KAMA[i] = KAMA[i−1] + sc·(x[i] − KAMA[i−1])`, started from `KAMA[n−1] = x[n−1]`. The
/// volatility sum is kept as a running total, as TA-Lib does.
///
/// # Warm-up
/// `NaN` for `i < n`; everything NaN when `n == 0`. Same as TA-Lib's `KAMA` (unstable
/// period 0); checked against it.
pub fn kama(values: &[f64], n: usize) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    if n == 0 || len <= n {
        return out;
    }
    const SLOWEST: f64 = 2.0 / (30.0 + 1.0);
    const SPREAD: f64 = 2.0 / (2.0 + 1.0) - SLOWEST;
    let constant = |change: f64, volatility: f64| {
        let er = if volatility <= change || talib_is_zero(volatility) {
            1.0
        } else {
            (change / volatility).abs()
        };
        let sc = er * SPREAD + SLOWEST;
        sc * sc
    };
    let mut volatility = 0.0;
    for i in 0..n {
        volatility += (values[i] - values[i + 1]).abs();
    }
    let mut prev = values[n - 1];
    let sc = constant(values[n] - values[0], volatility);
    prev += (values[n] - prev) * sc;
    out[n] = prev;
    for i in n + 1..len {
        volatility -= (values[i - n - 1] - values[i - n]).abs();
        volatility += (values[i] - values[i - 1]).abs();
        let sc = constant(values[i] - values[i - n], volatility);
        prev += (values[i] - prev) * sc;
        out[i] = prev;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efficient_trend_uses_the_fast_constant() {
        let v = [1.0, 2.0, 3.0, 4.0];
        let k = kama(&v, 2);
        assert!(k[1].is_nan());
        // ER = 1 → sc = (2/3)²; KAMA[2] = 2 + 4/9·(3 − 2).
        assert!((k[2] - (2.0 + 4.0 / 9.0)).abs() < 1e-12);
    }
}
