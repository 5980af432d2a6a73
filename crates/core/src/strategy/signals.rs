//! The vectorized front end: a strategy computes all its decisions at once, as vectors,
//! and [`SignalDriven`] feeds them to the same broker as any per-bar strategy.
//!
//! Because decisions are known up front, the engine skips the bars without one
//! ([`Strategy::idle_until`]), which is what makes sweeps fast; the fills, costs and
//! accounting are the broker's, so a per-bar strategy and its signal twin give identical
//! trades and equity (property-tested for every built-in).

use super::{Context, Init, Strategy};
use crate::broker::{Expiry, OrderRequest};
use crate::error::Error;

/// A per-bar value that may be absent, the same on every bar, or given per bar.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum PerBar {
    /// No value (the order's default).
    #[default]
    Unset,
    /// The same value on every bar.
    Const(f64),
    /// One value per bar; NaN means unset on that bar.
    Values(Vec<f64>),
}

impl PerBar {
    /// The value at bar `i`, if any.
    pub fn get(&self, i: usize) -> Option<f64> {
        match self {
            PerBar::Unset => None,
            PerBar::Const(v) => Some(*v),
            PerBar::Values(v) => v.get(i).copied().filter(|x| !x.is_nan()),
        }
    }
}

/// What an entry signal does when a position is already open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryRule {
    /// Close whatever is open, then enter (a repeated signal re-enters): the
    /// `position.close(); buy()` idiom of backtesting.py strategies.
    Reenter,
    /// Enter unless already on that side; an opposite position is closed first.
    IfNotSameSide,
    /// Enter only when flat.
    OnlyWhenFlat,
}

/// How entries are placed when they are more than market orders for the whole position:
/// stop or limit entries, their time in force, breakout pairs, and exits that close part of
/// the position. The default is plain market entries and whole exits.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryOrders {
    /// Stop (trigger) price of long entries, read on the signal bar.
    pub long_stop: PerBar,
    /// Limit price of long entries.
    pub long_limit: PerBar,
    /// Stop price of short entries.
    pub short_stop: PerBar,
    /// Limit price of short entries.
    pub short_limit: PerBar,
    /// Stop-loss of short entries when it is not the long entries' (`Unset`: [`Signals::sl`]).
    pub short_sl: PerBar,
    /// Take-profit of short entries (`Unset`: [`Signals::tp`]).
    pub short_tp: PerBar,
    /// Time in force of entry orders.
    pub expiry: Expiry,
    /// A bar with both a long and a short entry places both, as one one-cancels-other
    /// pair (a breakout either way), instead of the long alone.
    pub oco: bool,
    /// Fraction of the position an exit closes, in (0, 1] (backtesting.py's
    /// `position.close(portion)`, whole units rounded half to even, at least one).
    pub exit_portion: f64,
}

impl Default for EntryOrders {
    fn default() -> Self {
        EntryOrders {
            long_stop: PerBar::Unset,
            long_limit: PerBar::Unset,
            short_stop: PerBar::Unset,
            short_limit: PerBar::Unset,
            short_sl: PerBar::Unset,
            short_tp: PerBar::Unset,
            expiry: Expiry::Gtc,
            oco: false,
            exit_portion: 1.0,
        }
    }
}

impl EntryOrders {
    /// Whether an entry may wait in the queue (a stop or limit entry): then a new entry is
    /// not placed while one is pending.
    fn may_wait(&self) -> bool {
        [
            &self.long_stop,
            &self.long_limit,
            &self.short_stop,
            &self.short_limit,
        ]
        .iter()
        .any(|p| **p != PerBar::Unset)
    }
}

/// Decisions for every bar. On bar `i`: a long entry is tried first, else a short entry
/// (both, as a pair, with [`EntryOrders::oco`]); if neither placed an order, a long exit
/// closes a long position and a short exit a short one. Orders fill like any other (next
/// open, or this close with `trade_on_close`). With stop or limit entries
/// ([`EntryOrders`]) no entry is placed while an earlier one is still pending.
#[derive(Debug, Clone, PartialEq)]
pub struct Signals {
    /// Go long.
    pub long_entry: Vec<bool>,
    /// Close a long position.
    pub long_exit: Vec<bool>,
    /// Go short.
    pub short_entry: Vec<bool>,
    /// Close a short position.
    pub short_exit: Vec<bool>,
    /// Order size (fraction of margin below 1, else units); unset = all available margin.
    pub size: PerBar,
    /// Stop-loss price for entries.
    pub sl: PerBar,
    /// Take-profit price for entries.
    pub tp: PerBar,
    /// What entries do when a position is open.
    pub entry_rule: EntryRule,
    /// Stop and limit entries, their expiry, pairs and partial exits.
    pub entry_orders: EntryOrders,
}

