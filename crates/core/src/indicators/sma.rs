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

/// [`sma`] of several windows over the same values, each written into its own `out` (as
/// long as `values`): bit for bit what one [`SmaStream`] per window writes
/// ([`SmaStream::fill_many`] from the first bar).
pub(crate) fn sma_many(values: &[f64], windows: &[usize], outs: &mut [&mut [f64]]) {
    let mut lines: Vec<SmaStream<'_>> =
        windows.iter().map(|&w| SmaStream::new(values, w)).collect();
    SmaStream::fill_many(&mut lines, outs);
}

impl SmaStream<'_> {
    /// The next values of several lines over the same values, at the same bar: `outs[k]`
    /// (all of one length) gets `lines[k]`'s, bit for bit what each line's own
    /// [`fill`](Self::fill) writes.
    ///
    /// One line alone is bound by the latency of its Kahan compensations, a chain of four
    /// dependent additions every bar. Eight lines side by side hide that chain: the same
    /// operations, in the same order, for each lane (AVX-512, [`lanes_avx512`]). That
    /// needs every window full and positive (every price series): no window then has a
    /// negative value, `nobs` is the window, and the per-lane counts that pandas keeps stay
    /// constant. Other bars (the first ones, before the longest window is full; a stretch
    /// with a value that is not positive), and other CPUs, go line by line.
    pub(crate) fn fill_many(lines: &mut [Self], outs: &mut [&mut [f64]]) {
        assert_eq!(lines.len(), outs.len(), "one output per line");
        let Some(len) = outs.first().map(|o| o.len()) else {
            return;
        };
        assert!(outs.iter().all(|o| o.len() == len), "outputs of one length");
        for (lines, outs) in lines.chunks_mut(8).zip(outs.chunks_mut(8)) {
            lanes(lines, outs);
        }
    }
}

