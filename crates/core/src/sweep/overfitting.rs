//! Overfitting checks for a sweep: the Probabilistic and Deflated Sharpe Ratio and the
//! Probability of Backtest Overfitting.
//!
//! # Formulas
//!
//! Per-period returns `r` of a combination (here: per-bar changes of equity) have Sharpe
//! ratio `SR = mean(r) / std(r)` (not annualised), skewness `γ3` and (non-excess)
//! kurtosis `γ4`, over `T` returns.
//!
//! **Probabilistic Sharpe Ratio** (Bailey & López de Prado, 2012): the probability that the
//! true Sharpe ratio exceeds a benchmark `SR*`:
//! `PSR(SR*) = Φ( (SR − SR*)·√(T−1) / √(1 − γ3·SR + (γ4 − 1)/4·SR²) )`.
//!
//! **Deflated Sharpe Ratio** (Bailey & López de Prado, 2014): the PSR of the best of `N`
//! trials against the Sharpe ratio expected from the best of `N` unskilled trials,
//! `SR0 = √V[SR_n] · ((1 − γ)·Φ⁻¹(1 − 1/N) + γ·Φ⁻¹(1 − 1/(N·e)))`, with `V[SR_n]` the
//! variance of the trials' Sharpe ratios and `γ` the Euler–Mascheroni constant:
//! `DSR = PSR(SR0)`. Here `N` is the number of combinations the sweep tried.
//!
//! **Probability of Backtest Overfitting** by combinatorially symmetric cross-validation
//! (Bailey, Borwein, López de Prado & Zhu, 2015): split the `T` periods into `S` (even)
//! blocks; for each of the `C(S, S/2)` ways to pick half of them as in-sample, find the
//! combination with the best in-sample Sharpe ratio and its relative rank `ω` among all
//! combinations out of sample (`rank / (N + 1)`, rank 1 = worst); its logit is
//! `λ = ln(ω / (1 − ω))`. `PBO` is the share of splits with `λ ≤ 0`: how often the
//! in-sample winner is no better than the median out of sample.

/// Euler–Mascheroni constant.
const EULER_GAMMA: f64 = 0.577_215_664_901_532_9;

/// Standard normal CDF `Φ(x)`.
pub fn norm_cdf(x: f64) -> f64 {
    0.5 * libm::erfc(-x / std::f64::consts::SQRT_2)
}

/// Inverse standard normal CDF `Φ⁻¹(p)`, `p` in (0, 1): Acklam's rational approximation
/// refined by one Halley step on `Φ` (about 1e-15 relative).
pub fn norm_inv_cdf(p: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) {
        return if p == 0.0 {
            f64::NEG_INFINITY
        } else if p == 1.0 {
            f64::INFINITY
        } else {
            f64::NAN
        };
    }
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.38357751867269e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e1,
        1.615858368580409e2,
        -1.556989798598866e2,
        6.680131188771972e1,
        -1.328068155288572e1,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [
        7.784695709041462e-3,
        3.224671290700398e-1,
        2.445134137142996,
        3.754408661907416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    let x = if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    };
    // Halley refinement.
    let e = norm_cdf(x) - p;
    let u = e * (2.0 * std::f64::consts::PI).sqrt() * (x * x / 2.0).exp();
    x - u / (1.0 + x * u / 2.0)
}

/// Moments of a return series.
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ReturnMoments {
    /// Number of returns `T`.
    pub n: usize,
    /// Σr, Σr², Σr³, Σr⁴.
    pub sums: [f64; 4],
}

impl ReturnMoments {
    /// Moments of a whole series.
    pub fn of(returns: &[f64]) -> Self {
        let mut m = MomentLanes::default();
        m.add(returns, 0);
        m.moments()
    }

    /// `(SR, γ3, γ4)`: Sharpe ratio with the sample standard deviation, population skewness
    /// and (non-excess) kurtosis. NaN when undefined.
    pub fn sharpe_skew_kurt(&self) -> (f64, f64, f64) {
        let n = self.n as f64;
        if self.n < 2 {
            return (f64::NAN, f64::NAN, f64::NAN);
        }
        let [s1, s2, s3, s4] = self.sums;
        let mean = s1 / n;
        // Central moments from raw sums.
        let m2 = s2 / n - mean * mean;
        let m3 = s3 / n - 3.0 * mean * s2 / n + 2.0 * mean.powi(3);
        let m4 = s4 / n - 4.0 * mean * s3 / n + 6.0 * mean * mean * s2 / n - 3.0 * mean.powi(4);
        let sd = (m2 * n / (n - 1.0)).sqrt();
        (mean / sd, m3 / m2.powf(1.5), m4 / (m2 * m2))
    }
}

/// Probabilistic Sharpe Ratio of an observed `sr` (per period, over `n` returns with
/// skewness `skew` and kurtosis `kurt`) against the benchmark `sr_star`.
pub fn probabilistic_sharpe(sr: f64, sr_star: f64, n: usize, skew: f64, kurt: f64) -> f64 {
    let denom = (1.0 - skew * sr + (kurt - 1.0) / 4.0 * sr * sr).sqrt();
    norm_cdf((sr - sr_star) * ((n as f64) - 1.0).sqrt() / denom)
}

