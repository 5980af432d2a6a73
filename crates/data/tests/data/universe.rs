//! Multi-asset universes: every spec form gives the same assets, and each bad input is one
//! line naming the file, symbol, line and rule.

use std::path::Path;
use std::sync::Arc;

use arrow_array::types::Int32Type;
use arrow_array::{
    Array, ArrayRef, DictionaryArray, Float64Array, RecordBatch, StringArray,
    TimestampNanosecondArray,
};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use backtide_data::{load_universe, parse_timestamp, sample_universe, write_parquet};
use parquet::arrow::ArrowWriter;

const HEADER: &str = "Date,Open,High,Low,Close,Volume\n";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn err(specs: &[&str]) -> String {
    let e = load_universe(specs).unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

/// Rows `(symbol, date, close)` in the order given; OHLC all equal to the close.
fn long_csv(rows: &[(&str, &str, f64)]) -> String {
    let mut s = String::from("Symbol,Date,Open,High,Low,Close,Volume\n");
    for (sym, d, c) in rows {
        s.push_str(&format!("{sym},{d},{c},{c},{c},{c},100\n"));
    }
    s
}

fn one_csv(rows: &[(&str, f64)]) -> String {
    let mut s = String::from(HEADER);
    for (d, c) in rows {
        s.push_str(&format!("{d},{c},{c},{c},{c},100\n"));
    }
    s
}

const INTERLEAVED: &[(&str, &str, f64)] = &[
    ("MSFT", "2020-01-02", 20.0),
    ("AAPL", "2020-01-01", 10.0),
    ("AAPL", "2020-01-02", 11.0),
    ("MSFT", "2020-01-03", 21.0),
    ("AAPL", "2020-01-06", 12.0),
];

#[test]
fn sample_stocks_is_five_assets_on_the_union() {
    let u = load_universe(&["sample:STOCKS"]).unwrap();
    assert_eq!(u, sample_universe("stocks").unwrap());
    assert_eq!(
        u.symbols().collect::<Vec<_>>(),
        ["AAPL", "FB", "GOOG", "IBM", "MSFT"]
    );
    assert_eq!(u.len(), 3270);
    let goog = &u.assets()[2];
    let listed = parse_timestamp("2004-08-19").unwrap();
    assert_eq!(
        goog.rows()[0] as usize,
        u.time().partition_point(|&t| t < listed)
    );
    assert_eq!(u.time()[goog.rows()[0] as usize], listed);
    assert_eq!(goog.bars().len(), 2148);
    assert_eq!(u.assets()[1].bars().len(), 196);
    assert_eq!(u.assets()[0].bars().len(), 3270);
    // Case-insensitive, and a single sample is a universe of one.
    assert_eq!(load_universe(&["sample:stocks"]).unwrap(), u);
    let g = load_universe(&["sample:goog"]).unwrap();
    assert_eq!(g.symbols().collect::<Vec<_>>(), ["GOOG"]);
    assert_eq!(g.len(), 2148);
}

#[test]
fn directory_symbol_file_and_plain_file_give_the_same_universe() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("universe");
    std::fs::create_dir(&dir).unwrap();
    let msft = one_csv(&[("2020-01-02", 20.0), ("2020-01-03", 21.0)]);
    let aapl = one_csv(&[
        ("2020-01-01", 10.0),
        ("2020-01-02", 11.0),
        ("2020-01-06", 12.0),
    ]);
    let a = write(&dir, "AAPL.csv", &aapl);
    write(&dir, "MSFT.csv", &msft);
    write(&dir, "notes.txt", "not data");
    std::fs::create_dir(dir.join("sub.csv")).unwrap(); // a directory is skipped, even so named
    let by_dir = load_universe(&[dir.display().to_string()]).unwrap();
    assert_eq!(by_dir.symbols().collect::<Vec<_>>(), ["AAPL", "MSFT"]);
    assert_eq!(by_dir.len(), 4);
    assert_eq!(by_dir.assets()[1].rows(), &[1, 2]);

    // `SYMBOL=FILE` names the asset; a plain file is named by its stem.
    let other = write(tmp.path(), "other.csv", &msft);
    let by_spec = load_universe(&[a.clone(), format!("MSFT={other}")]).unwrap();
    assert_eq!(by_spec, by_dir);

    // Parquet files in a directory count too, by extension in any case.
    let pq_dir = tmp.path().join("pq");
    std::fs::create_dir(&pq_dir).unwrap();
    for u in by_dir.assets() {
        write_parquet(u.bars(), &pq_dir.join(format!("{}.PQ", u.symbol()))).unwrap();
    }
    assert_eq!(
        load_universe(&[pq_dir.display().to_string()]).unwrap(),
        by_dir
    );

    // One plain spec is a universe of one.
    let one = load_universe(&[a]).unwrap();
    assert_eq!(one.n_assets(), 1);
    assert_eq!(one.assets()[0].bars(), by_dir.assets()[0].bars());

    // A bundled sample can be renamed.
    let spy = load_universe(&["SPY=sample:GOOG"]).unwrap();
    assert_eq!(spy.symbols().collect::<Vec<_>>(), ["SPY"]);
}

