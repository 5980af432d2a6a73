//! `--resample`: bars at a coarser timeframe equal pandas' (`testdata/timeframe/`), and a
//! run on them says what was done.

use backtide_core::timeframe::{Session, Timeframe};
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
        let bars = backtide_data::sample(c["sample"].as_str().unwrap()).unwrap();
        let tf: Timeframe = c["timeframe"].as_str().unwrap().parse().unwrap();
        let what = format!("{} {}", c["sample"], c["timeframe"]);
        assert_bars_equal(&tf.resample(&bars).unwrap(), c, &what);
    }
}

/// With a session (`testdata/timeframe/make_session_reference.py`): EURUSD with an FX day
/// opening 22:00 to 4h, days, weeks and months; with a 09:30 open to 1h, 2h and days; daily
/// GOOG with a 09:30 open to weeks and months. Exactly equal: every value is one of the
/// bars' own (first, max, min, last) or a sum of whole volumes.
#[test]
fn resampled_bars_in_a_session_equal_pandas() {
    let text = std::fs::read_to_string(testdata("timeframe/session_reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 9);
    for c in cases {
        let full = backtide_data::sample(c["sample"].as_str().unwrap()).unwrap();
        let rows = c["rows"].as_u64().unwrap() as usize;
        let bars = first_rows(&full, rows);
        let tf: Timeframe = c["timeframe"].as_str().unwrap().parse().unwrap();
        let session: Session = c["session_start"].as_str().unwrap().parse().unwrap();
        let what = format!(
            "{} {} from {}",
            c["sample"], c["timeframe"], c["session_start"]
        );
        assert_bars_equal(&tf.resample_in(session, &bars).unwrap(), c, &what);
    }
}

fn first_rows(b: &backtide_core::Bars, rows: usize) -> backtide_core::Bars {
    backtide_core::Bars::try_new(
        b.time()[..rows].to_vec(),
        b.open()[..rows].to_vec(),
        b.high()[..rows].to_vec(),
        b.low()[..rows].to_vec(),
        b.close()[..rows].to_vec(),
        b.volume()[..rows].to_vec(),
    )
    .unwrap()
}

/// `r` equals a reference case's `time`, `open`, … exactly.
fn assert_bars_equal(r: &backtide_core::Bars, c: &Value, what: &str) {
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

/// `--session-start 22:00` (an FX day, opening the evening before): `--resample 1d` makes
/// a bar of each session, stamped 22:00 of the day before, as pandas does
/// (`session_reference.json`); `--json` says which session under `data`, and says nothing of
/// one when the flag is not given. A start that is no time of day is refused, naming the
/// flag, in `run` and `sweep` alike.
#[test]
fn a_run_on_session_days_reports_them_and_a_bad_start_is_named() {
    fn args<'a>(extra: &[&'a str]) -> Vec<&'a str> {
        let mut a = vec![
            "run",
            "--data",
            "sample:EURUSD",
            "--strategy",
            "sma_cross",
            "--resample",
            "1d",
            "--json",
        ];
        a.extend_from_slice(extra);
        a
    }
    let out = succeeds(args(&["--session-start", "22:00"]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        v["data"]["resample"],
        serde_json::json!({"timeframe": "1d", "bars_read": 5000, "bars": 237})
    );
    assert_eq!(v["data"]["session_start"], "22:00");
    let keys: Vec<&String> = v["data"].as_object().unwrap().keys().collect();
    let at = keys.iter().position(|k| *k == "resample").unwrap();
    assert_eq!(keys[at + 1], "session_start", "{keys:?}");
    let equity = v["equity"].as_array().unwrap();
    assert_eq!(equity.len(), 237);
    assert_eq!(equity[0]["time"], "2017-04-18T22:00:00");
    assert_eq!(equity[1]["time"], "2017-04-19T22:00:00");
    // Without the flag: calendar days, and no `session_start`.
    let out = succeeds(args(&[]));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["data"].get("session_start").is_none(), "{}", v["data"]);
    assert_eq!(v["equity"][0]["time"], "2017-04-19T00:00:00");

    for bad in ["24:00", "9", "22h"] {
        let run = args(&["--session-start", bad]);
        let want =
            format!("--session-start {bad}: session start `{bad}`: expected a time of day HH:MM");
        fails_with(&run, &[want.as_str()]);
    }
    fails_with(
        &[
            "sweep",
            "--data",
            "sample:EURUSD",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5,10",
            "--resample",
            "1d",
            "--session-start",
            "25:00",
        ],
        &["--session-start 25:00: session start `25:00`: expected a time of day HH:MM"],
    );
}

