//! Strategies that trade two lines crossing: SMA, EMA and MACD crosses.

use super::{Direction, SIZE, less_than, window};
use crate::broker::OrderRequest;
use crate::error::Error;
use crate::indicators;
use crate::strategy::{
    Context, Decision, EntryRule, Indicator, Init, Params, PerBar, RiskSizing, Series,
    SignalStrategy, Signals, SparseSignals, Strategy,
};

/// A cross strategy's lines: the two (in a sweep) or their difference.
enum Spread {
    Pair(Line, Line),
    Owned(Vec<f64>),
}

/// One line of a cross in a sweep: shared with the other runs through the indicator
/// cache, or, once the cache is full, an SMA computed block by block as the cross scan
/// reads it (the same values; no series as long as the data per run).
#[derive(Clone)]
enum Line {
    Shared(Series),
    Sma(usize),
}

impl Line {
    /// The whole series.
    fn values<'a>(&'a self, close: &[f64]) -> std::borrow::Cow<'a, [f64]> {
        match self {
            Line::Shared(v) => std::borrow::Cow::Borrowed(&v[..]),
            Line::Sma(w) => std::borrow::Cow::Owned(indicators::sma(close, *w)),
        }
    }

    /// The same series: one shared vector, or the same streamed SMA.
    fn is(&self, other: &Line) -> bool {
        match (self, other) {
            (Line::Shared(a), Line::Shared(b)) => a.same(b),
            (Line::Sma(a), Line::Sma(b)) => a == b,
            _ => false,
        }
    }
}

/// One pair's part of a scan of several pairs of lines ([`scan_pairs`]).
struct PairScan {
    /// The pair's lines, as indices into the scan's distinct lines.
    a: usize,
    b: usize,
    /// Its rule, and the stateful rule's state.
    state: Crosses,
    /// The spread on the bar before the current block (NaN before the first).
    prev: f64,
    /// Its crosses so far, and the first bar where its spread is a number.
    out: Vec<(usize, bool)>,
    first: Option<usize>,
}

impl PairScan {
    fn new(a: usize, b: usize, stateful: bool) -> PairScan {
        PairScan {
            a,
            b,
            state: Crosses::new(stateful),
            prev: f64::NAN,
            out: Vec::new(),
            first: None,
        }
    }

    /// Takes bars `base..base + xa.len()` of its two lines.
    #[inline]
    fn feed(&mut self, xa: &[f64], xb: &[f64], base: usize) {
        let len = xa.len();
        if self.first.is_none() {
            self.first = (0..len)
                .position(|j| !(xa[j] - xb[j]).is_nan())
                .map(|j| base + j);
        }
        if self.state.stateful {
            for j in 0..len {
                let cur = xa[j] - xb[j];
                match self.state.step(self.prev, cur) {
                    (true, _) => self.out.push((base + j, true)),
                    (_, true) => self.out.push((base + j, false)),
                    _ => {}
                }
                self.prev = cur;
            }
        } else {
            strict_block(xa, xb, self.prev, base, &mut self.out);
            self.prev = xa[len - 1] - xb[len - 1];
        }
    }
}

/// Finds the crosses of every pair in `pairs` over the bars of `close` in one pass over
/// `lines` (the pairs' distinct lines): block by block, each line's block is read, or
/// computed as it streams, once, and every pair that uses it scans it while it is in
/// cache. A sweep's group of combinations shares its lines this way (a fast SMA with many
/// slow ones); each pair's crosses are the bits of scanning it alone.
fn scan_pairs(lines: &[Line], pairs: &mut [PairScan], close: &[f64]) {
    let n = close.len();
    // The streamed lines, computed a block at a time, side by side.
    let mut streams: Vec<indicators::SmaStream<'_>> = lines
        .iter()
        .filter_map(|l| match l {
            Line::Sma(w) => Some(indicators::SmaStream::new(close, *w)),
            Line::Shared(_) => None,
        })
        .collect();
    let mut bufs: Vec<Vec<f64>> = vec![vec![0.0; SCAN_BLOCK]; streams.len()];
    let mut base = 0;
    while base < n {
        let len = SCAN_BLOCK.min(n - base);
        let mut outs: Vec<&mut [f64]> = bufs.iter_mut().map(|b| &mut b[..len]).collect();
        indicators::SmaStream::fill_many(&mut streams, &mut outs);
        let mut computed = bufs.iter();
        let blocks: Vec<&[f64]> = lines
            .iter()
            .map(|l| match l {
                Line::Shared(v) => &v[base..base + len],
                Line::Sma(_) => &computed.next().expect("a buffer a streamed line")[..len],
            })
            .collect();
        for p in pairs.iter_mut() {
            p.feed(blocks[p.a], blocks[p.b], base);
        }
        base += len;
    }
}

/// Bars per block of the cross scan over two lines.
const SCAN_BLOCK: usize = 2048;

