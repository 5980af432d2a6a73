//! `--resample`: bars at a coarser timeframe equal pandas' (`testdata/timeframe/`), and a
//! run on them says what was done.

use serde_json::Value;

use crate::cli::{fails_with, succeeds};
use crate::golden::testdata;

#[test]
fn resampled_bars_equal_pandas() {
    let text = std::fs::read_to_string(testdata("timeframe/reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for c in cases {
        let what = format!("{} {}", c["sample"], c["timeframe"]);
        let bars = backtide_data::sample(c["sample"].as_str().unwrap()).unwrap();
        let tf: backtide_core::timeframe::Timeframe =
            c["timeframe"].as_str().unwrap().parse().unwrap();
        let r = tf.resample(&bars).unwrap();
        let times: Vec<String> = r
            .time()
            .iter()
            .map(|&t| backtide_data::format_timestamp(t))
            .collect();
        let want: Vec<&str> = c["time"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t.as_str().unwrap())
            .collect();
        assert_eq!(times, want, "{what}");
        for (name, col) in [
            ("open", r.open()),
            ("high", r.high()),
            ("low", r.low()),
            ("close", r.close()),
            ("volume", r.volume()),
        ] {
            let want: Vec<f64> = c[name]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(col, want.as_slice(), "{what}: {name}");
        }
    }
}

#[test]
fn a_run_on_resampled_bars_reports_them() {
    let out = succeeds([
        "run",
        "--data",
        "sample:EURUSD",
        "--strategy",
        "sma_cross",
        "--resample",
        "4h",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["data"]["resample"],
        serde_json::json!({"timeframe": "4h", "bars_read": 5000, "bars": 1292})
    );
    assert_eq!(v["equity"].as_array().unwrap().len(), 1292);
    assert_eq!(v["equity"][0]["time"], "2017-04-19T08:00:00");
    // Portfolios: every asset alike.
    let out = succeeds([
        "run",
        "--data",
        "sample:STOCKS",
        "--strategy",
        "equal_weight",
        "--resample",
        "1w",
        "--json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let eq = v["equity"].as_array().unwrap();
    assert!(eq.len() < 700 && eq.len() > 600, "{} weekly bars", eq.len());
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--resample",
            "7min",
        ],
        &["--resample 7min: timeframe `7min`: expected N followed by min or h"],
    );
    // Already that coarse: a note, and the bars as they were.
    let out = succeeds([
        "run",
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--resample",
        "1h",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("note: --resample 1h: every bar is already in a bucket of its own"),
        "{err}"
    );
}
