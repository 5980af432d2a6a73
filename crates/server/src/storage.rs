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
/// `SQLITE_FULL`) anywhere in its chain, or says so in its text (the Parquet writer keeps
/// only the I/O error's text).
pub(crate) fn is_disk_full(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
            || c.downcast_ref::<rusqlite::Error>()
                .is_some_and(|r| r.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
            || matches!(c.downcast_ref::<crate::store::StoreError>(),
                Some(crate::store::StoreError::Sqlite(r))
                    if r.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull))
            || c.to_string().contains("No space left on device")
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

/// The list of a result's files with their SHA-256, written after them and before `DONE`.
pub(crate) const MANIFEST: &str = "MANIFEST";

/// The SHA-256 of a file, read in blocks (results can be hundreds of MB).
pub(crate) fn sha256_file(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Records the digest of every file now in a result folder (`name digest` per line), so
/// that each can be checked when it is served.
pub(crate) fn write_manifest(dir: &Path) -> anyhow::Result<()> {
    let mut names: Vec<String> = std::fs::read_dir(dir)?
        .flatten()
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && n != MANIFEST && n != crate::work::DONE)
        .collect();
    names.sort();
    let mut text = String::new();
    for n in names {
        text.push_str(&format!("{n} {}\n", sha256_file(&dir.join(&n))?));
    }
    backtide_data::write_bytes(&dir.join(MANIFEST), text.as_bytes())?;
    Ok(())
}

/// The digest a result folder's manifest records for `name`, if any.
fn recorded(dir: &Path, name: &str) -> Option<String> {
    let text = std::fs::read_to_string(dir.join(MANIFEST)).ok()?;
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(n, _)| *n == name)
        .map(|(_, d)| d.trim().to_string())
}

/// Checks one file of a finished result against what was recorded when it was written:
/// `result.json` against the job's digest, any other file against the manifest (files
/// made later, such as a backtest's report drawn on demand, are not in it and pass).
/// `Err` says what is wrong.
pub(crate) fn check_file(dir: &Path, name: &str, digest: Option<&str>) -> Result<(), String> {
    let expected = if name == "result.json" {
        digest.map(str::to_string)
    } else {
        recorded(dir, name)
    };
    let Some(expected) = expected else {
        return Ok(());
    };
    match sha256_file(&dir.join(name)) {
        Ok(d) if d == expected => Ok(()),
        Ok(_) => Err(format!(
            "{name} does not match the digest recorded when it was written"
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(format!("{name} is missing")),
        Err(e) => Err(format!("{name} cannot be read: {e}")),
    }
}

/// Checks every file a result folder's manifest lists, and `result.json` against `digest`.
pub(crate) fn check_result(dir: &Path, digest: &str) -> Result<(), String> {
    check_file(dir, "result.json", Some(digest))?;
    let listed = std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default();
    for (name, _) in listed.lines().filter_map(|l| l.split_once(' ')) {
        if name != "result.json" {
            check_file(dir, name, None)?;
        }
    }
    Ok(())
}

/// Files already checked since this process started, with the size and modification time
/// they had then: reading a result again does not hash it again unless it changed.
#[derive(Default)]
pub(crate) struct Checked(std::sync::Mutex<std::collections::HashMap<std::path::PathBuf, Stamp>>);

type Stamp = (u64, Option<std::time::SystemTime>);

fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()))
}

impl Checked {
    /// [`check_file`], remembered while the file does not change.
    pub(crate) fn check(&self, dir: &Path, name: &str, digest: Option<&str>) -> Result<(), String> {
        let path = dir.join(name);
        let now = stamp(&path);
        let mut seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if now.is_some() && seen.get(&path) == now.as_ref() {
            return Ok(());
        }
        drop(seen);
        check_file(dir, name, digest)?;
        seen = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(st) = now {
            seen.insert(path, st);
        }
        Ok(())
    }

    /// Forgets a result folder's files (it is being removed).
    pub(crate) fn forget(&self, dir: &Path) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|p, _| !p.starts_with(dir));
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

    #[test]
    fn damaged_results_are_found() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path();
        std::fs::write(dir.join("result.json"), b"{\"a\": 1}").unwrap();
        std::fs::write(dir.join("trades.csv"), b"x,y\n1,2\n").unwrap();
        write_manifest(dir).unwrap();
        let digest = sha256_file(&dir.join("result.json")).unwrap();
        assert_eq!(check_result(dir, &digest), Ok(()));
        // A report drawn later is not in the manifest.
        std::fs::write(dir.join("report.html"), b"<html>").unwrap();
        assert_eq!(check_file(dir, "report.html", None), Ok(()));
        // One flipped byte, a truncation, a missing file.
        std::fs::write(dir.join("trades.csv"), b"x,y\n1,3\n").unwrap();
        let e = check_result(dir, &digest).unwrap_err();
        assert!(e.contains("trades.csv does not match"), "{e}");
        std::fs::write(dir.join("result.json"), b"{\"a\"").unwrap();
        let checked = Checked::default();
        assert!(checked.check(dir, "result.json", Some(&digest)).is_err());
        std::fs::remove_file(dir.join("result.json")).unwrap();
        let e = check_file(dir, "result.json", Some(&digest)).unwrap_err();
        assert!(e.contains("missing"), "{e}");
    }
}