/// The Sharpe ratio expected from the best of `trials` unskilled trials whose Sharpe
/// ratios have variance `var_sr` (the DSR's `SR0`).
pub fn expected_max_sharpe(var_sr: f64, trials: usize) -> f64 {
    if trials < 2 {
        return 0.0;
    }
    let n = trials as f64;
    var_sr.sqrt()
        * ((1.0 - EULER_GAMMA) * norm_inv_cdf(1.0 - 1.0 / n)
            + EULER_GAMMA * norm_inv_cdf(1.0 - 1.0 / (n * std::f64::consts::E)))
}

/// Deflated Sharpe Ratio: [`probabilistic_sharpe`] against [`expected_max_sharpe`].
pub fn deflated_sharpe(sr: f64, n: usize, skew: f64, kurt: f64, var_sr: f64, trials: usize) -> f64 {
    probabilistic_sharpe(sr, expected_max_sharpe(var_sr, trials), n, skew, kurt)
}

/// Per-block Σr, Σr² and count of one combination's returns (what CSCV needs: the Sharpe
/// ratio of any union of blocks follows from them).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct BlockSums {
    /// (Σr, Σr², n) per block.
    pub blocks: Vec<(f64, f64, usize)>,
}

impl BlockSums {
    /// Splits `returns` into `s` contiguous blocks of (nearly) equal length.
    pub fn of(returns: &[f64], s: usize) -> BlockSums {
        let n = returns.len();
        let blocks = (0..s)
            .map(|b| {
                let (from, to) = (b * n / s, (b + 1) * n / s);
                let mut m = MomentLanes::default();
                m.add(&returns[from..to], from);
                m.block()
            })
            .collect();
        BlockSums { blocks }
    }
}

/// The result of CSCV.
#[derive(Debug, Clone, PartialEq)]
pub struct Pbo {
    /// Probability of backtest overfitting: share of splits with logit ≤ 0.
    pub pbo: f64,
    /// The logit `λ` of each split.
    pub logits: Vec<f64>,
}

/// Probability of Backtest Overfitting by CSCV over `combos` (each with the same `s`
/// blocks; `s` even, 2..=24), on `threads` cores (0: all). `None` with fewer than 2
/// combinations. The result does not depend on `threads`.
pub fn pbo_cscv(combos: &[BlockSums], threads: usize) -> Option<Pbo> {
    let s = combos.first()?.blocks.len();
    if combos.len() < 2
        || s < 2
        || s % 2 != 0
        || s > 24
        || combos.iter().any(|c| c.blocks.len() != s)
    {
        return None;
    }
    let n = combos.len();
    let half = s / 2;
    let full = (1u32 << s) - 1;
    let halves = HalfSharpes::new(combos, s);
    // The logit of the split whose in-sample Sharpe ratios are `is` and out-of-sample ones
    // `oos`; `None` when no combination has an in-sample Sharpe ratio.
    let logit = |is: &[f64], oos: &[f64]| {
        let mut best = None::<(usize, f64)>;
        for (k, &v) in is.iter().enumerate() {
            if !v.is_nan() && best.is_none_or(|(_, b)| v > b) {
                best = Some((k, v));
            }
        }
        let (star, _) = best?;
        let mine = oos[star];
        // Rank 1 = worst; NaN out-of-sample performance ranks lowest.
        let below = oos
            .iter()
            .filter(|&&v| v < mine || (v.is_nan() && !mine.is_nan()))
            .count();
        let omega = (below + 1) as f64 / (n + 1) as f64;
        Some((omega / (1.0 - omega)).ln())
    };
    // A split and its complement use the same two halves, in-sample and out of sample
    // swapped: each half's Sharpe ratios are computed once for both. The halves without
    // the last block are the first of each pair, taken in the lexicographic order of their
    // blocks, so that consecutive halves (and their complements) mostly share their first
    // blocks and the sums over them ([`Prefix`]).
    let lowers = halves_without_last(s);
    let run = |lowers: &[u32]| {
        let (mut lo, mut up) = (Prefix::new(half, n), Prefix::new(half, n));
        let (mut lower, mut upper) = (vec![0.0; n], vec![0.0; n]);
        let mut logits = Vec::with_capacity(2 * lowers.len());
        for &mask in lowers {
            let other = full & !mask;
            halves.sharpes(mask, &mut lo, &mut lower);
            halves.sharpes(other, &mut up, &mut upper);
            logits.extend(logit(&lower, &upper).map(|l| (mask, l)));
            logits.extend(logit(&upper, &lower).map(|l| (other, l)));
        }
        logits
    };
    // Pieces of consecutive halves, several a core for balance; each piece starts its
    // prefixes afresh, which changes no bit (a prefix's sums are always summed from zero in
    // block order).
    let mut logits: Vec<(u32, f64)> = if threads == 1 {
        run(&lowers)
    } else {
        use rayon::prelude::*;
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build();
        match pool {
            Ok(pool) => {
                let piece = lowers
                    .len()
                    .div_ceil(pool.current_num_threads() * 8)
                    .max(64);
                pool.install(|| lowers.par_chunks(piece).flat_map_iter(run).collect())
            }
            // No threads to be had: the same work on this one.
            Err(_) => run(&lowers),
        }
    };
    if logits.is_empty() {
        return None;
    }
    // In the order of the splits' masks.
    logits.sort_unstable_by_key(|&(mask, _)| mask);
    let logits: Vec<f64> = logits.into_iter().map(|(_, l)| l).collect();
    let pbo = logits.iter().filter(|&&l| l <= 0.0).count() as f64 / logits.len() as f64;
    Some(Pbo { pbo, logits })
}