impl Signals {
    /// No signals on `n` bars.
    pub fn none(n: usize, entry_rule: EntryRule) -> Signals {
        Signals {
            long_entry: vec![false; n],
            long_exit: vec![false; n],
            short_entry: vec![false; n],
            short_exit: vec![false; n],
            size: PerBar::Unset,
            sl: PerBar::Unset,
            tp: PerBar::Unset,
            entry_rule,
            entry_orders: EntryOrders::default(),
        }
    }

    /// Checks that every vector has one value per bar (`n` bars).
    fn check_len(&self, n: usize) -> Result<(), Error> {
        for (name, v) in [
            ("long_entry", &self.long_entry),
            ("long_exit", &self.long_exit),
            ("short_entry", &self.short_entry),
            ("short_exit", &self.short_exit),
        ] {
            if v.len() != n {
                return Err(Error::Param {
                    param: name.into(),
                    message: format!("signal vector has {} values for {n} bars", v.len()),
                });
            }
        }
        Ok(())
    }

    /// The same decisions, listed only where there is one.
    pub fn into_sparse(self) -> SparseSignals {
        let (a, b, c, d) = (
            &self.long_entry[..],
            &self.long_exit[..],
            &self.short_entry[..],
            &self.short_exit[..],
        );
        let n = a.len().min(b.len()).min(c.len()).min(d.len());
        let decisions = active_bars(a, b, c, d)
            .into_iter()
            .map(|i| Decision {
                bar: i,
                long_entry: a[i],
                long_exit: b[i],
                short_entry: c[i],
                short_exit: d[i],
            })
            .collect();
        SparseSignals {
            n,
            decisions,
            size: self.size,
            sl: self.sl,
            tp: self.tp,
            entry_rule: self.entry_rule,
            risk: None,
            entry_orders: self.entry_orders,
        }
    }
}

/// Bars with any of the four flags set, ascending.
fn active_bars(a: &[bool], b: &[bool], c: &[bool], d: &[bool]) -> Vec<usize> {
    let n = a.len().min(b.len()).min(c.len()).min(d.len());
    let mut out = Vec::new();
    // Signals are rare: OR whole blocks of bars (which vectorises) and look closer only
    // where some is set.
    const W: usize = 64;
    // Whether each bar of the block starting at `k` has a signal.
    let flags = |k: usize| {
        let r = k..k + W;
        (a[r.clone()].iter().zip(&b[r.clone()]))
            .zip(c[r.clone()].iter().zip(&d[r]))
            .map(|((a, b), (c, d))| *a | *b | *c | *d)
    };
    let mut k = 0;
    while k + W <= n {
        if flags(k).fold(false, |acc, f| acc | f) {
            // Branch-free: write every index, advance past those with a signal.
            let mut buf = [0usize; W];
            let mut m = 0;
            for (j, f) in flags(k).enumerate() {
                buf[m & (W - 1)] = k + j;
                m += f as usize;
            }
            out.extend_from_slice(&buf[..m]);
        }
        k += W;
    }
    out.extend((k..n).filter(|&i| a[i] | b[i] | c[i] | d[i]));
    out
}

/// The decisions of one bar (see [`Signals`] for how they combine).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Decision {
    /// The bar.
    pub bar: usize,
    /// Go long.
    pub long_entry: bool,
    /// Close a long position.
    pub long_exit: bool,
    /// Go short.
    pub short_entry: bool,
    /// Close a short position.
    pub short_exit: bool,
}

/// What a decision does when every entry is a plain market order and exits close the
/// whole position ([`crate::Strategy::plain_signals`]): the orders `next` places, which
/// the engine also reads to run such signals without calling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PlainOrders {
    /// Close every open trade (the orders go in front of the queue).
    pub(crate) close: bool,
    /// Enter long (`true`) or short at market, after the closing orders.
    pub(crate) enter: Option<bool>,
}

