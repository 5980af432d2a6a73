//! The data crate's error type.

use std::path::PathBuf;

use backtide_core::BarRule;

/// Why a dataset could not be read or written. Every variant that concerns a value names
/// the file, the 1-based line (CSV) or row (Parquet), the column and the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be opened, read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A required column is absent.
    #[error("{file}: line 1: missing required column `{column}` (found: {found})")]
    MissingColumn {
        /// The file.
        file: String,
        /// The column required.
        column: &'static str,
        /// The header found, comma-separated.
        found: String,
    },
    /// A value that cannot be read as what the column holds.
    #[error("{file}: line {line}, column `{column}`: value `{value}`: expected {expected}")]
    Parse {
        /// The file.
        file: String,
        /// 1-based line (or row for Parquet).
        line: u64,
        /// Column name as in the header.
        column: String,
        /// The text found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A value that breaks a bar rule (price ≤ 0, High < max(Open, Close), …).
    #[error("{file}: line {line}, column `{column}`: value `{value}`: {rule}")]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line (or row for Parquet).
        line: u64,
        /// Column name.
        column: String,
        /// The value, as written (timestamps in ISO 8601).
        value: String,
        /// The rule broken.
        rule: BarRule,
    },
    /// Malformed CSV (e.g. a row with a different number of fields).
    #[error("{file}: line {line}: malformed CSV: {message}")]
    Csv {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// The parser's message.
        message: String,
    },
    /// The file has a header but no rows.
    #[error("{file}: no data rows")]
    Empty {
        /// The file.
        file: String,
    },
    /// A Parquet file that cannot be read or written.
    #[error("{file}: parquet: {message}")]
    Parquet {
        /// The file.
        file: String,
        /// What went wrong.
        message: String,
    },
    /// An engine error while producing output (e.g. during a sweep).
    #[error(transparent)]
    Engine(#[from] backtide_core::Error),
    /// `sample:NAME` with an unknown name.
    #[error("unknown sample `{name}` (available: {available})")]
    UnknownSample {
        /// Name asked for.
        name: String,
        /// Names available.
        available: String,
    },
}
