//! Cross detection helpers.

/// True when `a` crossed above `b` on bar `i`: `a[i−1] < b[i−1]` and `a[i] > b[i]`.
///
/// Strict on both sides (an exact tie is not a cross), false on bar 0 and wherever a value
/// is NaN: the semantics of backtesting.py's `crossover`.
#[inline]
pub fn crossover(a: &[f64], b: &[f64], i: usize) -> bool {
    i > 0 && i < a.len() && i < b.len() && a[i - 1] < b[i - 1] && a[i] > b[i]
}

/// True when `a` crossed below `b` on bar `i` (`crossover(b, a, i)`).
#[inline]
pub fn crossunder(a: &[f64], b: &[f64], i: usize) -> bool {
    crossover(b, a, i)
}

/// For each bar, the number of bars since `condition` was last true (0 on a bar where it
/// is true); NaN before it is first true.
pub fn bars_since(condition: &[bool]) -> Vec<f64> {
    let mut last: Option<usize> = None;
    condition
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if c {
                last = Some(i);
            }
            last.map_or(f64::NAN, |j| (i - j) as f64)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_cross() {
        let a = [1.0, 2.0, 3.0, 3.0];
        let b = [2.0, 2.0, 2.0, 3.5];
        assert!(!crossover(&a, &b, 1), "a tie is not a cross");
        assert!(!crossover(&a, &b, 2), "previous bar was a tie, not below");
        assert!(crossunder(&a, &b, 3));
        assert!(!crossover(&a, &b, 0));
    }

    #[test]
    fn counts_bars_since() {
        let s = bars_since(&[false, true, false, false, true]);
        assert!(s[0].is_nan());
        assert_eq!(&s[1..], &[0.0, 1.0, 2.0, 0.0]);
    }
}
