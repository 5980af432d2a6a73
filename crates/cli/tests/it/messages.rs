//! What `backtide` says when a run goes wrong or does nothing: one line per kind of
//! warning with the fix, why a run made no trades, one line per error naming what the user
//! typed and the valid choices.

use std::path::Path;

use serde_json::Value;

use crate::cli::{backtide, fails_with};

/// 3,270 hourly bars of a BTC-like price around 30,000 that swings enough for
/// `sma_cross`'s default 10/20 lines to cross about a hundred times.
pub(crate) fn btc_like(dir: &Path) -> String {
    let mut csv = String::from("time,open,high,low,close,volume\n");
    let mut prev = 30_000.0f64;
    for i in 0..3270 {
        let x = f64::from(i);
        let c = 30_000.0 + 2_000.0 * (x / 15.0).sin() + 500.0 * (x / 4.3).sin();
        let (o, h, l) = (prev, prev.max(c) + 20.0, prev.min(c) - 20.0);
        csv.push_str(&format!(
            "{},{o:.2},{h:.2},{l:.2},{c:.2},1.5\n",
            1_700_000_000 + 3600 * i
        ));
        prev = c;
    }
    let path = dir.join("btc_hourly.csv");
    std::fs::write(&path, csv).unwrap();
    path.to_str().unwrap().to_string()
}

/// Runs `backtide run` with `args`; (stdout, stderr), asserting success.
fn run_ok(args: &[&str]) -> (String, String) {
    let out = backtide().arg("run").args(args).output().unwrap();
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{args:?}: {stderr}");
    (stdout, stderr)
}

fn trades_in_table(stdout: &str) -> u64 {
    let line = stdout.lines().find(|l| l.starts_with("# Trades")).unwrap();
    line.split_whitespace().last().unwrap().parse().unwrap()
}

/// Whole units of a coin priced at ~30,000 with 10,000 cash never fill: one warning line
/// with the count, the first and last bar and the fix, and a note on why there are no
/// trades; `--json` keeps every warning's text unchanged; the fix works.
#[test]
fn messages_btc_whole_units_collapse_into_one_warning_with_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let data = btc_like(dir.path());
    let (stdout, stderr) = run_ok(&["--data", &data, "--strategy", "sma_cross"]);
    assert_eq!(trades_in_table(&stdout), 0);
    let margin: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("insufficient margin"))
        .collect();
    assert_eq!(
        margin.len(),
        1,
        "one line for every cancelled order:\n{stderr}"
    );
    let w = margin[0];
    for part in [
        "warning: broker cancelled 101 relative-sized orders for insufficient margin",
        "from bar 41 (2023-11-16 15:13:20) to bar 3235 (2024-03-28 17:13:20)",
        "one unit costs up to 31,971.99 but an order could spend at most 10,000.00",
        "only whole units are traded: use --fractional-unit 1e-4 to trade fractions of a unit, \
         or raise --cash",
    ] {
        assert!(w.contains(part), "`{w}` lacks `{part}`");
    }
    assert!(
        stderr.contains(
            "note: no trades: the broker cancelled all 101 orders the strategy placed \
             (see the warning above)"
        ),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 2, "{stderr}");

    // The `--json` contract: every warning, its text as before.
    let (json, _) = run_ok(&["--data", &data, "--strategy", "sma_cross", "--json"]);
    let v: Value = serde_json::from_str(&json).unwrap();
    let warnings = v["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 101);
    assert_eq!(
        warnings[0],
        "bar 41: broker cancelled the relative-sized order: insufficient margin \
         (equity=10000.00, margin_available=10000.00)"
    );

    // Following the hint trades.
    let (stdout, stderr) = run_ok(&[
        "--data",
        &data,
        "--strategy",
        "sma_cross",
        "--fractional-unit",
        "1e-4",
    ]);
    assert!(trades_in_table(&stdout) > 50, "{stdout}");
    assert!(!stderr.contains("insufficient margin"), "{stderr}");
}

/// A window longer than the data: all-NaN statistics, and a note that names the parameter
/// and the data's length.
#[test]
fn messages_warm_up_longer_than_the_data_is_explained() {
    let (stdout, stderr) = run_ok(&[
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--param",
        "slow=5000",
    ]);
    assert_eq!(trades_in_table(&stdout), 0);
    assert_eq!(
        stderr.trim_end(),
        "note: no trades: the warm-up is longer than the data: slow=5000 against 2,148 bars, \
         so SMA(10)-SMA(5000) never has a value; use a shorter window or more data"
    );
}

/// No cross in the bars after the warm-up: said so, with the span searched.
#[test]
fn messages_no_entry_signal_is_explained() {
    let (_, stderr) = run_ok(&[
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--from",
        "2012-11-01",
        "--param",
        "fast=20",
        "--param",
        "slow=60",
    ]);
    assert!(
        stderr.starts_with("note: no trades: the strategy gave no entry signal in the "),
        "{stderr}"
    );
    assert!(stderr.contains("bars after its warm-up ("), "{stderr}");
}