impl PlainOrders {
    /// The orders of decision `d` under `rule` with a position of `position` units
    /// (negative when short): an entry on the long side if it asks for both; the entry
    /// rule may close the position first or forbid the entry; an exit closes a position on
    /// its side when no entry was placed.
    pub(crate) fn of(d: &Decision, rule: EntryRule, position: f64) -> PlainOrders {
        let (long, short, flat) = (position > 0.0, position < 0.0, position == 0.0);
        let side = if d.long_entry {
            Some(true)
        } else if d.short_entry {
            Some(false)
        } else {
            None
        };
        let mut close = false;
        let enter = side.filter(|&want_long| {
            let same = if want_long { long } else { short };
            match rule {
                EntryRule::Reenter => {
                    close = true;
                    true
                }
                EntryRule::IfNotSameSide if same => false,
                EntryRule::IfNotSameSide => {
                    close = !flat;
                    true
                }
                EntryRule::OnlyWhenFlat => flat,
            }
        });
        if enter.is_none() && ((d.long_exit && long) || (d.short_exit && short)) {
            close = true;
        }
        PlainOrders { close, enter }
    }
}

/// [`Signals`] listed by bar: only the bars with a decision. Decisions are rare (a cross
/// every few dozen bars), so a sweep that builds these directly writes and rereads a few
/// kilobytes per combination instead of four vectors as long as the data.
#[derive(Debug, Clone, PartialEq)]
pub struct SparseSignals {
    /// Number of bars.
    pub n: usize,
    /// Bars with a decision, strictly ascending, each below `n`.
    pub decisions: Vec<Decision>,
    /// Order size, as in [`Signals::size`].
    pub size: PerBar,
    /// Stop-loss price for entries.
    pub sl: PerBar,
    /// Take-profit price for entries.
    pub tp: PerBar,
    /// What entries do when a position is open.
    pub entry_rule: EntryRule,
    /// Entries sized by risk instead of `size` (not kept by [`SparseSignals::into_dense`]).
    pub risk: Option<RiskSizing>,
    /// Stop and limit entries, their expiry, pairs and partial exits.
    pub entry_orders: EntryOrders,
}

/// Risk-based sizing: whole units such that hitting the stop loses `fraction` of the
/// equity at the decision, `floor(equity · fraction ÷ (close · stop_pct))`; no entry when
/// that is below one unit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RiskSizing {
    /// Fraction of equity to lose at the stop.
    pub fraction: f64,
    /// Distance to the stop as a fraction of the decision bar's close.
    pub stop_pct: f64,
}

impl RiskSizing {
    /// Whole units to order at `close` with `equity`, or `None` below one unit.
    pub fn units(self, equity: f64, close: f64) -> Option<f64> {
        let u = (equity * self.fraction / (close * self.stop_pct)).floor();
        (u >= 1.0).then_some(u)
    }
}

impl SparseSignals {
    /// The same decisions as four per-bar vectors.
    pub fn into_dense(self) -> Signals {
        let mut s = Signals::none(self.n, self.entry_rule);
        for d in &self.decisions {
            if d.bar < self.n {
                s.long_entry[d.bar] = d.long_entry;
                s.long_exit[d.bar] = d.long_exit;
                s.short_entry[d.bar] = d.short_entry;
                s.short_exit[d.bar] = d.short_exit;
            }
        }
        s.size = self.size;
        s.sl = self.sl;
        s.tp = self.tp;
        s.entry_orders = self.entry_orders;
        s
    }

    /// Checks the length and that bars ascend strictly within it.
    fn check(&self, n: usize) -> Result<(), Error> {
        let bad = |message: String| {
            Err(Error::Param {
                param: "decisions".into(),
                message,
            })
        };
        if self.n != n {
            return bad(format!("signals cover {} bars, the data has {n}", self.n));
        }
        if let Some(w) = self.decisions.windows(2).find(|w| w[0].bar >= w[1].bar) {
            return bad(format!(
                "bars must ascend strictly, got {} then {}",
                w[0].bar, w[1].bar
            ));
        }
        if let Some(d) = self.decisions.last().filter(|d| d.bar >= n) {
            return bad(format!("bar {} is past the data ({n} bars)", d.bar));
        }
        Ok(())
    }
}

