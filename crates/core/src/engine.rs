//! The backtest loop: `init`, then per bar broker fills → equity → `next`.

use crate::bars::Bars;
use crate::broker::{Broker, BrokerConfig, ClosedTrade};
use crate::error::Error;
use crate::intrabar::{Intrabar, IntrabarError};
use crate::strategy::{Context, IndicatorCache, Init, Strategy};
use crate::warning::RunWarning;

mod plain;

/// A trade still open when the data ran out.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenTrade {
    /// Units, negative when short.
    pub size: f64,
    /// Bar index of the entry fill.
    pub entry_bar: usize,
    /// Entry price including the spread.
    pub entry_price: f64,
    /// Stop-loss, if set.
    pub sl: Option<f64>,
    /// Take-profit, if set.
    pub tp: Option<f64>,
    /// Label of the order that opened it.
    pub tag: Option<String>,
}

/// Everything a run produces; summarise it with [`crate::stats::compute`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunResult {
    /// Closed trades in closing order.
    pub trades: Vec<ClosedTrade>,
    /// Trades open at the end (not in the trade statistics, but in the equity).
    pub open_trades: Vec<OpenTrade>,
    /// Account equity at each bar's close.
    pub equity: Vec<f64>,
    /// Broker and engine warnings (cancelled orders, open trades at the end, …).
    pub warnings: Vec<String>,
    /// The same warnings, in the same order, as values (for grouping and advice).
    pub warning_details: Vec<RunWarning>,
    /// Orders the strategy placed (not counting closing, SL and TP orders).
    pub orders_placed: usize,
    /// Indicators that never have a value on these bars (their warm-up is longer than
    /// the data), in registration order. They count as warm at bar 0, as in backtesting.py.
    pub cold_indicators: Vec<String>,
    /// First bar at which every indicator is non-NaN; `next` first runs on `warmup + 1`.
    pub warmup: usize,
    /// Indicator names in registration order.
    pub indicator_names: Vec<String>,
    /// True if the run stopped early because equity fell to zero or below.
    pub out_of_money: bool,
}

/// Runs `strategy` over `bars` with the broker settings `cfg`.
///
/// Deterministic: the same inputs give bit-identical results.
pub fn run(
    bars: &Bars,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
) -> Result<RunResult, Error> {
    run_with_cache(bars, strategy, cfg, None)
}

/// [`run`] sharing indicator series through `cache` (for many runs on the same bars).
pub fn run_with_cache(
    bars: &Bars,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
    cache: Option<&IndicatorCache>,
) -> Result<RunResult, Error> {
    run_reusing(bars, strategy, cfg, cache, Vec::new())
}

/// [`run_with_cache`] writing the equity curve into `equity` (its contents are replaced):
/// a sweep hands each run the previous run's curve, so it allocates no new memory per
/// combination.
pub fn run_reusing(
    bars: &Bars,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
    cache: Option<&IndicatorCache>,
    equity: Vec<f64>,
) -> Result<RunResult, Error> {
    run_whole(bars, None, strategy, cfg, cache, equity)
}

/// [`run`] filling stop, limit and SL/TP orders against the finer bars of each bar
/// (`fine`, grouped from these `bars` by [`Intrabar::try_new`]) in time order instead of
/// the bar's OHLC; bars without finer bars fill as in [`run`]. Market orders, equity and
/// the strategy's decisions stay per bar. With one finer bar per bar, equal to it, the
/// result is [`run`]'s, bit for bit.
pub fn run_intrabar(
    bars: &Bars,
    fine: &Intrabar,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
) -> Result<RunResult, Error> {
    if fine.bars() != bars.len() {
        return Err(IntrabarError::OtherBars {
            grouped: fine.bars(),
            bars: bars.len(),
        }
        .into());
    }
    run_whole(bars, Some(fine), strategy, cfg, None, Vec::new())
}