/// Which two lines cross.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrossLines {
    /// `SMA(fast)` and `SMA(slow)` of the close.
    Sma,
    /// `EMA(fast)` and `EMA(slow)` of the close.
    Ema,
    /// MACD line and its signal line.
    Macd,
}

/// A two-line cross strategy (`sma_cross`, `ema_cross`, `macd_cross`).
///
/// `long_short`: on an up-cross close any position and buy; on a down-cross close and
/// sell. `long_only`: buy when flat on an up-cross, close on a down-cross. SL/TP, when
/// given, are fractions of the signal bar's close.
#[derive(Debug, Clone)]
pub struct CrossStrategy {
    lines: CrossLines,
    fast: usize,
    slow: usize,
    signal: usize,
    direction: Direction,
    size: Option<f64>,
    sl_pct: Option<f64>,
    tp_pct: Option<f64>,
    /// Entries sized to lose this fraction of equity at the `sl_pct` stop.
    risk: Option<RiskSizing>,
    /// `fast line − slow line`: its sign change is the cross (see
    /// [`indicators::sma_difference`] for why that is exact).
    spread: Option<Indicator>,
    /// How crosses are detected, and the per-bar path's state.
    crosses: Crosses,
    /// Bars of the spread fed to `crosses` so far (per-bar path).
    fed: usize,
    /// Bars with a cross, ascending (computed in `init` from the causal spread): `next`
    /// does nothing elsewhere, so the engine may skip those bars.
    cross_bars: Vec<usize>,
    /// Index into `cross_bars` of the last `idle_until` answer.
    cursor: std::cell::Cell<usize>,
    /// The spread's name, crosses and first valid bar, found already in one pass with other
    /// strategies' ([`find_crosses_together`]): taken by `sparse_signals` instead of
    /// scanning.
    found: Option<Found>,
}

/// A spread's name, its crosses and the first bar where it is a number.
type Found = (String, (Vec<(usize, bool)>, Option<usize>));

/// Detects crosses of the spread `d = fast − slow` through zero, bar by bar.
#[derive(Debug, Clone, Default)]
pub(crate) struct Crosses {
    /// vectorbt's rule instead of backtesting.py's.
    stateful: bool,
    /// Stateful rule: the spread was below / above zero since the last cross or NaN.
    below: bool,
    above: bool,
}

impl Crosses {
    /// A fresh detector: vectorbt's stateful rule, or backtesting.py's strict one.
    pub(crate) fn new(stateful: bool) -> Self {
        Crosses {
            stateful,
            ..Crosses::default()
        }
    }

    /// Feeds the spread at a bar (`prev` = the bar before, NaN for the first): (up, down).
    pub(crate) fn step(&mut self, prev: f64, cur: f64) -> (bool, bool) {
        if !self.stateful {
            return (prev < 0.0 && cur > 0.0, prev > 0.0 && cur < 0.0);
        }
        if cur.is_nan() {
            self.below = false;
            self.above = false;
            return (false, false);
        }
        let (up, down) = (cur > 0.0 && self.below, cur < 0.0 && self.above);
        if cur < 0.0 {
            self.below = true;
        }
        if cur > 0.0 {
            self.above = true;
        }
        if up {
            self.below = false;
        }
        if down {
            self.above = false;
        }
        (up, down)
    }
}

impl Crosses {
    /// The crosses of the spread `d(0..n)` from a fresh state, as (bar, true for up),
    /// ascending: the same as feeding [`Crosses::step`] bar by bar, but the common (strict)
    /// rule runs branch-free over blocks of bars and only looks closer where one crossed.
    #[inline]
    fn events(&self, n: usize, d: impl Fn(usize) -> f64) -> Vec<(usize, bool)> {
        let mut out = Vec::new();
        if self.stateful {
            let mut c = Crosses {
                stateful: true,
                ..Crosses::default()
            };
            let mut prev = f64::NAN;
            for i in 0..n {
                let cur = d(i);
                match c.step(prev, cur) {
                    (true, _) => out.push((i, true)),
                    (_, true) => out.push((i, false)),
                    _ => {}
                }
                prev = cur;
            }
            return out;
        }
        strict_events(n, d, 0, &mut out);
        out
    }

    /// [`Crosses::events`] of the spread `a − b` over the bars of `close`, read block by
    /// block (the strict rule compiled for the widest vectors this CPU has: the same bits,
    /// see [`crate::simd`]), and the first bar where the spread is a number.
    fn pair_events(
        &self,
        a: &Line,
        b: &Line,
        close: &[f64],
    ) -> (Vec<(usize, bool)>, Option<usize>) {
        let mut scan = [PairScan::new(0, 1, self.stateful)];
        // Room for a cross every 32 bars, more than a sweep's fastest pairs make.
        scan[0].out.reserve(close.len() / 32 + 16);
        scan_pairs(&[a.clone(), b.clone()], &mut scan, close);
        let [p] = scan;
        (p.out, p.first)
    }
}

