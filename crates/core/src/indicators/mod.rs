//! Vectorized indicators: each computes a whole series in O(n) (CCI and the
//! linear-regression slope in O(n·window), as TA-Lib) and returns NaN during its warm-up,
//! documented per function. Reference values (pandas, TA-Lib) are in
//! `testdata/indicators/` with the script that produced them.

mod ad;
mod adx;
mod aroon;
mod atr;
mod bollinger;
mod bop;
mod cci;
mod cmo;
mod cross;
mod dema;
mod ema;
mod extremes;
mod hma;
mod kama;
mod keltner;
mod linreg;
mod macd;
mod mfi;
mod midpoint;
mod mom;
mod natr;
mod obv;
mod ppo;
mod roc;
mod rsi;
mod sar;
mod sma;
mod stddev;
mod stochastic;
mod stochrsi;
mod t3;
mod tema;
mod trix;
mod ultosc;
mod willr;
mod wma;

pub use ad::{ad_line, adosc};
pub use adx::{Adx, adx};
pub use aroon::{Aroon, aroon, aroon_oscillator};
pub use atr::{atr, true_range};
pub use bollinger::{Bollinger, bollinger};
pub use bop::balance_of_power;
pub use cci::cci;
pub use cmo::cmo;
pub use cross::{bars_since, crossover, crossunder};
pub use dema::dema;
pub use ema::ema;
pub use extremes::{highest, lowest};
pub use hma::hma;
pub use kama::kama;
pub use keltner::{Keltner, keltner};
pub use linreg::linreg_slope;
pub use macd::{Macd, macd};
pub use mfi::mfi;
pub use midpoint::{midpoint, midprice};
pub use mom::momentum;
pub use natr::natr;
pub use obv::obv;
pub use ppo::ppo;
pub use roc::roc;
pub use rsi::rsi;
pub use sar::parabolic_sar;
pub(crate) use sma::{SmaStream, sma_many};
pub use sma::{sma, sma_difference};
pub use stddev::rolling_std;
pub use stochastic::{Stochastic, stochastic};
pub use stochrsi::{StochRsi, stoch_rsi};
pub use t3::t3;
pub use tema::tema;
pub use trix::trix;
pub use ultosc::ultimate_oscillator;
pub use willr::williams_r;
pub use wma::wma;

/// Index of the first non-NaN value, or `values.len()` if there is none.
pub fn first_valid(values: &[f64]) -> usize {
    values
        .iter()
        .position(|x| !x.is_nan())
        .unwrap_or(values.len())
}

/// TA-Lib's `TA_IS_ZERO`: `|v| < 1e-8`, the test its functions use before dividing.
pub(crate) fn talib_is_zero(v: f64) -> bool {
    -1e-8 < v && v < 1e-8
}
