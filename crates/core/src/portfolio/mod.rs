//! Portfolios: several assets trading from one account.
//!
//! A [`Universe`](crate::Universe) holds the assets on the union of their timestamps; one
//! account holds the cash, shared by all of them, and a position per asset. A strategy
//! decides per bar ([`PortfolioStrategy`], which sees every asset's data up to the current
//! bar and orders by asset) or all at once ([`PortfolioPlan`]: per-asset signals or target
//! weights, as vectorbt's `from_signals` / `from_orders`); [`PlanDriven`] feeds a plan to
//! the same bar loop, so both front ends place the same orders through the same account.
//!
//! Semantics (the README's table; vectorbt 1.2 with `cash_sharing=True` reproduced bit for
//! bit on the golden cases):
//! - **Fill timing**: [`FillAt::Close`] executes a decision at the close of the bar it was
//!   made on (vectorbt's default); [`FillAt::NextOpen`] at the next bar's open.
//! - **Call sequence**: within a bar, [`CallSeq::Auto`] runs the orders sorted by their
//!   estimated value (sales first, then the smallest buys), [`CallSeq::Default`] in column
//!   order.
//! - **Sizing**: target weights apply to the portfolio value before any order of the bar;
//!   a buy the cash cannot pay for is cut to what is left.
//! - **Missing bars**: an asset without a bar has no price: an order for it waits for its
//!   next bar, and it is valued at its last close.
//!
//! ```
//! use backtide_core::{Bars, Universe};
//! use backtide_core::portfolio::{self, PortfolioConfig, builtin};
//!
//! let day = 86_400_000_000_000i64;
//! let asset = |start: i64, n: usize, p: f64| {
//!     let close: Vec<f64> = (0..n).map(|i| p + (i as f64 / 7.0).sin()).collect();
//!     Bars::try_new(
//!         (0..n as i64).map(|i| (start + i) * day).collect(),
//!         close.clone(),
//!         close.iter().map(|c| c + 0.5).collect(),
//!         close.iter().map(|c| c - 0.5).collect(),
//!         close,
//!         vec![f64::NAN; n],
//!     )
//! };
//! let u = Universe::try_new([
//!     ("AAA".to_string(), "a".to_string(), asset(0, 120, 50.0)?),
//!     ("BBB".to_string(), "b".to_string(), asset(30, 90, 20.0)?),
//! ])?;
//! let mut strategy = builtin::EqualWeight::new(builtin::Rebalance::Bars(20), None);
//! let result = portfolio::run(&u, &mut strategy, &PortfolioConfig::default())?;
//! assert_eq!(result.value.len(), 120);
//! assert!(result.fills.iter().any(|f| f.asset == 1));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod account;
pub mod builtin;
mod engine;
mod front;
pub mod stats;
mod stops;
mod trades;

pub use account::{Fill, Rejected, Rejection, Side};
pub use engine::{PortfolioResult, run};
pub use front::{
    AssetView, OrderPlan, PlanDriven, PlannedOrder, PortfolioContext, PortfolioPlan,
    PortfolioStrategy,
};
pub use trades::{AssetTrade, TradeStatus, exit_trades, positions_per_bar};

use crate::broker::{BrokerConfig, Commission};
use crate::error::Error;
use crate::profile::Profile;

/// When a decision is executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FillAt {
    /// At the close of the decision bar (vectorbt's default `price=close`).
    #[default]
    Close,
    /// At the next bar's open: decided at the close, executed at the following open (no
    /// look-ahead; backtesting.py's timing).
    NextOpen,
}

impl FillAt {
    /// `close` or `next_open`.
    pub fn name(self) -> &'static str {
        match self {
            FillAt::Close => "close",
            FillAt::NextOpen => "next_open",
        }
    }
}