/// Appends the strict-rule crosses of `a − b` for bars `base..base + a.len()`, where the
/// spread on the bar before `base` was `prev` (NaN for none).
///
/// Each bar's spread is reduced to two bits, above and below zero (NaN is neither), 64
/// bars to a word (`signs`, one of [`spread_signs`]'s implementations): a cross is a bar
/// above zero whose predecessor was below (up) or the reverse (down), found with a shift of
/// the words, and only the bars of a word that has one are visited. The same bars as
/// feeding [`Crosses::step`] (tested).
#[inline(always)]
fn strict_block_body(
    a: &[f64],
    b: &[f64],
    prev: f64,
    base: usize,
    out: &mut Vec<(usize, bool)>,
    signs: impl Fn(&[f64], &[f64]) -> (u64, u64),
) {
    const W: usize = 64;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    // The previous bar's signs, in bit 0.
    let (mut below, mut above) = (u64::from(prev < 0.0), u64::from(prev > 0.0));
    let mut i = 0;
    while i < n {
        let len = W.min(n - i);
        let (pos, neg) = signs(&a[i..i + len], &b[i..i + len]);
        let up = pos & ((neg << 1) | below);
        let down = neg & ((pos << 1) | above);
        let mut crossed = up | down;
        while crossed != 0 {
            let j = crossed.trailing_zeros() as usize;
            out.push((base + i + j, up >> j & 1 == 1));
            crossed &= crossed - 1;
        }
        below = neg >> (len - 1) & 1;
        above = pos >> (len - 1) & 1;
        i += len;
    }
}

/// Bit `j` set where `a[j] − b[j]` is above zero, and where it is below (at most 64 bars).
///
/// Compares the lines instead of subtracting them: IEEE subtraction is exact in sign and
/// zero only on equality (gradual underflow), an overflow keeps the sign, and ∞ − ∞ is NaN
/// where neither comparison holds, so `a − b > 0` is `a > b` for every pair of doubles
/// (tested). The portable form; the vector ones below give the same bits.
#[inline(always)]
fn spread_signs(a: &[f64], b: &[f64]) -> (u64, u64) {
    let (mut pos, mut neg) = (0u64, 0u64);
    for (j, (x, y)) in a.iter().zip(b).enumerate() {
        pos |= u64::from(x > y) << j;
        neg |= u64::from(x < y) << j;
    }
    (pos, neg)
}

/// [`spread_signs`] of a whole word: eight comparisons of eight lanes into mask registers
/// (the compiler left to itself gathers the word's bars across registers instead).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn word_signs_avx512(a: &[f64; 64], b: &[f64; 64]) -> (u64, u64) {
    use std::arch::x86_64::{_CMP_GT_OQ, _CMP_LT_OQ, _mm512_cmp_pd_mask, _mm512_loadu_pd};
    let (mut pos, mut neg) = (0u64, 0u64);
    for w in 0..8 {
        // SAFETY: lanes 8w..8w + 8 of two 64-lane arrays; unaligned loads.
        #[allow(unsafe_code, reason = "vector loads of a word's lanes")]
        let (x, y) = unsafe {
            (
                _mm512_loadu_pd(a.as_ptr().add(8 * w)),
                _mm512_loadu_pd(b.as_ptr().add(8 * w)),
            )
        };
        pos |= u64::from(_mm512_cmp_pd_mask::<_CMP_GT_OQ>(x, y)) << (8 * w);
        neg |= u64::from(_mm512_cmp_pd_mask::<_CMP_LT_OQ>(x, y)) << (8 * w);
    }
    (pos, neg)
}

/// [`word_signs_avx512`] four lanes at a time, the comparisons' sign bits gathered with
/// a move mask.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn word_signs_avx2(a: &[f64; 64], b: &[f64; 64]) -> (u64, u64) {
    use std::arch::x86_64::{
        _CMP_GT_OQ, _CMP_LT_OQ, _mm256_cmp_pd, _mm256_loadu_pd, _mm256_movemask_pd,
    };
    let (mut pos, mut neg) = (0u64, 0u64);
    for w in 0..16 {
        // SAFETY: lanes 4w..4w + 4 of two 64-lane arrays; unaligned loads.
        #[allow(unsafe_code, reason = "vector loads of a word's lanes")]
        let (x, y) = unsafe {
            (
                _mm256_loadu_pd(a.as_ptr().add(4 * w)),
                _mm256_loadu_pd(b.as_ptr().add(4 * w)),
            )
        };
        let gt = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_GT_OQ>(x, y)) as u64;
        let lt = _mm256_movemask_pd(_mm256_cmp_pd::<_CMP_LT_OQ>(x, y)) as u64;
        pos |= gt << (4 * w);
        neg |= lt << (4 * w);
    }
    (pos, neg)
}

