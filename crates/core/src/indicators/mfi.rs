//! Money flow index.

/// Money flow index over `n` bars: a volume-weighted RSI of the typical price.
///
/// # Formula
/// `TP = (High + Low + Close) / 3`, raw money flow `MF = TP·Volume`; a bar's flow is
/// positive when its TP is above the previous bar's, negative when below, and neither
/// when equal. `MFI = 100·ΣMF⁺ / (ΣMF⁺ + ΣMF⁻)` over the last `n` bars, and 0 when that
/// total is below 1 (TA-Lib's guard). The sums are kept as running totals, as TA-Lib.
///
/// # Warm-up
/// `NaN` for `i < n` (each flow needs a previous bar); everything NaN when `n == 0`.
/// Same as TA-Lib's `MFI`; checked against it.
pub fn mfi(high: &[f64], low: &[f64], close: &[f64], volume: &[f64], n: usize) -> Vec<f64> {
    let len = high.len().min(low.len()).min(close.len()).min(volume.len());
    let mut out = vec![f64::NAN; len];
    if n == 0 || len <= n {
        return out;
    }
    let tp = |i: usize| (high[i] + low[i] + close[i]) / 3.0;
    // (positive, negative) flow of bar i >= 1.
    let flow = |i: usize| {
        let (now, before) = (tp(i), tp(i - 1));
        let mf = now * volume[i];
        if now > before {
            (mf, 0.0)
        } else if now < before {
            (0.0, mf)
        } else {
            (0.0, 0.0)
        }
    };
    let value = |pos: f64, neg: f64| {
        let total = pos + neg;
        if total < 1.0 {
            0.0
        } else {
            100.0 * (pos / total)
        }
    };
    let (mut pos, mut neg) = (0.0, 0.0);
    for i in 1..=n {
        let (p, m) = flow(i);
        pos += p;
        neg += m;
    }
    out[n] = value(pos, neg);
    for (i, o) in out.iter_mut().enumerate().skip(n + 1) {
        let (op, om) = flow(i - n);
        pos -= op;
        neg -= om;
        let (p, m) = flow(i);
        pos += p;
        neg += m;
        *o = value(pos, neg);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_flow_by_direction() {
        let p = [1.0, 2.0, 1.0];
        let m = mfi(&p, &p, &p, &[1.0, 10.0, 10.0], 2);
        assert!(m[1].is_nan());
        // Flows: +2·10 = 20, −1·10 = 10 → 100·20/30.
        assert!((m[2] - 200.0 / 3.0).abs() < 1e-12);
    }
}