fn run_whole(
    bars: &Bars,
    fine: Option<&Intrabar>,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
    cache: Option<&IndicatorCache>,
    equity: Vec<f64>,
) -> Result<RunResult, Error> {
    check_inputs(bars, cfg)?;
    match cfg.fractional_unit {
        Some(unit) if unit != 1.0 => {
            // Trade whole units of a series whose unit is `unit` of a share, then convert
            // back: backtesting.py's FractionalBacktest, and the same last bits.
            let scaled = bars.scaled_prices(unit);
            let fine = fine.map(|f| f.scaled_prices(unit));
            // The cache is keyed by series name, not data: scaled prices get no cache.
            let broker = Broker::new(cfg.clone());
            let mut res = run_units(
                &scaled,
                fine.as_ref(),
                strategy,
                cfg,
                broker,
                None,
                &mut Tape::whole(equity),
            )?;
            for t in &mut res.trades {
                t.size *= unit;
                t.entry_price /= unit;
                t.exit_price /= unit;
                t.sl = t.sl.map(|p| p / unit);
                t.tp = t.tp.map(|p| p / unit);
            }
            for t in &mut res.open_trades {
                t.size *= unit;
                t.entry_price /= unit;
                t.sl = t.sl.map(|p| p / unit);
                t.tp = t.tp.map(|p| p / unit);
            }
            Ok(res)
        }
        _ => run_units(
            bars,
            fine,
            strategy,
            cfg,
            Broker::new(cfg.clone()),
            cache,
            &mut Tape::whole(equity),
        ),
    }
}

/// [`run_with_cache`] handing the equity curve to `sink` block by block instead of keeping
/// it: `sink(block, first_bar)` gets consecutive blocks of [`STREAM_BLOCK`] bars (the
/// last one shorter), each once and in order. The result's `equity` is empty, and so are
/// its broker warnings. A sweep's statistics consume the blocks as they come, so no run
/// holds a whole curve; `closed` is a spent trade list whose memory the run reuses.
///
/// Runs with a fractional unit keep the whole curve (their prices are rescaled first).
pub(crate) fn run_streaming(
    bars: &Bars,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
    cache: Option<&IndicatorCache>,
    mut closed: Vec<ClosedTrade>,
    sink: &mut dyn FnMut(&[f64], usize),
) -> Result<RunResult, Error> {
    if cfg.fractional_unit.is_some_and(|u| u != 1.0) {
        let mut res = run_reusing(bars, strategy, cfg, cache, Vec::new())?;
        for (k, block) in res.equity.chunks(STREAM_BLOCK).enumerate() {
            sink(block, k * STREAM_BLOCK);
        }
        res.equity = Vec::new();
        return Ok(res);
    }
    check_inputs(bars, cfg)?;
    let mut tape = Tape {
        buf: vec![f64::NAN; STREAM_BLOCK.min(bars.len())],
        base: 0,
        n: bars.len(),
        sink: Some(sink),
    };
    // The sweep drops warnings (so they are not formatted) and hands back the previous
    // run's closed-trade list, whose memory is reused.
    let mut broker = Broker::new(cfg.clone());
    broker.keep_warnings = false;
    closed.clear();
    broker.closed = closed;
    let res = run_units(bars, None, strategy, cfg, broker, cache, &mut tape)?;
    tape.flush_rest();
    Ok(res)
}

/// What every run needs before it starts: valid broker settings and at least one bar.
fn check_inputs(bars: &Bars, cfg: &BrokerConfig) -> Result<(), Error> {
    cfg.validate()?;
    if bars.is_empty() {
        return Err(Error::TooFewBars { needed: 1, got: 0 });
    }
    Ok(())
}

/// Receives a streamed equity curve: a block and the bar its first value belongs to.
type EquitySink<'s> = dyn FnMut(&[f64], usize) + 's;