/// The order in which one bar's orders are executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CallSeq {
    /// Sorted by estimated order value, ascending (largest sale first, then buys from the
    /// smallest), ties in column order: vectorbt's `call_seq='auto'`. Sales fund buys.
    #[default]
    Auto,
    /// Column order (vectorbt's `call_seq='default'`): a buy may come before the sale that
    /// would have funded it.
    Default,
}

impl CallSeq {
    /// `auto` or `default`.
    pub fn name(self) -> &'static str {
        match self {
            CallSeq::Auto => "auto",
            CallSeq::Default => "default",
        }
    }
}

/// How much an entry signal buys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EntrySize {
    /// All the cash left (vectorbt's `size=inf`).
    AllCash,
    /// This many units.
    Units(f64),
    /// This much cash worth, at the valuation price.
    Value(f64),
    /// This fraction of the cash left.
    Percent(f64),
}

impl EntrySize {
    /// Units asked for (`+inf` for all the cash).
    pub(crate) fn units(self, val_price: f64) -> f64 {
        match self {
            EntrySize::AllCash => f64::INFINITY,
            EntrySize::Units(u) => u,
            EntrySize::Value(v) => v / val_price,
            // Like all the cash, with `p` of it as the limit (see `Account::execute`).
            EntrySize::Percent(_) => f64::INFINITY,
        }
    }

    /// vectorbt's order-value estimate for the automatic call sequence.
    pub(crate) fn estimate(self, val_price: f64, cash: f64) -> f64 {
        match self {
            EntrySize::AllCash => f64::INFINITY,
            EntrySize::Units(u) => u * val_price,
            EntrySize::Value(v) => v,
            EntrySize::Percent(p) => p * cash,
        }
    }
}

/// The side of a position or a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Units held (position > 0).
    Long,
    /// Units owed (position < 0).
    Short,
}

impl Direction {
    /// `Long` or `Short`, as vectorbt's trade records write it.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Long => "Long",
            Direction::Short => "Short",
        }
    }
}

/// Which position an exit signal closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitOf {
    /// A long one (vectorbt's long exit).
    Long,
    /// A short one (short exit).
    Short,
    /// Whichever is open (a long and a short exit on the same bar, or a stop).
    Any,
}

/// A stop loss: exit when the price moves `fraction` against the position from its entry
/// close (or, trailing, from the best high/low since the entry).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StopLoss {
    /// Distance from the reference price as a fraction of it, >= 0 (vectorbt's `sl_stop`).
    pub fraction: f64,
    /// The reference price follows the best high (long) or low (short) since the entry
    /// (vectorbt's `sl_trail=True`).
    pub trailing: bool,
}

/// The stops an entry puts on the position it opens (vectorbt's `sl_stop`, `sl_trail`,
/// `tp_stop` with `stop_entry_price='close'`, `stop_exit_price='stoplimit'`,
/// `upon_stop_exit='close'`). They are checked on every later bar of the asset against
/// its open, high and low: a stop inside the bar's range fills at the stop price, one the
/// bar opens beyond fills at the open; either way without slippage, and the bar's own
/// signal is dropped. The stop loss is checked before the take profit. Only with
/// [`FillAt::Close`].
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Stops {
    /// The stop loss, if any.
    pub stop_loss: Option<StopLoss>,
    /// Take profit at this fraction beyond the entry close (`tp_stop`), if any.
    pub take_profit: Option<f64>,
}

impl Stops {
    /// True when neither stop is set.
    pub fn is_empty(&self) -> bool {
        self.stop_loss.is_none() && self.take_profit.is_none()
    }

    fn check(&self) -> Result<(), Error> {
        let ok = |x: f64| x >= 0.0 && x.is_finite();
        if let Some(sl) = self.stop_loss
            && !ok(sl.fraction)
        {
            return Err(Error::Order(format!(
                "a stop loss must be a finite fraction >= 0, got {}",
                sl.fraction
            )));
        }
        if let Some(tp) = self.take_profit
            && !ok(tp)
        {
            return Err(Error::Order(format!(
                "a take profit must be a finite fraction >= 0, got {tp}"
            )));
        }
        Ok(())
    }
}