/// Every half of `s` blocks that leaves out the last block, as masks, in the
/// lexicographic order of their ascending blocks: `{0, 1, …}` first, the last blocks
/// changing fastest.
fn halves_without_last(s: usize) -> Vec<u32> {
    let (half, top) = (s / 2, s - 1);
    let mut picks: Vec<usize> = (0..half).collect();
    let mut masks = Vec::new();
    loop {
        masks.push(picks.iter().fold(0u32, |m, &b| m | (1 << b)));
        // The rightmost pick that can still move up, then its followers packed after it.
        let Some(i) = (0..half).rev().find(|&i| picks[i] < top - half + i) else {
            return masks;
        };
        picks[i] += 1;
        for j in i + 1..half {
            picks[j] = picks[j - 1] + 1;
        }
    }
}

/// Every combination's CSCV block sums, a block's row for all combinations at a time, so
/// the Sharpe ratios of a half are summed for many combinations side by side.
struct HalfSharpes {
    /// Combinations.
    n: usize,
    /// Σr, Σr² and the count (exact in a double) of block `b` for combination `k` at
    /// `b·n + k`.
    s1: Vec<f64>,
    s2: Vec<f64>,
    count: Vec<f64>,
}

/// The running sums of the last half taken, for every combination, after each of its
/// blocks: the next half recomputes only the sums after the blocks it does not share.
/// Sums over the blocks `b₀ < b₁ < …` are `((0 + x_b₀) + x_b₁) + …`, the same additions in
/// the same order as summing each half from zero, so sharing a prefix changes no bit.
struct Prefix {
    /// The blocks of the last half, ascending; the first `valid` of them have their sums.
    picks: [usize; 12],
    valid: usize,
    /// Σr, Σr² and the count after pick `d` for combination `k` at `d·n + k`.
    s1: Vec<f64>,
    s2: Vec<f64>,
    count: Vec<f64>,
}

impl Prefix {
    fn new(half: usize, n: usize) -> Prefix {
        Prefix {
            picks: [0; 12],
            valid: 0,
            s1: vec![0.0; half * n],
            s2: vec![0.0; half * n],
            count: vec![0.0; half * n],
        }
    }
}

impl HalfSharpes {
    fn new(combos: &[BlockSums], s: usize) -> HalfSharpes {
        let n = combos.len();
        let row = |f: fn(&(f64, f64, usize)) -> f64| {
            (0..s)
                .flat_map(|b| combos.iter().map(move |c| f(&c.blocks[b])))
                .collect()
        };
        HalfSharpes {
            n,
            s1: row(|b| b.0),
            s2: row(|b| b.1),
            count: row(|b| b.2 as f64),
        }
    }

    /// Each combination's Sharpe ratio over the blocks of `mask`, into `out`:
    /// `mean / sqrt((Σr² − n·mean·mean) / (n − 1))` with `mean = Σr / n`, NaN below two
    /// returns or without variance. Each combination's sums start from zero and add its
    /// blocks in order, as summing one combination at a time would (a count is a whole
    /// number well below 2⁵³, so its sum in a double is exact); the sums over the blocks
    /// that `mask` shares with the last half `prefix` saw are taken from it.
    fn sharpes(&self, mask: u32, prefix: &mut Prefix, out: &mut [f64]) {
        let mut picks = [0usize; 12];
        let mut m = 0;
        for b in 0..32 {
            if mask & (1 << b) != 0 {
                picks[m] = b;
                m += 1;
            }
        }
        let shared = (0..prefix.valid.min(m))
            .find(|&d| picks[d] != prefix.picks[d])
            .unwrap_or(prefix.valid.min(m));
        prefix.picks = picks;
        prefix.valid = m;
        crate::simd::wide_kernel!(
            fn sharpes_wide(h: &HalfSharpes, picks: &[usize], from: usize, p: &mut Prefix, out: &mut [f64])
                = HalfSharpes::sharpes_body;
        );
        sharpes_wide(self, &picks[..m], shared, prefix, out);
    }

