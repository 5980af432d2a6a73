//! Trailing stops for any strategy, as backtesting.py's `lib.TrailingStrategy`: at every
//! bar, before the strategy decides, each open trade's stop-loss moves to `n_atr` average
//! true ranges from the close — only in the trade's favour (up for a long, down for a
//! short). The ATR is a 100-bar mean of true ranges (pandas' rolling mean, from the second
//! bar, the first bars back-filled with the first mean); a percentage distance is converted
//! to ATRs once, as `mean(close · pct / ATR)` over the whole series (backtesting.py's
//! `set_trailing_pct`, exact only on average). A new trade gets its first trailing stop at
//! the close of the bar it fills on.

use super::{Context, Init, Strategy};
use crate::error::Error;
use crate::indicators;

/// The ATR window of backtesting.py's `TrailingStrategy.set_atr_periods` default.
pub const ATR_PERIODS: usize = 100;

/// How far behind the close a trailing stop sits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TrailDistance {
    /// A multiple of the ATR (`set_trailing_sl(n_atr)`).
    Atr(f64),
    /// A fraction of the close, converted to ATRs on average (`set_trailing_pct(pct)`).
    Pct(f64),
}

/// A strategy with trailing stops on its trades.
pub struct Trailing {
    inner: Box<dyn Strategy>,
    distance: TrailDistance,
    /// Shared by every run of a sweep on the same bars.
    atr: crate::strategy::Series,
    n_atr: f64,
    /// The stops to set this bar (kept to reuse its allocation).
    moves: Vec<(crate::broker::TradeId, f64)>,
    /// Trades were open after the last `next`: every bar must move their stops.
    trading: bool,
}

impl Trailing {
    /// Wraps `inner`.
    pub fn new(inner: Box<dyn Strategy>, distance: TrailDistance) -> Trailing {
        Trailing {
            inner,
            distance,
            atr: crate::strategy::Series::from(Vec::new()),
            n_atr: f64::NAN,
            moves: Vec::new(),
            trading: false,
        }
    }
}

/// backtesting.py's ATR for trailing stops: true ranges from the second bar (the first has
/// no previous close), their `periods`-bar rolling mean, back-filled.
pub fn trailing_atr(high: &[f64], low: &[f64], close: &[f64], periods: usize) -> Vec<f64> {
    let n = close.len();
    let mut out = vec![f64::NAN; n];
    if n < 2 {
        return out;
    }
    let tr: Vec<f64> = (1..n)
        .map(|i| {
            let c = close[i - 1];
            (high[i] - low[i])
                .max((c - high[i]).abs())
                .max((c - low[i]).abs())
        })
        .collect();
    let mean = indicators::sma(&tr, periods);
    out[1..].copy_from_slice(&mean);
    // Back-fill: every bar before the first mean takes it.
    if let Some(first) = out.iter().position(|x| !x.is_nan()) {
        let v = out[first];
        out[..first].fill(v);
    }
    out
}

impl Strategy for Trailing {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        self.inner.init(ctx)?;
        let b = ctx.bars();
        self.atr = ctx.shared(&format!("TRAILING_ATR({ATR_PERIODS})"), || {
            trailing_atr(b.high(), b.low(), b.close(), ATR_PERIODS)
        });
        self.n_atr = match self.distance {
            TrailDistance::Atr(n) => n,
            TrailDistance::Pct(p) => {
                // One pass over the whole series: shared, as the ATR, by a sweep's runs.
                let atr = &self.atr;
                let key = format!("TRAILING_PCT_N_ATR({ATR_PERIODS},{:#x})", p.to_bits());
                ctx.shared(&key, || {
                    let close = b.close();
                    let s: f64 = close.iter().zip(atr.iter()).map(|(c, a)| c * p / a).sum();
                    vec![s / close.len().max(1) as f64]
                })[0]
            }
        };
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let i = ctx.index();
        let close = ctx.close()[i];
        let step = self.atr.get(i).copied().unwrap_or(f64::NAN) * self.n_atr;
        if step.is_finite() {
            self.moves.clear();
            self.moves.extend(ctx.trades().iter().map(|t| {
                let sl = if t.is_long() {
                    t.sl.unwrap_or(f64::NEG_INFINITY).max(close - step)
                } else {
                    t.sl.unwrap_or(f64::INFINITY).min(close + step)
                };
                (t.id(), sl)
            }));
            for &(id, sl) in &self.moves {
                ctx.set_sl(id, Some(sl))?;
            }
        }
        self.inner.next(ctx)?;
        self.trading = !ctx.trades().is_empty();
        Ok(())
    }

    /// Every bar with an open trade moves its stop, so none is skipped then. Flat, only the
    /// strategy's own decisions matter (a trade opens by an order fill, and the engine
    /// skips no bar while an order is pending).
    fn idle_until(&self, from: usize) -> usize {
        if self.trading {
            from
        } else {
            self.inner.idle_until(from)
        }
    }

    /// While a trade is open, the bars before the inner strategy's next decision only move
    /// the stop: the engine does that itself (checking the stop against each bar's range
    /// with the broker's fill rule, stopping on the bar it is hit).
    fn trailing_stop(&self, from: usize) -> Option<super::TrailingStop<'_>> {
        self.trading.then(|| super::TrailingStop {
            atr: &self.atr,
            n_atr: self.n_atr,
            idle_to: self.inner.idle_until(from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atr_is_backfilled_from_the_first_full_window() {
        let n = 8;
        let close: Vec<f64> = (0..n).map(|i| 10.0 + i as f64).collect();
        let high: Vec<f64> = close.iter().map(|c| c + 1.0).collect();
        let low: Vec<f64> = close.iter().map(|c| c - 1.0).collect();
        let atr = trailing_atr(&high, &low, &close, 3);
        // TR from bar 1: max(2, |c[i-1] - h[i]| = 2, |c[i-1] - l[i]| = 0) = 2.
        assert_eq!(atr, vec![2.0; n]);
        assert!(trailing_atr(&high[..1], &low[..1], &close[..1], 3)[0].is_nan());
    }
}
