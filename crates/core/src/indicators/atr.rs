//! True range and average true range.

/// True range: `max(High − Low, |High − prevClose|, |Low − prevClose|)`.
///
/// # Warm-up
/// `NaN` at index 0 (no previous close), as TA-Lib's `TRANGE`.
pub fn true_range(high: &[f64], low: &[f64], close: &[f64]) -> Vec<f64> {
    let len = high.len().min(low.len()).min(close.len());
    let mut out = vec![f64::NAN; len];
    for i in 1..len {
        let pc = close[i - 1];
        out[i] = (high[i] - low[i])
            .max((high[i] - pc).abs())
            .max((low[i] - pc).abs());
    }
    out
}

/// Wilder's average true range over `n` bars.
///
/// # Formula
/// `ATR[n] = mean(TR[1..=n])`; then `ATR[i] = (ATR[i−1]·(n−1) + TR[i]) / n`.
///
/// # Warm-up
/// `NaN` for `i < n`. Same definition as TA-Lib's `ATR`; checked against it.
pub fn atr(high: &[f64], low: &[f64], close: &[f64], n: usize) -> Vec<f64> {
    let tr = true_range(high, low, close);
    let len = tr.len();
    let mut out = vec![f64::NAN; len];
    if n == 0 || len <= n {
        return out;
    }
    let nf = n as f64;
    let mut prev = tr[1..=n].iter().sum::<f64>() / nf;
    out[n] = prev;
    for i in n + 1..len {
        prev = (prev * (nf - 1.0) + tr[i]) / nf;
        out[i] = prev;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gap_counts_in_true_range() {
        let tr = true_range(&[10.0, 15.0], &[9.0, 14.0], &[9.5, 14.5]);
        assert!(tr[0].is_nan());
        assert_eq!(tr[1], 5.5);
    }
}
