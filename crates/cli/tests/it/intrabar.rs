//! `run --intrabar`: stop, limit and SL/TP fills resolved on finer bars
//! (`testdata/intrabar/`, made by hand as its README says).

use serde_json::Value;

use crate::cli::{backtide, succeeds};
use crate::golden::testdata;

/// One long entry of 10 units on 2024-01-02's signal (the only bar with volume above
/// 2000), filled at the next open, 100, with SL 95 and TP 105.
const STRATEGY: [&str; 12] = [
    "--strategy",
    "rules",
    "--param",
    "entry=volume > 2000",
    "--param",
    "exit=volume < 0",
    "--param",
    "sl=95",
    "--param",
    "tp=105",
    "--param",
    "size=10",
];

fn path(file: &str) -> String {
    testdata(&format!("intrabar/{file}"))
        .to_string_lossy()
        .into_owned()
}

fn run_json(extra: &[&str]) -> Value {
    let daily = path("daily.csv");
    let mut args = vec!["run", "--data", &daily, "--json"];
    args.extend_from_slice(extra);
    args.extend_from_slice(&STRATEGY);
    serde_json::from_slice(&succeeds(&args).stdout).unwrap()
}

/// (entry price, exit price, pnl) of each trade, and the equity curve.
fn outcome(doc: &Value) -> (Vec<(f64, f64, f64)>, Vec<f64>) {
    let trades = doc["trades"].as_array().unwrap();
    let equity = doc["equity"].as_array().unwrap();
    (
        trades
            .iter()
            .map(|t| {
                let f = |k: &str| t[k].as_f64().unwrap();
                (f("entry_price"), f("exit_price"), f("pnl"))
            })
            .collect(),
        equity
            .iter()
            .map(|e| e["equity"].as_f64().unwrap())
            .collect(),
    )
}

/// 2024-01-03's daily bar (O 100, H 106, L 94, C 100) holds both the SL (95) and the TP
/// (105) of the trade entered at its open. backtesting.py's OHLC rule cannot tell which
/// came first and fills the SL (it is first in the order queue: the pessimistic choice), a
/// loss of 5 a unit. The minutes of that day go 100 → 106 at 09:31 and only then → 94 at
/// 09:32: along that path the TP is reached first, a gain of 5 a unit. The other days have
/// no minutes and fill by their OHLC (no order is pending on them anyway).
#[test]
fn minute_bars_decide_between_a_days_sl_and_tp() {
    let ohlc = run_json(&[]);
    assert_eq!(
        outcome(&ohlc),
        (
            vec![(100.0, 95.0, -50.0)],
            vec![10_000.0, 10_000.0, 9_950.0, 9_950.0, 9_950.0]
        )
    );
    assert!(ohlc["data"].get("intrabar").is_none());

    let minutes = path("minutes.csv");
    let path_run = run_json(&["--intrabar", &minutes]);
    assert_eq!(
        outcome(&path_run),
        (
            vec![(100.0, 105.0, 50.0)],
            vec![10_000.0, 10_000.0, 10_050.0, 10_050.0, 10_050.0]
        )
    );
    assert_eq!(
        path_run["data"]["intrabar"],
        serde_json::json!({
            "source": minutes,
            "bars_read": 3,
            "bars": 3,
            "bars_covered": 1,
        })
    );
    // Same exit day, same entry: only the price (and so the statistics) differ.
    assert_eq!(path_run["trades"][0]["exit_time"], "2024-01-03T00:00:00");
    assert_eq!(path_run["trades"][0]["tp"], 105.0);
}

/// The whole stderr of a failing run with `--intrabar FILE`.
fn error_with(file: &str) -> String {
    let daily = path("daily.csv");
    let fine = path(file);
    let mut args = vec!["run", "--data", &daily, "--intrabar", &fine];
    args.extend_from_slice(&STRATEGY);
    let out = backtide().args(&args).output().unwrap();
    assert!(!out.status.success(), "{file}: succeeded");
    String::from_utf8(out.stderr).unwrap()
}

#[test]
fn finer_bars_that_do_not_make_up_the_day_are_refused_naming_it() {
    let f = path("minutes_bad_high.csv");
    assert_eq!(
        error_with("minutes_bad_high.csv"),
        format!(
            "error: --intrabar {f}: bar 2 (2024-01-03): its 3 finer bars (2024-01-03 09:30:00 to 2024-01-03 09:32:00) have highest High 105.5, but the bar's High is 106\n"
        )
    );
    // The 09:30 minute, which holds the open, is missing.
    let f = path("minutes_no_open.csv");
    assert_eq!(
        error_with("minutes_no_open.csv"),
        format!(
            "error: --intrabar {f}: bar 2 (2024-01-03): its 2 finer bars (2024-01-03 09:31:00 to 2024-01-03 09:32:00) have first Open 102, but the bar's Open is 100\n"
        )
    );
    let f = path("minutes_early.csv");
    assert_eq!(
        error_with("minutes_early.csv"),
        format!(
            "error: --intrabar {f}: finer bar 0 (2023-12-29 15:59:00) is before the first bar (2024-01-01): the finer bars must lie within the bars' range\n"
        )
    );
}

/// With --from, finer bars before the run's first bar are cut away instead of refused.
#[test]
fn from_cuts_the_finer_bars_to_the_run() {
    let early = path("minutes_early.csv");
    let doc = run_json(&["--from", "2024-01-01", "--intrabar", &early]);
    assert_eq!(outcome(&doc).0, vec![(100.0, 105.0, 50.0)]);
    assert_eq!(doc["data"]["intrabar"]["bars_read"], 4);
    assert_eq!(doc["data"]["intrabar"]["bars"], 3);
}

#[test]
fn portfolios_refuse_intrabar() {
    let out = backtide()
        .args([
            "run",
            "--data",
            "sample:STOCKS",
            "--strategy",
            "equal_weight",
            "--intrabar",
            "minutes.csv",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        "error: --intrabar works on one asset; --data sample:STOCKS is a portfolio\n"
    );
}