/// A strategy that decides in one vectorized pass.
pub trait SignalStrategy: Send {
    /// Computes indicators (registering them with `ctx` for the warm-up, as in
    /// [`Strategy::init`]) and the decision for every bar. The decision at bar `i` must
    /// depend on data up to bar `i` only.
    fn signals(&mut self, ctx: &mut Init<'_>) -> Result<Signals, Error>;

    /// The same decisions listed by bar, which is what [`SignalDriven`] runs. The default
    /// converts [`SignalStrategy::signals`]; a strategy whose decisions are rare may build
    /// them directly (and derive `signals` from them with [`SparseSignals::into_dense`]).
    fn sparse_signals(&mut self, ctx: &mut Init<'_>) -> Result<SparseSignals, Error> {
        let s = self.signals(ctx)?;
        s.check_len(ctx.bars().len())?;
        Ok(s.into_sparse())
    }
}

/// Runs a [`SignalStrategy`] through the broker.
pub struct SignalDriven<S> {
    inner: S,
    signals: Option<SparseSignals>,
    /// Index into the decisions of the last answer of `idle_until` (the engine asks in
    /// order).
    cursor: std::cell::Cell<usize>,
    /// Every entry is a plain market order (no stop or limit entries, expiry, pairs, SL,
    /// TP or risk sizing) and exits close whole positions: `next` takes the short way.
    plain: bool,
}

impl<S: SignalStrategy> SignalDriven<S> {
    /// Wraps a signal strategy.
    pub fn new(inner: S) -> Self {
        SignalDriven {
            inner,
            signals: None,
            cursor: std::cell::Cell::new(0),
            plain: false,
        }
    }

    /// Applies the entry rule before an entry on one side: closes what it must; false
    /// when the rule forbids the entry.
    #[inline]
    fn make_room(s: &SparseSignals, ctx: &mut Context<'_>, long: bool) -> bool {
        let pos = ctx.position();
        let same = if long { pos.is_long() } else { pos.is_short() };
        match s.entry_rule {
            EntryRule::Reenter => ctx.close_position(),
            EntryRule::IfNotSameSide if same => return false,
            EntryRule::IfNotSameSide if !pos.is_flat() => ctx.close_position(),
            EntryRule::IfNotSameSide => {}
            EntryRule::OnlyWhenFlat if !pos.is_flat() => return false,
            EntryRule::OnlyWhenFlat => {}
        }
        true
    }

