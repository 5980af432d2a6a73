//! Vectorized indicators: each computes a whole series in O(n) and returns NaN during
//! its warm-up, documented per function. Reference values (pandas, TA-Lib) are in
//! `testdata/indicators/` with the script that produced them.

mod atr;
mod bollinger;
mod cross;
mod ema;
mod extremes;
mod macd;
mod roc;
mod rsi;
mod sma;
mod stddev;
mod stochastic;
mod wma;

pub use atr::{atr, true_range};
pub use bollinger::{Bollinger, bollinger};
pub use cross::{bars_since, crossover, crossunder};
pub use ema::ema;
pub use extremes::{highest, lowest};
pub use macd::{Macd, macd};
pub use roc::roc;
pub use rsi::rsi;
pub(crate) use sma::SmaStream;
pub use sma::{sma, sma_difference};
pub use stddev::rolling_std;
pub use stochastic::{Stochastic, stochastic};
pub use wma::wma;

/// Index of the first non-NaN value, or `values.len()` if there is none.
pub fn first_valid(values: &[f64]) -> usize {
    values
        .iter()
        .position(|x| !x.is_nan())
        .unwrap_or(values.len())
}
