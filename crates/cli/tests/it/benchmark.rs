//! `backtide run --benchmark`: statistics against an external series, checked against
//! `testdata/benchmark/reference.json` (pandas, on backtesting.py's own equity curves; see
//! `testdata/benchmark/make_reference.py`).

use serde_json::Value;

use crate::cli::{fails_with, succeeds};
use crate::golden::{case, close, golden, repo, testdata};

fn run_json(args: &[String]) -> Value {
    serde_json::from_slice(&succeeds(args).stdout).unwrap()
}

/// The golden case's `backtide run` arguments with `--benchmark FILE --json` (a
/// `portfolio/` case runs the portfolio it describes).
fn args_for(golden_file: &str, benchmark: &str) -> Vec<String> {
    let name = golden_file.trim_end_matches(".json");
    let mut args = match name.strip_prefix("portfolio/") {
        Some(pf) => crate::portfolio::cli_args(&crate::portfolio::golden_pf(pf)),
        None => case(&golden(name)).cli_args.expect("a CLI strategy"),
    };
    args.retain(|a| a != "--json");
    args.extend([
        "--benchmark".into(),
        repo(benchmark).to_str().unwrap().into(),
        "--json".into(),
    ]);
    args
}

const KEYS: [&str; 7] = [
    "return_pct",
    "alpha_pct",
    "beta",
    "correlation",
    "active_return_ann_pct",
    "tracking_error_ann_pct",
    "information_ratio",
];

#[test]
fn benchmark_statistics_equal_the_pandas_reference() {
    let text = std::fs::read_to_string(testdata("benchmark/reference.json")).unwrap();
    let reference: Value = serde_json::from_str(&text).unwrap();
    let cases = reference["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 5);
    for c in cases {
        let what = format!("{} vs {}", c["golden"], c["benchmark"]);
        let got = run_json(&args_for(
            c["golden"].as_str().unwrap(),
            c["benchmark"].as_str().unwrap(),
        ));
        let b = &got["benchmark"];
        assert_eq!(b["bars"], c["bars"], "{what}");
        assert_eq!(b["bars_filled"], c["filled"], "{what}");
        assert!(b["name"].as_str().unwrap().ends_with(".csv"), "{what}");
        for k in KEYS {
            let (ours, want) = (
                b["stats"][k].as_f64().unwrap(),
                c["stats"][k].as_f64().unwrap(),
            );
            assert!(close(ours, want, 1e-9), "{what}: {k} {ours} vs {want}");
        }
        // The contract's statistics are unchanged by a benchmark.
        let plain = {
            let mut a = args_for(c["golden"].as_str().unwrap(), "x");
            a.truncate(a.len() - 3);
            a.push("--json".into());
            run_json(&a)
        };
        assert_eq!(plain["stats"], got["stats"], "{what}");
        assert!(plain.get("benchmark").is_none());
    }
}

/// Given the traded asset itself, alpha and beta are backtesting.py's own `Alpha [%]` and
/// `Beta` (the definitions are its, with the benchmark in place of the close).
#[test]
fn the_asset_as_its_own_benchmark_gives_backtesting_pys_alpha_and_beta() {
    let g = golden("bt_goog_readme");
    let got = run_json(&args_for(
        "bt_goog_readme.json",
        "crates/data/samples/GOOG.csv",
    ));
    let b = &got["benchmark"]["stats"];
    for (ours, theirs) in [
        ("alpha_pct", "Alpha [%]"),
        ("beta", "Beta"),
        ("return_pct", "Buy & Hold Return [%]"),
    ] {
        let (x, y) = (
            b[ours].as_f64().unwrap(),
            g["stats"][theirs].as_f64().unwrap(),
        );
        assert!(close(x, y, 1e-9), "{ours}: {x} vs {theirs} {y}");
    }
}

#[test]
fn the_table_lists_the_benchmark_rows() {
    let out = succeeds([
        "run",
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--benchmark",
        testdata("benchmark/MSFT_gaps.csv").to_str().unwrap(),
    ]);
    let text = String::from_utf8(out.stdout).unwrap();
    for label in [
        "Benchmark Return [%]",
        "Alpha vs Benchmark [%]",
        "Beta vs Benchmark",
        "Correlation",
        "Active Return (Ann.) [%]",
        "Tracking Error (Ann.) [%]",
        "Information Ratio",
    ] {
        assert!(text.contains(label), "no `{label}`:\n{text}");
    }
    assert!(
        text.contains("MSFT_gaps.csv (315 bars use an earlier close)"),
        "{text}"
    );
}

#[test]
fn a_benchmark_that_cannot_be_used_is_one_clear_line() {
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--benchmark",
            "sample:BTCUSD",
        ],
        &[
            "--benchmark sample:BTCUSD: the benchmark starts 2012-01-31, after the run's first \
             bar 2004-08-19: give a benchmark that covers the run, or start the run later (--from)",
        ],
    );
    // Started later, it covers the run.
    succeeds([
        "run",
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--benchmark",
        "sample:BTCUSD",
        "--from",
        "2012-02-01",
    ]);
    fails_with(
        &[
            "run",
            "--data",
            "sample:EURUSD",
            "--strategy",
            "sma_cross",
            "--benchmark",
            "sample:GOOG",
        ],
        &["the benchmark ends 2013-03-01, before the run's last bar 2018-02-07 15:00:00"],
    );
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--benchmark",
            "no/such/index.csv",
        ],
        &["--benchmark: no/such/index.csv: no such file or directory"],
    );
}