    /// Tries the entry on one side; whether an order was placed. `group` pairs it with
    /// the other side's entry of this bar.
    fn enter(
        s: &SparseSignals,
        ctx: &mut Context<'_>,
        long: bool,
        group: Option<crate::broker::OcoGroup>,
    ) -> Result<bool, Error> {
        let i = ctx.index();
        let e = &s.entry_orders;
        let (stop, limit) = if long {
            (e.long_stop.get(i), e.long_limit.get(i))
        } else {
            (e.short_stop.get(i), e.short_limit.get(i))
        };
        let wants = |p: &PerBar| *p != PerBar::Unset;
        let priced = if long {
            wants(&e.long_stop) || wants(&e.long_limit)
        } else {
            wants(&e.short_stop) || wants(&e.short_limit)
        };
        // A stop or limit entry without a price on this bar (an indicator still warming up)
        // is no entry.
        if priced && stop.is_none() && limit.is_none() {
            return Ok(false);
        }
        if !Self::make_room(s, ctx, long) {
            return Ok(false);
        }
        let size = match s.risk {
            Some(r) => match r.units(ctx.equity(), ctx.close()[i]) {
                Some(u) => Some(u),
                None => return Ok(false),
            },
            None => s.size.get(i),
        };
        let (sl, tp) = if long {
            (s.sl.get(i), s.tp.get(i))
        } else {
            (
                e.short_sl.get(i).or_else(|| s.sl.get(i)),
                e.short_tp.get(i).or_else(|| s.tp.get(i)),
            )
        };
        let sign = if long { 1.0 } else { -1.0 };
        if crate::broker::lean_fills()
            && stop.is_none()
            && limit.is_none()
            && sl.is_none()
            && tp.is_none()
            && e.expiry == Expiry::Gtc
            && group.is_none()
        {
            // A plain market order (the usual signal): the same order, placed without
            // building the request.
            ctx.market_order(sign, size)?;
            return Ok(true);
        }
        let req = OrderRequest {
            size,
            sl,
            tp,
            stop,
            limit,
            expiry: e.expiry,
            oco: group,
            ..OrderRequest::default()
        };
        if long {
            ctx.buy_with(req)?
        } else {
            ctx.sell_with(req)?
        };
        Ok(true)
    }
}

impl<S: SignalStrategy> Strategy for SignalDriven<S> {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        let s = self.inner.sparse_signals(ctx)?;
        s.check(ctx.bars().len())?;
        self.cursor.set(0);
        self.plain = s.entry_orders == EntryOrders::default()
            && s.risk.is_none()
            && s.sl == PerBar::Unset
            && s.tp == PerBar::Unset;
        self.signals = Some(s);
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let Some(s) = &self.signals else {
            return Ok(());
        };
        let i = ctx.index();
        let k = next_active(&s.decisions, |d| d.bar, &self.cursor, i);
        let Some(d) = s.decisions.get(k).filter(|d| d.bar == i) else {
            return Ok(());
        };
        if self.plain && crate::broker::lean_fills() {
            // No entry waits, none is paired and exits close everything: as below.
            let orders = PlainOrders::of(d, s.entry_rule, ctx.position().size);
            if orders.close {
                ctx.close_position();
            }
            if let Some(long) = orders.enter {
                ctx.market_order(if long { 1.0 } else { -1.0 }, s.size.get(i))?;
            }
            return Ok(());
        }
        let e = &s.entry_orders;
        // A stop or limit entry still waiting holds back new entries.
        let waiting = e.may_wait() && ctx.orders().iter().any(|o| o.parent_trade().is_none());
        let mut placed = false;
        if !waiting && e.oco && d.long_entry && d.short_entry {
            let group = Some(ctx.oco_group());
            placed = Self::enter(s, ctx, true, group)?;
            placed |= Self::enter(s, ctx, false, group)?;
        } else if !waiting && d.long_entry {
            placed = Self::enter(s, ctx, true, None)?;
        } else if !waiting && d.short_entry {
            placed = Self::enter(s, ctx, false, None)?;
        }
        if !placed {
            let pos = ctx.position();
            if (d.long_exit && pos.is_long()) || (d.short_exit && pos.is_short()) {
                ctx.close_position_portion(e.exit_portion);
            }
        }
        Ok(())
    }

    fn plain_signals(&self) -> Option<&SparseSignals> {
        if self.plain {
            self.signals.as_ref()
        } else {
            None
        }
    }

    fn idle_until(&self, from: usize) -> usize {
        let Some(s) = &self.signals else {
            return from;
        };
        let k = next_active(&s.decisions, |d| d.bar, &self.cursor, from);
        s.decisions.get(k).map_or(usize::MAX, |d| d.bar)
    }
}

