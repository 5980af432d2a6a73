//! The bar loop for plain market-order signals ([`crate::Strategy::plain_signals`]),
//! run from the decision list instead of bar by bar.
//!
//! Between decisions only prices change: equity is marked as the idle bars of the bar
//! loop are. On a decision bar the orders `next` would place ([`PlainOrders`]) are filled
//! on the next bar by [`Broker::plain_step`], which does what the queue would do there,
//! down to the warning of an entry that buys no whole unit. Anything else (an order the
//! strategy's context would refuse, no margin at all, liquidation, orders on the last
//! bar) hands the rest of the run to the bar loop at that bar, so the result is the bar
//! loop's, bit for bit, in every case: the signals' lean-path test runs both ways on
//! random decisions under every broker setting.

use super::{Tape, mark_held};
use crate::bars::Bars;
use crate::broker::{Broker, PlainStep};
use crate::strategy::signals::{PlainOrders, SparseSignals};

/// How many decisions ahead [`run`] asks for fill prices.
const PREFETCH_AHEAD: usize = 4;

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
    let decisions = &signals.decisions[first..];
    let (open, close) = (bars.open(), bars.close());
    // The first bar whose equity is not written yet.
    let mut i = start;
    for (k, d) in decisions.iter().enumerate() {
        // The fill prices of a decision a few ahead: scattered through columns that the
        // marking between decisions (and, in a sweep, other runs) push out of cache, each
        // is a miss; asked for early, it arrives while this one is settled.
        if let Some(ahead) = decisions.get(k + PREFETCH_AHEAD)
            && let (Some(o), Some(c)) = (open.get(ahead.bar + 1), close.get(ahead.bar + 1))
        {
            crate::simd::prefetch(o);
            crate::simd::prefetch(c);
        }
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

#[cfg(test)]
mod tests {
    use crate::strategy::{Init, Params, builtin};

    /// `sma_cross` as a sweep builds it gives the engine plain signals, so its runs take
    /// the decision list (whose bits the lean-path property test holds to the bar loop's);
    /// with a stop-loss or a take-profit it does not promise them.
    #[test]
    fn a_sweeps_cross_strategies_promise_plain_signals_and_stops_do_not() {
        let close: Vec<f64> = (0..300)
            .map(|i| 100.0 + 10.0 * (i as f64 / 17.0).sin())
            .collect();
        let bars = crate::Bars::from_closes(&close);
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], bool);
        let cases: [Case<'_>; 5] = [
            ("sma_cross", &[("fast", "5"), ("slow", "20")], true),
            ("ema_cross", &[("fast", "5"), ("slow", "20")], true),
            ("sma_cross", &[("direction", "long_only")], true),
            ("sma_cross", &[("sl_pct", "0.02")], false),
            ("sma_cross", &[("tp_pct", "0.05")], false),
        ];
        for (name, given, plain) in cases {
            let info = builtin::find(name).unwrap();
            let params = Params::from_pairs(info.params, given.iter().copied()).unwrap();
            let mut strategy = info.build_signals(&params).unwrap();
            strategy.init(&mut Init::new(&bars, None)).unwrap();
            let signals = strategy.plain_signals();
            assert_eq!(signals.is_some(), plain, "{name} {given:?}");
            if let Some(s) = signals {
                assert!(
                    !s.decisions.is_empty(),
                    "{name} {given:?}: crosses on a sine"
                );
            }
        }
    }
}
