//! The engine's error type.

use crate::bars::Column;

/// A rule a bar can break.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BarRule {
    /// NaN or infinite value.
    NotFinite,
    /// A price of zero or less.
    NonPositivePrice,
    /// `High < max(Open, Close)`.
    HighBelowOpenClose,
    /// `Low > min(Open, Close)`.
    LowAboveOpenClose,
    /// `Volume < 0`.
    NegativeVolume,
    /// Same timestamp as the previous bar.
    DuplicateTimestamp,
    /// Earlier timestamp than the previous bar.
    TimestampOutOfOrder,
}

impl std::fmt::Display for BarRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BarRule::NotFinite => "value must be a finite number (not NaN or inf)",
            BarRule::NonPositivePrice => "price must be > 0",
            BarRule::HighBelowOpenClose => "High must be >= max(Open, Close)",
            BarRule::LowAboveOpenClose => "Low must be <= min(Open, Close)",
            BarRule::NegativeVolume => "Volume must be >= 0",
            BarRule::DuplicateTimestamp => {
                "timestamps must be strictly increasing (duplicate of the previous row)"
            }
            BarRule::TimestampOutOfOrder => {
                "timestamps must be strictly increasing (earlier than the previous row)"
            }
        })
    }
}

/// Why a set of columns is not a valid [`crate::Bars`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BarsError {
    /// Columns of different lengths.
    #[error("column {column} has {found} values, expected {expected}")]
    LengthMismatch {
        /// The offending column.
        column: Column,
        /// Length of the time column.
        expected: usize,
        /// Length found.
        found: usize,
    },
    /// A bar breaks a rule.
    #[error("bar {index}, column {column}, value {value}: {rule}")]
    Invalid {
        /// 0-based bar index.
        index: usize,
        /// The offending column.
        column: Column,
        /// The offending value (timestamps as nanoseconds).
        value: f64,
        /// The rule broken.
        rule: BarRule,
    },
}

/// Errors from configuring or running a backtest.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input bars are invalid.
    #[error(transparent)]
    Bars(#[from] BarsError),
    /// A strategy parameter is unknown, missing, of the wrong type or out of range.
    #[error("parameter `{param}`: {message}")]
    Param {
        /// Parameter name.
        param: String,
        /// What was expected.
        message: String,
    },
    /// No strategy of that name.
    #[error("unknown strategy `{name}` (known: {known})")]
    UnknownStrategy {
        /// Name asked for.
        name: String,
        /// Comma-separated list of known names.
        known: String,
    },
    /// A broker setting is out of range.
    #[error("broker setting `{field}`: {message}")]
    Config {
        /// Setting name.
        field: &'static str,
        /// What was expected.
        message: String,
    },
    /// An order was rejected when placed (e.g. SL above the entry of a long order).
    #[error("invalid order: {0}")]
    Order(String),
    /// A strategy written outside Rust failed (e.g. a Python exception in `next`); the
    /// front end that ran it reports the original error.
    #[error("the strategy failed: {0}")]
    Strategy(String),
    /// The assets do not form a valid universe.
    #[error(transparent)]
    Universe(#[from] crate::universe::UniverseError),
    /// Finer bars (`--intrabar`) that do not make up the bars.
    #[error(transparent)]
    Intrabar(#[from] crate::intrabar::IntrabarError),
    /// Not enough bars to run.
    #[error("need at least {needed} bars, got {got}")]
    TooFewBars {
        /// Minimum required.
        needed: usize,
        /// Bars available.
        got: usize,
    },
}
