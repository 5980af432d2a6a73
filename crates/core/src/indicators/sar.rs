//! Parabolic SAR (stop and reverse).

/// Wilder's parabolic SAR with acceleration step `acceleration` and cap `maximum`
/// (TA-Lib's `SAR`, usually 0.02 and 0.2).
///
/// # Formula
/// The first direction is short when bar 1 has a positive −DM (`low[0] − low[1] > 0` and
/// greater than `high[1] − high[0]`), long otherwise; a long starts with `SAR = low[0]`,
/// `EP = high[1]`, a short with `SAR = high[0]`, `EP = low[1]`. On each bar `i ≥ 1`, long:
/// if `low[i] ≤ SAR` the position reverses: the output is `max(EP, high[i−1], high[i])`,
/// `AF = acceleration`, `EP = low[i]`; otherwise the output is the SAR, a new high raises `EP`
/// and `AF` (by `acceleration`, at most `maximum`). The next SAR is
/// `SAR + AF·(EP − SAR)`, kept outside the last two bars' range (below their lows when
/// long, above their highs when short). Short is the mirror image.
///
/// TA-Lib quirks reproduced: on bar 1 the "previous bar" of the range clamp is bar 1
/// itself (not bar 0); when `acceleration > maximum` both are `maximum`.
///
/// # Warm-up
/// `NaN` at index 0 (first value at 1), as TA-Lib. Everything is NaN when fewer than two
/// bars are given or when either parameter is negative or NaN (TA-Lib refuses those).
///
/// Reference: J. Welles Wilder, *New Concepts in Technical Trading Systems* (1978);
/// checked against TA-Lib's `SAR`.
pub fn parabolic_sar(high: &[f64], low: &[f64], acceleration: f64, maximum: f64) -> Vec<f64> {
    let len = high.len().min(low.len());
    let mut out = vec![f64::NAN; len];
    if len < 2 || !(acceleration >= 0.0 && maximum >= 0.0) {
        return out;
    }
    let step = acceleration.min(maximum);
    let mut af = step;
    let up = high[1] - high[0];
    let down = low[0] - low[1];
    let mut long = !(down > 0.0 && up < down);
    let (mut ep, mut sar) = if long {
        (high[1], low[0])
    } else {
        (low[1], high[0])
    };
    let (mut new_low, mut new_high) = (low[1], high[1]);
    for i in 1..len {
        let (prev_low, prev_high) = (new_low, new_high);
        new_low = low[i];
        new_high = high[i];
        if long {
            if new_low <= sar {
                long = false;
                sar = ep.max(prev_high).max(new_high);
                out[i] = sar;
                af = step;
                ep = new_low;
                sar += af * (ep - sar);
                sar = sar.max(prev_high).max(new_high);
            } else {
                out[i] = sar;
                if new_high > ep {
                    ep = new_high;
                    af = (af + step).min(maximum);
                }
                sar += af * (ep - sar);
                sar = sar.min(prev_low).min(new_low);
            }
        } else if new_high >= sar {
            long = true;
            sar = ep.min(prev_low).min(new_low);
            out[i] = sar;
            af = step;
            ep = new_high;
            sar += af * (ep - sar);
            sar = sar.min(prev_low).min(new_low);
        } else {
            out[i] = sar;
            if new_low < ep {
                ep = new_low;
                af = (af + step).min(maximum);
            }
            sar += af * (ep - sar);
            sar = sar.max(prev_high).max(new_high);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rising_then_reversing() {
        let high = [10.0, 11.0, 12.0, 13.0, 9.0];
        let low = [9.0, 10.0, 11.0, 12.0, 8.0];
        let s = parabolic_sar(&high, &low, 0.02, 0.2);
        assert!(s[0].is_nan());
        // Long from low[0] = 9 with EP = high[1] = 11.
        assert_eq!(s[1], 9.0);
        // 9 + 0.02·(11 − 9) = 9.04, below both lows (10, 10).
        assert!((s[2] - 9.04).abs() < 1e-12);
        // New high 12: AF 0.04; 9.04 + 0.04·(12 − 9.04) = 9.1584.
        assert!((s[3] - 9.1584).abs() < 1e-12);
        // Low 8 ≤ SAR: reverse to short at max(EP = 13, high[3] = 13, high[4] = 9) = 13.
        assert_eq!(s[4], 13.0);
    }

    #[test]
    fn bad_parameters_and_short_input_give_nan() {
        assert!(parabolic_sar(&[1.0], &[0.5], 0.02, 0.2)[0].is_nan());
        let s = parabolic_sar(&[2.0, 3.0], &[1.0, 2.0], -0.02, 0.2);
        assert!(s.iter().all(|v| v.is_nan()));
        let s = parabolic_sar(&[2.0, 3.0], &[1.0, 2.0], f64::NAN, 0.2);
        assert!(s.iter().all(|v| v.is_nan()));
    }
}
