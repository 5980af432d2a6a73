//! A signal's plain market orders placed and filled in one step, without the queue.
//!
//! A signal strategy whose entries are plain market orders ([`crate::Strategy::plain_signals`])
//! leaves the broker, on each decision bar, at most an order closing the one open trade
//! and a market entry; both fill at the next bar's open. [`Broker::plain_step`] computes
//! that fill directly: the same arithmetic in the same order as queueing the orders and
//! processing the next bar (`close_trade_order`, `new_market`, `next_bar` through
//! `fill_plain`), so every bit, id and count is theirs. It is what lets a sweep run a
//! combination without building an order per signal.

use super::process::closing_size;
use super::{Broker, ClosedTrade, Trade, TradeId, round_ties_even};
use crate::bars::Bars;
use crate::warning::RunWarning;

/// What a plain decision leaves in the queue: an order closing the open trade whole (in
/// front), then a market entry of a signed size (a fraction of the available margin, or
/// whole units, as checked by the strategy's context).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PlainStep {
    /// Close the open trade.
    pub(crate) close: bool,
    /// Enter with this signed size.
    pub(crate) entry: Option<f64>,
}

impl Broker {
    /// Places `step`'s orders on decision bar `j` and fills them on bar `j + 1`; returns
    /// that bar's equity at its close. An entry that buys no whole unit, or more than the
    /// margin allows, is dropped with the queue's warning. `None`, having changed nothing,
    /// for a step the queue would handle any other way (no margin at all, liquidation, more
    /// than one trade, an order the lean paths leave to the general ones): the caller then
    /// runs bar `j` through the bar loop instead.
    ///
    /// Expects no pending orders and `j + 1` within `bars`.
    pub(crate) fn plain_step(&mut self, bars: &Bars, j: usize, step: PlainStep) -> Option<f64> {
        debug_assert!(self.orders.is_empty() && j + 1 < bars.len());
        if self.cfg.exclusive_orders {
            return None;
        }
        let f = j + 1;
        let (open, close) = (bars.open(), bars.close());
        // The order closing the open trade (`close_trade_order` with portion 1), which
        // `fill_plain` takes only when it closes the trade whole and the trade has no
        // SL/TP orders.
        let closing = match (step.close, self.trades.as_slice()) {
            (false, []) => None,
            (true, [t]) => {
                let units = if self.cfg.continuous_sizes {
                    t.size.abs()
                } else {
                    round_ties_even(t.size.abs()).max(1.0)
                };
                let size = units.copysign(-t.size);
                let whole = t.size + closing_size(size, t.size) == 0.0;
                if !whole || t.sl_order.is_some() || t.tp_order.is_some() {
                    return None;
                }
                Some((t, size))
            }
            _ => return None,
        };
        if closing.is_none() && step.entry.is_none() {
            return None;
        }
        // `new_market`'s lean path: a finite price to size against at the decision.
        if let Some(size) = step.entry {
            let reference = self.adjusted_price(size, close[j]);
            if !(size.is_finite() && size != 0.0 && reference.is_finite()) {
                return None;
            }
        }

        // `fill_plain` on bar `f`: the fill price, then the close, then the entry.
        let (price, at) = if self.cfg.trade_on_close {
            (close[j], j)
        } else {
            (open[f], f)
        };
        let mut cash = self.cash;
        let closed = closing.map(|(t, size)| {
            // `fill_closing` → `reduce_trade` (nothing left) → `close_trade`.
            let size = closing_size(size, t.size);
            let exit = self.slipped(price, size);
            let exit_commission = self.cfg.commission.of(t.size, exit);
            let entry_commission = self.cfg.commission.of(t.size, t.entry_price);
            cash -= exit_commission;
            cash += t.pl_at(exit);
            ClosedTrade {
                size: t.size,
                entry_bar: t.entry_bar,
                exit_bar: at,
                entry_price: t.entry_price,
                exit_price: exit,
                sl: t.sl,
                tp: t.tp,
                commission: entry_commission + exit_commission,
                tag: None,
            }
        });
        // `fill_standalone`, with no trade left to net against: the margin available is
        // the cash (`margin_available` with no trades; at zero or below the general path
        // reports it). An order that buys no whole unit, or more than the margin allows,
        // is dropped with its warning.
        let mut refused = None;
        let opened = match step.entry {
            None => None,
            Some(ordered) => {
                let adjusted = self.adjusted_price(ordered, price);
                let per_unit = adjusted + self.cfg.commission.of(ordered, price) / ordered.abs();
                let available = cash.max(0.0);
                if available <= 0.0 {
                    return None;
                }
                let mut size = ordered;
                if -1.0 < size && size < 1.0 {
                    let (spendable, units) = self.units_for(available, size, per_unit);
                    size = units.copysign(size);
                    if units == 0.0 {
                        refused = Some(RunWarning::NoWholeUnit {
                            bar: f,
                            equity: cash,
                            available,
                            spendable,
                            unit_cost: per_unit,
                        });
                    }
                }
                let slack = if self.cfg.continuous_sizes {
                    1.0 + 1e-12
                } else {
                    1.0
                };
                if refused.is_none() && size.abs() * per_unit > available * self.leverage * slack {
                    refused = Some(RunWarning::InsufficientMargin {
                        bar: f,
                        units: size,
                        cost: size.abs() * per_unit,
                        spendable: available * self.leverage,
                    });
                }
                if refused.is_none() {
                    cash -= self.cfg.commission.of(size, adjusted);
                    Some((size, adjusted))
                } else {
                    None
                }
            }
        };
        // `next_bar` marks equity at the close; at or below zero it liquidates.
        let equity = match opened {
            Some((size, entry)) => cash + size * (close[f] - entry),
            None => cash,
        };
        if equity <= 0.0 {
            return None;
        }

        // Commit, taking ids in the order the queue takes them: the closing order, the
        // entry order, then the new trade.
        if closed.is_some() {
            self.fresh_id();
        }
        if step.entry.is_some() {
            self.fresh_id();
            self.placed += 1;
        }
        let new = opened.map(|(size, entry_price)| Trade {
            id: TradeId(self.fresh_id()),
            size,
            entry_price,
            entry_bar: at,
            tag: None,
            sl: None,
            tp: None,
            sl_order: None,
            tp_order: None,
        });
        // A reversal replaces the one trade in its place; otherwise one leaves or arrives.
        // The closed trade is pushed as built (its tag `None`) and given the trade's tag
        // after: setting the tag just before the push made the push's copy read bytes
        // still on their way to memory, a stall on every trade (measured).
        let tag = match (closed, new) {
            (Some(c), Some(new)) => {
                self.closed.push(c);
                std::mem::replace(&mut self.trades[0], new).tag
            }
            (Some(c), None) => {
                self.closed.push(c);
                self.trades.pop().expect("the trade closed above").tag
            }
            (None, Some(new)) => {
                self.trades.push(new);
                None
            }
            (None, None) => None,
        };
        if tag.is_some()
            && let Some(c) = self.closed.last_mut()
        {
            c.tag = tag;
        }
        if let Some(w) = refused.filter(|_| self.keep_warnings) {
            self.warnings.push(w);
        }
        self.cash = cash;
        self.i = f;
        Some(equity)
    }
}
