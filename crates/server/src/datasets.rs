//! Storing uploaded datasets: validate, hash, write once.

use std::path::{Path, PathBuf};

use backtide_core::{Bars, Universe};
use std::io::Read as _;

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
fn csv_has_symbol_column(path: &Path) -> bool {
    use std::io::BufRead;
    let mut first = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = std::io::BufReader::new(f)
            .take(1 << 20)
            .read_until(b'\n', &mut first);
    }
    let delimiter = char::from(backtide_data::sniff_delimiter(&first));
    let header = String::from_utf8_lossy(&first);
    header
        .trim_start_matches('\u{feff}')
        .split(delimiter)
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

/// An upload written to a private temporary file in the datasets folder (a dot-file, so a
/// crash leaves nothing a start does not remove), with its SHA-256 and size, before
/// anything decodes it: an upload costs the server a 64 KiB buffer, not its size in
/// memory. Dropped without [`ingest`] keeping it, the file goes.
pub(crate) struct Staged {
    path: PathBuf,
    id: String,
    bytes: u64,
    format: &'static str,
}

impl Staged {
    /// The content's id (its SHA-256).
    pub(crate) fn id(&self) -> &str {
        &self.id
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Where an upload is staged: named after its content and format once both are known
/// (the readers go by the extension).
fn staged_path(data_dir: &Path, tag: &str, format: &str) -> PathBuf {
    data_dir.join("datasets").join(format!(
        ".{tag}.upload-{}.{format}",
        uuid::Uuid::new_v4().simple()
    ))
}

fn format_of(head: &[u8]) -> &'static str {
    if head.starts_with(b"PAR1") {
        "parquet"
    } else {
        "csv"
    }
}

/// Stages bytes already in memory (the bundled samples).
pub(crate) fn stage_bytes(data_dir: &Path, bytes: &[u8]) -> Result<Staged, ApiError> {
    std::fs::create_dir_all(data_dir.join("datasets")).map_err(ApiError::internal)?;
    let id: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let format = format_of(bytes);
    let path = staged_path(data_dir, &id, format);
    backtide_data::write_bytes(&path, bytes).map_err(ApiError::internal)?;
    Ok(Staged {
        path,
        id,
        bytes: bytes.len() as u64,
        format,
    })
}

/// Stages a request body as it arrives, refusing (413) more than `limit` bytes. A read
/// error of the body (a client that stopped sending) is answered through
/// [`crate::error::unreadable`]'s rules.
pub(crate) async fn stage_stream<E: std::fmt::Display>(
    data_dir: &Path,
    mut body: impl futures_util::Stream<Item = Result<axum::body::Bytes, E>> + Unpin,
    limit: u64,
    loc: &[&str],
) -> Result<Staged, ApiError> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    tokio::fs::create_dir_all(data_dir.join("datasets"))
        .await
        .map_err(ApiError::internal)?;
    let tmp = staged_path(data_dir, "incoming", "part");
    // Owns the file from here: any early return removes it.
    let mut staged = Staged {
        path: tmp.clone(),
        id: String::new(),
        bytes: 0,
        format: "csv",
    };
    let mut file = tokio::fs::File::create(&tmp)
        .await
        .map_err(ApiError::internal)?;
    let mut hash = Sha256::new();
    let mut head: Vec<u8> = Vec::with_capacity(4);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| {
            crate::error::unreadable(
                axum::http::StatusCode::BAD_REQUEST,
                e.to_string(),
                loc,
                "value_error",
            )
        })?;
        staged.bytes += chunk.len() as u64;
        if staged.bytes > limit {
            return Err(ApiError::TooLarge(format!(
                "the upload is over this server's limit of {limit} bytes"
            )));
        }
        if head.len() < 4 {
            head.extend(chunk.iter().take(4 - head.len()));
        }
        hash.update(&chunk);
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.sync_all().await.map_err(ApiError::internal)?;
    drop(file);
    staged.id = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    staged.format = format_of(&head);
    let path = staged_path(data_dir, &staged.id, staged.format);
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(ApiError::internal)?;
    staged.path = path;
    Ok(staged)
}

/// Validates a staged upload and keeps it under `data_dir` (once per content), returning
/// its metadata. The id is the SHA-256 of the bytes, so the same file uploaded twice is
/// stored once. Its rows are bounded before it is decoded: a small file that would
/// decode into more than `max_bars` rows is refused (413) without decoding it.
pub(crate) fn ingest(
    data_dir: &Path,
    name: &str,
    staged: Staged,
    max_bars: usize,
) -> Result<Dataset, ApiError> {
    let (dataset, staged) = validate(name, staged, max_bars)?;
    keep(data_dir, staged, &dataset)?;
    Ok(dataset)
}

/// Moves a validated upload into the datasets folder unless its content is there already.
/// The service calls it, and records the dataset, under its datasets lock, so a deletion
/// cannot remove the file between the two.
pub(crate) fn keep(data_dir: &Path, staged: Staged, d: &Dataset) -> Result<(), ApiError> {
    let path = dataset_path(data_dir, &d.id, &d.format);
    if !path.exists() {
        std::fs::rename(&staged.path, &path).map_err(ApiError::internal)?;
    }
    Ok(())
}

/// [`ingest`] without keeping the file: the dataset's record and the staged upload.
pub(crate) fn validate(
    name: &str,
    staged: Staged,
    max_bars: usize,
) -> Result<(Dataset, Staged), ApiError> {
    if staged.bytes == 0 {
        return Err(ApiError::invalid(
            &["body"],
            "the body is empty; send a CSV or Parquet file",
            "missing",
        ));
    }
    let (id, format, tmp) = (staged.id.clone(), staged.format, staged.path.clone());
    let label = format!("{name} (upload)");
    let tmp_text = tmp.to_string_lossy().into_owned();
    let named = |e: backtide_data::DataError| {
        ApiError::invalid(
            &["body"],
            e.to_string().replace(&tmp_text, &label),
            "value_error",
        )
    };
    let rows = backtide_data::rows_at_most(&tmp).map_err(named)?;
    if rows > max_bars as u64 {
        return Err(ApiError::TooLarge(format!(
            "the file holds more than {max_bars} rows (its {} says {rows}); this server accepts \
             at most {max_bars} bars",
            if format == "parquet" {
                "footer"
            } else {
                "line count"
            }
        )));
    }
    let parsed = if format == "csv" && !csv_has_symbol_column(&tmp) {
        backtide_data::read_csv(&tmp).map(|b| single(&b))
    } else if backtide_data::is_single_asset_spec(&tmp_text) {
        backtide_data::read_parquet(&tmp).map(|b| single(&b))
    } else {
        backtide_data::load_universe(&[&*tmp_text]).map(|u| long(&u))
    };
    let parsed = check_size(parsed.map_err(named)?, max_bars)?;
    let bytes = staged.bytes;
    let mut columns: Vec<String> = ["Open", "High", "Low", "Close"].map(String::from).to_vec();
    if parsed.volume {
        columns.push("Volume".into());
    }
    let dataset = Dataset {
        id,
        name: name.to_string(),
        format: format.into(),
        rows: parsed.rows as u64,
        first: backtide_data::format_timestamp(parsed.first),
        last: backtide_data::format_timestamp(parsed.last),
        columns,
        bytes,
        created_at: now_iso(),
        symbols: parsed.symbols,
        previous: Vec::new(),
    };
    Ok((dataset, staged))
}