/// [`SmaStream::fill_many`] of up to eight lines.
fn lanes(lines: &mut [SmaStream<'_>], outs: &mut [&mut [f64]]) {
    let (values, at, len) = (lines[0].values, lines[0].i, outs[0].len());
    assert!(
        lines
            .iter()
            .all(|l| l.i == at && std::ptr::eq(l.values, values)),
        "lines at one bar of the same values"
    );
    // Side by side from the bar where every window is full to the last whole eight bars
    // of this call within the values.
    let full = lines.iter().map(|l| l.n).max().unwrap_or(0);
    let from = full.max(at);
    let to = (at + len).min(values.len()).max(from);
    let whole = from + (to - from) / 8 * 8;
    let wide = whole > from
        && lines.iter().all(|l| l.n > 0)
        && values[from - full..whole].iter().all(|&x| x > 0.0)
        && crate::simd::tier() == crate::simd::Tier::Avx512;
    if !wide {
        for (line, out) in lines.iter_mut().zip(outs.iter_mut()) {
            line.fill(out);
        }
        return;
    }
    for (line, out) in lines.iter_mut().zip(outs.iter_mut()) {
        line.fill(&mut out[..from - at]);
    }
    #[cfg(target_arch = "x86_64")]
    {
        let mut middle: Vec<&mut [f64]> = outs
            .iter_mut()
            .map(|o| &mut o[from - at..whole - at])
            .collect();
        // SAFETY: `wide` holds only where `tier()` reports AVX-512F, which it does only
        // where the CPU has it.
        #[allow(unsafe_code, reason = "measured hot loop: runtime CPU dispatch")]
        unsafe {
            lanes_avx512(lines, &mut middle);
        }
    }
    for (line, out) in lines.iter_mut().zip(outs.iter_mut()) {
        line.fill(&mut out[whole - at..]);
    }
}

/// The next bars, a multiple of eight, of one to eight lines at one bar with every window
/// full and positive ([`lanes`]), with the lanes in AVX-512 registers: operation for
/// operation [`RollingMean`]'s `remove`, `add` and `mean` (the same bits, tested tier by
/// tier); fewer than eight lines fill the spare lanes with copies of the first, whose
/// means are not written. Eight bars at a time: each line's eight leaving values are loaded
/// and transposed into one register a bar, and the eight bars' means transposed back into
/// one register a line. Left to itself, the compiler divided lane by lane and moved the
/// rows through scatters.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn lanes_avx512(lines: &mut [SmaStream<'_>], outs: &mut [&mut [f64]]) {
    use std::arch::x86_64::{
        _CMP_GE_OQ, _CMP_LT_OQ, _mm512_add_pd, _mm512_castpd_si512, _mm512_castsi512_pd,
        _mm512_cmp_pd_mask, _mm512_div_pd, _mm512_loadu_pd, _mm512_mask_blend_pd,
        _mm512_set1_epi64, _mm512_set1_pd, _mm512_setzero_pd, _mm512_storeu_pd, _mm512_sub_pd,
        _mm512_xor_si512,
    };
    let m = lines.len();
    assert!((1..=8).contains(&m), "one to eight lines");
    let (values, at, len) = (lines[0].values, lines[0].i, outs[0].len());
    assert_eq!(len % 8, 0, "whole eights of bars");
    let lane = |k: usize| &lines[if k < m { k } else { 0 }];
    let w: [usize; 8] = std::array::from_fn(|k| lane(k).n);
    // SAFETY (every load and store): of an array of eight doubles.
    #[allow(unsafe_code, reason = "vector loads and stores of eight-double arrays")]
    let load = |a: &[f64; 8]| unsafe { _mm512_loadu_pd(a.as_ptr()) };
    #[allow(unsafe_code, reason = "vector loads and stores of eight-double arrays")]
    let store = |a: &mut [f64; 8], v| unsafe { _mm512_storeu_pd(a.as_mut_ptr(), v) };
    let eight = |x: &[f64]| -> [f64; 8] { x.try_into().expect("eight values") };
    let mut sum = load(&std::array::from_fn(|k| lane(k).acc.sum));
    let mut comp_add = load(&std::array::from_fn(|k| lane(k).acc.comp_add));
    let mut comp_remove = load(&std::array::from_fn(|k| lane(k).acc.comp_remove));
    // The run of equal values is the same for every line: they saw the same values.
    let (mut same_run, mut prev) = (lines[0].acc.same_run, lines[0].acc.prev);
    let window = load(&w.map(|w| w as f64));
    let (sign, zero) = (_mm512_set1_epi64(i64::MIN), _mm512_setzero_pd());
    for g in (0..len).step_by(8) {
        let i = at + g;
        // Row k: line k's leaving values for bars i..i + 8; after the transpose, row j:
        // bar i + j's leaving value for every line.
        let old = transpose8(std::array::from_fn(|k| {
            load(&eight(&values[i - w[k]..i - w[k] + 8]))
        }));
        let mut means = [zero; 8];
        for j in 0..8 {
            let x = values[i + j];
            // `RollingMean::add`'s run of equal values.
            same_run = if x == prev { same_run + 1 } else { 1 };
            prev = x;
            let same = _mm512_set1_pd(same_run as f64);
            let xv = _mm512_set1_pd(x);
            // `remove(values[i − w])`, then `add(x)`, then `mean(w)` with no negative
            // value in the window; −old flips the sign bit, as the scalar negation does.
            let negated = _mm512_castsi512_pd(_mm512_xor_si512(_mm512_castpd_si512(old[j]), sign));
            let y = _mm512_sub_pd(negated, comp_remove);
            let t = _mm512_add_pd(sum, y);
            comp_remove = _mm512_sub_pd(_mm512_sub_pd(t, sum), y);
            sum = t;
            let y = _mm512_sub_pd(xv, comp_add);
            let t = _mm512_add_pd(sum, y);
            comp_add = _mm512_sub_pd(_mm512_sub_pd(t, sum), y);
            sum = t;
            let mean = _mm512_div_pd(sum, window);
            let negative = _mm512_cmp_pd_mask::<_CMP_LT_OQ>(mean, zero);
            let whole_run = _mm512_cmp_pd_mask::<_CMP_GE_OQ>(same, window);
            means[j] =
                _mm512_mask_blend_pd(whole_run, _mm512_mask_blend_pd(negative, mean, zero), xv);
        }
        for (out, line) in outs.iter_mut().zip(transpose8(means)) {
            store((&mut out[g..g + 8]).try_into().expect("eight values"), line);
        }
    }
    // Each line's state after these bars; its counts are unchanged (a positive value
    // left and one arrived every bar).
    let (mut sums, mut adds, mut removes) = ([0.0; 8], [0.0; 8], [0.0; 8]);
    store(&mut sums, sum);
    store(&mut adds, comp_add);
    store(&mut removes, comp_remove);
    for (k, line) in lines.iter_mut().enumerate() {
        line.acc.sum = sums[k];
        line.acc.comp_add = adds[k];
        line.acc.comp_remove = removes[k];
        line.acc.same_run = same_run;
        line.acc.prev = prev;
        line.i = at + len;
    }
}

