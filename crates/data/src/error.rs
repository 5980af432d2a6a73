//! The data crate's error type.

use std::path::PathBuf;

use backtide_core::{BarRule, UniverseError};

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
    #[error(
        "{file}: line 1: missing required column `{column}` (found: {found}); name it with \
         --columns {}=NAME",
        column.to_ascii_lowercase()
    )]
    MissingColumn {
        /// The file.
        file: String,
        /// The column required.
        column: &'static str,
        /// The header found, comma-separated.
        found: String,
    },
    /// A value that cannot be read as what the column holds.
    #[error(
        "{file}: line {line}{}, column `{column}`: value `{value}`: expected {expected}",
        in_symbol(.symbol)
    )]
    Parse {
        /// The file.
        file: String,
        /// 1-based line (or row for Parquet).
        line: u64,
        /// The row's symbol, in a long-format (multi-asset) file.
        symbol: Option<String>,
        /// Column name as in the header.
        column: String,
        /// The text found.
        value: String,
        /// What was expected.
        expected: &'static str,
    },
    /// A value that breaks a bar rule (price ≤ 0, High < max(Open, Close), …).
    #[error(
        "{file}: line {line}{}, column `{column}`: value `{value}`: {rule}{}",
        in_symbol(.symbol),
        sort_hint_text(*.sort_hint)
    )]
    Invalid {
        /// The file.
        file: String,
        /// 1-based line (or row for Parquet).
        line: u64,
        /// The row's symbol, in a long-format (multi-asset) file.
        symbol: Option<String>,
        /// Column name.
        column: String,
        /// The value, as written (timestamps in ISO 8601).
        value: String,
        /// The rule broken.
        rule: BarRule,
        /// True when `--sort` would load the file (a row out of time order).
        sort_hint: bool,
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
    /// In a long-format file, a row of a symbol earlier than that symbol's previous row.
    #[error(
        "{file}: line {line}: symbol `{symbol}`: timestamps must be strictly increasing \
         within a symbol ({time} after {previous})"
    )]
    SymbolOutOfOrder {
        /// The file.
        file: String,
        /// 1-based line (or row for Parquet) of the offending row.
        line: u64,
        /// The symbol.
        symbol: String,
        /// The row's timestamp (ISO 8601; the date alone at midnight).
        time: String,
        /// The timestamp of the symbol's previous row.
        previous: String,
    },
    /// In a long-format file, two rows with the same symbol and timestamp.
    #[error(
        "{file}: line {line}: symbol `{symbol}`: duplicate (symbol, time) row: {time} is \
         also on line {first_line}"
    )]
    SymbolDuplicateTime {
        /// The file.
        file: String,
        /// 1-based line (or row for Parquet) of the second row.
        line: u64,
        /// The symbol.
        symbol: String,
        /// The timestamp (ISO 8601; the date alone at midnight).
        time: String,
        /// Line (or row) of the first row with that symbol and timestamp.
        first_line: u64,
    },
    /// A `--data`-style spec that cannot be understood (e.g. `=file.csv`).
    #[error("data spec `{spec}`: {problem}")]
    BadSpec {
        /// The spec as given.
        spec: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// `SYMBOL=FILE` where the file's own symbol column names other symbols.
    #[error(
        "data spec `{spec}`: the file's symbol column holds {found}, not only `{symbol}` (give the file alone to load every symbol)"
    )]
    SymbolMismatch {
        /// The spec as given.
        spec: String,
        /// The symbol the spec names.
        symbol: String,
        /// The symbols in the file, comma-separated.
        found: String,
    },
    /// A directory spec with no data file in it.
    #[error("{dir}: no .csv, .parquet or .pq file in this directory")]
    NoDataFiles {
        /// The directory.
        dir: PathBuf,
    },
    /// The assets do not form a valid universe (duplicate symbol, asset without rows, …).
    #[error(transparent)]
    Universe {
        /// The universe's complaint.
        #[from]
        source: UniverseError,
    },
    /// A multi-asset sample asked for where one series is needed.
    #[error("sample `{name}` holds {count} assets ({symbols}); it loads only as a universe")]
    MultiAssetSample {
        /// The sample's name.
        name: String,
        /// How many assets it holds.
        count: usize,
        /// Its symbols, comma-separated.
        symbols: String,
    },
    /// A `--columns` mapping that cannot be understood or does not fit the file.
    #[error("--columns `{spec}`: {problem}")]
    BadColumns {
        /// The mapping as given (or the field and column that do not fit).
        spec: String,
        /// What is wrong with it.
        problem: String,
    },
    /// A time cell that does not match `--date-format`.
    #[error(
        "{file}: line {line}, column `{column}`: value `{value}`: expected a date in \
         --date-format `{format}`"
    )]
    BadDate {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// Column name as in the header.
        column: String,
        /// The text found.
        value: String,
        /// The format given.
        format: Box<str>,
    },
    /// `--missing ffill` with a missing price on the first row.
    #[error(
        "{file}: line {line}, column `{column}`: value `{value}`: --missing ffill has no \
         earlier row to fill from (use --missing drop)"
    )]
    NothingToFill {
        /// The file.
        file: String,
        /// 1-based line.
        line: u64,
        /// Column name as in the header.
        column: String,
        /// The text found.
        value: String,
    },
    /// `--adjust` on a file without an `Adj Close` column.
    #[error(
        "{file}: --adjust needs an `Adj Close` column (found: {found}); name it with \
         --columns adj_close=NAME"
    )]
    NoAdjClose {
        /// The file.
        file: String,
        /// The header found, comma-separated.
        found: String,
    },
    /// A yfinance file whose `Ticker` line names several tickers.
    #[error(
        "{file}: line 2: the yfinance header holds several tickers ({tickers}); save one ticker per file"
    )]
    SeveralTickers {
        /// The file.
        file: String,
        /// The tickers, comma-separated.
        tickers: String,
    },
    /// `sample:NAME` with an unknown name.
    #[error("unknown sample `{name}` (available: {available})")]
    UnknownSample {
        /// Name asked for.
        name: String,
        /// Names available.
        available: String,
    },
}

/// The `--sort` hint, when it applies.
fn sort_hint_text(sort_hint: bool) -> &'static str {
    if sort_hint {
        " (--sort loads rows in any order; duplicate timestamps are still refused)"
    } else {
        ""
    }
}

/// `, symbol `X`` when the row has a symbol, else nothing (single-asset messages unchanged).
fn in_symbol(symbol: &Option<String>) -> String {
    symbol
        .as_ref()
        .map_or_else(String::new, |s| format!(", symbol `{s}`"))
}

#[cfg(test)]
mod tests {
    /// Callers return `Result<_, DataError>` from closures; clippy's `result_large_err`
    /// (128 bytes) holds them to a small error.
    #[test]
    fn the_error_stays_small() {
        assert!(std::mem::size_of::<super::DataError>() <= 120);
    }
}