/// `tf(timeframe, x)` in a rule equals backtesting.py's `resample_apply` (run by
/// `testdata/timeframe/make_htf_reference.py`): hourly EURUSD to days and 4 hours, daily
/// GOOG to weeks. NaN where it has NaN; values equal to 1e-12 relative (pandas' rolling
/// mean and ours add in the same order; the tolerance only allows for the last bit).
#[test]
fn tf_in_rules_equals_backtesting_py_resample_apply() {
    let text = std::fs::read_to_string(testdata("timeframe/htf_reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 4);
    for c in cases {
        let expression = c["expression"].as_str().unwrap();
        let full = backtide_data::sample(c["sample"].as_str().unwrap()).unwrap();
        let rows = c["rows"].as_u64().unwrap() as usize;
        let bars = first_rows(&full, rows);
        let backtide_core::rules::Values::Numbers(got) =
            backtide_core::rules::evaluate(&bars, expression, &[], false).unwrap()
        else {
            panic!("{expression}: not numbers")
        };
        let want = c["values"].as_array().unwrap();
        assert_eq!(got.len(), want.len(), "{expression}");
        let mut seen = 0;
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            match w.as_f64() {
                None => assert!(g.is_nan(), "{expression} bar {i}: {g}, want NaN"),
                Some(w) => {
                    seen += 1;
                    assert!(
                        (g - w).abs() <= 1e-12 * w.abs(),
                        "{expression} bar {i}: {g}, want {w}"
                    );
                }
            }
        }
        assert!(seen > rows / 2, "{expression}: {seen} values");
    }
}

/// A rule with a daily SMA on hourly bars runs end to end, trades, and waits for the
/// daily value (the warm-up); a timeframe that is not one is refused with the argument
/// and the accepted timeframes.
#[test]
fn a_rule_on_a_higher_timeframe_runs_and_a_bad_timeframe_is_named() {
    let args = |entry: &str| {
        [
            "run",
            "--data",
            "sample:EURUSD",
            "--strategy",
            "rules",
            "--param",
            entry,
            "--param",
            "exit=close < tf(\"1d\", sma(close, 5))",
            "--json",
        ]
        .map(String::from)
    };
    let out = succeeds(args("entry=close > tf(\"1d\", sma(close, 5))"));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let trades = v["trades"].as_array().unwrap();
    assert!(trades.len() > 10, "{} trades", trades.len());
    // The bars start on 2017-04-19 (a Wednesday) and skip Saturday: the fifth daily close
    // is Monday 24th's, so the first daily SMA(5) is seen from the first bar of the 25th
    // on, and no trade enters before it.
    let first = trades[0]["entry_time"].as_str().unwrap();
    assert!(first >= "2017-04-25", "{}", trades[0]);

    // The message, then the expression with a caret under the timeframe.
    let out = crate::cli::backtide()
        .args(args("entry=close > tf(\"3x\", close)"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8(out.stderr).unwrap();
    for part in [
        "error: parameter `entry`: argument `timeframe` of tf(timeframe, x): timeframe `3x`: \
         expected N followed by min or h (e.g. 5min, 15min, 1h, 4h; they must divide a day), \
         or 1d, 1w or 1mo at column 12",
        "\n  close > tf(\"3x\", close)\n             ^^^^\n",
    ] {
        assert!(err.contains(part), "{err}");
    }
}
