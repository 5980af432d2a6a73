//! Tillson T3 moving average.

/// Tillson's T3 over `n` bars with volume factor `vfactor` (TA-Lib's `T3`, usually 0.7).
///
/// # Formula
/// Six EMAs in cascade, `e1 = EMA(x, n)`, `e_{j+1} = EMA(e_j, n)`, each with `k = 2/(n+1)`
/// and seeded with the mean of its input's first `n` values (as TA-Lib does); with
/// `a = vfactor`: `c1 = −a³`, `c2 = 3a² + 3a³`, `c3 = −6a² − 3a − 3a³`,
/// `c4 = 1 + 3a + a³ + 3a²`, and `T3 = c1·e6 + c2·e5 + c3·e4 + c4·e3`.
///
/// # Warm-up
/// `NaN` for `i < 6(n − 1)` (first value at `6(n−1)`). Everything NaN when `n == 0` or
/// `vfactor` is outside `[0, 1]` or NaN (TA-Lib refuses those). Same as TA-Lib's `T3`
/// (unstable period 0); checked against it.
///
/// Reference: T. Tillson, "Smoothing Techniques for More Accurate Signals", *Technical
/// Analysis of Stocks & Commodities* (1998).
pub fn t3(values: &[f64], n: usize, vfactor: f64) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    if n == 0 || !(0.0..=1.0).contains(&vfactor) || len <= 6 * (n - 1) {
        return out;
    }
    let nf = n as f64;
    let k = 2.0 / (nf + 1.0);
    let one_minus_k = 1.0 - k;
    // e[0..6] are e1..e6; seeding e[j] takes n − 1 updates of e[0..j] after its seed.
    let mut e = [0.0f64; 6];
    let mut today = 0;
    e[0] = values[..n].iter().sum::<f64>() / nf;
    today += n;
    for j in 1..6 {
        let mut sum = e[j - 1];
        for _ in 1..n {
            let mut input = values[today];
            today += 1;
            for ej in e.iter_mut().take(j) {
                *ej = k * input + one_minus_k * *ej;
                input = *ej;
            }
            sum += e[j - 1];
        }
        e[j] = sum / nf;
    }
    let a2 = vfactor * vfactor;
    let c1 = -(a2 * vfactor);
    let c2 = 3.0 * (a2 - c1);
    let c3 = -6.0 * a2 - 3.0 * (vfactor - c1);
    let c4 = 1.0 + 3.0 * vfactor - c1 + 3.0 * a2;
    let value = |e: &[f64; 6]| c1 * e[5] + c2 * e[4] + c3 * e[3] + c4 * e[2];
    out[today - 1] = value(&e);
    for i in today..len {
        let mut input = values[i];
        for ej in e.iter_mut() {
            *ej = k * input + one_minus_k * *ej;
            input = *ej;
        }
        out[i] = value(&e);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_series_is_itself() {
        // n = 2: first value at 6; the coefficients sum to 1.
        let t = t3(&[4.0; 8], 2, 0.7);
        assert!(t[5].is_nan());
        assert!((t[6] - 4.0).abs() < 1e-12);
        assert!((t[7] - 4.0).abs() < 1e-12);
    }

    #[test]
    fn zero_vfactor_is_the_triple_ema() {
        // a = 0 → T3 = e3. n = 2, k = 2/3: e1 seed mean(1, 2) = 1.5;
        // e2 seed = mean(1.5, e1 after x=3 → 2.5) = 2; e3 seed = mean(2, e2 after x=4):
        // e1 = 2/3·4 + 1/3·2.5 = 3.5, e2 = 2/3·3.5 + 1/3·2 = 3, e3 = mean(2, 3) = 2.5.
        let t = t3(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], 2, 0.0);
        // e4..e6 seeds consume x = 5, 6, 7: first value at 6.
        assert!(t[5].is_nan());
        let mut e = [3.5, 3.0, 2.5];
        for x in [5.0, 6.0, 7.0] {
            e[0] = 2.0 / 3.0 * x + e[0] / 3.0;
            e[1] = 2.0 / 3.0 * e[0] + e[1] / 3.0;
            e[2] = 2.0 / 3.0 * e[1] + e[2] / 3.0;
        }
        assert!((t[6] - e[2]).abs() < 1e-12);
    }

    #[test]
    fn bad_vfactor_gives_nan() {
        assert!(t3(&[1.0; 10], 2, 1.5).iter().all(|v| v.is_nan()));
        assert!(t3(&[1.0; 10], 0, 0.7).iter().all(|v| v.is_nan()));
    }
}
