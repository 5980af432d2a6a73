//! Moving average convergence/divergence.

use super::ema::ema;

/// MACD line, signal line and histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Macd {
    /// `EMA(fast) − EMA(slow)`.
    pub macd: Vec<f64>,
    /// `EMA(signal)` of the MACD line, seeded once `signal` MACD values exist.
    pub signal: Vec<f64>,
    /// `macd − signal`.
    pub histogram: Vec<f64>,
}

/// MACD with SMA-seeded EMAs (see [`ema`]).
///
/// # Warm-up
/// The line is NaN for `i < slow − 1`; the signal and histogram for
/// `i < slow + signal − 2`. Checked against TA-Lib's `EMA` composed the same way
/// (TA-Lib's own `MACD` seeds the fast EMA later, which we do not copy).
pub fn macd(values: &[f64], fast: usize, slow: usize, signal: usize) -> Macd {
    let f = ema(values, fast);
    let s = ema(values, slow);
    let line: Vec<f64> = f.iter().zip(&s).map(|(a, b)| a - b).collect();
    let sig = ema(&line, signal);
    let histogram = line.iter().zip(&sig).map(|(a, b)| a - b).collect();
    Macd {
        macd: line,
        signal: sig,
        histogram,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warm_up_lengths() {
        let v: Vec<f64> = (0..50).map(|i| 100.0 + (i as f64).sin()).collect();
        let m = macd(&v, 12, 26, 9);
        assert!(m.macd[24].is_nan() && !m.macd[25].is_nan());
        assert!(m.signal[32].is_nan() && !m.signal[33].is_nan());
        assert_eq!(m.histogram[40], m.macd[40] - m.signal[40]);
    }
}
