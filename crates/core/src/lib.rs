//! Backtide's engine: pure, synchronous and deterministic.
//!
//! Bars are columnar ([`Bars`]); a [`Strategy`] computes vectorized [`indicators`] in
//! `init` and decides per bar in `next` through a [`Context`] that only shows the past;
//! the broker simulation fills its orders with backtesting.py 0.6.6's semantics
//! ([`BrokerConfig`]); [`run`] returns trades and per-bar equity, and [`stats::compute`]
//! summarises them in backtesting.py's dialect.
//!
//! ```
//! use backtide_core::{Bars, BrokerConfig, run, stats, strategy::builtin};
//!
//! let n = 300;
//! let close: Vec<f64> = (0..n).map(|i| 100.0 + 10.0 * (i as f64 / 15.0).sin()).collect();
//! let time: Vec<i64> = (0..n as i64).map(|i| i * 86_400_000_000_000).collect();
//! let bars = Bars::try_new(
//!     time,
//!     close.clone(),
//!     close.iter().map(|c| c + 1.0).collect(),
//!     close.iter().map(|c| c - 1.0).collect(),
//!     close.clone(),
//!     vec![f64::NAN; n],
//! )?;
//! let info = builtin::find("sma_cross")?;
//! let params = backtide_core::Params::from_pairs(info.params, [("fast", "5"), ("slow", "20")])?;
//! let mut strategy = info.build(&params)?;
//! let result = run(&bars, strategy.as_mut(), &BrokerConfig::default())?;
//! let s = stats::compute(&bars, &result);
//! assert!(s.num_trades > 0);
//! # Ok::<(), backtide_core::Error>(())
//! ```

mod bars;
mod broker;
mod engine;
mod error;
pub mod indicators;
pub mod intrabar;
pub mod portfolio;
mod profile;
pub mod rules;
mod simd;
pub mod stats;
pub mod strategy;
pub mod sweep;
pub mod timeframe;
mod universe;
mod warning;

pub use bars::{Bars, Buffer, Column, TimestampNs};
pub use broker::{
    BrokerConfig, ClosedTrade, Commission, CommissionModel, Expiry, FULL_EQUITY, OcoGroup, Order,
    OrderId, OrderRequest, Trade, TradeId,
};
pub use engine::{OpenTrade, RunResult, run, run_intrabar, run_reusing, run_with_cache};
pub use error::{BarRule, BarsError, Error};
pub use intrabar::{Intrabar, IntrabarError};
pub use profile::Profile;
pub use stats::Stats;
pub use strategy::{
    Context, Indicator, IndicatorCache, Init, ParamSpec, ParamValue, Params, Position, Strategy,
};
pub use universe::{Asset, Universe, UniverseError};
pub use warning::RunWarning;