/// [`strict_block_body`] with the widest comparisons this CPU has (the same bits at every
/// tier, see [`crate::simd`]).
fn strict_block(a: &[f64], b: &[f64], prev: f64, base: usize, out: &mut Vec<(usize, bool)>) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        fn avx512(a: &[f64], b: &[f64], prev: f64, base: usize, out: &mut Vec<(usize, bool)>) {
            strict_block_body(a, b, prev, base, out, |x, y| {
                match (x.try_into(), y.try_into()) {
                    (Ok(x), Ok(y)) => word_signs_avx512(x, y),
                    _ => spread_signs(x, y),
                }
            });
        }
        #[target_feature(enable = "avx2")]
        fn avx2(a: &[f64], b: &[f64], prev: f64, base: usize, out: &mut Vec<(usize, bool)>) {
            strict_block_body(a, b, prev, base, out, |x, y| {
                match (x.try_into(), y.try_into()) {
                    (Ok(x), Ok(y)) => word_signs_avx2(x, y),
                    _ => spread_signs(x, y),
                }
            });
        }
        match crate::simd::tier() {
            // SAFETY: `tier()` reports AVX-512F only where the CPU has it.
            #[allow(unsafe_code, reason = "measured hot loop: runtime CPU dispatch")]
            crate::simd::Tier::Avx512 => return unsafe { avx512(a, b, prev, base, out) },
            // SAFETY: `tier()` reports AVX2 only where the CPU has it.
            #[allow(unsafe_code, reason = "measured hot loop: runtime CPU dispatch")]
            crate::simd::Tier::Avx2 => return unsafe { avx2(a, b, prev, base, out) },
            crate::simd::Tier::Portable => {}
        }
    }
    strict_block_body(a, b, prev, base, out, spread_signs);
}

/// Appends the strict-rule crosses of the spread `d(1..n)` to `out`, as bars from `base`
/// (see [`Crosses::events`]).
#[inline(always)]
fn strict_events(n: usize, d: impl Fn(usize) -> f64, base: usize, out: &mut Vec<(usize, bool)>) {
    // One byte a bar: 1 = up-cross, 2 = down-cross. Each bar's spread is recomputed for
    // its successor instead of carried over, so the bars are independent and a block of
    // them vectorises; a block is then read eight bars (one word) at a time.
    const W: usize = 64;
    let flag = |i: usize| {
        let (prev, cur) = (d(i - 1), d(i));
        ((prev < 0.0) & (cur > 0.0)) as u8 | (((prev > 0.0) & (cur < 0.0)) as u8) << 1
    };
    let mut i = 1;
    while i + W <= n {
        let mut f = [0u8; W];
        for (j, v) in f.iter_mut().enumerate() {
            *v = flag(i + j);
        }
        for (w, word) in f.chunks_exact(8).enumerate() {
            let mut x = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            while x != 0 {
                let byte = x.trailing_zeros() as usize / 8;
                out.push((base + i + 8 * w + byte, word[byte] == 1));
                x &= !(0xff << (8 * byte));
            }
        }
        i += W;
    }
    for i in i..n {
        match flag(i) {
            1 => out.push((base + i, true)),
            2 => out.push((base + i, false)),
            _ => {}
        }
    }
}

impl CrossStrategy {
    /// Builds from validated parameters; checks `fast < slow`.
    pub fn from_params(lines: CrossLines, p: &Params) -> Result<Self, Error> {
        less_than(p, "fast", "slow")?;
        let size = p.float_opt(SIZE.name);
        if let Some(s) = size
            && s >= 1.0
            && s.fract() != 0.0
        {
            return Err(Error::Param {
                param: "size".into(),
                message: format!("a size >= 1 is a whole number of units, got {s}"),
            });
        }
        let risk = match (p.float_opt("risk_pct"), p.float_opt("sl_pct")) {
            (None, _) => None,
            (Some(_), None) => {
                return Err(Error::Param {
                    param: "risk_pct".into(),
                    message: "needs sl_pct: risk sizing divides the equity at risk by the distance to the stop".into(),
                });
            }
            (Some(_), Some(_)) if size.is_some() => {
                return Err(Error::Param {
                    param: "risk_pct".into(),
                    message: "give size or risk_pct, not both: risk_pct sizes the entries".into(),
                });
            }
            (Some(fraction), Some(stop_pct)) => Some(RiskSizing { fraction, stop_pct }),
        };
        Ok(CrossStrategy {
            lines,
            fast: window(p, "fast")?,
            slow: window(p, "slow")?,
            signal: if lines == CrossLines::Macd {
                window(p, "signal")?
            } else {
                0
            },
            direction: Direction::from_params(p)?,
            crosses: Crosses {
                stateful: p.str("cross").is_ok_and(|c| c == "stateful"),
                ..Crosses::default()
            },
            fed: 0,
            cross_bars: Vec::new(),
            found: None,
            cursor: std::cell::Cell::new(0),
            size,
            sl_pct: p.float_opt("sl_pct"),
            tp_pct: p.float_opt("tp_pct"),
            risk,
            spread: None,
        })
    }

