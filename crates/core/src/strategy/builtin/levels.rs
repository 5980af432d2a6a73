//! Strategies that trade an indicator against levels: RSI, Bollinger, Donchian, and
//! buy-and-hold.

use super::{Direction, less_than, window};
use crate::broker::OrderRequest;
use crate::error::Error;
use crate::indicators;
use crate::strategy::{
    Context, EntryRule, Indicator, Init, Params, PerBar, SignalStrategy, Signals, Strategy,
};

/// Goes long (or short) on a signal, with the usual flat/long/short bookkeeping.
fn enter(ctx: &mut Context<'_>, long: bool, size: Option<f64>) -> Result<(), Error> {
    let pos = ctx.position();
    if (long && pos.is_long()) || (!long && pos.is_short()) {
        return Ok(());
    }
    if !pos.is_flat() {
        ctx.close_position();
    }
    let req = OrderRequest {
        size,
        ..OrderRequest::default()
    };
    if long {
        ctx.buy_with(req)?
    } else {
        ctx.sell_with(req)?
    };
    Ok(())
}

/// `rsi_reversion`: long when RSI < lower; exit when RSI > upper (or short, with
/// `long_short`, which also covers shorts when RSI < lower).
#[derive(Debug, Clone)]
pub struct RsiReversion {
    period: usize,
    lower: f64,
    upper: f64,
    direction: Direction,
    size: Option<f64>,
    rsi: Option<Indicator>,
}

impl RsiReversion {
    /// Builds from validated parameters; checks `lower < upper`.
    pub fn from_params(p: &Params) -> Result<Self, Error> {
        less_than(p, "lower", "upper")?;
        Ok(RsiReversion {
            period: window(p, "period")?,
            lower: p.float("lower")?,
            upper: p.float("upper")?,
            direction: Direction::from_params(p)?,
            size: p.float_opt("size"),
            rsi: None,
        })
    }
}

impl Strategy for RsiReversion {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        let rsi = indicators::rsi(ctx.bars().close(), self.period);
        self.rsi = Some(ctx.indicator(format!("RSI({})", self.period), rsi));
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let Some(h) = self.rsi else { return Ok(()) };
        let r = ctx.ind(h)[ctx.index()];
        let pos = ctx.position();
        if r < self.lower {
            enter(ctx, true, self.size)?;
        } else if r > self.upper {
            match self.direction {
                Direction::LongShort => enter(ctx, false, self.size)?,
                Direction::LongOnly | Direction::ShortOnly if pos.is_long() => ctx.close_position(),
                Direction::LongOnly | Direction::ShortOnly => {}
            }
        }
        Ok(())
    }
}

/// `bollinger_reversion`: long when the close is below the lower band, exit once it is
/// back above the middle; with `long_short`, short above the upper band and cover below
/// the middle.
#[derive(Debug, Clone)]
pub struct BollingerReversion {
    period: usize,
    k: f64,
    direction: Direction,
    size: Option<f64>,
    bands: Option<(Indicator, Indicator, Indicator)>,
}

impl BollingerReversion {
    /// Builds from validated parameters.
    pub fn from_params(p: &Params) -> Result<Self, Error> {
        Ok(BollingerReversion {
            period: window(p, "period")?,
            k: p.float("k")?,
            direction: Direction::from_params(p)?,
            size: p.float_opt("size"),
            bands: None,
        })
    }
}

impl Strategy for BollingerReversion {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        let b = indicators::bollinger(ctx.bars().close(), self.period, self.k);
        self.bands = Some((
            ctx.indicator("BB upper", b.upper),
            ctx.indicator("BB middle", b.middle),
            ctx.indicator("BB lower", b.lower),
        ));
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let Some((u, m, l)) = self.bands else {
            return Ok(());
        };
        let i = ctx.index();
        let (c, up, mid, lo) = (ctx.close()[i], ctx.ind(u)[i], ctx.ind(m)[i], ctx.ind(l)[i]);
        let pos = ctx.position();
        if pos.is_flat() {
            if c < lo {
                enter(ctx, true, self.size)?;
            } else if c > up && self.direction == Direction::LongShort {
                enter(ctx, false, self.size)?;
            }
        } else if (pos.is_long() && c > mid) || (pos.is_short() && c < mid) {
            ctx.close_position();
        }
        Ok(())
    }
}

/// `donchian_breakout`: long when the close exceeds the highest high of the previous
/// `entry` bars; exit when it falls below the lowest low of the previous `exit` bars.
/// With `long_short`, short when the close falls below the previous `entry`-bar low and
/// cover above the previous `exit`-bar high.
#[derive(Debug, Clone)]
pub struct DonchianBreakout {
    entry: usize,
    exit: usize,
    direction: Direction,
    size: Option<f64>,
    channels: Option<[Indicator; 4]>,
}

impl DonchianBreakout {
    /// Builds from validated parameters.
    pub fn from_params(p: &Params) -> Result<Self, Error> {
        Ok(DonchianBreakout {
            entry: window(p, "entry")?,
            exit: window(p, "exit")?,
            direction: Direction::from_params(p)?,
            size: p.float_opt("size"),
            channels: None,
        })
    }
}

/// The series shifted one bar later (the channel of the *previous* bars).
fn lag1(mut v: Vec<f64>) -> Vec<f64> {
    if !v.is_empty() {
        v.pop();
        v.insert(0, f64::NAN);
    }
    v
}

