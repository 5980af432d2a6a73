//! Chaikin accumulation/distribution line and oscillator.

/// Close location value times volume, the A/D line's increment (0 when `High <= Low`).
fn money_flow_volume(high: f64, low: f64, close: f64, volume: f64) -> f64 {
    let range = high - low;
    if range > 0.0 {
        (((close - low) - (high - close)) / range) * volume
    } else {
        0.0
    }
}

/// Chaikin accumulation/distribution line.
///
/// # Formula
/// `AD[i] = AD[i−1] + ((Close − Low) − (High − Close)) / (High − Low) · Volume`, starting
/// from 0 before bar 0 (so `AD[0]` is bar 0's own increment); bars with `High <= Low` add 0.
///
/// # Warm-up
/// None: defined from index 0. Same as TA-Lib's `AD`; checked against it.
pub fn ad_line(high: &[f64], low: &[f64], close: &[f64], volume: &[f64]) -> Vec<f64> {
    let len = high.len().min(low.len()).min(close.len()).min(volume.len());
    let mut total = 0.0;
    (0..len)
        .map(|i| {
            total += money_flow_volume(high[i], low[i], close[i], volume[i]);
            total
        })
        .collect()
}

/// Chaikin A/D oscillator: `EMA(AD, fast) − EMA(AD, slow)` of [`ad_line`].
///
/// # Formula
/// `k = 2 / (p + 1)` for each period `p`. Unlike [`ema`](super::ema), both averages are
/// seeded with the first A/D value, `E[0] = AD[0]`, then `E[i] = k·AD[i] + (1 − k)·E[i−1]`,
/// as TA-Lib (and MetaStock) do. The periods are not swapped: `fast > slow` gives the
/// negated oscillator.
///
/// # Warm-up
/// `NaN` for `i < max(fast, slow) − 1` (TA-Lib treats the first bars as the averages'
/// unstable period); everything NaN when either period is 0. Same as TA-Lib's `ADOSC`;
/// checked against it.
pub fn adosc(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    volume: &[f64],
    fast: usize,
    slow: usize,
) -> Vec<f64> {
    let ad = ad_line(high, low, close, volume);
    let mut out = vec![f64::NAN; ad.len()];
    if fast == 0 || slow == 0 || ad.is_empty() {
        return out;
    }
    let fk = 2.0 / (fast as f64 + 1.0);
    let sk = 2.0 / (slow as f64 + 1.0);
    let start = fast.max(slow) - 1;
    let (mut fe, mut se) = (ad[0], ad[0]);
    for (i, &x) in ad.iter().enumerate().skip(1) {
        fe = fk * x + (1.0 - fk) * fe;
        se = sk * x + (1.0 - sk) * se;
        if i >= start {
            out[i] = fe - se;
        }
    }
    if start == 0 {
        out[0] = 0.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_accumulates_close_location() {
        let ad = ad_line(
            &[2.0, 2.0, 2.0],
            &[0.0, 0.0, 1.0],
            &[2.0, 0.5, 1.0],
            &[10.0; 3],
        );
        assert_eq!(ad, vec![10.0, 5.0, -5.0]);
    }

    #[test]
    fn oscillator_seeds_with_first_value() {
        let (h, l, v) = ([2.0; 4], [0.0; 4], [10.0; 4]);
        let c = [2.0, 2.0, 0.0, 1.0];
        let ad = ad_line(&h, &l, &c, &v); // 10, 20, 10, 10
        let o = adosc(&h, &l, &c, &v, 1, 2);
        assert!(o[0].is_nan());
        // fast (k = 1) is AD itself; slow (k = 2/3) starts at 10.
        let mut s = ad[0];
        for i in 1..4 {
            s = 2.0 / 3.0 * ad[i] + (1.0 - 2.0 / 3.0) * s;
            assert!((o[i] - (ad[i] - s)).abs() < 1e-12);
        }
    }
}
