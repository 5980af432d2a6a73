//! One malformed file per validation rule: the error names file, line, column, value and
//! rule. Plus: no input makes the reader panic.

use backtide_data::{DataError, parse_csv};
use proptest::prelude::*;

const HEADER: &str = "Date,Open,High,Low,Close,Volume\n";
const GOOD: &str = "2020-01-01,10,11,9,10.5,100\n";

fn err(body: &str) -> String {
    let csv = format!("{HEADER}{GOOD}{body}");
    match parse_csv(csv.as_bytes(), "bad.csv") {
        Ok(_) => panic!("accepted malformed input:\n{csv}"),
        Err(e) => e.to_string(),
    }
}

fn expect(msg: &str, parts: &[&str]) {
    for p in parts {
        assert!(msg.contains(p), "`{msg}` lacks `{p}`");
    }
    assert!(!msg.contains('\n'), "one line: {msg}");
}

#[test]
fn missing_column() {
    let e = parse_csv(b"Date,Open,High,Close\n2020-01-01,1,2,1.5\n", "bad.csv").unwrap_err();
    assert!(matches!(e, DataError::MissingColumn { column: "Low", .. }));
    expect(&e.to_string(), &["bad.csv", "line 1", "Low"]);
}

#[test]
fn unparsable_number() {
    expect(
        &err("2020-01-02,10,abc,9,10,100\n"),
        &["bad.csv", "line 3", "`High`", "`abc`", "expected a number"],
    );
}

#[test]
fn empty_number() {
    expect(
        &err("2020-01-02,10,11,,10,100\n"),
        &["line 3", "`Low`", "expected a number"],
    );
}

#[test]
fn unparsable_time() {
    expect(
        &err("2020-13-45,10,11,9,10,100\n"),
        &["line 3", "`Date`", "`2020-13-45`", "ISO 8601"],
    );
}

#[test]
fn nan_and_inf() {
    expect(
        &err("2020-01-02,NaN,11,9,10,100\n"),
        &["line 3", "`Open`", "NaN", "finite"],
    );
    expect(
        &err("2020-01-02,10,inf,9,10,100\n"),
        &["line 3", "`High`", "inf", "finite"],
    );
}

#[test]
fn non_positive_price() {
    expect(
        &err("2020-01-02,10,11,-1,10,100\n"),
        &["line 3", "`Low`", "-1", "> 0"],
    );
    expect(
        &err("2020-01-02,0,11,0,10,100\n"),
        &["line 3", "`Open`", "> 0"],
    );
}

#[test]
fn high_below_open_or_close() {
    expect(
        &err("2020-01-02,10,10.5,9,10.8,100\n"),
        &[
            "line 3",
            "`High`",
            "10.5",
            "High must be >= max(Open, Close)",
        ],
    );
}

#[test]
fn low_above_open_or_close() {
    expect(
        &err("2020-01-02,10,11,10.2,10.8,100\n"),
        &["line 3", "`Low`", "10.2", "Low must be <= min(Open, Close)"],
    );
}

#[test]
fn negative_volume() {
    expect(
        &err("2020-01-02,10,11,9,10,-5\n"),
        &["line 3", "`Volume`", "-5", "Volume must be >= 0"],
    );
}

#[test]
fn duplicate_timestamp() {
    expect(
        &err("2020-01-01,10,11,9,10,100\n"),
        &["line 3", "`Date`", "2020-01-01T00:00:00", "duplicate"],
    );
}

#[test]
fn out_of_order_timestamp() {
    expect(
        &err("2019-12-31,10,11,9,10,100\n"),
        &[
            "line 3",
            "`Date`",
            "2019-12-31",
            "earlier than the previous",
        ],
    );
}

#[test]
fn ragged_row_and_empty_file() {
    expect(
        &err("2020-01-02,10,11\n"),
        &["bad.csv", "line 3", "malformed CSV"],
    );
    let e = parse_csv(HEADER.as_bytes(), "bad.csv").unwrap_err();
    expect(&e.to_string(), &["bad.csv", "no data rows"]);
}

#[test]
fn line_numbers_count_from_the_header() {
    let mut csv = String::from(HEADER);
    for d in 1..=9 {
        csv.push_str(&format!("2020-01-0{d},10,11,9,10,100\n"));
    }
    csv.push_str("2020-01-10,10,11,9,10,-1\n");
    let e = parse_csv(csv.as_bytes(), "f.csv").unwrap_err().to_string();
    expect(&e, &["line 11"]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes: an error or bars, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = parse_csv(&bytes, "fuzz.csv");
    }

    /// CSV-shaped input with random fields: an error or valid bars, never a panic.
    #[test]
    fn csv_shaped_input_never_panics(rows in proptest::collection::vec(
        proptest::collection::vec(prop_oneof![
            Just("".to_string()), Just("NaN".to_string()), Just("-1".to_string()),
            Just("2020-01-01".to_string()), Just("1e308".to_string()), Just("1e400".to_string()),
            "[0-9]{1,13}", "[0-9]{1,4}\\.[0-9]{1,6}", "[ -~]{0,12}",
        ], 0..8), 0..12)) {
        let mut s = String::from(HEADER);
        for r in rows {
            s.push_str(&r.join(","));
            s.push('\n');
        }
        if let Ok(bars) = parse_csv(s.as_bytes(), "fuzz.csv") {
            prop_assert!(bars.high().iter().zip(bars.low()).all(|(h, l)| h >= l));
        }
    }
}