    #[inline(always)]
    fn sharpes_body(&self, picks: &[usize], from: usize, p: &mut Prefix, out: &mut [f64]) {
        let n = self.n;
        for (d, &b) in picks.iter().enumerate().skip(from) {
            let rows = b * n..(b + 1) * n;
            for (sums, block) in [
                (&mut p.s1, &self.s1),
                (&mut p.s2, &self.s2),
                (&mut p.count, &self.count),
            ] {
                let (before, at) = sums.split_at_mut(d * n);
                let (acc, x) = (&mut at[..n], &block[rows.clone()]);
                if d == 0 {
                    for (a, &x) in acc.iter_mut().zip(x) {
                        *a = 0.0 + x;
                    }
                } else {
                    let prev = &before[(d - 1) * n..];
                    for ((a, &q), &x) in acc.iter_mut().zip(prev).zip(x) {
                        *a = q + x;
                    }
                }
            }
        }
        let last = (picks.len() - 1) * n..picks.len() * n;
        let (s1, s2, count) = (&p.s1[last.clone()], &p.s2[last.clone()], &p.count[last]);
        for (k, o) in out[..n].iter_mut().enumerate() {
            let nf = count[k];
            let mean = s1[k] / nf;
            let var = (s2[k] - nf * mean * mean) / (nf - 1.0);
            // The two NaN cases are chosen after the arithmetic, without a branch.
            let sr = mean / var.sqrt();
            *o = if nf >= 2.0 && var > 0.0 { sr } else { f64::NAN };
        }
    }
}

/// What a sweep keeps of one combination's returns for the overfitting checks: moments
/// and per-block sums (a few hundred bytes, however long the series).
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct ReturnProfile {
    /// Moments of the per-bar returns.
    pub moments: ReturnMoments,
    /// Per-block sums for CSCV.
    pub blocks: BlockSums,
}

impl ReturnProfile {
    /// Per-bar returns of `equity` (`e[i]/e[i−1] − 1`), reduced to moments and `s` blocks.
    pub fn of_equity(equity: &[f64], s: usize) -> ReturnProfile {
        let mut w = ProfileWalk::new(equity.len(), s);
        w.feed(equity);
        w.finish()
    }
}

/// Σr, Σr², Σr³, Σr⁴ and the count of a stretch of returns, in four lanes: return `k` of
/// the series goes to lane `k % 4`, in order, and the lanes are added `(l0 + l1) + (l2 +
/// l3)` at the end. The lanes let the sums run four returns a vector instruction (a
/// single running sum is one long chain of dependent additions); every moment and block
/// sum of this module is summed this way, so a profile has the same bits however its
/// series is fed.
#[derive(Debug, Clone, Copy, Default)]
struct MomentLanes {
    sums: [[f64; 4]; 4],
    n: usize,
}

impl MomentLanes {
    /// Adds `returns`, the first of which is return `k0` of the series.
    #[inline]
    fn add(&mut self, returns: &[f64], k0: usize) {
        crate::simd::wide_kernel!(
            fn add_wide(m: &mut MomentLanes, returns: &[f64], k0: usize) = MomentLanes::add_body;
        );
        add_wide(self, returns, k0);
    }

    #[inline(always)]
    fn add_body(&mut self, returns: &[f64], k0: usize) {
        self.n += returns.len();
        // Up to the next multiple of four scalar, then four at a time, then the rest.
        let head = ((4 - k0 % 4) % 4).min(returns.len());
        for (j, &r) in returns[..head].iter().enumerate() {
            self.push((k0 + j) % 4, r);
        }
        let body = &returns[head..];
        let whole = body.len() / 4 * 4;
        for c in body[..whole].chunks_exact(4) {
            for (l, &r) in c.iter().enumerate() {
                self.push(l, r);
            }
        }
        for (l, &r) in body[whole..].iter().enumerate() {
            self.push(l, r);
        }
    }

    #[inline(always)]
    fn push(&mut self, lane: usize, r: f64) {
        let r2 = r * r;
        self.sums[0][lane] += r;
        self.sums[1][lane] += r2;
        self.sums[2][lane] += r2 * r;
        self.sums[3][lane] += r2 * r2;
    }

    /// [`MomentLanes::push`] of Σr and Σr² only: what a CSCV block keeps ([`Self::block`]).
    #[inline(always)]
    fn push_block(&mut self, lane: usize, r: f64) {
        self.sums[0][lane] += r;
        self.sums[1][lane] += r * r;
    }

    fn total(&self, power: usize) -> f64 {
        let l = &self.sums[power];
        (l[0] + l[1]) + (l[2] + l[3])
    }

    fn moments(&self) -> ReturnMoments {
        ReturnMoments {
            n: self.n,
            sums: [0, 1, 2, 3].map(|p| self.total(p)),
        }
    }

    /// (Σr, Σr², count), a CSCV block's entry.
    fn block(&self) -> (f64, f64, usize) {
        (self.total(0), self.total(1), self.n)
    }
}