/// Bars per block of a streamed equity curve ([`run_streaming`]); the statistics' walk
/// takes blocks of this size.
pub(crate) const STREAM_BLOCK: usize = crate::stats::COV_BLOCK;

/// Where a run writes its equity: the whole curve, or one block of it at a time that goes
/// to a sink once the run writes past it. The engine writes bars in order (a final-bar
/// rewrite stays within the last block), so a block is complete when it is handed over.
struct Tape<'s> {
    /// The whole curve, or the current block.
    buf: Vec<f64>,
    /// First bar of `buf`.
    base: usize,
    /// Bars in the run.
    n: usize,
    sink: Option<&'s mut EquitySink<'s>>,
}

impl<'s> Tape<'s> {
    /// The whole curve in `buf` (its old contents are replaced).
    fn whole(buf: Vec<f64>) -> Tape<'s> {
        Tape {
            buf,
            base: 0,
            n: 0,
            sink: None,
        }
    }

    fn reset(&mut self, n: usize) {
        self.n = n;
        self.base = 0;
        if self.sink.is_none() {
            self.buf.clear();
            self.buf.resize(n, f64::NAN);
        }
    }

    /// The slots of bars `from..to`, as many of them as lie in one block (at least one
    /// when `from < to`); blocks before `from` are handed to the sink.
    #[inline]
    fn window(&mut self, from: usize, to: usize) -> &mut [f64] {
        let Some(sink) = &mut self.sink else {
            return &mut self.buf[from..to];
        };
        let len = self.buf.len();
        while from >= self.base + len {
            sink(&self.buf, self.base);
            self.base += len;
        }
        debug_assert!(from >= self.base, "bars are written in order");
        let end = (to - self.base).min(len).min(self.n - self.base);
        &mut self.buf[from - self.base..end]
    }

    #[inline]
    fn set(&mut self, i: usize, v: f64) {
        self.window(i, i + 1)[0] = v;
    }

    fn fill(&mut self, mut from: usize, to: usize, v: f64) {
        while from < to {
            let w = self.window(from, to);
            w.fill(v);
            from += w.len();
        }
    }

    /// Marks bars `from..to` with `mark(slots, close from the first slot's bar on)`, which
    /// fills slots while equity stays positive and returns how many it filled; returns the
    /// first bar not written (a non-positive equity is left for `next_bar`, which
    /// liquidates and stops, as on any bar).
    #[inline]
    fn fill_marked(
        &mut self,
        mut from: usize,
        to: usize,
        close: &[f64],
        mark: impl Fn(&mut [f64], &[f64]) -> usize,
    ) -> usize {
        while from < to {
            let w = self.window(from, to);
            let done = mark(w, &close[from..]);
            let whole = done == w.len();
            from += done;
            if !whole {
                break;
            }
        }
        from
    }

    /// Hands the last, partial block to the sink (streaming only).
    fn flush_rest(&mut self) {
        if let Some(sink) = &mut self.sink
            && self.base < self.n
        {
            sink(&self.buf[..self.n - self.base], self.base);
        }
    }

    /// The whole curve (empty when streaming).
    fn take_whole(&mut self) -> Vec<f64> {
        if self.sink.is_none() {
            std::mem::take(&mut self.buf)
        } else {
            Vec::new()
        }
    }
}

/// Writes `equity_at(close[k])` into `out[k]` while it stays positive; returns how many
/// bars were written (a non-positive equity is left for `next_bar`, which liquidates and
/// stops, as on any bar).
#[inline]
fn fill_equity(out: &mut [f64], close: &[f64], equity_at: impl Fn(f64) -> f64) -> usize {
    for (k, (o, &c)) in out.iter_mut().zip(close).enumerate() {
        let e = equity_at(c);
        if e <= 0.0 {
            return k;
        }
        *o = e;
    }
    out.len()
}

