//! The bar loop for plain market-order signals ([`crate::Strategy::plain_signals`]),
//! run from the decision list instead of bar by bar.
//!
//! Between decisions only prices change: equity is marked as the idle bars of the bar
//! loop are. On a decision bar the orders `next` would place ([`PlainOrders`]) are filled
//! on the next bar by [`Broker::plain_step`], which does what the queue would do there.
//! Anything else (a refused order, a warning, liquidation, orders on the last bar) hands
//! the rest of the run to the bar loop at that bar, so the result is the bar loop's, bit
//! for bit, in every case: the signals' lean-path test runs both ways on random decisions
//! under every broker setting.

use super::{Tape, mark_held};
use crate::bars::Bars;
use crate::broker::{Broker, PlainStep};
use crate::strategy::signals::{PlainOrders, SparseSignals};

/// Runs `signals` from bar `start` (the first bar `next` would see) with no order
/// pending; returns the first bar the bar loop must run (`bars.len()` when done). Equity
/// is written for every bar before it, and no order is pending there.
pub(super) fn run(
    bars: &Bars,
    signals: &SparseSignals,
    broker: &mut Broker,
    tape: &mut Tape<'_>,
    start: usize,
) -> usize {
    let n = bars.len();
    if !broker.orders.is_empty() || start >= n {
        return start;
    }
    let first = signals.decisions.partition_point(|d| d.bar < start);
    // The first bar whose equity is not written yet.
    let mut i = start;
    for d in &signals.decisions[first..] {
        let j = d.bar;
        // Up to and including the decision bar, the position is what it was.
        if i <= j {
            let marked = mark_held(bars, broker, tape, i, j + 1);
            if marked <= j {
                // Equity at or below zero: the bar loop liquidates on that bar.
                return marked;
            }
            i = j + 1;
        }
        let position = broker.trades.iter().fold(0.0, |p, t| p + t.size);
        let orders = PlainOrders::of(d, signals.entry_rule, position);
        let close = orders.close && !broker.trades.is_empty();
        if !close && orders.enter.is_none() {
            continue;
        }
        if j + 1 >= n {
            // Orders on the last bar: the bar loop's ending decides what becomes of them.
            return j;
        }
        let entry = match orders.enter {
            None => None,
            Some(long) => match crate::strategy::checked_size(signals.size.get(j)) {
                Ok(size) => Some(if long { size } else { -size }),
                // The bar loop reports the strategy's error.
                Err(_) => return j,
            },
        };
        match broker.plain_step(bars, j, PlainStep { close, entry }) {
            Some(equity) => {
                tape.set(j + 1, equity);
                i = j + 2;
            }
            None => return j,
        }
    }
    mark_held(bars, broker, tape, i.min(n), n)
}