/// The 8 × 8 transpose of eight rows of eight doubles: row j of the result holds element j
/// of every row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn transpose8(r: [std::arch::x86_64::__m512d; 8]) -> [std::arch::x86_64::__m512d; 8] {
    use std::arch::x86_64::{_mm512_shuffle_f64x2, _mm512_unpackhi_pd, _mm512_unpacklo_pd};
    // Pairs of rows interleaved: t[2m] = (r[2m][0], r[2m+1][0], r[2m][2], r[2m+1][2], …),
    // t[2m+1] the same with the odd elements.
    let t: [_; 8] = std::array::from_fn(|q| {
        let (a, b) = (r[q / 2 * 2], r[q / 2 * 2 + 1]);
        if q % 2 == 0 {
            _mm512_unpacklo_pd(a, b)
        } else {
            _mm512_unpackhi_pd(a, b)
        }
    });
    // 128-bit pieces of two of those: 0x88 takes pieces 0 and 2 of each, 0xdd 1 and 3.
    let (lo, hi) = (
        |a, b| _mm512_shuffle_f64x2::<0x88>(a, b),
        |a, b| _mm512_shuffle_f64x2::<0xdd>(a, b),
    );
    // u0: elements 0 and 4 of rows 0–3; u1: 2 and 6; u2: 1 and 5; u3: 3 and 7; u4–u7 the
    // same of rows 4–7.
    let u = [
        lo(t[0], t[2]),
        hi(t[0], t[2]),
        lo(t[1], t[3]),
        hi(t[1], t[3]),
        lo(t[4], t[6]),
        hi(t[4], t[6]),
        lo(t[5], t[7]),
        hi(t[5], t[7]),
    ];
    [
        lo(u[0], u[4]),
        lo(u[2], u[6]),
        lo(u[1], u[5]),
        lo(u[3], u[7]),
        hi(u[0], u[4]),
        hi(u[2], u[6]),
        hi(u[1], u[5]),
        hi(u[3], u[7]),
    ]
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

    proptest::proptest! {
        /// Lines side by side are each line alone, bit for bit: positive prices with runs
        /// of equal values (a constant window returns its value exactly), values of both
        /// signs and NaN (line by line), windows longer than the data and zero.
        #[test]
        fn lines_side_by_side_are_each_line_alone(
            values in proptest::collection::vec(
                proptest::prop_oneof![
                    4 => 1.0..200.0f64,
                    2 => proptest::sample::select(vec![0.1, 7.25, 100.0]),
                    1 => -5.0..5.0f64,
                    1 => proptest::strategy::Just(f64::NAN),
                ],
                0..300,
            ),
            positive_only in proptest::bool::ANY,
            windows in proptest::collection::vec(0usize..40, 1..20),
            block in proptest::prop_oneof![proptest::strategy::Just(0usize), 1usize..70],
        ) {
            let values: Vec<f64> = if positive_only {
                values.iter().map(|x| if x.is_nan() { 3.5 } else { x.abs() + 0.01 }).collect()
            } else {
                values
            };
            for tier in crate::simd::TIERS {
            let mut lines = vec![vec![0.0; values.len()]; windows.len()];
            let mut outs: Vec<&mut [f64]> = lines.iter_mut().map(|l| &mut l[..]).collect();
            crate::simd::capped(tier, || {
                // Whole, or a block at a time (the cross scan's streamed lines), in
                // blocks of `block` bars that need not be whole eights.
                if block == 0 {
                    sma_many(&values, &windows, &mut outs);
                } else {
                    let mut lines: Vec<SmaStream<'_>> =
                        windows.iter().map(|&w| SmaStream::new(&values, w)).collect();
                    let mut at = 0;
                    while at < values.len() {
                        let end = (at + block).min(values.len());
                        let mut part: Vec<&mut [f64]> =
                            outs.iter_mut().map(|o| &mut o[at..end]).collect();
                        SmaStream::fill_many(&mut lines, &mut part);
                        at = end;
                    }
                }
            });
            for (line, &w) in lines.iter().zip(&windows) {
                let want = sma(&values, w);
                for (i, (a, b)) in line.iter().zip(&want).enumerate() {
                    proptest::prop_assert!(
                        a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
                        "{tier:?}: window {w} bar {i}: {a} against {b}"
                    );
                }
            }
            }
        }
    }

    #[test]
    fn zero_window_is_all_nan() {
        assert!(sma(&[1.0, 2.0], 0).iter().all(|x| x.is_nan()));
    }
}
