//! Downsampling series for display.

/// Indices of `values` to keep so that at most about `points` remain while the shape
/// survives: the series is cut into `points / 2` equal buckets and each keeps its minimum
/// and maximum (in time order), plus the first and last index overall. A plot of the kept
/// points has the same envelope as a plot of all of them, which a stride (every k-th
/// point) does not: a stride can skip the deepest drawdown.
///
/// Returns every index when `values.len() <= points`, and never more than
/// `max(points, 2) + 2` indices. NaN values are never chosen as a bucket's extreme unless
/// the whole bucket is NaN.
pub fn downsample_minmax(values: &[f64], points: usize) -> Vec<usize> {
    let n = values.len();
    if n <= points.max(2) {
        return (0..n).collect();
    }
    let buckets = (points / 2).max(1);
    let mut keep = Vec::with_capacity(buckets * 2 + 2);
    keep.push(0);
    for b in 0..buckets {
        let (lo, hi) = (b * n / buckets, (b + 1) * n / buckets);
        if lo >= hi {
            continue;
        }
        let (mut imin, mut imax) = (lo, lo);
        for i in lo..hi {
            let v = values[i];
            if v < values[imin] || values[imin].is_nan() {
                imin = i;
            }
            if v > values[imax] || values[imax].is_nan() {
                imax = i;
            }
        }
        let (a, b) = if imin <= imax {
            (imin, imax)
        } else {
            (imax, imin)
        };
        for i in [a, b] {
            if keep.last() != Some(&i) {
                keep.push(i);
            }
        }
    }
    if keep.last() != Some(&(n - 1)) {
        keep.push(n - 1);
    }
    keep
}

/// Indices to draw several series that share an x-axis (price, equity, …) with about
/// `buckets` buckets: the first and last index, each bucket's minimum and maximum of every
/// series in `series`, and every index in `keep` (e.g. the bars where trades entered or
/// exited, so each marker sits on a drawn point). Sorted and without repeats.
///
/// All indices when the series are no longer than `2 * buckets`. The result has at most
/// `2 * buckets * series.len() + keep.len() + 2` entries. Indices in `keep` past the end
/// are ignored; NaN values are never a bucket's extreme unless the whole bucket is NaN.
pub fn downsample_keep(series: &[&[f64]], buckets: usize, keep: &[usize]) -> Vec<usize> {
    let n = series.iter().map(|s| s.len()).min().unwrap_or(0);
    if n <= buckets.max(1) * 2 {
        return (0..n).collect();
    }
    let buckets = buckets.max(1);
    let mut out = Vec::with_capacity(buckets * 2 * series.len() + keep.len() + 2);
    out.push(0);
    out.push(n - 1);
    out.extend(keep.iter().copied().filter(|&i| i < n));
    for b in 0..buckets {
        let (lo, hi) = (b * n / buckets, (b + 1) * n / buckets);
        if lo >= hi {
            continue;
        }
        for s in series {
            let (mut imin, mut imax) = (lo, lo);
            for i in lo..hi {
                if s[i] < s[imin] || s[imin].is_nan() {
                    imin = i;
                }
                if s[i] > s[imax] || s[imax].is_nan() {
                    imax = i;
                }
            }
            out.push(imin);
            out.push(imax);
        }
    }
    out.sort_unstable();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn short_series_are_kept_whole() {
        assert_eq!(downsample_minmax(&[1.0, 2.0, 3.0], 10), vec![0, 1, 2]);
        assert!(downsample_minmax(&[], 10).is_empty());
    }

    #[test]
    fn the_deepest_point_survives() {
        let mut v: Vec<f64> = (0..10_000)
            .map(|i| 100.0 + (i as f64 * 0.01).sin())
            .collect();
        v[7_777] = 1.0;
        let k = downsample_minmax(&v, 100);
        assert!(k.contains(&7_777));
        assert!(k.len() <= 102);
    }

    #[test]
    fn keep_holds_trade_bars_and_every_series_extremes() {
        let n = 100_000;
        let price: Vec<f64> = (0..n).map(|i| 100.0 + (i as f64 * 0.001).sin()).collect();
        let mut equity: Vec<f64> = (0..n).map(|i| 1e4 + i as f64).collect();
        equity[31_337] = 1.0;
        let trades = [5, 77_777, 99_998, 250_000];
        let k = downsample_keep(&[&price, &equity], 500, &trades);
        assert!(k.contains(&0) && k.contains(&(n - 1)));
        assert!(
            k.contains(&31_337) && k.contains(&5) && k.contains(&77_777) && k.contains(&99_998)
        );
        assert!(!k.contains(&250_000));
        assert!(k.len() <= 2 * 500 * 2 + 3 + 2, "{}", k.len());
        assert!(k.windows(2).all(|w| w[0] < w[1]));
        // Short series come back whole.
        assert_eq!(
            downsample_keep(&[&price[..10]], 500, &[3]),
            (0..10).collect::<Vec<_>>()
        );
    }

    proptest! {
        #[test]
        fn keep_bound_and_contents(
            a in proptest::collection::vec(-1e3f64..1e3, 1..3_000),
            buckets in 1usize..200,
            keep in proptest::collection::vec(0usize..4_000, 0..20),
        ) {
            let b: Vec<f64> = a.iter().rev().copied().collect();
            let k = downsample_keep(&[&a, &b], buckets, &keep);
            let n = a.len();
            prop_assert!(k.len() <= 2 * buckets * 2 + keep.len() + 2 || k.len() == n);
            prop_assert!(k.windows(2).all(|w| w[0] < w[1]));
            prop_assert_eq!(k[0], 0);
            prop_assert_eq!(*k.last().unwrap(), n - 1);
            for &i in keep.iter().filter(|&&i| i < n) {
                prop_assert!(k.binary_search(&i).is_ok());
            }
            let max = a.iter().copied().fold(f64::MIN, f64::max);
            let min = b.iter().copied().fold(f64::MAX, f64::min);
            prop_assert!(k.iter().any(|&i| a[i] == max));
            prop_assert!(k.iter().any(|&i| b[i] == min));
        }

        #[test]
        fn keeps_ends_and_extremes_in_order_within_bound(
            v in proptest::collection::vec(-1e6f64..1e6, 0..2_000),
            points in 2usize..300,
        ) {
            let k = downsample_minmax(&v, points);
            prop_assert!(k.len() <= points + 2);
            prop_assert!(k.windows(2).all(|w| w[0] < w[1]));
            if !v.is_empty() {
                prop_assert_eq!(k[0], 0);
                prop_assert_eq!(*k.last().unwrap(), v.len() - 1);
                let (imin, imax) = v.iter().enumerate().fold((0, 0), |(a, b), (i, x)| {
                    (if *x < v[a] { i } else { a }, if *x > v[b] { i } else { b })
                });
                prop_assert!(k.iter().any(|&i| v[i] == v[imin]));
                prop_assert!(k.iter().any(|&i| v[i] == v[imax]));
            }
        }
    }
}
