//! Rate of change.

/// Rate of change in percent over `n` bars: `100·(x[i] / x[i−n] − 1)`.
///
/// # Warm-up
/// `NaN` for `i < n`. Same as TA-Lib's `ROC`.
pub fn roc(values: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if n == 0 {
        return out;
    }
    for i in n..values.len() {
        out[i] = (values[i] / values[i - n] - 1.0) * 100.0;
    }
    out
}
