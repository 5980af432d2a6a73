//! Backtide's data edge: reading bars from CSV and Parquet with validation errors that
//! name the file, line, column, value and rule; the bundled sample datasets; and result
//! exports (the `--json` contract, trades and equity CSV, Parquet).
//!
//! ```
//! let bars = backtide_data::load("sample:GOOG")?;
//! assert_eq!(bars.len(), 2148);
//! # Ok::<(), backtide_data::DataError>(())
//! ```

mod atomic;
mod csv;
mod downsample;
mod error;
mod export;
mod parquet;
mod samples;
mod sweep_out;
mod time;

use std::path::Path;

pub use atomic::{write_bytes, write_with};
pub use csv::{parse_csv, read_csv};
pub use downsample::{downsample_keep, downsample_minmax};
pub use error::DataError;
pub use export::{
    backtest_json, profile_stats_json, result_json, stat_json, stats_json, trade_json,
    vbt_stats_json, write_equity_csv, write_trades_csv,
};
pub use parquet::{read_parquet, write_columns, write_equity_parquet, write_parquet};
pub use samples::{SAMPLES, sample, sample_csv};
pub use sweep_out::{
    SweepFormat, SweepWriter, combo_json, combo_json_in, overfitting_json, walk_forward_json,
};
pub use time::{format_timestamp, parse_timestamp};

use backtide_core::Bars;

/// Loads `sample:NAME`, a `.parquet`/`.pq` file, or a CSV file.
pub fn load(spec: &str) -> Result<Bars, DataError> {
    if let Some(name) = spec.strip_prefix("sample:") {
        return sample(name);
    }
    let path = Path::new(spec);
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("parquet" | "pq") => read_parquet(path),
        _ => read_csv(path),
    }
}