#[test]
fn long_csv_is_split_by_symbol_alphabetically() {
    let tmp = tempfile::tempdir().unwrap();
    let long = write(tmp.path(), "long.csv", &long_csv(INTERLEAVED));
    let u = load_universe(&[long]).unwrap();
    let dir = tmp.path().join("wide");
    std::fs::create_dir(&dir).unwrap();
    write(
        &dir,
        "MSFT.csv",
        &one_csv(&[("2020-01-02", 20.0), ("2020-01-03", 21.0)]),
    );
    write(
        &dir,
        "AAPL.csv",
        &one_csv(&[
            ("2020-01-01", 10.0),
            ("2020-01-02", 11.0),
            ("2020-01-06", 12.0),
        ]),
    );
    assert_eq!(u, load_universe(&[dir.display().to_string()]).unwrap());
    assert_eq!(u.symbols().collect::<Vec<_>>(), ["AAPL", "MSFT"]);
}

/// Writes a long-format Parquet file: `time` (timestamp ns), `symbol`, OHLCV.
fn long_parquet(path: &Path, rows: &[(&str, &str, f64)], dictionary: bool) {
    let time: Vec<i64> = rows.iter().map(|r| parse_timestamp(r.1).unwrap()).collect();
    let close: Vec<f64> = rows.iter().map(|r| r.2).collect();
    let (symbol, symbol_type): (ArrayRef, DataType) = if dictionary {
        let d: DictionaryArray<Int32Type> = rows.iter().map(|r| r.0).collect();
        let t = d.data_type().clone();
        (Arc::new(d), t)
    } else {
        (
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            DataType::Utf8,
        )
    };
    let mut fields = vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Nanosecond, None),
            false,
        ),
        Field::new("symbol", symbol_type, false),
    ];
    let mut arrays: Vec<ArrayRef> = vec![Arc::new(TimestampNanosecondArray::from(time)), symbol];
    for name in ["Open", "High", "Low", "Close"] {
        fields.push(Field::new(name, DataType::Float64, false));
        arrays.push(Arc::new(Float64Array::from(close.clone())));
    }
    fields.push(Field::new("Volume", DataType::Float64, true));
    arrays.push(Arc::new(Float64Array::from(vec![100.0; rows.len()])));
    let schema = Arc::new(Schema::new(fields));
    let batch = RecordBatch::try_new(schema.clone(), arrays).unwrap();
    let mut w = ArrowWriter::try_new(std::fs::File::create(path).unwrap(), schema, None).unwrap();
    w.write(&batch).unwrap();
    w.close().unwrap();
}

#[test]
fn long_parquet_equals_long_csv() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = load_universe(&[write(tmp.path(), "long.csv", &long_csv(INTERLEAVED))]).unwrap();
    for dictionary in [false, true] {
        let p = tmp.path().join("long.parquet");
        long_parquet(&p, INTERLEAVED, dictionary);
        assert_eq!(load_universe(&[p.display().to_string()]).unwrap(), csv);
    }
}

#[test]
fn long_parquet_errors_name_row_and_symbol() {
    let tmp = tempfile::tempdir().unwrap();
    let p = tmp.path().join("long.parquet");
    let mut rows = INTERLEAVED.to_vec();
    rows.push(("MSFT", "2020-01-01", 22.0));
    long_parquet(&p, &rows, false);
    let file = p.display().to_string();
    assert_eq!(
        err(&[&file]),
        format!(
            "{file}: line 6: symbol `MSFT`: timestamps must be strictly increasing within a \
             symbol (2020-01-01 after 2020-01-03)"
        )
    );
    rows.pop();
    rows.push(("AAPL", "2020-01-07", -1.0));
    long_parquet(&p, &rows, true);
    assert_eq!(
        err(&[&file]),
        format!("{file}: line 6, symbol `AAPL`, column `Open`: value `-1`: price must be > 0")
    );
}

