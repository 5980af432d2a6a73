//! vectorbt's trailing stop loss (`from_signals(..., sl_stop=f, sl_trail=True)`) around any
//! strategy whose entries carry an `sl_pct` stop: the stop sits the fraction `f` below the
//! best price since the entry — for a long trade the highest high, for a short one the
//! lowest low (then `f` above it) — starting from the close of the bar the trade was
//! entered on. As in `portfolio/stops.rs` (vectorbt's rule, checked against vectorbt
//! itself), a bar's high or low moves the reference only after the bar's own stop check,
//! so a new best price counts from the next bar on.
//!
//! # Formula
//!
//! For a trade entered at the close `c_e` of bar `e`, checked on bars `k > e`:
//! `R_e = c_e`, `R_k = max(R_{k−1}, high_k)` (long; `min` with `low_k` when short), and the
//! stop on bar `k + 1` is `R_k · (1 − f)` (long) or `R_k · (1 + f)` (short) — the same
//! product vectorbt and the entry's own `sl_pct` stop compute, so the prices are equal to
//! the bit.
//!
//! The rule needs the entry bar's close to be the entry (fills at the signal bar's close:
//! `--profile vectorbt`, or backtesting.py's `trade_on_close`); a trade filled at a bar's
//! open has no such close before its first check, and is refused with an error.

use crate::broker::TradeId;
use crate::error::Error;
use crate::strategy::{Context, Init, Strategy};

/// A strategy whose trades' stop losses trail as vectorbt's `sl_trail=True`.
pub(crate) struct SlTrail {
    inner: Box<dyn Strategy>,
    /// The stop's distance from the reference, as a fraction (the strategy's `sl_pct`).
    fraction: f64,
    /// Each open trade's direction (true: long) and reference price after the last bar.
    refs: Vec<(TradeId, bool, f64)>,
    /// The next bar's references (kept to reuse its allocation).
    spare: Vec<(TradeId, bool, f64)>,
    /// A trade or an order was open after the last `next`: every bar must move its stop.
    trading: bool,
}

impl SlTrail {
    /// Wraps `inner`, whose entries set their stop loss `fraction` from the entry close.
    pub(crate) fn new(inner: Box<dyn Strategy>, fraction: f64) -> SlTrail {
        SlTrail {
            inner,
            fraction,
            refs: Vec::new(),
            spare: Vec::new(),
            trading: false,
        }
    }
}

