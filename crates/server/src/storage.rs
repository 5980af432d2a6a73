//! Keeping the data directory whole across crashes: what a start-up removes and checks.
//!
//! Every file the server writes goes through a temporary sibling whose name starts with a
//! dot (`backtide_data`'s atomic writes, staged uploads, model uploads) and is renamed into
//! place when complete, so after a crash any dot-entry in the data folders is a leftover.

use std::path::Path;

use crate::error::ApiError;

/// Bytes free to this process on the file system holding `dir`.
pub(crate) fn free_bytes(dir: &Path) -> std::io::Result<u64> {
    let s = rustix::fs::statvfs(dir)?;
    Ok(s.f_bavail.saturating_mul(s.f_frsize))
}

/// Refuses (507) a write of about `need` bytes that would leave less than `reserve` free
/// in `dir`: a full disk is answered before anything is half-written, and the reserve
/// keeps room for the results of jobs already accepted.
pub(crate) fn ensure_room(dir: &Path, need: u64, reserve: u64) -> Result<(), ApiError> {
    let free = free_bytes(dir).map_err(ApiError::internal)?;
    if free < need.saturating_add(reserve) {
        return Err(ApiError::InsufficientStorage(format!(
            "the server's disk is full: {} MiB free, {} MiB needed plus a reserve of {} MiB; \
             retry once space is freed",
            free >> 20,
            need.div_ceil(1 << 20),
            reserve >> 20
        )));
    }
    Ok(())
}

/// Whether an error comes from a full disk (an I/O error `ENOSPC`, or SQLite's
/// `SQLITE_FULL`) anywhere in its chain.
pub(crate) fn is_disk_full(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
            || c.downcast_ref::<rusqlite::Error>()
                .is_some_and(|r| r.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
    })
}

/// Removes the temporary files and folders a crash left in `data_dir` (staged uploads,
/// half-written results); returns how many entries and bytes went.
pub(crate) fn remove_leftovers(data_dir: &Path) -> (usize, u64) {
    let mut folders = vec![data_dir.join("datasets"), data_dir.join("models")];
    if let Ok(results) = std::fs::read_dir(data_dir.join("results")) {
        folders.extend(results.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
    }
    let (mut count, mut bytes) = (0, 0);
    for folder in folders {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for e in entries.flatten() {
            if !e.file_name().to_string_lossy().starts_with('.') {
                continue;
            }
            let path = e.path();
            let size = size_of(&path);
            let gone = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
            match gone {
                Ok(()) => {
                    count += 1;
                    bytes += size;
                }
                Err(err) => tracing::warn!(path = %path.display(), error = %err,
                    "could not remove a leftover temporary file"),
            }
        }
    }
    (count, bytes)
}

fn size_of(path: &Path) -> u64 {
    if path.is_dir() {
        std::fs::read_dir(path)
            .map(|d| d.flatten().map(|e| size_of(&e.path())).sum())
            .unwrap_or(0)
    } else {
        std::fs::metadata(path).map_or(0, |m| m.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_is_checked_against_the_reserve() {
        let d = tempfile::tempdir().unwrap();
        assert!(ensure_room(d.path(), 0, 0).is_ok());
        let e = ensure_room(d.path(), 1, u64::MAX / 2).unwrap_err();
        assert!(matches!(e, ApiError::InsufficientStorage(ref m) if m.contains("disk is full")));
        let full = anyhow::Error::new(std::io::Error::from(std::io::ErrorKind::StorageFull))
            .context("writing result.json");
        assert!(is_disk_full(&full));
        assert!(!is_disk_full(&anyhow::anyhow!("other")));
    }

    #[test]
    fn leftovers_go_and_nothing_else() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path();
        for f in ["datasets", "models/abc", "models/.upload-1", "results/j1"] {
            std::fs::create_dir_all(root.join(f)).unwrap();
        }
        let files = [
            ("datasets/ab.csv", true),
            ("datasets/.ab.upload-x.parquet", false),
            ("models/abc/model.onnx", true),
            ("models/.upload-1/model.onnx", false),
            ("results/j1/result.json", true),
            ("results/j1/.result.json.tmp-12-0", false),
            ("results/j1/DONE", true),
        ];
        for (f, _) in files {
            std::fs::write(root.join(f), b"12345").unwrap();
        }
        let (n, bytes) = remove_leftovers(root);
        assert_eq!((n, bytes), (3, 15));
        for (f, kept) in files {
            assert_eq!(root.join(f).exists(), kept, "{f}");
        }
        assert!(!root.join("models/.upload-1").exists());
    }
}