    /// Convenience constructor for an SMA cross with default sizing.
    pub fn sma(fast: usize, slow: usize, direction: Direction) -> Self {
        CrossStrategy {
            lines: CrossLines::Sma,
            fast,
            slow,
            signal: 0,
            direction,
            size: None,
            sl_pct: None,
            tp_pct: None,
            risk: None,
            spread: None,
            crosses: Crosses::default(),
            fed: 0,
            cross_bars: Vec::new(),
            found: None,
            cursor: std::cell::Cell::new(0),
        }
    }

    /// `fast line − slow line` and its name.
    fn lines(&self, ctx: &Init<'_>) -> (String, Vec<f64>) {
        let close = ctx.bars().close();
        match self.line_pair(ctx) {
            (name, Spread::Pair(a, b)) => {
                let (a, b) = (a.values(close), b.values(close));
                (name, a.iter().zip(b.iter()).map(|(x, y)| x - y).collect())
            }
            (name, Spread::Owned(d)) => (name, d),
        }
    }

    /// The two lines (shared with other runs in a sweep) or their difference, and its name.
    fn line_pair(&self, ctx: &Init<'_>) -> (String, Spread) {
        let close = ctx.bars().close();
        let (f, s) = (self.fast, self.slow);
        match self.lines {
            // In a sweep each SMA is computed once and shared while the cache has room, and
            // read as it is computed after that; their difference is the same arithmetic
            // as the fused kernel, so results are bit-identical.
            CrossLines::Sma if ctx.has_cache() => {
                let line = |w: usize| {
                    ctx.shared_if_room(&sma_key(w), |out| {
                        indicators::SmaStream::new(close, w).fill(out);
                    })
                    .map_or(Line::Sma(w), Line::Shared)
                };
                (format!("SMA({f})-SMA({s})"), Spread::Pair(line(f), line(s)))
            }
            CrossLines::Sma => (
                format!("SMA({f})-SMA({s})"),
                Spread::Owned(indicators::sma_difference(close, f, s)),
            ),
            CrossLines::Ema => (
                format!("EMA({f})-EMA({s})"),
                Spread::Pair(
                    Line::Shared(
                        ctx.shared(&format!("EMA(close,{f})"), || indicators::ema(close, f)),
                    ),
                    Line::Shared(
                        ctx.shared(&format!("EMA(close,{s})"), || indicators::ema(close, s)),
                    ),
                ),
            ),
            CrossLines::Macd => (
                format!("MACD({f},{s},{}) histogram", self.signal),
                Spread::Owned(indicators::macd(close, f, s, self.signal).histogram),
            ),
        }
    }

    fn request(&self, close: f64, long: bool) -> OrderRequest {
        let mut r = OrderRequest {
            size: self.size,
            ..OrderRequest::default()
        };
        let sign = if long { 1.0 } else { -1.0 };
        if let Some(sl) = self.sl_pct {
            r.sl = Some(close * (1.0 - sign * sl));
        }
        if let Some(tp) = self.tp_pct {
            r.tp = Some(close * (1.0 + sign * tp));
        }
        r
    }
}

impl Strategy for CrossStrategy {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        let (name, spread) = self.lines(ctx);
        self.crosses = Crosses {
            below: false,
            above: false,
            ..self.crosses
        };
        let mut probe = self.crosses.clone();
        self.cross_bars = (0..spread.len())
            .filter(|&i| {
                let (up, down) =
                    probe.step(if i == 0 { f64::NAN } else { spread[i - 1] }, spread[i]);
                up || down
            })
            .collect();
        self.cursor.set(0);
        self.spread = Some(ctx.indicator(name, spread));
        self.fed = 0;
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let Some(h) = self.spread else { return Ok(()) };
        let d = ctx.ind(h);
        let i = d.len() - 1;
        // Feed every bar up to this one (the first calls start after the warm-up).
        let (mut up, mut down) = (false, false);
        while self.fed <= i {
            let k = self.fed;
            (up, down) = self
                .crosses
                .step(if k == 0 { f64::NAN } else { d[k - 1] }, d[k]);
            self.fed += 1;
        }
        if !up && !down {
            return Ok(());
        }
        let close = ctx.close()[ctx.index()];
        // Risk sizing: whole units from the equity now; below one unit, no entry.
        let sized = |s: &Self, long: bool, equity: f64| {
            let mut r = s.request(close, long);
            match s.risk {
                Some(k) => k.units(equity, close).map(|u| {
                    r.size = Some(u);
                    r
                }),
                None => Some(r),
            }
        };
        match self.direction {
            Direction::LongShort => {
                ctx.close_position();
                if let Some(req) = sized(self, up, ctx.equity()) {
                    if up {
                        ctx.buy_with(req)?
                    } else {
                        ctx.sell_with(req)?
                    };
                }
            }
            Direction::LongOnly => {
                let pos = ctx.position();
                if up && pos.is_flat() {
                    if let Some(req) = sized(self, true, ctx.equity()) {
                        ctx.buy_with(req)?;
                    }
                } else if down && pos.is_long() {
                    ctx.close_position();
                }
            }
            Direction::ShortOnly => {
                let pos = ctx.position();
                if down && pos.is_flat() {
                    if let Some(req) = sized(self, false, ctx.equity()) {
                        ctx.sell_with(req)?;
                    }
                } else if up && pos.is_short() {
                    ctx.close_position();
                }
            }
        }
        Ok(())
    }

    fn idle_until(&self, from: usize) -> usize {
        let k = crate::strategy::signals::next_active(&self.cross_bars, |&b| b, &self.cursor, from);
        self.cross_bars.get(k).copied().unwrap_or(usize::MAX)
    }
}

