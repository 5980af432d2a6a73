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

    proptest! {
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