/// A trade left open names the flag as typed.
#[test]
fn messages_open_trades_name_the_flag() {
    let (_, stderr) = run_ok(&["--data", "sample:GOOG", "--strategy", "buy_and_hold"]);
    assert_eq!(
        stderr.trim_end(),
        "warning: 1 trade remains open at the end and is left out of the trade statistics; \
         add --finalize-trades to close it on the last bar"
    );
}

/// A missing file: one line naming the path, the OS error once and in words.
#[test]
fn messages_missing_file_is_one_clean_line() {
    for spec in ["/no/such/prices.csv", "/no/such/bars.parquet"] {
        fails_with(
            &["run", "--data", spec, "--strategy", "sma_cross"],
            &[&format!("error: {spec}: no such file or directory\n")],
        );
    }
    let out = backtide()
        .args(["run", "--data", "/no/such.csv", "--strategy", "sma_cross"])
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(!err.contains("os error"), "{err}");
}

/// Every name that can be wrong lists the valid ones; settings are named as the flags
/// the user typed.
#[test]
fn messages_wrong_names_list_the_valid_ones() {
    let goog = ["run", "--data", "sample:GOOG"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        goog.iter().chain(extra).copied().collect()
    };
    fails_with(
        &with(&["--strategy", "smacross"]),
        &["unknown strategy `smacross`", "sma_cross", "buy_and_hold"],
    );
    fails_with(
        &with(&["--strategy", "sma_cross", "--param", "slo=3"]),
        &["`slo`", "unknown parameter", "fast, slow"],
    );
    fails_with(
        &["run", "--data", "sample:NOPE", "--strategy", "sma_cross"],
        &["unknown sample `NOPE`", "GOOG, EURUSD, BTCUSD"],
    );
    // clap's own message (with its usage lines) lists the values.
    let out = backtide()
        .args(with(&[
            "--strategy",
            "sma_cross",
            "--profile",
            "backtrader",
        ]))
        .output()
        .unwrap();
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("'backtrader'") && err.contains("[possible values: backtesting_py, vectorbt]"),
        "{err}"
    );
    let sweep = |extra: &[&'static str]| -> Vec<&'static str> {
        [
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5,10",
        ]
        .iter()
        .chain(extra)
        .copied()
        .collect()
    };
    fails_with(
        &sweep(&["--maximize", "sharpe"]),
        &[
            "--maximize: unknown statistic `sharpe`",
            "sharpe_ratio (Sharpe Ratio)",
            "return_pct (Return [%])",
        ],
    );
    fails_with(
        &sweep(&["--minimize", "sqn", "--profile", "vectorbt"]),
        &[
            "--minimize: unknown statistic `sqn` (a statistic of --profile backtesting_py)",
            "total_return_pct (Total Return [%])",
        ],
    );
    fails_with(
        &[
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fst=5,10",
        ],
        &["--grid `fst=5,10`", "(known: fast, slow, direction"],
    );
    fails_with(
        &sweep(&["--constraint", "fst < slow"]),
        &[
            "--constraint `fst < slow`",
            "parameters of sma_cross: fast, slow",
        ],
    );
    fails_with(
        &with(&["--strategy", "sma_cross", "--fractional-unit", "2"]),
        &["error: --fractional-unit 2: must be in (0, 1]"],
    );
    fails_with(
        &with(&["--strategy", "sma_cross", "--margin", "0"]),
        &["error: --margin 0: must be in (0, 1]"],
    );
}

/// `--maximize` takes the statistics table's labels as well as the keys.
#[test]
fn messages_maximize_accepts_the_table_labels() {
    for (given, key) in [
        ("Sharpe Ratio", "sharpe_ratio"),
        ("return [%]", "return_pct"),
        ("# Trades", "num_trades"),
        ("sqn", "sqn"),
    ] {
        let out = backtide()
            .args([
                "sweep",
                "--data",
                "sample:GOOG",
                "--strategy",
                "sma_cross",
                "--grid",
                "fast=5,10",
                "--pbo-blocks",
                "0",
                "--maximize",
                given,
            ])
            .output()
            .unwrap();
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            out.status.success(),
            "{given}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("best by {key} (max)")),
            "{given}: {stdout}"
        );
    }
}

/// A range outside the data names the data's own range.
#[test]
fn messages_out_of_range_names_the_data_range() {
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--from",
            "2020-01-01",
        ],
        &[
            "sample:GOOG: no bars from --from 2020-01-01: the data runs from 2004-08-19 to \
             2013-03-01",
        ],
    );
    fails_with(
        &[
            "run",
            "--data",
            "sample:STOCKS",
            "--strategy",
            "equal_weight",
            "--from",
            "1990-01-01",
            "--to",
            "1995-12-31",
        ],
        &["no bars between --from 1990-01-01 and --to 1995-12-31: the data runs from"],
    );
}
