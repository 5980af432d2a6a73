//! Storing uploaded datasets: validate, hash, write once.

use std::path::{Path, PathBuf};

use backtide_core::Bars;
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::store::{Dataset, now_iso};

/// Refuses empty datasets (422) and datasets over `max_bars` (413).
fn check_size(bars: Bars, max_bars: usize) -> Result<Bars, ApiError> {
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
    Ok(bars)
}

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
    // The Parquet reader wants a file: read a private temporary copy, so that a file that
    // turns out invalid (or over the limits) is never left in the datasets folder.
    let staged = (format == "parquet")
        .then(|| path.with_file_name(format!(".{id}.upload-{}", uuid::Uuid::new_v4().simple())));
    let parsed = match &staged {
        None => backtide_data::parse_csv(bytes, &label),
        Some(tmp) => {
            backtide_data::write_bytes(tmp, bytes).and_then(|()| backtide_data::read_parquet(tmp))
        }
    };
    let checked = parsed
        .map_err(|e| {
            let msg = e.to_string();
            let msg = match &staged {
                Some(tmp) => msg.replace(&*tmp.to_string_lossy(), &label),
                None => msg,
            };
            ApiError::invalid(&["body"], msg, "value_error")
        })
        .and_then(|bars| check_size(bars, max_bars));
    let bars = match checked {
        Ok(b) => b,
        Err(e) => {
            if let Some(tmp) = &staged {
                let _ = std::fs::remove_file(tmp);
            }
            return Err(e);
        }
    };
    match &staged {
        Some(tmp) if path.exists() => {
            let _ = std::fs::remove_file(tmp);
        }
        Some(tmp) => std::fs::rename(tmp, &path).map_err(ApiError::internal)?,
        None if !path.exists() => {
            backtide_data::write_bytes(&path, bytes).map_err(ApiError::internal)?;
        }
        None => {}
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
