//! TRIX: rate of change of a triple EMA.

use super::ema::ema;

/// TRIX over `n` bars: the one-bar rate of change, in percent, of a triple exponential
/// average.
///
/// # Formula
/// `E3 = EMA(EMA(EMA(x, n), n), n)`, each EMA seeded with the mean of the first `n`
/// values of its input (see [`ema`]); `TRIX[i] = 100·(E3[i] / E3[i−1] − 1)`, 0 when
/// `E3[i−1]` is 0.
///
/// # Warm-up
/// `NaN` for `i < 3(n − 1) + 1`; everything NaN when `n == 0`. Same as TA-Lib's `TRIX`;
/// checked against it.
pub fn trix(values: &[f64], n: usize) -> Vec<f64> {
    let e3 = ema(&ema(&ema(values, n), n), n);
    let mut out = vec![f64::NAN; e3.len()];
    for i in 1..e3.len() {
        let prev = e3[i - 1];
        if prev.is_nan() || e3[i].is_nan() {
            continue;
        }
        out[i] = if prev != 0.0 {
            (e3[i] / prev - 1.0) * 100.0
        } else {
            0.0
        };
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_and_constant_series() {
        let t = trix(&[3.0; 10], 3);
        assert!(t[6].is_nan());
        assert_eq!(&t[7..], &[0.0, 0.0, 0.0]);
    }
}