/// [`fill_equity`] for one open trade, `cash + size·(c − entry)` (the sum
/// `Broker::equity` makes), eight bars at a time: the usual case between two signals.
#[inline(always)]
fn mark_one_trade_body(out: &mut [f64], close: &[f64], cash: f64, size: f64, entry: f64) -> usize {
    const W: usize = 8;
    let n = out.len().min(close.len());
    let mut k = 0;
    // Whole chunks of both slices: vector loads and stores without bounds checks (indexing
    // `close[k + j]` made the compiler gather scalars).
    for (o, c) in out[..n].chunks_exact_mut(W).zip(close[..n].chunks_exact(W)) {
        let mut e = [0.0f64; W];
        let mut positive = true;
        for j in 0..W {
            e[j] = cash + size * (c[j] - entry);
            positive &= e[j] > 0.0;
        }
        if !positive {
            // A bar at or below zero (or NaN) in these eight: the exact loop finds it.
            break;
        }
        o.copy_from_slice(&e);
        k += W;
    }
    k + fill_equity(&mut out[k..n], &close[k..n], |c| cash + size * (c - entry))
}

crate::simd::wide_kernel!(
    fn mark_one_trade(out: &mut [f64], close: &[f64], cash: f64, size: f64, entry: f64) -> usize
        = mark_one_trade_body;
);

/// The bars `from..to` on which one trade is open with only its trailing stop pending and
/// the strategy would only move that stop ([`Strategy::trailing_stop`]), each as the bar
/// loop would run it: the stop order is checked against the bar's range exactly as
/// `process_orders` checks it (a long's stop sells when the low reaches it, a short's buys
/// when the high does), equity is marked at the close as `next_bar` marks it, and the stop
/// moves to `close ∓ atr · n_atr` in the trade's favour as the strategy would move it.
/// Stops before the first bar that does more: the stop is hit (the fill, at the open when
/// it gapped through, with its costs, is `process_orders`' own), equity falls to zero or
/// below, or the new stop is no valid price (the strategy's error). Returns the first bar
/// not run; the broker is left as after the last bar run.
fn trail_idle_bars(
    bars: &Bars,
    broker: &mut Broker,
    tape: &mut Tape<'_>,
    from: usize,
    to: usize,
    atr: &[f64],
    n_atr: f64,
) -> usize {
    let Some((long, stop0)) = broker.lone_stop() else {
        return from;
    };
    let (low, high, close) = (bars.low(), bars.high(), bars.close());
    let to = to.min(close.len());
    // Bar `k` with the stop at `stop`: `None` if the bar does more than move the stop,
    // else the stop after it and whether the strategy would have set it.
    let advance = |k: usize, stop: f64| -> Option<(f64, bool)> {
        let hit = if long {
            low[k] <= stop
        } else {
            high[k] >= stop
        };
        if hit {
            return None;
        }
        let step = atr.get(k).copied().unwrap_or(f64::NAN) * n_atr;
        if !step.is_finite() {
            return Some((stop, false));
        }
        let c = close[k];
        let moved = if long {
            stop.max(c - step)
        } else {
            stop.min(c + step)
        };
        (moved.is_finite() && moved > 0.0).then_some((moved, true))
    };
    // The stop first (a loop of a few operations a bar), then equity, eight bars at a time.
    let (mut stop, mut moves) = (stop0, 0u64);
    let mut end = from;
    while end < to {
        let Some((s, moved)) = advance(end, stop) else {
            break;
        };
        stop = s;
        moves += moved as u64;
        end += 1;
    }
    let (cash, t) = (broker.cash, &broker.trades[0]);
    let (size, entry) = (t.size, t.entry_price);
    let marked = tape.fill_marked(from, end, &close[..end], |w, c| {
        mark_one_trade(w, c, cash, size, entry)
    });
    if marked < end {
        // Equity at or below zero on bar `marked`: the stop as it was before that bar.
        (stop, moves) = (stop0, 0);
        for k in from..marked {
            let (s, moved) = advance(k, stop).expect("advanced before");
            stop = s;
            moves += moved as u64;
        }
    }
    if marked > from {
        broker.i = marked - 1;
        broker.move_lone_stop(stop, moves);
    }
    marked
}

