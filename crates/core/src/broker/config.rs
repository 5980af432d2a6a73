//! Broker settings.

use super::commission::Commission;
use crate::error::Error;

/// Broker settings, backtesting.py's `Backtest(...)` keyword arguments.
///
/// Defaults are backtesting.py 0.6.6's: 10,000 cash, no costs, no leverage, fills at the
/// next bar's open, FIFO netting, open trades left out of the trade statistics.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Starting cash.
    pub cash: f64,
    /// Commission schedule, charged at entry and at exit.
    pub commission: Commission,
    /// Relative bid-ask spread applied to entry prices (`price · (1 ± spread)`).
    pub spread: f64,
    /// Relative slippage on every fill, entries and exits: buys at `price · (1 + slippage)`,
    /// sells at `price · (1 − slippage)` (vectorbt's `slippage`).
    pub slippage: f64,
    /// Margin requirement in `(0, 1]`; leverage is `1 / margin`.
    pub margin: f64,
    /// Fill market orders at the signal bar's close instead of the next bar's open.
    pub trade_on_close: bool,
    /// Let long and short trades coexist instead of netting FIFO.
    pub hedging: bool,
    /// Each new entry order cancels pending entries and closes every open trade first.
    pub exclusive_orders: bool,
    /// Close trades still open on the last bar so they count in the statistics.
    pub finalize_trades: bool,
    /// Trade in multiples of this fraction of a unit (backtesting.py's
    /// `FractionalBacktest(fractional_unit=…)`); `None` trades whole units.
    pub fractional_unit: Option<f64>,
    /// Fill market orders at the close of the bar whose `next` placed them, within that
    /// bar, so its equity already includes the fill (vectorbt's `from_signals`). SL/TP are
    /// checked from the following bar. Unlike `trade_on_close` (backtesting.py), which fills
    /// at that close but books the fill on the next bar's update.
    pub same_bar_close_fills: bool,
    /// Size relative orders exactly (`margin / (price + commission per unit)`) instead of
    /// rounding down to whole units (vectorbt's fractional sizes).
    pub continuous_sizes: bool,
    /// When the market's trading day starts: orders good for the session
    /// ([`crate::broker::Expiry::Session`]) lapse at its end, and `--resample` buckets
    /// align to it. The default starts days at midnight of the data's clock.
    pub session: crate::timeframe::Session,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            cash: 10_000.0,
            commission: Commission::None,
            spread: 0.0,
            slippage: 0.0,
            margin: 1.0,
            trade_on_close: false,
            hedging: false,
            exclusive_orders: false,
            finalize_trades: false,
            fractional_unit: None,
            same_bar_close_fills: false,
            continuous_sizes: false,
            session: crate::timeframe::Session::default(),
        }
    }
}

impl BrokerConfig {
    /// Checks every setting's range; the error names the setting.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field, message: &str| {
            Err(Error::Config {
                field,
                message: message.into(),
            })
        };
        if !(self.cash.is_finite() && self.cash > 0.0) {
            return bad("cash", "must be a finite number > 0");
        }
        if !(self.spread.is_finite() && (0.0..1.0).contains(&self.spread)) {
            return bad("spread", "must be in [0, 1)");
        }
        if !(self.slippage.is_finite() && (0.0..1.0).contains(&self.slippage)) {
            return bad("slippage", "must be in [0, 1)");
        }
        if !(self.margin.is_finite() && self.margin > 0.0 && self.margin <= 1.0) {
            return bad("margin", "must be in (0, 1]");
        }
        match &self.commission {
            Commission::Relative(r) if !(r.is_finite() && (-0.1..0.1).contains(r)) => {
                return bad("commission", "relative commission must be in [-0.1, 0.1)");
            }
            Commission::FixedPlusRelative { fixed, rate }
                if !(fixed.is_finite()
                    && *fixed >= 0.0
                    && rate.is_finite()
                    && rate.abs() < 0.1) =>
            {
                return bad("commission", "fixed must be >= 0 and |rate| < 0.1");
            }
            _ => {}
        }
        if let Some(u) = self.fractional_unit
            && !(u.is_finite() && u > 0.0 && u <= 1.0)
        {
            return bad("fractional_unit", "must be in (0, 1]");
        }
        Ok(())
    }
}
