//! Keeping the data directory whole across crashes: what a start-up removes and checks.
//!
//! Every file the server writes goes through a temporary sibling whose name starts with a
//! dot (`backtide_data`'s atomic writes, staged uploads, model uploads) and is renamed into
//! place when complete, so after a crash any dot-entry in the data folders is a leftover.

use std::path::Path;

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
