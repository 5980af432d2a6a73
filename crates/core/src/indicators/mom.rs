//! Momentum.

/// Momentum over `n` bars: `x[i] − x[i−n]`.
///
/// # Warm-up
/// `NaN` for `i < n`; everything NaN when `n == 0`. Same as TA-Lib's `MOM`; checked
/// against it.
pub fn momentum(values: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if n == 0 {
        return out;
    }
    for i in n..values.len() {
        out[i] = values[i] - values[i - n];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn difference_n_bars_back() {
        let m = momentum(&[1.0, 4.0, 9.0, 16.0], 2);
        assert!(m[1].is_nan());
        assert_eq!(&m[2..], &[8.0, 12.0]);
    }
}
