//! Linear-regression slope.

/// Slope of the least-squares line through the last `n` values, per bar.
///
/// # Formula
/// With `x = 0, 1, …, n−1` counting bars back from the current one,
/// `slope = (n·Σxy − Σx·Σy) / ((Σx)² − n·Σx²)` (the sign turns "per bar back" into "per
/// bar forward"). Sums are recomputed for each window (O(len·n)), in TA-Lib's order.
///
/// # Warm-up
/// `NaN` for `i < n − 1`; everything NaN when `n < 2`. Same as TA-Lib's
/// `LINEARREG_SLOPE`; checked against it.
pub fn linreg_slope(values: &[f64], n: usize) -> Vec<f64> {
    let len = values.len();
    let mut out = vec![f64::NAN; len];
    if n < 2 || len < n {
        return out;
    }
    let nf = n as f64;
    let sum_x = nf * (nf - 1.0) * 0.5;
    let sum_x2 = nf * (nf - 1.0) * (2.0 * nf - 1.0) / 6.0;
    let divisor = sum_x * sum_x - nf * sum_x2;
    for i in n - 1..len {
        let (mut sum_xy, mut sum_y) = (0.0, 0.0);
        for back in (0..n).rev() {
            let y = values[i - back];
            sum_y += y;
            sum_xy += back as f64 * y;
        }
        out[i] = (nf * sum_xy - sum_x * sum_y) / divisor;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slope_of_a_line() {
        let v: Vec<f64> = (0..6).map(|i| 3.0 - 0.5 * i as f64).collect();
        let s = linreg_slope(&v, 4);
        assert!(s[2].is_nan());
        assert!(s[3..].iter().all(|x| (x + 0.5).abs() < 1e-12));
    }
}