/// Adds the returns of `equity` (the first on `prev`: `e[j]/e[j−1] − 1`), the first of
/// which is return `k0` of the series, to `moments` and, if given, to `block` (its Σr and
/// Σr², all a block keeps): one pass that divides once a bar and feeds both sets of lanes
/// (no return series is written and read back), which get the returns in the same lanes
/// and order as [`MomentLanes::add`] of the series would give them.
#[inline]
fn add_returns_of(
    moments: &mut MomentLanes,
    block: Option<&mut MomentLanes>,
    prev: f64,
    equity: &[f64],
    k0: usize,
) {
    crate::simd::wide_kernel!(
        fn add_wide(m: &mut MomentLanes, b: &mut MomentLanes, prev: f64, e: &[f64], k0: usize)
            = add_returns_body;
    );
    // Past the last CSCV block (no return is, in practice) the block's sums go nowhere.
    let mut spare = MomentLanes::default();
    add_wide(moments, block.unwrap_or(&mut spare), prev, equity, k0);
}

#[inline(always)]
fn add_returns_body(m: &mut MomentLanes, b: &mut MomentLanes, prev: f64, e: &[f64], k0: usize) {
    let n = e.len();
    m.n += n;
    b.n += n;
    let ret = |j: usize| e[j] / if j == 0 { prev } else { e[j - 1] } - 1.0;
    let mut push = |lane: usize, r: f64| {
        m.push(lane, r);
        b.push_block(lane, r);
    };
    // Up to the next multiple of four scalar, then four at a time, then the rest.
    let head = ((4 - k0 % 4) % 4).min(n);
    for j in 0..head {
        push((k0 + j) % 4, ret(j));
    }
    let whole = head + (n - head) / 4 * 4;
    if head < whole {
        // The first return of the body divides by the value before it, which is `prev`
        // when there is no head.
        let before = if head == 0 { prev } else { e[head - 1] };
        let body = &e[head..whole];
        let mut last = before;
        for c in body.chunks_exact(4) {
            let r = [
                c[0] / last - 1.0,
                c[1] / c[0] - 1.0,
                c[2] / c[1] - 1.0,
                c[3] / c[2] - 1.0,
            ];
            for (l, &r) in r.iter().enumerate() {
                push(l, r);
            }
            last = c[3];
        }
    }
    for (l, j) in (whole..n).enumerate() {
        push(l, ret(j));
    }
}

/// Builds a [`ReturnProfile`] from equity fed in pieces, without the return series:
/// [`ReturnProfile::of_equity`] and a sweep's streaming statistics both use it, so the
/// sums are the same bits either way.
#[derive(Debug, Clone)]
pub(crate) struct ProfileWalk {
    moments: MomentLanes,
    /// Finished blocks, and the one being filled.
    blocks: Vec<(f64, f64, usize)>,
    block: MomentLanes,
    /// CSCV blocks wanted.
    s: usize,
    /// Number of returns in the whole series (bars − 1), and seen so far.
    returns: usize,
    seen: usize,
    /// The return index where the block being filled ends.
    block_end: usize,
    /// The last equity fed.
    prev: Option<f64>,
}

impl ProfileWalk {
    /// For an equity curve of `bars` values and `s` CSCV blocks.
    pub(crate) fn new(bars: usize, s: usize) -> ProfileWalk {
        let returns = bars.saturating_sub(1);
        ProfileWalk {
            moments: MomentLanes::default(),
            blocks: Vec::with_capacity(s),
            block: MomentLanes::default(),
            s,
            returns,
            seen: 0,
            block_end: returns / s.max(1),
            prev: None,
        }
    }

    /// Feeds the next equity values.
    pub(crate) fn feed(&mut self, equity: &[f64]) {
        let Some(&last) = equity.last() else { return };
        // The first value's return is on the previous one (none before the first bar).
        let (mut prev, mut rest) = match self.prev {
            Some(p) => (p, equity),
            None => (equity[0], &equity[1..]),
        };
        while !rest.is_empty() {
            while self.blocks.len() < self.s && self.seen >= self.block_end {
                self.close_block();
            }
            // Up to the end of the CSCV block being filled (past the last one: the moments
            // only).
            let (take, block) = if self.blocks.len() < self.s {
                (
                    (self.block_end - self.seen).min(rest.len()),
                    Some(&mut self.block),
                )
            } else {
                (rest.len(), None)
            };
            let part = &rest[..take];
            add_returns_of(&mut self.moments, block, prev, part, self.seen);
            self.seen += take;
            prev = part[take - 1];
            rest = &rest[take..];
        }
        self.prev = Some(last);
    }

    fn close_block(&mut self) {
        self.blocks.push(self.block.block());
        self.block = MomentLanes::default();
        let b = self.blocks.len();
        self.block_end = (b + 1) * self.returns / self.s;
    }

    pub(crate) fn finish(mut self) -> ReturnProfile {
        while self.blocks.len() < self.s {
            self.close_block();
        }
        ReturnProfile {
            moments: self.moments.moments(),
            blocks: BlockSums {
                blocks: self.blocks,
            },
        }
    }
}