/// The indicator cache's key of the moving average of `w` closes.
fn sma_key(w: usize) -> String {
    format!("SMA(close,{w})")
}

/// Finds the crosses of the strategies in `group` that share work in one pass over their
/// distinct lines ([`scan_pairs`]), for their `sparse_signals` to take: the same crosses
/// as each finds alone. A pair joins the pass when another pair reads a line of its that
/// is computed as it streams (an SMA the sweep's cache has no room for: computed once for
/// the group instead of once per strategy), or reads both its lines (each read from
/// memory once a block for all of them, then from cache: a tile of the grid, up to eight
/// fast lines and eight slow ones for 64 pairs). Other pairs scan alone: interleaving lines
/// that only one pair reads just splits the memory streams the CPU prefetches (measured
/// slower).
pub(crate) fn find_crosses_together(group: &mut [&mut CrossStrategy], ctx: &Init<'_>) {
    // The group's moving averages that no run has computed yet, side by side (eight at a
    // time, four times the speed of one at a time) into the sweep's cache, where each
    // pair's `line_pair` finds them. In the order the pairs ask for them, so a cache
    // without room for all keeps the lines it kept when they were asked for one by one
    // (the others are computed as they are read, once for each group that reads them).
    if ctx.has_cache() {
        let mut windows: Vec<usize> = Vec::new();
        for s in group.iter() {
            if s.found.is_none() && matches!(s.lines, CrossLines::Sma) {
                for w in [s.fast, s.slow] {
                    if !windows.contains(&w) {
                        windows.push(w);
                    }
                }
            }
        }
        let keys: Vec<String> = windows.iter().map(|w| sma_key(*w)).collect();
        let close = ctx.bars().close();
        ctx.shared_together_if_room(&keys, |which, outs| {
            let windows: Vec<usize> = which.iter().map(|&k| windows[k]).collect();
            indicators::sma_many(close, &windows, outs);
        });
    }
    let mut lines: Vec<Line> = Vec::new();
    let mut intern = |line: Line| match lines.iter().position(|l| l.is(&line)) {
        Some(k) => k,
        None => {
            lines.push(line);
            lines.len() - 1
        }
    };
    // Every pair's lines first, to count the pairs that read each line.
    let mut pairs = Vec::new();
    for (k, s) in group.iter().enumerate() {
        if s.found.is_some() {
            continue;
        }
        let (name, spread) = s.line_pair(ctx);
        if let Spread::Pair(a, b) = spread {
            let (a, b) = (intern(a), intern(b));
            pairs.push((k, name, a, b));
        }
    }
    let mut readers = vec![0usize; lines.len()];
    for &(_, _, a, b) in &pairs {
        readers[a] += 1;
        readers[b] += 1;
    }
    let shared = |l: usize| readers[l] > 1;
    let shared_stream = |l: usize| shared(l) && matches!(lines[l], Line::Sma(_));
    let mut scans = Vec::new();
    let mut names = Vec::new();
    for (k, name, a, b) in pairs {
        if shared_stream(a) || shared_stream(b) || (shared(a) && shared(b)) {
            scans.push(PairScan::new(a, b, group[k].crosses.stateful));
            names.push((k, name));
        }
    }
    // Alone, a pair's own scan is the same pass.
    if scans.len() < 2 {
        return;
    }
    scan_pairs(&lines, &mut scans, ctx.bars().close());
    for ((k, name), p) in names.into_iter().zip(scans) {
        group[k].found = Some((name, (p.out, p.first)));
    }
}

impl SignalStrategy for CrossStrategy {
    fn signals(&mut self, ctx: &mut Init<'_>) -> Result<Signals, Error> {
        Ok(self.sparse_signals(ctx)?.into_dense())
    }

