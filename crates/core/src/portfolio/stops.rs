//! The stop loss and take profit of open positions, as vectorbt 1.2's `from_signals`
//! checks them (`get_stop_price_nb`): on every bar of the asset after the entry, against
//! the bar's open, high and low.

use super::{StopLoss, Stops};

/// One bar's prices.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BarPrices {
    pub(crate) open: f64,
    pub(crate) high: f64,
    pub(crate) low: f64,
}

/// The stops of one open position, with their reference prices.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ActiveStops {
    /// The stop loss and its reference: the entry close, or for a trailing stop the best
    /// high (long) or low (short) since.
    stop_loss: Option<(StopLoss, f64)>,
    /// The take-profit fraction and the entry close.
    take_profit: Option<(f64, f64)>,
}

impl ActiveStops {
    /// The stops of a position entered at the close `entry_close`; `None` without any.
    pub(crate) fn new(stops: Stops, entry_close: f64) -> Option<ActiveStops> {
        (!stops.is_empty()).then_some(ActiveStops {
            stop_loss: stops.stop_loss.map(|s| (s, entry_close)),
            take_profit: stops.take_profit.map(|f| (f, entry_close)),
        })
    }

    /// The price a stop of a long (`long`) or short position fills at on `bar`, if one is
    /// hit: the stop loss first, then the take profit.
    pub(crate) fn hit(&self, long: bool, bar: BarPrices) -> Option<f64> {
        self.stop_loss
            .and_then(|(sl, reference)| stop_price(long, reference, sl.fraction, true, bar))
            .or_else(|| {
                self.take_profit
                    .and_then(|(tp, entry)| stop_price(long, entry, tp, false, bar))
            })
    }

    /// Moves a trailing stop loss's reference to a new best high (long) or low (short).
    /// Called after [`ActiveStops::hit`] on the same bar, as vectorbt does.
    pub(crate) fn trail(&mut self, long: bool, bar: BarPrices) {
        if let Some((sl, reference)) = &mut self.stop_loss
            && sl.trailing
        {
            if long && bar.high > *reference {
                *reference = bar.high;
            } else if !long && bar.low < *reference {
                *reference = bar.low;
            }
        }
    }
}

/// vectorbt's `get_stop_price_nb`: the stop `fraction` below (`below`) or above the
/// reference for a long position (the other way for a short one); the open when the bar
/// opens beyond it, the stop price when the bar's range reaches it, else `None`.
fn stop_price(
    long: bool,
    reference: f64,
    fraction: f64,
    below: bool,
    bar: BarPrices,
) -> Option<f64> {
    if long == below {
        let stop = reference * (1.0 - fraction);
        if bar.open <= stop {
            return Some(bar.open);
        }
        (bar.low <= stop && stop <= bar.high).then_some(stop)
    } else {
        let stop = reference * (1.0 + fraction);
        if stop <= bar.open {
            return Some(bar.open);
        }
        (bar.low <= stop && stop <= bar.high).then_some(stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(open: f64, high: f64, low: f64) -> BarPrices {
        BarPrices { open, high, low }
    }

    fn stops(sl: Option<f64>, trailing: bool, tp: Option<f64>) -> ActiveStops {
        ActiveStops::new(
            Stops {
                stop_loss: sl.map(|fraction| StopLoss { fraction, trailing }),
                take_profit: tp,
            },
            100.0,
        )
        .expect("some stop")
    }

    #[test]
    fn a_stop_inside_the_bar_fills_at_the_stop_and_a_gap_at_the_open() {
        let s = stops(Some(0.125), false, Some(0.25));
        // Long: the stop loss at 87.5, the take profit at 125.
        assert_eq!(s.hit(true, bar(95.0, 99.0, 88.0)), None);
        assert_eq!(s.hit(true, bar(95.0, 99.0, 87.0)), Some(87.5));
        assert_eq!(s.hit(true, bar(85.0, 99.0, 80.0)), Some(85.0));
        assert_eq!(s.hit(true, bar(110.0, 126.0, 105.0)), Some(125.0));
        assert_eq!(s.hit(true, bar(130.0, 135.0, 125.0)), Some(130.0));
        // Both in one bar: the stop loss wins.
        assert_eq!(s.hit(true, bar(100.0, 126.0, 85.0)), Some(87.5));
        // Short: the stop loss at 112.5, the take profit at 75.
        assert_eq!(s.hit(false, bar(105.0, 113.0, 101.0)), Some(112.5));
        assert_eq!(s.hit(false, bar(85.0, 90.0, 74.0)), Some(75.0));
        assert_eq!(s.hit(false, bar(70.0, 72.0, 65.0)), Some(70.0));
    }

    #[test]
    fn a_trailing_stop_follows_the_best_price_after_the_check() {
        let mut s = stops(Some(0.25), true, None);
        assert_eq!(s.hit(true, bar(100.0, 120.0, 80.0)), None);
        s.trail(true, bar(100.0, 120.0, 80.0));
        // Now a quarter under 120.
        assert_eq!(s.hit(true, bar(100.0, 101.0, 89.0)), Some(90.0));
        let mut short = stops(Some(0.25), true, None);
        short.trail(false, bar(100.0, 101.0, 80.0));
        assert_eq!(short.hit(false, bar(95.0, 101.0, 94.0)), Some(100.0));
        // Without trailing the reference stays.
        let mut fixed = stops(Some(0.25), false, None);
        fixed.trail(true, bar(100.0, 120.0, 80.0));
        assert_eq!(fixed.hit(true, bar(100.0, 101.0, 89.0)), None);
    }
}