/// The index of the first item of `items` (ascending by `bar`) at or after bar `from`, or
/// `items.len()`: how a strategy that knows its decision bars answers
/// [`Strategy::idle_until`]. The engine asks with increasing `from`, so the search walks on
/// from the last answer (`cursor`, amortised O(1)) and falls back to a binary search if
/// asked out of order.
pub(crate) fn next_active<T>(
    items: &[T],
    bar: impl Fn(&T) -> usize,
    cursor: &std::cell::Cell<usize>,
    from: usize,
) -> usize {
    let mut k = cursor.get().min(items.len());
    if k > 0 && bar(&items[k - 1]) >= from {
        k = items.partition_point(|t| bar(t) < from);
    }
    while items.get(k).is_some_and(|t| bar(t) < from) {
        k += 1;
    }
    cursor.set(k);
    k
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sparse_form_lists_every_bar_with_a_signal_and_converts_back() {
        // Sparse and dense stretches, block edges (64) and a tail.
        let n = 64 * 5 + 13;
        let mut s = Signals::none(n, EntryRule::Reenter);
        s.size = PerBar::Const(0.5);
        let mut want = Vec::new();
        for i in 0..n {
            let (a, b, c, d) = (
                i % 97 == 3,
                i % 130 == 64,
                (130..200).contains(&i) && i % 3 == 0,
                i + 1 == n,
            );
            s.long_entry[i] = a;
            s.long_exit[i] = b;
            s.short_entry[i] = c;
            s.short_exit[i] = d;
            if a | b | c | d {
                want.push(i);
            }
        }
        let sparse = s.clone().into_sparse();
        assert_eq!(
            sparse.decisions.iter().map(|d| d.bar).collect::<Vec<_>>(),
            want
        );
        assert!(sparse.check(n).is_ok());
        assert_eq!(sparse.into_dense(), s);
        let none = Signals::none(7, EntryRule::Reenter).into_sparse();
        assert!(none.decisions.is_empty());
        assert_eq!(none.n, 7);
    }

    #[test]
    fn sparse_signals_out_of_order_or_range_are_rejected_by_name() {
        let mut s = Signals::none(10, EntryRule::Reenter).into_sparse();
        let at = |bar| Decision {
            bar,
            long_entry: true,
            ..Decision::default()
        };
        s.decisions = vec![at(4), at(4)];
        let e = s.check(10).unwrap_err().to_string();
        assert!(e.contains("decisions") && e.contains("ascend"), "{e}");
        s.decisions = vec![at(4), at(10)];
        let e = s.check(10).unwrap_err().to_string();
        assert!(e.contains("past the data (10 bars)"), "{e}");
        s.decisions = vec![at(4)];
        let e = s.check(11).unwrap_err().to_string();
        assert!(e.contains("cover 10 bars") && e.contains("11"), "{e}");
    }

    /// A signal strategy that hands back the decisions it was made with.
    struct Given(SparseSignals);

    impl SignalStrategy for Given {
        fn signals(&mut self, _: &mut Init<'_>) -> Result<Signals, Error> {
            Ok(self.0.clone().into_dense())
        }
        fn sparse_signals(&mut self, _: &mut Init<'_>) -> Result<SparseSignals, Error> {
            Ok(self.0.clone())
        }
    }

    /// A run's every output, floats by their bits, streamed or whole.
    fn run_bits(bars: &crate::Bars, s: &SparseSignals, cfg: &crate::BrokerConfig) -> String {
        let whole = crate::engine::run(bars, &mut SignalDriven::new(Given(s.clone())), cfg);
        let mut blocks = Vec::new();
        let streamed = crate::engine::run_streaming(
            bars,
            &mut SignalDriven::new(Given(s.clone())),
            cfg,
            None,
            Vec::new(),
            &mut |b, _| blocks.extend(b.iter().map(|x| x.to_bits())),
        );
        let bits = |r: &Result<crate::RunResult, Error>| match r {
            Ok(r) => {
                let t: Vec<_> = r
                    .trades
                    .iter()
                    .map(|t| {
                        let p = [t.size, t.entry_price, t.exit_price, t.commission];
                        (p.map(f64::to_bits), t.entry_bar, t.exit_bar, t.sl, t.tp)
                    })
                    .collect();
                let e: Vec<_> = r.equity.iter().map(|x| x.to_bits()).collect();
                format!("{r:?} {t:?} {e:?}")
            }
            Err(e) => format!("error: {e}"),
        };
        format!("{} | {} {blocks:?}", bits(&whole), bits(&streamed))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]
        /// The lean paths for plain market orders (placing them, and filling the queues they
        /// leave: a reversal, an exit, an entry while flat) give every bit of the general
        /// broker's result: trades, equity, warnings, ids. Random decisions under every
        /// broker setting, with the orders that must take the general path mixed in (SL/TP,
        /// stop entries, expiries, pairs, partial exits, risk sizing, refused sizes).
        #[test]
        fn lean_market_orders_equal_the_general_broker(
            seed in 0u64..u64::MAX,
            // Some runs longer than a streamed block of equity (2048 bars).
            n in proptest::prop_oneof![4 => 2usize..160, 1 => 2000usize..4500],
            density in 1u64..8,
            rule in 0usize..3,
            size_kind in 0usize..6,
            extra in 0usize..10,
            broker in proptest::collection::vec(0u64..1000, 12),
        ) {
            use crate::broker::{BrokerConfig, Commission};
            let mut x = seed | 1;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let mut unit = move || (next() >> 11) as f64 / (1u64 << 53) as f64;
            // A random walk that gaps between bars.
            let (mut t, mut o, mut h, mut l, mut c) = (vec![], vec![], vec![], vec![], vec![]);
            let mut p = 100.0;
            for i in 0..n {
                let open = p * (1.0 + (unit() - 0.5) * 0.02);
                let close = open * (1.0 + (unit() - 0.5) * 0.04);
                t.push(i as i64 * 60_000_000_000);
                o.push(open);
                c.push(close);
                h.push(open.max(close) * (1.0 + unit() * 0.01));
                l.push(open.min(close) * (1.0 - unit() * 0.01));
                p = close;
            }
            let bars = crate::Bars::try_new(t, o, h, l, c.clone(), vec![0.0; n]).unwrap();
            let decisions = (0..n)
                .filter(|_| unit() * density as f64 <= 1.0)
                .map(|bar| {
                    let r = next();
                    Decision {
                        bar,
                        long_entry: r & 3 == 0,
                        short_entry: r & 12 == 0,
                        long_exit: r & 48 == 0,
                        short_exit: r & 192 == 0,
                    }
                })
                .collect();
            let per_bar = |scale: f64, unit: &mut dyn FnMut() -> f64| {
                PerBar::Values(
                    c.iter()
                        .map(|&p| if unit() < 0.3 { f64::NAN } else { p * (1.0 + scale * unit()) })
                        .collect(),
                )
            };
            let size = match size_kind {
                0 | 1 => PerBar::Unset,
                2 => PerBar::Const(0.25 + 0.7 * unit()),
                3 => PerBar::Const(1.0 + (next() % 40) as f64),
                4 => PerBar::Values((0..n).map(|_| [0.5, 3.0, f64::NAN, 0.9][next() as usize % 4]).collect()),
                _ => PerBar::Const(1.5),
            };
            let mut s = SparseSignals {
                n,
                decisions,
                size,
                sl: PerBar::Unset,
                tp: PerBar::Unset,
                entry_rule: [EntryRule::Reenter, EntryRule::IfNotSameSide, EntryRule::OnlyWhenFlat][rule],
                risk: None,
                entry_orders: EntryOrders::default(),
            };
            match extra {
                0 => s.sl = per_bar(-0.05, &mut unit),
                1 => s.tp = per_bar(0.05, &mut unit),
                2 => s.entry_orders.long_stop = per_bar(0.01, &mut unit),
                3 => s.entry_orders.expiry = Expiry::Bars(std::num::NonZeroU32::new(2).unwrap()),
                4 => s.entry_orders.oco = true,
                5 => s.entry_orders.exit_portion = 0.5,
                6 if s.size == PerBar::Unset => {
                    s.risk = Some(RiskSizing { fraction: 0.02, stop_pct: 0.01 });
                }
                _ => {}
            }
            let b = |k: usize, m: u64| broker[k] % m;
            let commission = match b(0, 4) {
                0 => Commission::None,
                1 => Commission::Relative(0.002),
                2 => Commission::FixedPlusRelative { fixed: 1.5, rate: 0.001 },
                _ => Commission::Custom(std::sync::Arc::new(|s: f64, p: f64| (s.abs() * p * 0.001).max(1.0))),
            };
            let cfg = BrokerConfig {
                cash: [10_000.0, 150.0, 1e6, 99.5][b(1, 4) as usize],
                commission,
                spread: [0.0, 0.001][b(2, 2) as usize],
                slippage: [0.0, 0.0005][b(3, 2) as usize],
                margin: [1.0, 0.5][b(4, 2) as usize],
                trade_on_close: b(5, 3) == 0,
                hedging: b(6, 3) == 0,
                exclusive_orders: b(7, 4) == 0,
                finalize_trades: b(8, 2) == 0,
                same_bar_close_fills: b(9, 4) == 0,
                continuous_sizes: b(10, 3) == 0,
                ..BrokerConfig::default()
            };
            let lean = crate::broker::with_lean_fills(true, || run_bits(&bars, &s, &cfg));
            let general = crate::broker::with_lean_fills(false, || run_bits(&bars, &s, &cfg));
            proptest::prop_assert_eq!(lean, general);
        }
    }

    #[test]
    fn next_active_walks_forward_and_handles_out_of_order_questions() {
        let active = [3, 7, 7, 12];
        let c = std::cell::Cell::new(0);
        let next = |from| next_active(&active, |&b| b, &c, from);
        assert_eq!(next(0), 0);
        assert_eq!(next(4), 1);
        assert_eq!(next(8), 3);
        assert_eq!(next(13), 4, "none left");
        assert_eq!(next(5), 1, "asked again from an earlier bar");
        assert_eq!(next_active(&[] as &[usize], |&b| b, &c, 0), 0);
    }
}
