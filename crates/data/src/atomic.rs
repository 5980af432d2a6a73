//! Atomic file writes: write a sibling temporary file, flush it, rename it over the target.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use crate::error::DataError;

/// Writes `path` through `fill`; on any error the target is untouched and the temporary
/// file removed.
pub fn write_with(
    path: &Path,
    fill: impl FnOnce(&mut BufWriter<File>) -> Result<(), DataError>,
) -> Result<(), DataError> {
    let io = |source| DataError::Io {
        path: path.into(),
        source,
    };
    let tmp = temp_path(path);
    let result = (|| {
        let mut w = BufWriter::new(File::create(&tmp).map_err(io)?);
        fill(&mut w)?;
        let f = w.into_inner().map_err(|e| io(e.into_error()))?;
        f.sync_all().map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// The temporary sibling a write to `path` goes through (same folder, so the final rename
/// is atomic; hidden; unique per process).
pub(crate) fn temp_path(path: &Path) -> std::path::PathBuf {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    dir.join(format!(".{name}.tmp-{}-{n}", std::process::id()))
}

/// Writes bytes atomically.
pub fn write_bytes(path: &Path, bytes: &[u8]) -> Result<(), DataError> {
    write_with(path, |w| {
        w.write_all(bytes).map_err(|source| DataError::Io {
            path: path.into(),
            source,
        })
    })
}