/// Marks equity on bars `from..to` where nothing but prices changes (no order pending,
/// nothing decided), exactly as `next_bar` marks it; returns the first bar not marked
/// (`to`, or a bar whose equity is at or below zero, which `next_bar` liquidates).
fn mark_held(
    bars: &Bars,
    broker: &mut Broker,
    tape: &mut Tape<'_>,
    from: usize,
    to: usize,
) -> usize {
    let close = &bars.close()[..to];
    let end = match broker.trades.as_slice() {
        // Flat: equity is the cash on every bar.
        [] if broker.cash > 0.0 => {
            tape.fill(from, to, broker.cash);
            to
        }
        // One trade (the usual case): the same sum as `Broker::equity`, inlined.
        [t] => tape.fill_marked(from, to, close, |w, c| {
            mark_one_trade(w, c, broker.cash, t.size, t.entry_price)
        }),
        _ => tape.fill_marked(from, to, close, |w, c| {
            fill_equity(w, c, |p| broker.equity(p))
        }),
    };
    if end > from {
        broker.i = end - 1;
    }
    end
}

fn run_units(
    bars: &Bars,
    fine: Option<&Intrabar>,
    strategy: &mut dyn Strategy,
    cfg: &BrokerConfig,
    mut broker: Broker,
    cache: Option<&IndicatorCache>,
    equity: &mut Tape<'_>,
) -> Result<RunResult, Error> {
    let n = bars.len();
    let mut init = Init::new(bars, cache).in_session(cfg.session);
    strategy.init(&mut init)?;
    let indicators = init.indicators;
    // backtesting.py takes argmin of isnan: an all-NaN indicator counts as warm at 0.
    let warmup = indicators
        .iter()
        .map(|r| if r.first_valid == n { 0 } else { r.first_valid })
        .max()
        .unwrap_or(0);
    let start = 1 + warmup;

    equity.reset(n);
    // Bars before the first decision carry the initial cash. (backtesting.py back-fills from
    // the first recorded equity, which is always the initial cash there: no order can exist
    // when it is recorded. A same-bar-close fill can change that bar's equity, so fill with
    // the cash itself.)
    equity.fill(0, start.min(n), cfg.cash);
    let mut out_of_money = false;
    let mut completed = true;
    let mut i = start;
    // Plain market-order signals run without `next`, as far as they can.
    if fine.is_none()
        && !cfg.same_bar_close_fills
        && crate::broker::lean_fills()
        && let Some(signals) = strategy.plain_signals()
    {
        i = plain::run(bars, signals, &mut broker, equity, start);
    }
    while i < n {
        match broker.next_bar(bars, fine, i) {
            Ok(e) => equity.set(i, e),
            Err(_) => {
                equity.fill(i, n, 0.0);
                out_of_money = true;
                completed = false;
                break;
            }
        }
        let mut ctx = Context {
            i,
            bars,
            indicators: &indicators,
            broker: &mut broker,
        };
        strategy.next(&mut ctx)?;
        if cfg.same_bar_close_fills && !broker.orders.is_empty() {
            broker.fill_at_close(bars, i);
            let e = broker.equity(bars.close()[i]);
            if e <= 0.0 {
                // As on any bar: liquidate at this close and stop.
                broker.liquidate(bars.close()[i], i);
                equity.fill(i, n, 0.0);
                out_of_money = true;
                completed = false;
                break;
            }
            equity.set(i, e);
        }
        i += 1;
        // Bars where only a trailing stop moves: checked, marked and moved in one loop.
        if fine.is_none()
            && !cfg.same_bar_close_fills
            && let Some(trail) = strategy.trailing_stop(i)
            && trail.idle_to > i
        {
            i = trail_idle_bars(
                bars,
                &mut broker,
                equity,
                i,
                trail.idle_to,
                trail.atr,
                trail.n_atr,
            );
        }
        // Fast-forward over bars where the strategy promises to do nothing and no order is
        // pending: only equity changes, computed exactly as `next_bar` computes it. (With
        // an order pending, as after every signal, the strategy is not asked.)
        let idle_to = if broker.orders.is_empty() {
            strategy.idle_until(i).min(n)
        } else {
            i
        };
        if idle_to > i {
            // An order placed on the decision bar `idle_to` fills at the next bar's open, a
            // column nothing else reads in a sweep: a cache miss. Load it now, so the miss
            // overlaps the marking below instead of stalling the fill.
            let fill_open = bars.open().get(idle_to + 1).copied();
            i = mark_held(bars, &mut broker, equity, i, idle_to);
            std::hint::black_box(fill_open);
        }
    }
    if completed && cfg.finalize_trades && start < n {
        let ids: Vec<_> = broker.trades.iter().rev().map(|t| t.id).collect();
        for id in ids {
            broker.close_trade_order(id, 1.0);
        }
        // Fill the closing orders (and anything placed on the last bar) once more on the
        // last bar's prices.
        match broker.next_bar(bars, fine, n - 1) {
            Ok(e) => equity.set(n - 1, e),
            Err(_) => {
                equity.set(n - 1, 0.0);
                out_of_money = true;
            }
        }
    }

    let mut warnings = std::mem::take(&mut broker.warnings);
    let open_trades: Vec<OpenTrade> = broker
        .trades
        .iter()
        .map(|t| OpenTrade {
            size: t.size,
            entry_bar: t.entry_bar,
            entry_price: t.entry_price,
            sl: t.sl,
            tp: t.tp,
            tag: t.tag.clone(),
        })
        .collect();
    if !open_trades.is_empty() {
        warnings.push(RunWarning::OpenAtEnd {
            trades: open_trades.len(),
        });
    }
    if out_of_money {
        warnings.push(RunWarning::OutOfMoney);
    }
    let cold_indicators = indicators
        .iter()
        .filter(|r| r.first_valid == n)
        .map(|r| r.name.clone())
        .collect();
    Ok(RunResult {
        trades: std::mem::take(&mut broker.closed),
        open_trades,
        equity: equity.take_whole(),
        warnings: warnings.iter().map(ToString::to_string).collect(),
        warning_details: warnings,
        orders_placed: broker.placed,
        cold_indicators,
        warmup,
        indicator_names: indicators.into_iter().map(|r| r.name).collect(),
        out_of_money,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The eight-bars-at-a-time marking of one trade, at every instruction tier, writes
        /// the bits of the bar-by-bar sum and stops at the same bar: the first whose equity
        /// is at or below zero (NaN equity is written, as bar by bar).
        #[test]
        fn one_trade_marking_equals_the_bar_by_bar_sum(
            close in prop::collection::vec(
                prop_oneof![8 => 50.0f64..150.0, 1 => Just(f64::NAN)],
                0..100,
            ),
            cash in -100.0f64..10_000.0,
            size in -120.0f64..120.0,
            entry in 50.0f64..150.0,
            slots in 0usize..100,
        ) {
            let slots = slots.min(close.len());
            let mut b = vec![-1.0; slots];
            let want = fill_equity(&mut b, &close, |c| cash + size * (c - entry));
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            for tier in crate::simd::TIERS {
                let mut a = vec![-1.0; slots];
                let got = crate::simd::capped(tier, || {
                    mark_one_trade(&mut a, &close, cash, size, entry)
                });
                prop_assert_eq!(got, want, "{:?}", tier);
                prop_assert_eq!(bits(&a[..got]), bits(&b[..want]), "{:?}", tier);
            }
        }
    }
}