/// An entry signal: which way, how much, and the stops of the position it opens.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// Long or short.
    pub direction: Direction,
    /// How much (for a short entry: how much is sold short; `AllCash` sells what the free
    /// cash covers, fees included).
    pub size: EntrySize,
    /// Stops on the position it opens.
    pub stops: Stops,
}

impl Entry {
    /// A long entry without stops.
    pub fn long(size: EntrySize) -> Entry {
        Entry {
            direction: Direction::Long,
            size,
            stops: Stops::default(),
        }
    }

    /// A short entry without stops.
    pub fn short(size: EntrySize) -> Entry {
        Entry {
            direction: Direction::Short,
            size,
            stops: Stops::default(),
        }
    }
}

/// One order for one asset on one bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Intent {
    /// Hold this fraction of the pre-trade portfolio value in the asset (0 sells out).
    TargetPercent(f64),
    /// Hold this much value in the asset.
    TargetValue(f64),
    /// Hold this many units.
    TargetUnits(f64),
    /// Buy (> 0) or sell (< 0) this many units.
    Units(f64),
    /// Buy (> 0) or sell (< 0) this much value.
    Value(f64),
    /// Sell the whole position.
    Close,
    /// An entry signal (vectorbt's `from_signals` with `accumulate=False` and
    /// `upon_opposite_entry='reversereduce'`): open a position in its direction when flat,
    /// reverse a position in the other direction (close it and open `size` the other way),
    /// nothing when already in that direction.
    Enter(Entry),
    /// An exit signal: close a position of that direction, nothing otherwise.
    Exit(ExitOf),
}

impl Intent {
    /// Checks that the order is meaningful: targets are long-only (only signals go
    /// short), sizes and stops in range.
    pub(crate) fn check(self) -> Result<(), Error> {
        let bad = |message: String| Err(Error::Order(message));
        match self {
            Intent::TargetPercent(v) | Intent::TargetValue(v) | Intent::TargetUnits(v)
                if !(v >= 0.0 && v.is_finite()) =>
            {
                bad(format!(
                    "a target must be a finite number >= 0 (portfolios are long-only), got {v}"
                ))
            }
            Intent::Units(v) | Intent::Value(v) if !v.is_finite() => {
                bad(format!("an order size must be finite, got {v}"))
            }
            Intent::Enter(Entry {
                size: EntrySize::Units(v) | EntrySize::Value(v),
                ..
            }) if !(v > 0.0 && v.is_finite()) => bad(format!(
                "an entry size must be a finite number > 0, got {v}"
            )),
            Intent::Enter(Entry {
                size: EntrySize::Percent(p),
                ..
            }) if !(p > 0.0 && p <= 1.0) => bad(format!(
                "an entry's fraction of cash must be in (0, 1], got {p}"
            )),
            Intent::Enter(Entry { stops, .. }) => stops.check(),
            _ => Ok(()),
        }
    }
}

/// The account and fill settings of a portfolio backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct PortfolioConfig {
    /// Initial cash, shared by every asset.
    pub cash: f64,
    /// Fees as a fraction of each fill's value.
    pub fees: f64,
    /// Fixed fees per fill.
    pub fixed_fees: f64,
    /// Price moved against every fill by this fraction (buys higher, sales lower).
    pub slippage: f64,
    /// Trade in multiples of this many units (`None`: any size).
    pub size_granularity: Option<f64>,
    /// Order of execution within a bar.
    pub call_seq: CallSeq,
    /// When decisions fill.
    pub fill: FillAt,
}

impl Default for PortfolioConfig {
    fn default() -> Self {
        PortfolioConfig {
            cash: 10_000.0,
            fees: 0.0,
            fixed_fees: 0.0,
            slippage: 0.0,
            size_granularity: None,
            call_seq: CallSeq::Auto,
            fill: FillAt::Close,
        }
    }
}