#[test]
fn duplicate_symbol_across_specs_names_both_sources() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("d");
    std::fs::create_dir(&dir).unwrap();
    let in_dir = write(&dir, "AAPL.csv", &one_csv(&[("2020-01-01", 1.0)]));
    let other = write(tmp.path(), "a.csv", &one_csv(&[("2020-01-01", 1.0)]));
    assert_eq!(
        err(&[format!("AAPL={other}").as_str(), &dir.display().to_string()]),
        format!("symbol `AAPL` appears twice (from {other} and from {in_dir})")
    );
    assert_eq!(
        err(&["sample:GOOG", "sample:STOCKS"]),
        "symbol `GOOG` appears twice (from sample:GOOG and from sample:STOCKS)"
    );
}

#[test]
fn a_symbol_without_rows_is_named() {
    let tmp = tempfile::tempdir().unwrap();
    let empty = write(tmp.path(), "empty.csv", HEADER);
    assert_eq!(
        err(&[&format!("X={empty}")]),
        format!("symbol `X` ({empty}) has no rows")
    );
    assert_eq!(
        err(&[&empty]),
        format!("symbol `empty` ({empty}) has no rows")
    );
    // A long-format file with a header only has no symbol to name.
    let long = write(tmp.path(), "long.csv", &long_csv(&[]));
    assert_eq!(err(&[&long]), format!("{long}: no data rows"));
}

#[test]
fn unsorted_rows_within_a_symbol() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = INTERLEAVED.to_vec();
    rows.insert(4, ("AAPL", "2019-12-31", 9.0)); // line 6, before AAPL's 2020-01-02
    let long = write(tmp.path(), "long.csv", &long_csv(&rows));
    assert_eq!(
        err(&[&long]),
        format!(
            "{long}: line 6: symbol `AAPL`: timestamps must be strictly increasing within a \
             symbol (2019-12-31 after 2020-01-02)"
        )
    );
}

#[test]
fn duplicate_symbol_and_time() {
    let tmp = tempfile::tempdir().unwrap();
    let mut rows = INTERLEAVED.to_vec();
    rows.push(("MSFT", "2020-01-03", 21.5)); // line 7, repeats line 5
    let long = write(tmp.path(), "long.csv", &long_csv(&rows));
    assert_eq!(
        err(&[&long]),
        format!(
            "{long}: line 7: symbol `MSFT`: duplicate (symbol, time) row: 2020-01-03 is also \
             on line 5"
        )
    );
}

#[test]
fn bad_values_in_a_long_file_name_the_symbol() {
    let tmp = tempfile::tempdir().unwrap();
    let text =
        long_csv(INTERLEAVED).replace("MSFT,2020-01-03,21,21,21,21", "MSFT,2020-01-03,21,20,21,21");
    let long = write(tmp.path(), "long.csv", &text);
    assert_eq!(
        err(&[&long]),
        format!(
            "{long}: line 5, symbol `MSFT`, column `High`: value `20`: High must be >= \
             max(Open, Close)"
        )
    );
}

#[test]
fn malformed_specs() {
    assert_eq!(
        err(&["=prices.csv"]),
        "data spec `=prices.csv`: expected SYMBOL=FILE, but the symbol before `=` is empty"
    );
    assert_eq!(
        err(&["AAPL="]),
        "data spec `AAPL=`: expected SYMBOL=FILE, but the file after `=` is empty"
    );
    let e = err(&["AAPL=/nonexistent/a.csv"]);
    assert!(e.starts_with("/nonexistent/a.csv: "), "{e}");
    assert_eq!(
        err(&["sample:NOPE"]),
        "unknown sample `NOPE` (available: GOOG, EURUSD, BTCUSD, STOCKS)"
    );
    assert_eq!(err(&[] as &[&str]), "a universe needs at least one asset");
}

#[test]
fn a_directory_without_data_files() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "README.md", "nothing here");
    let dir = tmp.path().display().to_string();
    assert_eq!(
        err(&[&dir]),
        format!("{dir}: no .csv, .parquet or .pq file in this directory")
    );
}

#[test]
fn a_path_containing_equals_still_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("k=v");
    std::fs::create_dir(&dir).unwrap();
    let p = write(&dir, "X.csv", &one_csv(&[("2020-01-01", 1.0)]));
    let u = load_universe(&[p]).unwrap();
    assert_eq!(u.symbols().collect::<Vec<_>>(), ["X"]);
}
