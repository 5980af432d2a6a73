//! Parquet writing and reading, and loading the bundled samples.

use backtide_data::{load, read_parquet, sample, write_parquet};

#[test]
fn parquet_roundtrip_is_lossless() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["GOOG", "EURUSD", "BTCUSD"] {
        let bars = sample(name).unwrap();
        let path = dir.path().join(format!("{name}.parquet"));
        write_parquet(&bars, &path).unwrap();
        assert_eq!(read_parquet(&path).unwrap(), bars, "{name}");
        assert_eq!(load(path.to_str().unwrap()).unwrap(), bars);
    }
    // Only the target file remains: the temporary file was renamed over it.
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
}

#[test]
fn corrupt_parquet_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.parquet");
    std::fs::write(&path, b"PAR1 this is not parquet").unwrap();
    let e = read_parquet(&path).unwrap_err().to_string();
    assert!(e.contains("bad.parquet"), "{e}");
}

#[test]
fn missing_file_names_the_path() {
    let e = load("/nonexistent/x.csv").unwrap_err().to_string();
    assert!(e.contains("/nonexistent/x.csv"), "{e}");
}

#[test]
fn sample_matches_source_checksum_row_count() {
    // Bundled verbatim from backtesting.py 0.6.6 (see crates/data/samples/README.md).
    let g = sample("GOOG").unwrap();
    assert_eq!(g.len(), 2148);
    assert_eq!(g.close()[0], 100.34);
    assert!(sample("btcusd").unwrap().volume()[0] > 2012.25);
}
