//! Storing uploaded datasets: validate, hash, write once.

use std::path::{Path, PathBuf};

use backtide_core::Bars;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::store::{Dataset, now_iso};

/// Where a dataset's file lives.
pub(crate) fn dataset_path(data_dir: &Path, id: &str, format: &str) -> PathBuf {
    data_dir.join("datasets").join(format!("{id}.{format}"))
}

/// Parses and validates an upload, writes it under `data_dir` (once per content) and
/// returns its metadata. The id is the SHA-256 of the bytes, so the same file uploaded
/// twice is stored once.
pub(crate) fn ingest(
    data_dir: &Path,
    name: &str,
    bytes: &[u8],
    max_bars: usize,
) -> Result<Dataset, ApiError> {
    if bytes.is_empty() {
        return Err(ApiError::invalid(
            &["body"],
            "the body is empty; send a CSV or Parquet file",
            "missing",
        ));
    }
    let id: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let format = if bytes.starts_with(b"PAR1") {
        "parquet"
    } else {
        "csv"
    };
    let path = dataset_path(data_dir, &id, format);
    std::fs::create_dir_all(path.parent().unwrap_or(data_dir)).map_err(ApiError::internal)?;
    let label = format!("{name} (upload)");
    let bars: Bars = if format == "csv" {
        backtide_data::parse_csv(bytes, &label)
    } else {
        // The Parquet reader wants a file: write it where it will live, then read it.
        if !path.exists() {
            backtide_data::write_bytes(&path, bytes).map_err(ApiError::internal)?;
        }
        backtide_data::read_parquet(&path)
    }
    .map_err(|e| ApiError::invalid(&["body"], e.to_string(), "value_error"))?;
    if bars.is_empty() {
        return Err(ApiError::invalid(
            &["body"],
            "the file has a header but no rows",
            "value_error",
        ));
    }
    if bars.len() > max_bars {
        return Err(ApiError::TooLarge(format!(
            "the dataset has {} bars; this server accepts at most {max_bars}",
            bars.len()
        )));
    }
    if format == "csv" && !path.exists() {
        backtide_data::write_bytes(&path, bytes).map_err(ApiError::internal)?;
    }
    let mut columns: Vec<String> = ["Open", "High", "Low", "Close"].map(String::from).to_vec();
    if bars.volume().iter().any(|v| !v.is_nan()) {
        columns.push("Volume".into());
    }
    Ok(Dataset {
        id,
        name: name.to_string(),
        format: format.into(),
        rows: bars.len() as u64,
        first: backtide_data::format_timestamp(bars.time()[0]),
        last: backtide_data::format_timestamp(bars.time()[bars.len() - 1]),
        columns,
        bytes: bytes.len() as u64,
        created_at: now_iso(),
    })
}