impl PortfolioConfig {
    /// `x` rounded down to the size granularity (unchanged without one, or if infinite).
    pub(crate) fn granular(&self, x: f64) -> f64 {
        match self.size_granularity {
            Some(g) if x.is_finite() => (x / g).floor() * g,
            _ => x,
        }
    }

    /// The portfolio settings a user's single-asset broker settings and profile imply, so
    /// `--cash`, `--commission`, `--commission-fixed`, `--slippage`, `--spread` and
    /// `--fractional-unit` mean the same for one asset and for many. The profile picks the
    /// fill timing unless `fill` is given: the vectorbt profile fills at the close with any
    /// size, backtesting.py's at the next open in whole units. Settings that have no
    /// meaning for a long-only shared-cash account are refused by name.
    pub fn from_broker(
        b: &BrokerConfig,
        profile: Profile,
        fill: Option<FillAt>,
        call_seq: CallSeq,
    ) -> Result<PortfolioConfig, Error> {
        let refuse = |field: &'static str, message: &str| {
            Err(Error::Config {
                field,
                message: message.into(),
            })
        };
        if b.margin != 1.0 {
            return refuse(
                "margin",
                "portfolios trade from cash only (margin must be 1)",
            );
        }
        if b.hedging {
            return refuse(
                "hedging",
                "portfolios are long-only: there is nothing to hedge",
            );
        }
        if b.exclusive_orders {
            return refuse(
                "exclusive_orders",
                "is single-asset; portfolio orders are per asset",
            );
        }
        if b.trade_on_close {
            return refuse(
                "trade_on_close",
                "use the fill setting (`--fill close`) for portfolios",
            );
        }
        let (fees, fixed_fees) = match &b.commission {
            Commission::None => (0.0, 0.0),
            Commission::Relative(r) => (*r, 0.0),
            Commission::FixedPlusRelative { fixed, rate } => (*rate, *fixed),
            Commission::Custom(_) => {
                return refuse(
                    "commission",
                    "portfolios take a relative and a fixed commission only",
                );
            }
        };
        // A spread is paid on every fill like slippage (backtesting.py moves both sides);
        // adding 0 leaves the slippage's bits alone.
        let slippage = b.slippage + b.spread;
        let cfg = PortfolioConfig {
            cash: b.cash,
            fees,
            fixed_fees,
            slippage,
            size_granularity: match (b.fractional_unit, profile) {
                (Some(u), _) => Some(u),
                (None, Profile::BacktestingPy) => Some(1.0),
                (None, Profile::Vectorbt) => None,
            },
            call_seq,
            fill: fill.unwrap_or(match profile {
                Profile::BacktestingPy => FillAt::NextOpen,
                Profile::Vectorbt => FillAt::Close,
            }),
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every field's range.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &'static str, message: String| Err(Error::Config { field, message });
        if !(self.cash > 0.0 && self.cash.is_finite()) {
            return bad(
                "cash",
                format!("must be a finite number > 0, got {}", self.cash),
            );
        }
        if !(0.0..1.0).contains(&self.fees) {
            return bad(
                "commission",
                format!("must be in [0, 1), got {}", self.fees),
            );
        }
        if !(self.fixed_fees >= 0.0 && self.fixed_fees.is_finite()) {
            return bad(
                "commission_fixed",
                format!("must be >= 0, got {}", self.fixed_fees),
            );
        }
        if !(0.0..1.0).contains(&self.slippage) {
            return bad(
                "slippage",
                format!("must be in [0, 1), got {}", self.slippage),
            );
        }
        if let Some(g) = self.size_granularity
            && !(g > 0.0 && g.is_finite())
        {
            return bad("fractional_unit", format!("must be > 0, got {g}"));
        }
        Ok(())
    }
}