impl Strategy for DonchianBreakout {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        let (h, l) = (ctx.bars().high(), ctx.bars().low());
        self.channels = Some([
            ctx.indicator("entry high", lag1(indicators::highest(h, self.entry))),
            ctx.indicator("entry low", lag1(indicators::lowest(l, self.entry))),
            ctx.indicator("exit high", lag1(indicators::highest(h, self.exit))),
            ctx.indicator("exit low", lag1(indicators::lowest(l, self.exit))),
        ]);
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let Some([eh, el, xh, xl]) = self.channels else {
            return Ok(());
        };
        let i = ctx.index();
        let c = ctx.close()[i];
        let (eh, el, xh, xl) = (
            ctx.ind(eh)[i],
            ctx.ind(el)[i],
            ctx.ind(xh)[i],
            ctx.ind(xl)[i],
        );
        let pos = ctx.position();
        if c > eh {
            enter(ctx, true, self.size)?;
        } else if c < el && self.direction == Direction::LongShort {
            enter(ctx, false, self.size)?;
        } else if (pos.is_long() && c < xl) || (pos.is_short() && c > xh) {
            ctx.close_position();
        }
        Ok(())
    }
}

/// `buy_and_hold`: one buy on the first bar `next` sees.
#[derive(Debug, Clone)]
pub struct BuyAndHold {
    size: Option<f64>,
    done: bool,
}

impl BuyAndHold {
    /// Builds from validated parameters.
    pub fn from_params(p: &Params) -> Self {
        BuyAndHold {
            size: p.float_opt("size"),
            done: false,
        }
    }
}

impl Strategy for BuyAndHold {
    fn init(&mut self, _ctx: &mut Init<'_>) -> Result<(), Error> {
        self.done = false;
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        if !self.done {
            self.done = true;
            ctx.buy_with(OrderRequest {
                size: self.size,
                ..OrderRequest::default()
            })?;
        }
        Ok(())
    }
}

fn size_of(size: Option<f64>) -> PerBar {
    size.map_or(PerBar::Unset, PerBar::Const)
}

impl SignalStrategy for RsiReversion {
    fn signals(&mut self, ctx: &mut Init<'_>) -> Result<Signals, Error> {
        let r = indicators::rsi(ctx.bars().close(), self.period);
        let mut s = Signals::none(r.len(), EntryRule::IfNotSameSide);
        for (i, &x) in r.iter().enumerate() {
            s.long_entry[i] = x < self.lower;
            match self.direction {
                Direction::LongShort => s.short_entry[i] = x > self.upper,
                Direction::LongOnly | Direction::ShortOnly => s.long_exit[i] = x > self.upper,
            }
        }
        s.size = size_of(self.size);
        ctx.indicator(format!("RSI({})", self.period), r);
        Ok(s)
    }
}

impl SignalStrategy for BollingerReversion {
    fn signals(&mut self, ctx: &mut Init<'_>) -> Result<Signals, Error> {
        let close = ctx.bars().close();
        let b = indicators::bollinger(close, self.period, self.k);
        let mut s = Signals::none(close.len(), EntryRule::OnlyWhenFlat);
        for (i, &c) in close.iter().enumerate() {
            s.long_entry[i] = c < b.lower[i];
            s.short_entry[i] = self.direction == Direction::LongShort && c > b.upper[i];
            s.long_exit[i] = c > b.middle[i];
            s.short_exit[i] = c < b.middle[i];
        }
        s.size = size_of(self.size);
        ctx.indicator("BB upper", b.upper);
        ctx.indicator("BB middle", b.middle);
        ctx.indicator("BB lower", b.lower);
        Ok(s)
    }
}

impl SignalStrategy for DonchianBreakout {
    fn signals(&mut self, ctx: &mut Init<'_>) -> Result<Signals, Error> {
        let (h, l, close) = (ctx.bars().high(), ctx.bars().low(), ctx.bars().close());
        let eh = lag1(indicators::highest(h, self.entry));
        let el = lag1(indicators::lowest(l, self.entry));
        let xh = lag1(indicators::highest(h, self.exit));
        let xl = lag1(indicators::lowest(l, self.exit));
        let mut s = Signals::none(close.len(), EntryRule::IfNotSameSide);
        for (i, &c) in close.iter().enumerate() {
            s.long_entry[i] = c > eh[i];
            s.short_entry[i] = self.direction == Direction::LongShort && c < el[i];
            s.long_exit[i] = c < xl[i];
            s.short_exit[i] = c > xh[i];
        }
        s.size = size_of(self.size);
        for (name, v) in [
            ("entry high", eh),
            ("entry low", el),
            ("exit high", xh),
            ("exit low", xl),
        ] {
            ctx.indicator(name, v);
        }
        Ok(s)
    }
}

impl SignalStrategy for BuyAndHold {
    fn signals(&mut self, ctx: &mut Init<'_>) -> Result<Signals, Error> {
        let n = ctx.bars().len();
        let mut s = Signals::none(n, EntryRule::IfNotSameSide);
        // The first bar `next` runs on (no indicators: bar 1).
        if n > 1 {
            s.long_entry[1] = true;
        }
        s.size = size_of(self.size);
        Ok(s)
    }
}
