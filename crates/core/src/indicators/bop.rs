//! Balance of power.

/// Balance of power: `(Close − Open) / (High − Low)`, 0 when `High − Low < 1e-8`.
///
/// # Warm-up
/// None: defined from index 0. Same as TA-Lib's `BOP`; checked against it.
pub fn balance_of_power(open: &[f64], high: &[f64], low: &[f64], close: &[f64]) -> Vec<f64> {
    let len = open.len().min(high.len()).min(low.len()).min(close.len());
    (0..len)
        .map(|i| {
            let range = high[i] - low[i];
            if range < 1e-8 {
                0.0
            } else {
                (close[i] - open[i]) / range
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_relative_to_range() {
        let b = balance_of_power(&[1.0, 2.0], &[3.0, 2.0], &[1.0, 2.0], &[2.0, 5.0]);
        assert_eq!(b, vec![0.5, 0.0]);
    }
}
