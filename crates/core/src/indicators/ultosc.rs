//! Ultimate oscillator.

use super::talib_is_zero;

/// Larry Williams' ultimate oscillator over three periods (7, 14 and 28 classically).
///
/// # Formula
/// Buying pressure `BP = Close − min(Low, prevClose)`, true range `TR` (see
/// [`true_range`](super::true_range)); `Aₚ = ΣBP / ΣTR` over the last `p` bars.
/// With the periods sorted `p₁ <= p₂ <= p₃` (TA-Lib sorts them, so their order does not
/// matter): `UO = 100·(4·A₁ + 2·A₂ + A₃) / 7`, where a term whose `ΣTR` is below 1e-8 in
/// magnitude counts as 0. The sums are running totals, as TA-Lib keeps them.
///
/// # Warm-up
/// `NaN` for `i < p₃` (each bar needs the previous close); everything NaN when a period
/// is 0. Same as TA-Lib's `ULTOSC`; checked against it.
pub fn ultimate_oscillator(
    high: &[f64],
    low: &[f64],
    close: &[f64],
    p1: usize,
    p2: usize,
    p3: usize,
) -> Vec<f64> {
    let len = high.len().min(low.len()).min(close.len());
    let mut out = vec![f64::NAN; len];
    let mut periods = [p1, p2, p3];
    periods.sort_unstable();
    let longest = periods[2];
    if periods[0] == 0 || len <= longest {
        return out;
    }
    // (BP, TR) of bar i >= 1.
    let terms = |i: usize| {
        let pc = close[i - 1];
        let true_low = low[i].min(pc);
        let tr = (high[i] - low[i])
            .max((pc - high[i]).abs())
            .max((pc - low[i]).abs());
        (close[i] - true_low, tr)
    };
    let mut sums = [(0.0f64, 0.0f64); 3];
    for (s, &p) in sums.iter_mut().zip(&periods) {
        for i in longest + 1 - p..longest {
            let (bp, tr) = terms(i);
            s.0 += bp;
            s.1 += tr;
        }
    }
    for (i, o) in out.iter_mut().enumerate().skip(longest) {
        let (bp, tr) = terms(i);
        let mut value = 0.0;
        for ((s, weight), &p) in sums.iter_mut().zip([4.0, 2.0, 1.0]).zip(&periods) {
            s.0 += bp;
            s.1 += tr;
            if !talib_is_zero(s.1) {
                value += weight * (s.0 / s.1);
            }
            let (old_bp, old_tr) = terms(i + 1 - p);
            s.0 -= old_bp;
            s.1 -= old_tr;
        }
        *o = 100.0 * (value / 7.0);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closes_at_the_high_give_100() {
        let high: Vec<f64> = (0..8).map(|i| 2.0 + i as f64).collect();
        let low: Vec<f64> = (0..8).map(|i| i as f64).collect();
        let u = ultimate_oscillator(&high, &low, &high, 4, 2, 3);
        assert!(u[3].is_nan());
        assert!(u[4..].iter().all(|x| (x - 100.0).abs() < 1e-12));
    }
}
