//! Storing uploaded datasets: validate, hash, write once.

use std::path::{Path, PathBuf};

use backtide_core::{Bars, Universe};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::store::{Dataset, now_iso};

/// Refuses empty datasets (422) and datasets over `max_bars` (413; a long-format file's
/// bars of every symbol count).
fn check_size(p: Parsed, max_bars: usize) -> Result<Parsed, ApiError> {
    if p.rows == 0 {
        return Err(ApiError::invalid(
            &["body"],
            "the file has a header but no rows",
            "value_error",
        ));
    }
    if p.rows > max_bars {
        return Err(ApiError::TooLarge(format!(
            "the dataset has {} bars; this server accepts at most {max_bars}",
            p.rows
        )));
    }
    Ok(p)
}

/// A single-asset file's summary.
fn single(bars: &Bars) -> Parsed {
    Parsed {
        rows: bars.len(),
        first: bars.time().first().copied().unwrap_or(0),
        last: bars.time().last().copied().unwrap_or(0),
        volume: bars.volume().iter().any(|v| !v.is_nan()),
        symbols: None,
    }
}

/// A long-format file's summary: bars of every symbol, first and last time of any.
fn long(u: &Universe) -> Parsed {
    let assets = u.assets();
    Parsed {
        rows: assets.iter().map(|a| a.bars().len()).sum(),
        first: u.time().first().copied().unwrap_or(0),
        last: u.time().last().copied().unwrap_or(0),
        volume: assets
            .iter()
            .any(|a| a.bars().volume().iter().any(|v| !v.is_nan())),
        symbols: Some(u.symbols().map(str::to_string).collect()),
    }
}

/// True when a CSV's header names a `symbol` (or `ticker`) column: a long-format file of
/// several assets (the rule of `backtide_data::load_universe`).
fn csv_has_symbol_column(bytes: &[u8]) -> bool {
    let end = bytes
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(bytes.len());
    let header = String::from_utf8_lossy(&bytes[..end]);
    header
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|s| s.trim().trim_matches('"').trim())
        .any(|n| n.eq_ignore_ascii_case("symbol") || n.eq_ignore_ascii_case("ticker"))
}

/// What a validated upload holds.
struct Parsed {
    rows: usize,
    first: i64,
    last: i64,
    volume: bool,
    symbols: Option<Vec<String>>,
}

/// Deletes the files of contents the store no longer refers to (see
/// [`crate::store::Store::unreferenced_datasets`]) and forgets their cached bars.
pub(crate) async fn remove_files(state: &crate::AppState, removed: &[(String, String)]) {
    for (id, format) in removed {
        state.runner.forget_bars(id);
        let _ = tokio::fs::remove_file(dataset_path(&state.config.data_dir, id, format)).await;
    }
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
    // The Parquet reader and the long-format reader want a file: read a private temporary
    // copy (with the format's extension, which the readers go by), so that a file that
    // turns out invalid (or over the limits) is never left in the datasets folder.
    let csv_long = format == "csv" && csv_has_symbol_column(bytes);
    let staged = (format == "parquet" || csv_long).then(|| {
        path.with_file_name(format!(
            ".{id}.upload-{}.{format}",
            uuid::Uuid::new_v4().simple()
        ))
    });
    let parsed = match &staged {
        None => backtide_data::parse_csv(bytes, &label).map(|b| single(&b)),
        Some(tmp) => backtide_data::write_bytes(tmp, bytes).and_then(|()| {
            let tmp_text = tmp.to_string_lossy();
            if backtide_data::is_single_asset_spec(&tmp_text) {
                backtide_data::read_parquet(tmp).map(|b| single(&b))
            } else {
                backtide_data::load_universe(&[&*tmp_text]).map(|u| long(&u))
            }
        }),
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
        .and_then(|p| check_size(p, max_bars));
    let parsed = match checked {
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
    if parsed.volume {
        columns.push("Volume".into());
    }
    Ok(Dataset {
        id,
        name: name.to_string(),
        format: format.into(),
        rows: parsed.rows as u64,
        first: backtide_data::format_timestamp(parsed.first),
        last: backtide_data::format_timestamp(parsed.last),
        columns,
        bytes: bytes.len() as u64,
        created_at: now_iso(),
        symbols: parsed.symbols,
    })
}
