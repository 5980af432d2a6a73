//! Rolling highest and lowest values.

use std::collections::VecDeque;

/// Highest value of the last `n` bars (monotonic deque, O(1) amortised a bar).
///
/// # Warm-up
/// `NaN` for `i < n − 1`. Same as TA-Lib's `MAX`.
pub fn highest(values: &[f64], n: usize) -> Vec<f64> {
    rolling_extreme(values, n, |new, old| new >= old)
}

/// Lowest value of the last `n` bars. Warm-up as [`highest`]; same as TA-Lib's `MIN`.
pub fn lowest(values: &[f64], n: usize) -> Vec<f64> {
    rolling_extreme(values, n, |new, old| new <= old)
}

fn rolling_extreme(values: &[f64], n: usize, dominates: impl Fn(f64, f64) -> bool) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if n == 0 {
        return out;
    }
    let mut window: VecDeque<usize> = VecDeque::with_capacity(n + 1);
    for (i, &x) in values.iter().enumerate() {
        while window.back().is_some_and(|&j| dominates(x, values[j])) {
            window.pop_back();
        }
        window.push_back(i);
        if window.front().is_some_and(|&j| j + n <= i) {
            window.pop_front();
        }
        if i + 1 >= n {
            out[i] = window.front().map_or(f64::NAN, |&j| values[j]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tracks_window_extremes() {
        let v = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0];
        let hi = highest(&v, 3);
        let lo = lowest(&v, 3);
        assert!(hi[1].is_nan());
        assert_eq!(&hi[2..], &[4.0, 4.0, 5.0, 9.0, 9.0, 9.0]);
        assert_eq!(&lo[2..], &[1.0, 1.0, 1.0, 1.0, 2.0, 2.0]);
    }
}
