//! Directional movement: +DI, −DI, DX and ADX (Wilder).

use super::talib_is_zero;

/// Wilder's directional indicators over `n` bars.
#[derive(Debug, Clone, PartialEq)]
pub struct Adx {
    /// `+DI = 100·+DMₙ / TRₙ` (0 when `TRₙ` is 0). First value at index `n`.
    pub plus_di: Vec<f64>,
    /// `−DI = 100·−DMₙ / TRₙ` (0 when `TRₙ` is 0). First value at index `n`.
    pub minus_di: Vec<f64>,
    /// `DX = 100·|+DI − −DI| / (+DI + −DI)`; the previous DX (0 at the first bar) when
    /// undefined. First value at index `n`.
    pub dx: Vec<f64>,
    /// Wilder average of DX. First value at index `2n − 1`.
    pub adx: Vec<f64>,
}

/// Directional movement system (Wilder), as TA-Lib's `PLUS_DI`, `MINUS_DI`, `DX` and `ADX`.
///
/// # Formula
/// `up = High[i] − High[i−1]`, `down = Low[i−1] − Low[i]`; `+DM = up` when `up > down` and
/// `up > 0`, else 0; `−DM = down` when `down > up` and `down > 0`, else 0; `TR` is the true
/// range. Wilder sums: `S = Σ` of the first `n − 1` values (bars `1..n`), then
/// `S = S − S/n + value` from bar `n` on (TA-Lib's seeding, which gives the first DI
/// at bar `n`). `+DI = 100·S(+DM)/S(TR)`, `−DI = 100·S(−DM)/S(TR)`,
/// `DX = 100·|+DI − −DI| / (+DI + −DI)`. `ADX[2n−1]` is the mean of `DX[n..=2n−1]`,
/// then `ADX = (ADX·(n−1) + DX) / n`.
///
/// Degenerate bars follow TA-Lib: a sum is "zero" when `|x| < 1e-8`; a zero `S(TR)` gives
/// DI 0; an undefined DX repeats the previous DX; in ADX it counts as 0 in the seeding
/// mean and leaves ADX unchanged afterwards.
///
/// # Warm-up
/// `NaN` for `i < n` (DI, DX) and `i < 2n − 1` (ADX); everything NaN when `n == 0`.
/// Checked against TA-Lib's `PLUS_DI`, `MINUS_DI`, `DX` and `ADX`.
pub fn adx(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Adx {
    let len = high.len().min(low.len()).min(close.len());
    let mut out = Adx {
        plus_di: vec![f64::NAN; len],
        minus_di: vec![f64::NAN; len],
        dx: vec![f64::NAN; len],
        adx: vec![f64::NAN; len],
    };
    if n == 0 || len <= n {
        return out;
    }
    let nf = n as f64;
    let step = |i: usize| {
        let up = high[i] - high[i - 1];
        let down = low[i - 1] - low[i];
        let (p, m) = if down > 0.0 && up < down {
            (0.0, down)
        } else if up > 0.0 && up > down {
            (up, 0.0)
        } else {
            (0.0, 0.0)
        };
        let pc = close[i - 1];
        let tr = (high[i] - low[i])
            .max((high[i] - pc).abs())
            .max((low[i] - pc).abs());
        (p, m, tr)
    };
    let (mut sp, mut sm, mut st) = (0.0, 0.0, 0.0);
    for i in 1..n {
        let (p, m, t) = step(i);
        sp += p;
        sm += m;
        st += t;
    }
    let (mut prev_dx, mut dx_sum, mut prev_adx) = (0.0, 0.0, 0.0);
    for i in n..len {
        let (p, m, t) = step(i);
        sp = sp - sp / nf + p;
        sm = sm - sm / nf + m;
        st = st - st / nf + t;
        let mut dx = None;
        if talib_is_zero(st) {
            out.plus_di[i] = 0.0;
            out.minus_di[i] = 0.0;
        } else {
            let pdi = 100.0 * (sp / st);
            let mdi = 100.0 * (sm / st);
            out.plus_di[i] = pdi;
            out.minus_di[i] = mdi;
            let sum = mdi + pdi;
            if !talib_is_zero(sum) {
                dx = Some(100.0 * ((mdi - pdi).abs() / sum));
            }
        }
        out.dx[i] = dx.unwrap_or(prev_dx);
        prev_dx = out.dx[i];
        if i < 2 * n - 1 {
            dx_sum += dx.unwrap_or(0.0);
        } else if i == 2 * n - 1 {
            prev_adx = (dx_sum + dx.unwrap_or(0.0)) / nf;
            out.adx[i] = prev_adx;
        } else {
            if let Some(dx) = dx {
                prev_adx = (prev_adx * (nf - 1.0) + dx) / nf;
            }
            out.adx[i] = prev_adx;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steady_uptrend_is_all_plus() {
        let high: Vec<f64> = (0..10).map(|i| 11.0 + i as f64).collect();
        let low: Vec<f64> = (0..10).map(|i| 9.0 + i as f64).collect();
        let close: Vec<f64> = (0..10).map(|i| 10.0 + i as f64).collect();
        let a = adx(&high, &low, &close, 3);
        assert!(a.plus_di[2].is_nan() && a.adx[4].is_nan());
        // +DM = 1 and TR = 2 every bar: +DI = 100·1/2 from the first value on.
        assert!((a.plus_di[3] - 50.0).abs() < 1e-12);
        assert_eq!(a.minus_di[3], 0.0);
        assert_eq!(a.dx[3], 100.0);
        assert_eq!(a.adx[5], 100.0);
        assert_eq!(a.adx[9], 100.0);
    }
}