/// The overfitting checks of a sweep.
#[derive(Debug, Clone, PartialEq)]
pub struct OverfittingReport {
    /// Combinations tried (`N`).
    pub trials: usize,
    /// The best combination's per-bar Sharpe ratio, skewness and kurtosis, over `returns`.
    pub sharpe: f64,
    /// Skewness of the best combination's returns.
    pub skew: f64,
    /// Kurtosis (non-excess) of the best combination's returns.
    pub kurtosis: f64,
    /// Number of returns `T`.
    pub returns: usize,
    /// Variance of the trials' per-bar Sharpe ratios.
    pub sharpe_variance: f64,
    /// PSR of the best combination against a zero Sharpe ratio.
    pub psr: f64,
    /// The Sharpe ratio expected from the best of `trials` unskilled trials (`SR0`).
    pub expected_max_sharpe: f64,
    /// Deflated Sharpe Ratio of the best combination.
    pub dsr: f64,
    /// Probability of backtest overfitting (CSCV), if computable.
    pub pbo: Option<f64>,
    /// CSCV blocks used.
    pub blocks: usize,
}

/// Computes the checks from every combination's profile and the chosen best one, on
/// `threads` cores (0: all; the report does not depend on it).
pub fn overfitting_report(
    profiles: &[ReturnProfile],
    best: &ReturnProfile,
    threads: usize,
) -> OverfittingReport {
    let srs: Vec<f64> = profiles
        .iter()
        .map(|p| p.moments.sharpe_skew_kurt().0)
        .filter(|x| x.is_finite())
        .collect();
    let var = if srs.len() > 1 {
        let m = srs.iter().sum::<f64>() / srs.len() as f64;
        srs.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (srs.len() - 1) as f64
    } else {
        f64::NAN
    };
    let (sr, skew, kurt) = best.moments.sharpe_skew_kurt();
    let n = best.moments.n;
    let sr0 = expected_max_sharpe(var, profiles.len());
    let blocks: Vec<BlockSums> = profiles.iter().map(|p| p.blocks.clone()).collect();
    OverfittingReport {
        trials: profiles.len(),
        sharpe: sr,
        skew,
        kurtosis: kurt,
        returns: n,
        sharpe_variance: var,
        psr: probabilistic_sharpe(sr, 0.0, n, skew, kurt),
        expected_max_sharpe: sr0,
        dsr: probabilistic_sharpe(sr, sr0, n, skew, kurt),
        pbo: pbo_cscv(&blocks, threads).map(|p| p.pbo),
        blocks: best.blocks.blocks.len(),
    }
}

