//! Aroon up/down and the Aroon oscillator.

use std::collections::VecDeque;

/// Aroon up and down lines.
#[derive(Debug, Clone, PartialEq)]
pub struct Aroon {
    /// `100·(n − bars since the highest high) / n`.
    pub up: Vec<f64>,
    /// `100·(n − bars since the lowest low) / n`.
    pub down: Vec<f64>,
}

/// Aroon over `n` bars.
///
/// # Formula
/// Over the window of the last `n + 1` bars (the current one and `n` before it), with
/// `h`/`l` the bars of the highest high and lowest low (the most recent one on ties),
/// `up = (100/n)·(n − (i − h))` and `down = (100/n)·(n − (i − l))`, from 0 to 100.
///
/// # Warm-up
/// `NaN` for `i < n`; everything NaN when `n == 0`. Same as TA-Lib's `AROON` (which
/// returns down first); checked against it.
pub fn aroon(high: &[f64], low: &[f64], n: usize) -> Aroon {
    let len = high.len().min(low.len());
    let mut out = Aroon {
        up: vec![f64::NAN; len],
        down: vec![f64::NAN; len],
    };
    let factor = 100.0 / n as f64;
    for_each_extreme(high, low, n, |i, h, l| {
        out.up[i] = factor * (n - (i - h)) as f64;
        out.down[i] = factor * (n - (i - l)) as f64;
    });
    out
}

/// Aroon oscillator over `n` bars: `up − down` of [`aroon`], computed as
/// `(100/n)·(h − l)` as TA-Lib does. From −100 to 100.
///
/// # Warm-up
/// `NaN` for `i < n`; everything NaN when `n == 0`. Same as TA-Lib's `AROONOSC`; checked
/// against it.
pub fn aroon_oscillator(high: &[f64], low: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; high.len().min(low.len())];
    let factor = 100.0 / n as f64;
    for_each_extreme(high, low, n, |i, h, l| {
        out[i] = factor * (h as f64 - l as f64);
    });
    out
}

/// Calls `f(i, index of the highest high, index of the lowest low)` for every bar `i >= n`,
/// over the window `i − n ..= i`, latest index on ties (monotonic deques, O(1) amortised).
fn for_each_extreme(high: &[f64], low: &[f64], n: usize, mut f: impl FnMut(usize, usize, usize)) {
    if n == 0 {
        return;
    }
    let len = high.len().min(low.len());
    let (mut hi, mut lo): (VecDeque<usize>, VecDeque<usize>) = Default::default();
    for i in 0..len {
        while hi.back().is_some_and(|&j| high[i] >= high[j]) {
            hi.pop_back();
        }
        hi.push_back(i);
        while lo.back().is_some_and(|&j| low[i] <= low[j]) {
            lo.pop_back();
        }
        lo.push_back(i);
        while hi.front().is_some_and(|&j| j + n < i) {
            hi.pop_front();
        }
        while lo.front().is_some_and(|&j| j + n < i) {
            lo.pop_front();
        }
        if i >= n
            && let (Some(&h), Some(&l)) = (hi.front(), lo.front())
        {
            f(i, h, l);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_bars_since_extremes() {
        let high = [5.0, 3.0, 5.0, 2.0, 1.0];
        let low = [1.0, 0.0, 2.0, 2.0, 1.0];
        let a = aroon(&high, &low, 2);
        assert!(a.up[1].is_nan());
        // Bar 2: window 0..=2, high 5 at bar 2 (latest tie), low 0 at bar 1.
        assert_eq!((a.up[2], a.down[2]), (100.0, 50.0));
        // Bar 3: high 5 at 2, low 0 at 1.
        assert_eq!((a.up[3], a.down[3]), (50.0, 0.0));
        // Bar 4: window 2..=4, high 5 at 2, low 1 at 4.
        assert_eq!((a.up[4], a.down[4]), (0.0, 100.0));
        let osc = aroon_oscillator(&high, &low, 2);
        assert_eq!(&osc[2..], &[50.0, 50.0, -100.0]);
    }
}