    /// Crosses are rare, so the decisions are built as a list directly.
    fn sparse_signals(&mut self, ctx: &mut Init<'_>) -> Result<SparseSignals, Error> {
        let close = ctx.bars().close();
        let n = close.len();
        // The spread's values only decide the signals: they are not kept (a sweep runs many
        // of these), only where they start counts toward the warm-up.
        let (name, (crosses, first)) = match self.found.take() {
            Some(found) => found,
            None => {
                let (name, spread) = self.line_pair(ctx);
                let events = match spread {
                    Spread::Pair(a, b) => self.crosses.pair_events(&a, &b, close),
                    Spread::Owned(d) => {
                        let d = &d[..n];
                        (
                            self.crosses.events(n, |i| d[i]),
                            d.iter().position(|x| !x.is_nan()),
                        )
                    }
                };
                (name, events)
            }
        };
        ctx.warmup_only(name, first.unwrap_or(n));
        let rule = match self.direction {
            Direction::LongShort => EntryRule::Reenter,
            Direction::LongOnly | Direction::ShortOnly => EntryRule::OnlyWhenFlat,
        };
        let (with_sl, with_tp) = (self.sl_pct.is_some(), self.tp_pct.is_some());
        let mut sl = if with_sl {
            vec![f64::NAN; n]
        } else {
            Vec::new()
        };
        let mut tp = if with_tp {
            vec![f64::NAN; n]
        } else {
            Vec::new()
        };
        let decisions = crosses
            .into_iter()
            .map(|(i, up)| {
                let (enters, d) = match self.direction {
                    Direction::LongShort => (
                        true,
                        Decision {
                            long_entry: up,
                            short_entry: !up,
                            ..Decision::default()
                        },
                    ),
                    Direction::LongOnly => (
                        up,
                        Decision {
                            long_entry: up,
                            long_exit: !up,
                            ..Decision::default()
                        },
                    ),
                    Direction::ShortOnly => (
                        !up,
                        Decision {
                            short_entry: !up,
                            short_exit: up,
                            ..Decision::default()
                        },
                    ),
                };
                if enters && (with_sl || with_tp) {
                    let r = self.request(close[i], up);
                    if with_sl {
                        sl[i] = r.sl.unwrap_or(f64::NAN);
                    }
                    if with_tp {
                        tp[i] = r.tp.unwrap_or(f64::NAN);
                    }
                }
                Decision { bar: i, ..d }
            })
            .collect();
        Ok(SparseSignals {
            n,
            decisions,
            size: self.size.map_or(PerBar::Unset, PerBar::Const),
            sl: if with_sl {
                PerBar::Values(sl)
            } else {
                PerBar::Unset
            },
            tp: if with_tp {
                PerBar::Values(tp)
            } else {
                PerBar::Unset
            },
            entry_rule: rule,
            risk: self.risk,
            entry_orders: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_rule(stateful: bool, d: &[f64]) -> Vec<(bool, bool)> {
        let mut c = Crosses {
            stateful,
            ..Crosses::default()
        };
        (0..d.len())
            .map(|i| c.step(if i == 0 { f64::NAN } else { d[i - 1] }, d[i]))
            .collect()
    }

    #[test]
    fn a_tie_hides_a_strict_cross_but_not_a_stateful_one() {
        let d = [-1.0, 0.0, 1.0, 0.0, -1.0];
        let strict = run_rule(false, &d);
        assert!(
            strict.iter().all(|&(u, dn)| !u && !dn),
            "ties hide both crosses"
        );
        let stateful = run_rule(true, &d);
        assert_eq!(stateful[2], (true, false));
        assert_eq!(stateful[4], (false, true));
    }

    #[test]
    fn stateful_crosses_alternate_and_nan_resets() {
        let d = [-1.0, 1.0, 2.0, f64::NAN, 1.0, -1.0, 1.0];
        let s = run_rule(true, &d);
        assert_eq!(s[1], (true, false));
        assert_eq!(s[2], (false, false), "no repeat without going below again");
        assert_eq!(s[4], (false, false), "NaN reset: not below since");
        assert_eq!(s[5], (false, true));
        assert_eq!(s[6], (true, false));
    }

    proptest::proptest! {
        /// The block kernel finds exactly the crosses that feeding the rule bar by bar
        /// finds: ties, NaN gaps, block edges (64 bars) and tails included.
        #[test]
        fn listed_crosses_are_the_bar_by_bar_crosses(
            d in proptest::collection::vec(
                proptest::prop_oneof![
                    6 => -2.0f64..2.0,
                    1 => proptest::strategy::Just(0.0),
                    1 => proptest::strategy::Just(f64::NAN),
                ],
                0..300,
            ),
            stateful in proptest::bool::ANY,
        ) {
            let want: Vec<(usize, bool)> = run_rule(stateful, &d)
                .into_iter()
                .enumerate()
                .filter(|(_, (u, dn))| *u || *dn)
                .map(|(i, (u, _))| (i, u))
                .collect();
            let c = Crosses { stateful, ..Crosses::default() };
            proptest::prop_assert_eq!(&c.events(d.len(), |i| d[i]), &want);
            // The same spread as two lines, through the dispatched kernel at every tier.
            let zero = vec![0.0; d.len()];
            let (a, b) = (Line::Shared(Series::from(d.clone())), Line::Shared(Series::from(zero)));
            let first = d.iter().position(|x| !x.is_nan());
            for tier in crate::simd::TIERS {
                let got = crate::simd::capped(tier, || c.pair_events(&a, &b, &d));
                proptest::prop_assert_eq!(&got.0, &want, "{:?}", tier);
                proptest::prop_assert_eq!(got.1, first);
            }
        }
    }

    /// Doubles where subtracting and comparing could part: zeros of both signs,
    /// subnormals (whose differences underflow), values whose difference overflows,
    /// infinities and NaN.
    fn awkward() -> impl proptest::strategy::Strategy<Value = f64> {
        proptest::prop_oneof![
            4 => -2.0f64..2.0,
            1 => proptest::sample::select(vec![
                0.0,
                -0.0,
                f64::MIN_POSITIVE,
                -f64::MIN_POSITIVE,
                5e-324,
                -5e-324,
                1e-320,
                f64::MAX,
                -f64::MAX,
                1e308,
                f64::INFINITY,
                f64::NEG_INFINITY,
                f64::NAN,
            ]),
        ]
    }

    proptest::proptest! {
        /// The block kernel compares the two lines where the rule reads the sign of their
        /// difference: the same crosses for every pair of doubles, at every tier.
        #[test]
        fn comparing_two_lines_finds_the_crosses_of_their_difference(
            ab in proptest::collection::vec((awkward(), awkward()), 0..200),
        ) {
            let (a, b): (Vec<f64>, Vec<f64>) = ab.into_iter().unzip();
            let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
            let c = Crosses::new(false);
            let want = (c.events(d.len(), |i| d[i]), d.iter().position(|x| !x.is_nan()));
            let close = vec![1.0; d.len()];
            let (la, lb) = (Line::Shared(Series::from(a)), Line::Shared(Series::from(b)));
            for tier in crate::simd::TIERS {
                let got = crate::simd::capped(tier, || c.pair_events(&la, &lb, &close));
                proptest::prop_assert_eq!(&got, &want, "{:?}", tier);
            }
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Lines read block by block give the crosses of the whole series: SMAs computed
        /// as they are read equal shared ones, over several scan blocks, NaN gaps included.
        #[test]
        fn streamed_lines_give_the_crosses_of_the_whole_series(
            steps in proptest::collection::vec(-1.0f64..1.0, 1..5_000),
            gaps in proptest::collection::vec(0usize..5_000, 0..3),
            fast in 1usize..30,
            extra in 1usize..60,
            stateful in proptest::bool::ANY,
        ) {
            let mut close: Vec<f64> = steps
                .iter()
                .scan(100.0, |p, s| {
                    *p += s;
                    Some(*p)
                })
                .collect();
            for g in gaps {
                if g < close.len() {
                    close[g] = f64::NAN;
                }
            }
            let slow = fast + extra;
            let (a, b) = (indicators::sma(&close, fast), indicators::sma(&close, slow));
            let d: Vec<f64> = a.iter().zip(&b).map(|(x, y)| x - y).collect();
            let c = Crosses { stateful, ..Crosses::default() };
            let want = (c.events(d.len(), |i| d[i]), d.iter().position(|x| !x.is_nan()));
            let streamed = c.pair_events(&Line::Sma(fast), &Line::Sma(slow), &close);
            proptest::prop_assert_eq!(&streamed, &want);
            let shared = c.pair_events(&Line::Shared(Series::from(a)), &Line::Sma(slow), &close);
            proptest::prop_assert_eq!(&shared, &want);
        }

        /// A group's crosses found in one pass over its distinct lines are each pair's
        /// crosses found alone: shared and streamed lines, repeated and crossed over between
        /// pairs, both rules, several scan blocks.
        #[test]
        fn a_group_scanned_together_finds_each_pairs_crosses(
            steps in proptest::collection::vec(-1.0f64..1.0, 1..5_000),
            pairs in proptest::collection::vec((0usize..6, 0usize..6, proptest::bool::ANY), 1..9),
        ) {
            let close: Vec<f64> = steps
                .iter()
                .scan(100.0, |p, s| {
                    *p += s;
                    Some(*p)
                })
                .collect();
            // Windows 2, 5, 9 shared; 3, 7, 12 streamed.
            let shared: Vec<_> = [2, 5, 9]
                .map(|w| Series::from(indicators::sma(&close, w)))
                .to_vec();
            let line = |k: usize| {
                if k < 3 {
                    Line::Shared(shared[k].clone())
                } else {
                    Line::Sma([3, 7, 12][k - 3])
                }
            };
            let mut lines: Vec<Line> = Vec::new();
            let mut scans = Vec::new();
            for &(a, b, stateful) in &pairs {
                let mut at = |k: usize| match lines.iter().position(|l| l.is(&line(k))) {
                    Some(i) => i,
                    None => {
                        lines.push(line(k));
                        lines.len() - 1
                    }
                };
                let (a, b) = (at(a), at(b));
                scans.push(PairScan::new(a, b, stateful));
            }
            scan_pairs(&lines, &mut scans, &close);
            for (&(a, b, stateful), got) in pairs.iter().zip(scans) {
                let alone = Crosses::new(stateful).pair_events(&line(a), &line(b), &close);
                proptest::prop_assert_eq!((got.out, got.first), alone);
            }
        }
    }
}