/// Checks a number of CSCV blocks: even, from 2 to 24, or 0 for no overfitting checks.
/// Returns what was expected otherwise.
pub fn check_blocks(blocks: usize) -> Result<(), &'static str> {
    if blocks == 0 || (blocks.is_multiple_of(2) && (2..=24).contains(&blocks)) {
        Ok(())
    } else {
        Err("expected an even number from 2 to 24 (or 0 to turn the checks off)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl ReturnProfile {
        /// Equal to the bit (NaN included).
        fn eq_bits(&self, other: &ReturnProfile) -> bool {
            let blocks = |p: &ReturnProfile| {
                p.blocks
                    .blocks
                    .iter()
                    .map(|&(a, q, n)| (a.to_bits(), q.to_bits(), n))
                    .collect::<Vec<_>>()
            };
            self.moments.n == other.moments.n
                && self.moments.sums.map(f64::to_bits) == other.moments.sums.map(f64::to_bits)
                && blocks(self) == blocks(other)
        }
    }

    #[test]
    fn normal_distribution() {
        assert!((norm_cdf(1.959963984540054) - 0.975).abs() < 1e-15);
        assert!((norm_cdf(0.0) - 0.5).abs() < 1e-16);
        assert!((norm_inv_cdf(0.99) - 2.3263478740408408).abs() < 1e-13);
        assert!((norm_inv_cdf(0.001) + 3.090232306167813).abs() < 1e-12);
        for p in [1e-10, 0.01, 0.3, 0.5, 0.77, 0.999999] {
            assert!(
                (norm_cdf(norm_inv_cdf(p)) - p).abs() < 1e-14 * p.max(1e-3),
                "{p}"
            );
        }
    }

    /// The worked example of Bailey & López de Prado (2014), section on the DSR: an
    /// annualised SR of 2.5 over 5 years of daily returns (T = 1250), skewness −3,
    /// kurtosis 10, the best of N = 100 trials whose annualised Sharpe ratios have variance
    /// 1/2. The paper reports SR0 ≈ 0.1132 (per day) and DSR ≈ 0.9004.
    #[test]
    fn deflated_sharpe_paper_example() {
        let days = 250.0f64;
        let sr = 2.5 / days.sqrt();
        let var_sr = 0.5 / days;
        let sr0 = expected_max_sharpe(var_sr, 100);
        assert!((sr0 - 0.1132).abs() < 5e-5, "SR0 {sr0}");
        let dsr = deflated_sharpe(sr, 1250, -3.0, 10.0, var_sr, 100);
        assert!((dsr - 0.9004).abs() < 5e-4, "DSR {dsr}");
    }

    #[test]
    fn psr_hand_computed() {
        // At the benchmark the probability is exactly one half.
        assert!((probabilistic_sharpe(0.1, 0.1, 500, -1.0, 6.0) - 0.5).abs() < 1e-15);
        // Normal returns: Φ(SR·√(T−1) / √(1 + SR²/2)) = Φ(0.1·√99 / √1.005) = Φ(0.99247…).
        let want = norm_cdf(0.1 * 99f64.sqrt() / 1.005f64.sqrt());
        assert!((probabilistic_sharpe(0.1, 0.0, 100, 0.0, 3.0) - want).abs() < 1e-15);
        assert!((want - 0.83952).abs() < 1e-4);
    }

    #[test]
    fn moments_of_a_known_series() {
        let m = ReturnMoments::of(&[1.0, 2.0, 3.0, 4.0, 10.0]);
        let (sr, skew, kurt) = m.sharpe_skew_kurt();
        // Deviations −3, −2, −1, 0, 6: population m2 = 10, m3 = 36, m4 = 278.8; sample sd
        // √(50/4).
        assert!((sr - 4.0 / 12.5f64.sqrt()).abs() < 1e-12);
        assert!((skew - 36.0 / 10f64.powf(1.5)).abs() < 1e-12);
        assert!((kurt - 278.8 / 100.0).abs() < 1e-12);
    }

    fn block(means: &[f64]) -> BlockSums {
        // Each block: 10 returns alternating mean ± 1 (variance 1 within the block).
        let r: Vec<f64> = means
            .iter()
            .flat_map(|&m| (0..10).map(move |k| if k % 2 == 0 { m + 1.0 } else { m - 1.0 }))
            .collect();
        BlockSums::of(&r, means.len())
    }

    #[test]
    fn pbo_zero_when_the_best_stays_best() {
        // A beats B in every block: whatever the split, the in-sample winner A is the best
        // out of sample (ω = 2/3, λ > 0).
        let p = pbo_cscv(
            &[block(&[0.5, 0.4, 0.6, 0.5]), block(&[0.1, 0.0, 0.2, 0.1])],
            1,
        )
        .unwrap();
        assert_eq!(p.logits.len(), 6);
        assert_eq!(p.pbo, 0.0);
    }

    #[test]
    fn pbo_one_when_in_sample_skill_reverses() {
        // B = −A and A's block means sum to 0 with no two blocks summing to 0: in every
        // split the in-sample winner has a positive in-sample mean, hence a negative
        // out-of-sample one, and ranks last (ω = 1/3, λ < 0) in all C(4, 2) = 6 splits.
        let a = block(&[0.9, 0.6, -0.7, -0.8]);
        let b = block(&[-0.9, -0.6, 0.7, 0.8]);
        let p = pbo_cscv(&[a, b], 1).unwrap();
        assert_eq!(p.logits.len(), 6);
        assert_eq!(p.pbo, 1.0);
        assert!(p.logits.iter().all(|l| (l - (0.5f64).ln()).abs() < 1e-12));
        assert!(
            pbo_cscv(&[block(&[0.1, 0.2])], 1).is_none(),
            "needs two combinations"
        );
    }

    /// The Sharpe ratio of returns with sum `s1`, sum of squares `s2` and count `n`: NaN below
    /// two returns or without variance.
    fn sharpe_of(s1: f64, s2: f64, n: usize) -> f64 {
        if n < 2 {
            return f64::NAN;
        }
        let nf = n as f64;
        let mean = s1 / nf;
        let var = (s2 - nf * mean * mean) / (nf - 1.0);
        if var > 0.0 {
            mean / var.sqrt()
        } else {
            f64::NAN
        }
    }

    /// CSCV as defined: every split in mask order, both halves' Sharpe ratios summed over
    /// all blocks for every combination.
    fn pbo_by_definition(combos: &[BlockSums]) -> Option<Pbo> {
        let s = combos[0].blocks.len();
        let sharpe = |c: &BlockSums, mask: u32| {
            let (mut s1, mut s2, mut n) = (0.0, 0.0, 0usize);
            for (b, &(a, q, k)) in c.blocks.iter().enumerate() {
                if mask & (1 << b) != 0 {
                    s1 += a;
                    s2 += q;
                    n += k;
                }
            }
            sharpe_of(s1, s2, n)
        };
        let n = combos.len();
        let full = (1u32 << s) - 1;
        let mut logits = Vec::new();
        for mask in 0..=full {
            if mask.count_ones() as usize != s / 2 {
                continue;
            }
            let is: Vec<f64> = combos.iter().map(|c| sharpe(c, mask)).collect();
            let oos: Vec<f64> = combos.iter().map(|c| sharpe(c, full & !mask)).collect();
            let mut best = None::<(usize, f64)>;
            for (k, &v) in is.iter().enumerate() {
                if !v.is_nan() && best.is_none_or(|(_, b)| v > b) {
                    best = Some((k, v));
                }
            }
            let Some((star, _)) = best else { continue };
            let mine = oos[star];
            let below = oos
                .iter()
                .filter(|&&v| v < mine || (v.is_nan() && !mine.is_nan()))
                .count();
            let omega = (below + 1) as f64 / (n + 1) as f64;
            logits.push((omega / (1.0 - omega)).ln());
        }
        if logits.is_empty() {
            return None;
        }
        let pbo = logits.iter().filter(|&&l| l <= 0.0).count() as f64 / logits.len() as f64;
        Some(Pbo { pbo, logits })
    }

    proptest::proptest! {
        /// Sharing each half's Sharpe ratios between a split and its complement, sharing
        /// the sums over the first blocks between consecutive halves, summing them for many
        /// combinations side by side and cutting the halves into pieces for threads gives
        /// the definition's logits, to the bit and in order, at every instruction tier:
        /// ties, blocks without variance or with fewer than two returns (NaN Sharpe ratios)
        /// included. Up to 12 blocks: halves of six share prefixes of up to five blocks.
        #[test]
        fn cscv_equals_the_definition(
            combos in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::prop_oneof![
                        6 => (-1.0f64..1.0, 0.0f64..2.0, 0usize..20),
                        1 => proptest::strategy::Just((0.5, 0.25, 1usize)),
                        1 => proptest::strategy::Just((0.0, 0.0, 0usize)),
                    ],
                    12,
                ),
                2..12,
            ),
            half in 1usize..=6,
        ) {
            let s = 2 * half;
            let combos: Vec<BlockSums> = combos
                .into_iter()
                .map(|b| BlockSums { blocks: b[..s].to_vec() })
                .collect();
            let want = pbo_by_definition(&combos);
            let bits = |p: &Option<Pbo>| {
                p.as_ref().map(|p| {
                    (p.pbo.to_bits(), p.logits.iter().map(|l| l.to_bits()).collect::<Vec<_>>())
                })
            };
            for tier in crate::simd::TIERS {
                let got = crate::simd::capped(tier, || pbo_cscv(&combos, 1));
                proptest::prop_assert_eq!(bits(&got), bits(&want), "{:?}", tier);
            }
            // Cut into pieces (at least 64 halves each) for three threads.
            proptest::prop_assert_eq!(bits(&pbo_cscv(&combos, 3)), bits(&want), "3 threads");
        }
    }

    proptest::proptest! {
        /// Fed in pieces, the profile has the bits of the one built from the whole return
        /// series (moments and per-block sums), for any number of blocks.
        #[test]
        fn the_streamed_profile_equals_the_one_of_the_whole_series(
            steps in proptest::collection::vec(-0.05f64..0.05, 0..200),
            s in 1usize..30,
            cut in 1usize..40,
        ) {
            let mut e = vec![100.0];
            for x in &steps {
                e.push(e[e.len() - 1] * (1.0 + x));
            }
            let r: Vec<f64> = e.windows(2).map(|w| w[1] / w[0] - 1.0).collect();
            let mut walk = ProfileWalk::new(e.len(), s);
            for piece in e.chunks(cut) {
                walk.feed(piece);
            }
            let p = walk.finish();
            // The fused walk gives the same bits at every instruction tier.
            for tier in crate::simd::TIERS {
                let q = crate::simd::capped(tier, || {
                    let mut walk = ProfileWalk::new(e.len(), s);
                    for piece in e.chunks(cut) {
                        walk.feed(piece);
                    }
                    walk.finish()
                });
                proptest::prop_assert!(q.eq_bits(&p), "{:?}", tier);
            }
            let bits = |m: &ReturnMoments| m.sums.map(f64::to_bits);
            proptest::prop_assert_eq!(bits(&p.moments), bits(&ReturnMoments::of(&r)));
            proptest::prop_assert_eq!(p.moments.n, r.len());
            // Every instruction tier sums the lanes to the same bits, and the lanes agree
            // with one running sum to rounding.
            for tier in crate::simd::TIERS {
                let m = crate::simd::capped(tier, || ReturnMoments::of(&r));
                proptest::prop_assert_eq!(bits(&m), bits(&p.moments), "{:?}", tier);
            }
            for (k, &got) in p.moments.sums.iter().enumerate() {
                let terms: Vec<f64> = r.iter().map(|x| x.powi(k as i32 + 1)).collect();
                let plain: f64 = terms.iter().sum();
                let scale: f64 = terms.iter().map(|t| t.abs()).sum();
                proptest::prop_assert!((got - plain).abs() <= 1e-13 * scale.max(1e-300));
            }
            let want = BlockSums::of(&r, s);
            let bits = |b: &BlockSums| {
                b.blocks.iter().map(|&(a, q, n)| (a.to_bits(), q.to_bits(), n)).collect::<Vec<_>>()
            };
            proptest::prop_assert_eq!(bits(&p.blocks), bits(&want));
        }
    }
}
