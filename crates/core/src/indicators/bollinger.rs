//! Bollinger Bands.

use super::{sma::sma, stddev::rolling_std};

/// Upper, middle and lower band.
#[derive(Debug, Clone, PartialEq)]
pub struct Bollinger {
    /// `middle + k·σ`.
    pub upper: Vec<f64>,
    /// `SMA(n)`.
    pub middle: Vec<f64>,
    /// `middle − k·σ`.
    pub lower: Vec<f64>,
}

/// Bollinger Bands: `SMA(n) ± k·σ(n)` with the population standard deviation, as
/// Bollinger defines them and TA-Lib's `BBANDS` computes them.
///
/// # Warm-up
/// `NaN` for `i < n − 1`. Checked against TA-Lib `BBANDS(n, k, k, SMA)`.
pub fn bollinger(values: &[f64], n: usize, k: f64) -> Bollinger {
    let middle = sma(values, n);
    let sd = rolling_std(values, n, 0);
    let upper = middle.iter().zip(&sd).map(|(m, s)| m + k * s).collect();
    let lower = middle.iter().zip(&sd).map(|(m, s)| m - k * s).collect();
    Bollinger {
        upper,
        middle,
        lower,
    }
}
