//! A run's warnings as values.
//!
//! [`crate::RunResult::warnings`] keeps each warning's text (the `--json` and service
//! contract, unchanged); [`crate::RunResult::warning_details`] holds the same warnings, in
//! the same order, as [`RunWarning`]s, so a front end can group repeated ones and say what
//! would fix them without parsing text. `RunWarning`'s `Display` is that text.

use std::fmt;

/// One warning of a run.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RunWarning {
    /// A relative-sized order (a fraction of the available margin) was cancelled because
    /// that fraction buys no whole unit: `spendable` < `unit_cost`.
    NoWholeUnit {
        /// The bar whose open (or close) it would have filled at.
        bar: usize,
        /// Account equity at that bar.
        equity: f64,
        /// Margin available at that bar.
        available: f64,
        /// What the order could spend: available margin × leverage × its size fraction.
        spendable: f64,
        /// One unit's price with spread and commission (in the run's units: with a
        /// fractional unit, one fractional unit).
        unit_cost: f64,
    },
    /// An order of a number of units was cancelled: its cost exceeds the margin available.
    InsufficientMargin {
        /// The bar it would have filled at.
        bar: usize,
        /// Units still to open after netting against opposite trades (signed).
        units: f64,
        /// What those units cost with spread and commission, before leverage.
        cost: f64,
        /// What the account could spend: available margin × leverage.
        spendable: f64,
    },
    /// A stop/limit entry filled in a bar whose range also holds its SL or TP.
    ContingentInEntryBar {
        /// The entry's bar.
        bar: usize,
    },
    /// Trades were still open at the end (and are not in the trade statistics).
    OpenAtEnd {
        /// How many.
        trades: usize,
    },
    /// Equity fell to zero or below: positions were liquidated and the run stopped.
    OutOfMoney,
}

impl RunWarning {
    /// The bar it happened on, when it belongs to one.
    pub fn bar(&self) -> Option<usize> {
        match *self {
            RunWarning::NoWholeUnit { bar, .. }
            | RunWarning::InsufficientMargin { bar, .. }
            | RunWarning::ContingentInEntryBar { bar } => Some(bar),
            RunWarning::OpenAtEnd { .. } | RunWarning::OutOfMoney => None,
        }
    }

    /// True for the warnings of a cancelled order.
    pub fn is_cancelled_order(&self) -> bool {
        matches!(
            self,
            RunWarning::NoWholeUnit { .. } | RunWarning::InsufficientMargin { .. }
        )
    }
}

impl fmt::Display for RunWarning {
    /// The warning's text in [`crate::RunResult::warnings`] (a stable contract).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunWarning::NoWholeUnit {
                bar,
                equity,
                available,
                ..
            } => write!(
                f,
                "bar {bar}: broker cancelled the relative-sized order: insufficient margin \
                 (equity={equity:.2}, margin_available={available:.2})"
            ),
            RunWarning::InsufficientMargin { bar, units, .. } => write!(
                f,
                "bar {bar}: broker cancelled an order of {units} units: insufficient margin"
            ),
            RunWarning::ContingentInEntryBar { bar } => write!(
                f,
                "bar {bar}: an SL/TP would trigger in the bar its stop/limit entry filled; \
                 it is checked from the next bar on, so this trade's result is uncertain"
            ),
            RunWarning::OpenAtEnd { trades } => write!(
                f,
                "{trades} trade(s) remain open at the end and are left out of the trade \
                 statistics; use finalize_trades to close them on the last bar"
            ),
            RunWarning::OutOfMoney => {
                f.write_str("equity fell to zero or below: positions liquidated, run stopped")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The texts are the `warnings` contract of `--json` and the service: unchanged.
    #[test]
    fn texts_are_the_contract() {
        let w = RunWarning::NoWholeUnit {
            bar: 34,
            equity: 10_000.0,
            available: 10_000.0,
            spendable: 9_999.0,
            unit_cost: 30_000.0,
        };
        assert_eq!(
            w.to_string(),
            "bar 34: broker cancelled the relative-sized order: insufficient margin \
             (equity=10000.00, margin_available=10000.00)"
        );
        let w = RunWarning::InsufficientMargin {
            bar: 3,
            units: -5.0,
            cost: 1.0,
            spendable: 0.5,
        };
        assert_eq!(
            w.to_string(),
            "bar 3: broker cancelled an order of -5 units: insufficient margin"
        );
        assert_eq!(
            RunWarning::OpenAtEnd { trades: 1 }.to_string(),
            "1 trade(s) remain open at the end and are left out of the trade statistics; \
             use finalize_trades to close them on the last bar"
        );
        assert_eq!(
            RunWarning::ContingentInEntryBar { bar: 7 }.to_string(),
            "bar 7: an SL/TP would trigger in the bar its stop/limit entry filled; it is \
             checked from the next bar on, so this trade's result is uncertain"
        );
        assert_eq!(
            RunWarning::OutOfMoney.to_string(),
            "equity fell to zero or below: positions liquidated, run stopped"
        );
    }
}