impl Strategy for SlTrail {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        self.refs.clear();
        self.trading = false;
        self.inner.init(ctx)
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let i = ctx.index();
        let (high, low, close) = (ctx.high()[i], ctx.low()[i], ctx.close());
        let mut next = std::mem::take(&mut self.spare);
        next.clear();
        for t in ctx.trades() {
            if t.entry_bar >= i {
                return Err(Error::Param {
                    param: "sl_trail".into(),
                    message: "vectorbt's trailing stop starts from the close the trade was \
                              entered at: it needs fills at the signal bar's close \
                              (--profile vectorbt, or --trade-on-close)"
                        .into(),
                });
            }
            let long = t.is_long();
            let before = self
                .refs
                .iter()
                .find(|r| r.0 == t.id())
                .map_or(close[t.entry_bar], |r| r.2);
            // This bar was checked against `before`; its best price counts from the next.
            let reference = if long && high > before {
                high
            } else if !long && low < before {
                low
            } else {
                before
            };
            next.push((t.id(), long, reference));
        }
        self.spare = std::mem::replace(&mut self.refs, next);
        for k in 0..self.refs.len() {
            let (id, long, reference) = self.refs[k];
            let sl = if long {
                reference * (1.0 - self.fraction)
            } else {
                reference * (1.0 + self.fraction)
            };
            let current = ctx
                .trades()
                .iter()
                .find(|t| t.id() == id)
                .and_then(|t| t.sl);
            if current != Some(sl) {
                ctx.set_sl(id, Some(sl))?;
            }
        }
        self.inner.next(ctx)?;
        self.trading = !ctx.trades().is_empty() || !ctx.orders().is_empty();
        Ok(())
    }

    /// Every bar with an open trade (or an order that may open one) moves the stop, so
    /// none is skipped then; flat, only the strategy's own decisions matter.
    fn idle_until(&self, from: usize) -> usize {
        if self.trading {
            from
        } else {
            self.inner.idle_until(from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bars::Bars;
    use crate::broker::{BrokerConfig, OrderRequest};
    use crate::engine::run;

    /// Buys on bar 1 with a stop `sl` below the close, then does nothing.
    struct BuyOnce(f64);

    impl Strategy for BuyOnce {
        fn init(&mut self, _: &mut Init<'_>) -> Result<(), Error> {
            Ok(())
        }
        fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
            if ctx.index() == 1 {
                let c = ctx.close()[1];
                ctx.buy_with(OrderRequest {
                    sl: Some(c * (1.0 - self.0)),
                    ..OrderRequest::default()
                })?;
            }
            Ok(())
        }
    }

    fn bars(ohlc: &[(f64, f64, f64, f64)]) -> Bars {
        let n = ohlc.len();
        Bars::try_new(
            (0..n as i64).map(|i| i * 86_400_000_000_000).collect(),
            ohlc.iter().map(|b| b.0).collect(),
            ohlc.iter().map(|b| b.1).collect(),
            ohlc.iter().map(|b| b.2).collect(),
            ohlc.iter().map(|b| b.3).collect(),
            vec![0.0; n],
        )
        .unwrap()
    }

    fn vectorbt() -> BrokerConfig {
        BrokerConfig {
            same_bar_close_fills: true,
            continuous_sizes: true,
            ..BrokerConfig::default()
        }
    }

    #[test]
    fn the_stop_follows_the_highest_high_from_the_next_bar() {
        // Entry at the close 100 of bar 1; 10 % stop: 90. Bar 2's high 120 is checked
        // against 90 (not hit at 95), then lifts the stop to 108, hit on bar 3 at 108.
        let b = bars(&[
            (100.0, 101.0, 99.0, 100.0),
            (100.0, 101.0, 99.0, 100.0),
            (100.0, 120.0, 95.0, 115.0),
            (115.0, 116.0, 100.0, 110.0),
            (110.0, 111.0, 109.0, 110.0),
        ]);
        let mut s = SlTrail::new(Box::new(BuyOnce(0.1)), 0.1);
        let res = run(&b, &mut s, &vectorbt()).unwrap();
        assert_eq!(res.trades.len(), 1);
        let t = &res.trades[0];
        assert_eq!((t.entry_bar, t.exit_bar), (1, 3));
        assert_eq!(t.exit_price, 120.0 * (1.0 - 0.1));
    }

    #[test]
    fn a_gap_through_the_trailed_stop_fills_at_the_open() {
        let b = bars(&[
            (100.0, 101.0, 99.0, 100.0),
            (100.0, 101.0, 99.0, 100.0),
            (100.0, 120.0, 95.0, 115.0),
            (105.0, 106.0, 100.0, 101.0),
        ]);
        let mut s = SlTrail::new(Box::new(BuyOnce(0.1)), 0.1);
        let res = run(&b, &mut s, &vectorbt()).unwrap();
        assert_eq!(res.trades[0].exit_price, 105.0);
    }

    #[test]
    fn fills_at_the_next_open_are_refused() {
        let b = bars(&[(100.0, 101.0, 99.0, 100.0); 4]);
        let mut s = SlTrail::new(Box::new(BuyOnce(0.1)), 0.1);
        let err = run(&b, &mut s, &BrokerConfig::default()).unwrap_err();
        assert!(err.to_string().contains("--profile vectorbt"), "{err}");
    }
}
