//! Backtide's data edge: reading bars from CSV and Parquet with validation errors that
//! name the file, line, column, value and rule; loading several assets into a
//! [`Universe`](backtide_core::Universe) ([`load_universe`]: `SYMBOL=FILE`, directories,
//! long-format files with a symbol column, samples); the bundled sample datasets; and result
//! exports (the `--json` contract, trades and equity CSV, Parquet).
//!
//! ```
//! let bars = backtide_data::load("sample:GOOG")?;
//! assert_eq!(bars.len(), 2148);
//! let universe = backtide_data::load_universe(&["sample:STOCKS"])?;
//! assert_eq!(universe.symbols().collect::<Vec<_>>(), ["AAPL", "FB", "GOOG", "IBM", "MSFT"]);
//! # Ok::<(), backtide_data::DataError>(())
//! ```

mod atomic;
mod csv;
mod dialect;
mod downsample;
mod error;
mod export;
mod parquet;
mod portfolio_export;
mod samples;
mod sweep_out;
mod time;
mod universe;

use std::path::Path;

pub use atomic::{write_bytes, write_with};
pub use csv::{parse_csv, parse_csv_with, read_csv, read_csv_with};
pub use dialect::{
    ColumnMap, Field, HeaderKind, MissingPolicy, ReadOptions, ReadReport, sniff_delimiter,
};
pub use downsample::{downsample_keep, downsample_minmax};
pub use error::DataError;
pub use export::{
    BacktestDoc, backtest_json, benchmark_json, profile_stats_json, profile_stats_json_with,
    result_json, stat_json, stats_json, trade_json, vbt_stats_json, write_backtest_doc,
    write_backtest_json, write_equity_csv, write_trades_csv,
};
pub use parquet::{read_parquet, write_columns, write_equity_parquet, write_parquet};
pub use portfolio_export::{
    PortfolioRunInfo, asset_summary_json, portfolio_json, portfolio_stats_json, write_orders_csv,
    write_portfolio_equity_csv, write_portfolio_json, write_portfolio_json_with,
    write_portfolio_trades_csv,
};
pub use samples::{SAMPLE_UNIVERSES, SAMPLES, sample, sample_csv, sample_universe};
pub use sweep_out::{
    SHARD_KEY, SHARD_OUTCOME_KEY, ShardFile, ShardRecord, SweepFormat, SweepWriter, combo_json,
    combo_json_in, overfitting_json, read_shard, walk_forward_json,
};
pub use time::{format_timestamp, parse_timestamp};
pub use universe::{load_universe, load_universe_with};

use backtide_core::Bars;

/// Loads `sample:NAME`, a `.parquet`/`.pq` file, or a CSV file.
pub fn load(spec: &str) -> Result<Bars, DataError> {
    load_with(spec, &ReadOptions::default()).map(|(bars, _)| bars)
}

/// [`load`] with [`ReadOptions`] for a CSV file (a Parquet file or a sample is read as
/// by [`load`]); also says what the read chose and did.
pub fn load_with(spec: &str, opts: &ReadOptions) -> Result<(Bars, ReadReport), DataError> {
    if let Some(name) = spec.strip_prefix("sample:") {
        let bars = sample(name)?;
        let mut report = ReadReport::plain(spec, "sample");
        report.rows = bars.len();
        return Ok((bars, report));
    }
    read_file_with(Path::new(spec), opts)
}

/// Reads a Parquet file (by extension) or else a CSV file.
fn read_file_with(path: &Path, opts: &ReadOptions) -> Result<(Bars, ReadReport), DataError> {
    if parquet::is_parquet(path) {
        let bars = read_parquet(path)?;
        let mut report = ReadReport::plain(&path.display().to_string(), "parquet");
        report.rows = bars.len();
        Ok((bars, report))
    } else {
        read_csv_with(path, opts)
    }
}

/// An upper bound on the rows of a bar file, found without decoding it: a Parquet file's
/// row count from its footer, a CSV file's lines after the header (a quoted field with a
/// line break counts twice). What a service checks before it decodes an upload, so a
/// small file that decodes into billions of rows is refused at the cost of reading it once.
pub fn rows_at_most(path: &Path) -> Result<u64, DataError> {
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut head = [0u8; 4];
    let n = std::io::Read::read(&mut f, &mut head).map_err(io)?;
    if n == 4 && &head == b"PAR1" {
        return parquet::rows_in_footer(path);
    }
    std::io::Seek::seek(&mut f, std::io::SeekFrom::Start(0)).map_err(io)?;
    let (mut lines, mut last) = (0u64, b'\n');
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = std::io::Read::read(&mut f, &mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
        last = buf[n - 1];
    }
    if last != b'\n' {
        lines += 1;
    }
    Ok(lines.saturating_sub(1))
}

/// True when `spec` names one single-asset source: a single-asset sample, a file without a
/// `symbol`/`ticker` column, or a path that does not exist (so reading it reports the
/// missing file as it always has). The CLI runs such a spec through the single-asset path.
pub fn is_single_asset_spec(spec: &str) -> bool {
    if let Some(name) = spec.strip_prefix("sample:") {
        return !SAMPLE_UNIVERSES
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name));
    }
    let path = Path::new(spec);
    if path.is_dir() {
        return false;
    }
    if !path.exists() {
        return !spec.contains('=');
    }
    let names: Vec<String> = if parquet::is_parquet(path) {
        match std::fs::File::open(path).ok().and_then(|f| {
            ::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f).ok()
        }) {
            Some(b) => b
                .schema()
                .fields()
                .iter()
                .map(|f| f.name().clone())
                .collect(),
            None => return true,
        }
    } else {
        use std::io::BufRead;
        let mut line = String::new();
        match std::fs::File::open(path) {
            Ok(f) => {
                let _ = std::io::BufReader::new(f).read_line(&mut line);
            }
            Err(_) => return true,
        }
        // A UTF-8 byte-order mark before the first name is not part of it.
        let delimiter = char::from(sniff_delimiter(line.as_bytes()));
        line.trim_start_matches('\u{feff}')
            .split(delimiter)
            .map(|s| s.trim().trim_matches('"').to_string())
            .collect()
    };
    !names
        .iter()
        .any(|n| n.eq_ignore_ascii_case("symbol") || n.eq_ignore_ascii_case("ticker"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_bounded_without_decoding() {
        let d = tempfile::tempdir().unwrap();
        let csv = d.path().join("a.csv");
        std::fs::write(
            &csv,
            "Date,Open,High,Low,Close\n2024-01-01,1,1,1,1\n2024-01-02,1,1,1,1",
        )
        .unwrap();
        assert_eq!(rows_at_most(&csv).unwrap(), 2);
        std::fs::write(&csv, "Date,Open,High,Low,Close\n").unwrap();
        assert_eq!(rows_at_most(&csv).unwrap(), 0);
        let bars = sample("GOOG").unwrap();
        let pq = d.path().join("a.parquet");
        write_parquet(&bars, &pq).unwrap();
        assert_eq!(rows_at_most(&pq).unwrap(), bars.len() as u64);
        assert!(rows_at_most(&d.path().join("missing.csv")).is_err());
    }
}
