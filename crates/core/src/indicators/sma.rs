//! Simple moving average with pandas' rolling-mean arithmetic.

/// Simple moving average of `values` over `n` bars.
///
/// # Formula
/// `SMA[i] = (x[i-n+1] + … + x[i]) / n`
///
/// # Warm-up
/// `NaN` for `i < n - 1` (first value at index `n - 1`). A NaN input makes every
/// window containing it NaN, as pandas does with `min_periods = n`.
///
/// # Arithmetic
/// Computed online, the way `pandas.Series.rolling(n).mean()` does it: one running sum,
/// new values added and leaving values subtracted with separate Kahan compensations, then
/// `sum / count`; a window of identical values returns that value exactly. This matters
/// because strategies compare two SMAs with a strict `>`: a fresh sum per window differs
/// in the last bits and flips exact ties (GOOG's SMA(5) and SMA(25) on 2010-08-17).
/// Checked bit for bit against pandas 3.1.1 (`testdata/indicators/`).
///
/// # Panics
/// Never; `n == 0` yields all NaN.
///
/// ```
/// let sma = backtide_core::indicators::sma(&[1.0, 2.0, 3.0, 4.0], 2);
/// assert!(sma[0].is_nan());
/// assert_eq!(&sma[1..], &[1.5, 2.5, 3.5]);
/// ```
pub fn sma(values: &[f64], n: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    SmaStream::new(values, n).fill(&mut out);
    out
}

/// [`sma`] produced a block at a time, for a consumer that reads it once in order (a
/// sweep's cross scan when the indicator cache is full): the same values, bit for bit,
/// without a series as long as the data.
#[derive(Debug, Clone)]
pub(crate) struct SmaStream<'a> {
    values: &'a [f64],
    n: usize,
    acc: RollingMean,
    /// The next bar to produce.
    i: usize,
}

impl<'a> SmaStream<'a> {
    pub(crate) fn new(values: &'a [f64], n: usize) -> Self {
        SmaStream {
            values,
            n,
            acc: RollingMean::default(),
            i: 0,
        }
    }

    /// Writes the next `out.len()` values (NaN past the end of the input).
    #[inline]
    pub(crate) fn fill(&mut self, out: &mut [f64]) {
        let (values, n) = (self.values, self.n);
        for o in out.iter_mut() {
            let i = self.i;
            self.i += 1;
            *o = f64::NAN;
            if n == 0 || i >= values.len() {
                continue;
            }
            if i >= n {
                self.acc.remove(values[i - n]);
            }
            self.acc.add(values[i]);
            if i + 1 >= n {
                *o = self.acc.mean(n);
            }
        }
    }
}

/// `SMA(fast) − SMA(slow)` in one pass, bit-identical to subtracting [`sma`]'s outputs.
///
/// Strategies that trade two moving averages crossing only need the sign of their
/// difference: for finite doubles `a − b < 0` exactly when `a < b` (IEEE subtraction is
/// exact in sign and zero only on equality), so a strict crossover of `a` over `b` is
/// the difference going from `< 0` to `> 0`. Computing both rolling means in one loop
/// keeps 8 bytes a bar instead of 16, and the two independent Kahan chains overlap in the
/// CPU. NaN while either mean is warming up.
pub fn sma_difference(values: &[f64], fast: usize, slow: usize) -> Vec<f64> {
    let mut out = vec![f64::NAN; values.len()];
    if fast == 0 || slow == 0 {
        return out;
    }
    let (mut a, mut b) = (RollingMean::default(), RollingMean::default());
    for (i, &x) in values.iter().enumerate() {
        if i >= fast {
            a.remove(values[i - fast]);
        }
        if i >= slow {
            b.remove(values[i - slow]);
        }
        a.add(x);
        b.add(x);
        if i + 1 >= fast.max(slow) {
            out[i] = a.mean(fast) - b.mean(slow);
        }
    }
    out
}

/// Running state of pandas' `roll_mean` kernel.
#[derive(Debug, Default, Clone)]
pub(crate) struct RollingMean {
    sum: f64,
    comp_add: f64,
    comp_remove: f64,
    nobs: usize,
    neg: usize,
    same_run: usize,
    prev: f64,
}

impl RollingMean {
    pub(crate) fn add(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.nobs += 1;
        let y = x - self.comp_add;
        let t = self.sum + y;
        self.comp_add = t - self.sum - y;
        self.sum = t;
        if x.is_sign_negative() {
            self.neg += 1;
        }
        if x == self.prev {
            self.same_run += 1;
        } else {
            self.same_run = 1;
        }
        self.prev = x;
    }

    pub(crate) fn remove(&mut self, x: f64) {
        if x.is_nan() {
            return;
        }
        self.nobs -= 1;
        let y = -x - self.comp_remove;
        let t = self.sum + y;
        self.comp_remove = t - self.sum - y;
        self.sum = t;
        if x.is_sign_negative() {
            self.neg -= 1;
        }
    }

    pub(crate) fn mean(&self, min_periods: usize) -> f64 {
        if self.nobs < min_periods.max(1) {
            return f64::NAN;
        }
        let mean = self.sum / self.nobs as f64;
        if self.same_run >= self.nobs {
            self.prev
        } else if (self.neg == 0 && mean < 0.0) || (self.neg == self.nobs && mean > 0.0) {
            0.0
        } else {
            mean
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_window_is_exact() {
        let v = [0.1, 0.1, 0.1, 0.1];
        assert_eq!(sma(&v, 3)[3], 0.1);
    }

    #[test]
    fn nan_poisons_its_windows() {
        let v = [1.0, f64::NAN, 3.0, 4.0, 5.0];
        let s = sma(&v, 2);
        assert!(s[1].is_nan() && s[2].is_nan());
        assert_eq!(s[3], 3.5);
    }

    #[test]
    fn difference_is_bit_identical_to_two_smas() {
        let v: Vec<f64> = (0..500)
            .map(|i| 100.0 + (i as f64 * 0.37).sin() * 7.3 + i as f64 * 0.01)
            .collect();
        for (f, s) in [(3, 7), (10, 30), (30, 10), (1, 2)] {
            let d = sma_difference(&v, f, s);
            let (a, b) = (sma(&v, f), sma(&v, s));
            for i in 0..v.len() {
                let want = a[i] - b[i];
                assert!(
                    d[i].to_bits() == want.to_bits() || (d[i].is_nan() && want.is_nan()),
                    "{f}/{s} bar {i}"
                );
            }
        }
    }

    #[test]
    fn zero_window_is_all_nan() {
        assert!(sma(&[1.0, 2.0], 0).iter().all(|x| x.is_nan()));
    }
}
