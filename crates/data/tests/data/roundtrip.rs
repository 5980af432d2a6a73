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

/// A file of several row groups and decode batches, with millisecond times and float32
/// volume, reads back row for row; a null deep in the file is named by its row.
#[test]
fn parquet_across_row_groups_and_batches_keeps_every_row_and_names_a_null() {
    use std::sync::Arc;

    use arrow_array::{
        ArrayRef, Float32Array, Float64Array, RecordBatch, TimestampMillisecondArray,
    };
    use parquet::arrow::ArrowWriter;
    use parquet::file::properties::WriterProperties;

    let n = 150_000usize;
    let write = |path: &std::path::Path, null_at: Option<usize>| {
        let time: Vec<i64> = (0..n as i64)
            .map(|i| 1_600_000_000_000 + i * 60_000)
            .collect();
        let close: Vec<Option<f64>> = (0..n)
            .map(|i| (Some(i) != null_at).then_some(100.0 + (i % 97) as f64 / 8.0))
            .collect();
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("time", Arc::new(TimestampMillisecondArray::from(time))),
            ("Open", Arc::new(Float64Array::from(close.clone()))),
            ("High", Arc::new(Float64Array::from(close.clone()))),
            ("Low", Arc::new(Float64Array::from(close.clone()))),
            ("Close", Arc::new(Float64Array::from(close))),
            (
                "Volume",
                Arc::new(Float32Array::from_iter_values((0..n).map(|i| i as f32))),
            ),
        ];
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let props = WriterProperties::builder()
            .set_max_row_group_size(40_000)
            .build();
        let mut w = ArrowWriter::try_new(
            std::fs::File::create(path).unwrap(),
            batch.schema(),
            Some(props),
        )
        .unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.parquet");
    write(&path, None);
    let bars = read_parquet(&path).unwrap();
    assert_eq!(bars.len(), n);
    for i in [0, 39_999, 40_000, 65_535, 65_536, 131_072, n - 1] {
        assert_eq!(
            bars.time()[i],
            (1_600_000_000_000 + i as i64 * 60_000) * 1_000_000
        );
        assert_eq!(bars.close()[i], 100.0 + (i % 97) as f64 / 8.0);
        assert_eq!(bars.volume()[i], i as f64);
    }
    let bad = dir.path().join("null.parquet");
    write(&bad, Some(100_000));
    let e = read_parquet(&bad).unwrap_err().to_string();
    assert!(
        e.contains("null.parquet") && e.contains("100001") && e.contains("Open"),
        "{e}"
    );
}
