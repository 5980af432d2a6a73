//! The vectorized front end: a strategy computes all its decisions at once, as vectors,
//! and [`SignalDriven`] feeds them to the same broker as any per-bar strategy.
//!
//! Because decisions are known up front, the engine skips the bars without one
//! ([`Strategy::idle_until`]), which is what makes sweeps fast; the fills, costs and
//! accounting are the broker's, so a per-bar strategy and its signal twin give identical
//! trades and equity (property-tested for every built-in).

use super::{Context, Init, Strategy};
use crate::broker::OrderRequest;
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

/// Decisions for every bar. On bar `i`: a long entry is tried first, else a short entry;
/// if neither placed an order, a long exit closes a long position and a short exit a short
/// one. Orders fill like any other (next open, or this close with `trade_on_close`).
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
        }
    }

    /// Bars with any signal, ascending.
    fn active(&self) -> Vec<usize> {
        let (a, b, c, d) = (
            &self.long_entry[..],
            &self.long_exit[..],
            &self.short_entry[..],
            &self.short_exit[..],
        );
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
}

/// A strategy that decides in one vectorized pass.
pub trait SignalStrategy: Send {
    /// Computes indicators (registering them with `ctx` for the warm-up, as in
    /// [`Strategy::init`]) and the decision for every bar. The decision at bar `i` must
    /// depend on data up to bar `i` only.
    fn signals(&mut self, ctx: &mut Init<'_>) -> Result<Signals, Error>;
}

/// Runs a [`SignalStrategy`] through the broker.
pub struct SignalDriven<S> {
    inner: S,
    signals: Option<Signals>,
    /// Bars with any signal, ascending: where `next` may act.
    active: Vec<usize>,
    /// Index into `active` of the last answer of `idle_until` (the engine asks in order).
    cursor: std::cell::Cell<usize>,
}

impl<S: SignalStrategy> SignalDriven<S> {
    /// Wraps a signal strategy.
    pub fn new(inner: S) -> Self {
        SignalDriven {
            inner,
            signals: None,
            active: Vec::new(),
            cursor: std::cell::Cell::new(0),
        }
    }

    fn enter(s: &Signals, ctx: &mut Context<'_>, long: bool) -> Result<bool, Error> {
        let pos = ctx.position();
        let same = if long { pos.is_long() } else { pos.is_short() };
        match s.entry_rule {
            EntryRule::Reenter => ctx.close_position(),
            EntryRule::IfNotSameSide if same => return Ok(false),
            EntryRule::IfNotSameSide if !pos.is_flat() => ctx.close_position(),
            EntryRule::IfNotSameSide => {}
            EntryRule::OnlyWhenFlat if !pos.is_flat() => return Ok(false),
            EntryRule::OnlyWhenFlat => {}
        }
        let i = ctx.index();
        let req = OrderRequest {
            size: s.size.get(i),
            sl: s.sl.get(i),
            tp: s.tp.get(i),
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
        let s = self.inner.signals(ctx)?;
        let n = ctx.bars().len();
        for (name, v) in [
            ("long_entry", &s.long_entry),
            ("long_exit", &s.long_exit),
            ("short_entry", &s.short_entry),
            ("short_exit", &s.short_exit),
        ] {
            if v.len() != n {
                return Err(Error::Param {
                    param: name.into(),
                    message: format!("signal vector has {} values for {n} bars", v.len()),
                });
            }
        }
        self.active = s.active();
        self.cursor.set(0);
        self.signals = Some(s);
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let Some(s) = &self.signals else {
            return Ok(());
        };
        let i = ctx.index();
        let mut placed = false;
        if s.long_entry[i] {
            placed = Self::enter(s, ctx, true)?;
        } else if s.short_entry[i] {
            placed = Self::enter(s, ctx, false)?;
        }
        if !placed {
            let pos = ctx.position();
            if (s.long_exit[i] && pos.is_long()) || (s.short_exit[i] && pos.is_short()) {
                ctx.close_position();
            }
        }
        Ok(())
    }

    fn idle_until(&self, from: usize) -> usize {
        next_active(&self.active, &self.cursor, from)
    }
}

/// The first bar in `active` (ascending) at or after `from`, or `usize::MAX`: the answer to
/// [`Strategy::idle_until`] for a strategy that knows its decision bars. The engine asks
/// with increasing `from`, so the search walks on from the last answer (`cursor`,
/// amortised O(1)) and falls back to a binary search if asked out of order.
pub(crate) fn next_active(active: &[usize], cursor: &std::cell::Cell<usize>, from: usize) -> usize {
    let mut k = cursor.get();
    if k > 0 && active.get(k - 1).is_some_and(|&i| i >= from) {
        k = active.partition_point(|&i| i < from);
    }
    while active.get(k).is_some_and(|&i| i < from) {
        k += 1;
    }
    cursor.set(k);
    active.get(k).copied().unwrap_or(usize::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_bars_are_every_bar_with_a_signal() {
        // Sparse and dense stretches, block edges (64) and a tail.
        let n = 64 * 5 + 13;
        let mut s = Signals::none(n, EntryRule::Reenter);
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
        assert_eq!(s.active(), want);
        assert!(Signals::none(7, EntryRule::Reenter).active().is_empty());
    }

    #[test]
    fn next_active_walks_forward_and_handles_out_of_order_questions() {
        let active = [3, 7, 7, 12];
        let c = std::cell::Cell::new(0);
        assert_eq!(next_active(&active, &c, 0), 3);
        assert_eq!(next_active(&active, &c, 4), 7);
        assert_eq!(next_active(&active, &c, 8), 12);
        assert_eq!(next_active(&active, &c, 13), usize::MAX);
        assert_eq!(
            next_active(&active, &c, 5),
            7,
            "asked again from an earlier bar"
        );
        assert_eq!(next_active(&[], &c, 0), usize::MAX);
    }
}
