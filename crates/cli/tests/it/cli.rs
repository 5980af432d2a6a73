//! The `backtide` binary end to end.

use assert_cmd::Command;
use serde_json::Value;

use crate::golden::{case, compare, golden};

const ALL_STRATEGIES: [&str; 7] = [
    "sma_cross",
    "ema_cross",
    "rsi_reversion",
    "macd_cross",
    "bollinger_reversion",
    "donchian_breakout",
    "buy_and_hold",
];

pub(crate) fn backtide() -> Command {
    Command::cargo_bin("backtide").unwrap()
}

/// Runs `backtide ARGS`, which must succeed (the failure shows its stderr); its output.
pub(crate) fn succeeds<I, S>(args: I) -> std::process::Output
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let out = backtide().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every golden case that `sma_cross` expresses, run through `backtide run --json`,
/// reproduces backtesting.py's numbers.
#[test]
fn golden_cases_through_the_cli_json() {
    let mut ran = 0;
    for entry in std::fs::read_dir(crate::golden::testdata("golden")).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        let Some(stem) = name
            .strip_suffix(".json")
            .filter(|s| s.starts_with("bt_goog") || s.starts_with("bt_eurusd"))
        else {
            continue;
        };
        let g = golden(stem);
        let Some(args) = case(&g).cli_args else {
            continue;
        };
        let out = backtide().args(&args).arg("--json").output().unwrap();
        assert!(
            out.status.success(),
            "{stem}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ours: Value = serde_json::from_slice(&out.stdout).unwrap();
        let bad = compare(&g, &ours);
        assert!(bad.is_empty(), "{stem}: {}", bad.join("\n"));
        ran += 1;
    }
    assert_eq!(
        ran, 7,
        "all but the no-exclusive-orders case run through the CLI"
    );
}

#[test]
fn json_has_the_contract_keys() {
    let out = backtide()
        .args([
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    for k in ["stats", "trades", "open_trades", "equity", "warnings"] {
        assert!(v.get(k).is_some(), "missing {k}");
    }
    let stats = v["stats"].as_object().unwrap();
    assert_eq!(stats.len(), 32);
    let t = &v["trades"][0];
    for k in [
        "entry_bar",
        "exit_bar",
        "entry_time",
        "exit_time",
        "size",
        "entry_price",
        "exit_price",
        "sl",
        "tp",
        "pnl",
        "return",
        "commission",
        "duration_s",
        "tag",
    ] {
        assert!(t.get(k).is_some(), "trade lacks {k}");
    }
    assert_eq!(v["equity"].as_array().unwrap().len(), 2148);
}

#[test]
fn human_table_and_csv_exports() {
    let dir = tempfile::tempdir().unwrap();
    let (trades, equity) = (dir.path().join("t.csv"), dir.path().join("e.csv"));
    let out = backtide()
        .args([
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--commission",
            "0.002",
        ])
        .args([
            "--exclusive-orders",
            "--trades-csv",
            trades.to_str().unwrap(),
        ])
        .args(["--equity-csv", equity.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(table.contains("Sharpe Ratio") && table.contains("# Trades") && table.contains("93"));
    let t = std::fs::read_to_string(&trades).unwrap();
    assert_eq!(t.lines().count(), 1 + 93);
    assert!(t.starts_with("entry_bar,exit_bar,"));
    assert_eq!(
        std::fs::read_to_string(&equity).unwrap().lines().count(),
        1 + 2148
    );
}

#[test]
fn from_to_filters_bars() {
    let out = backtide()
        .args([
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "buy_and_hold",
            "--json",
        ])
        .args(["--from", "2010-01-01", "--to", "2010-12-31"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stats"]["start"], "2010-01-04T00:00:00");
    assert_eq!(v["stats"]["end"], "2010-12-31T00:00:00");
}

#[test]
fn every_strategy_runs_on_every_sample() {
    for s in ALL_STRATEGIES {
        for d in ["sample:GOOG", "sample:EURUSD", "sample:BTCUSD"] {
            let out = backtide()
                .args(["run", "--data", d, "--strategy", s, "--json"])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{s} on {d}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn strategies_lists_parameters() {
    let out = backtide().arg("strategies").output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    for s in ALL_STRATEGIES {
        assert!(text.contains(s), "{s}");
    }
    assert!(
        text.contains("fast") && text.contains("default 10") && text.contains("int in [1, 100000]")
    );
}

pub(crate) fn fails_with(args: &[&str], parts: &[&str]) {
    let out = backtide().args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for p in parts {
        assert!(err.contains(p), "`{err}` lacks `{p}`");
    }
}

#[test]
fn malformed_data_exits_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prices.csv");
    std::fs::write(
        &path,
        "Date,Open,High,Low,Close\n2020-01-01,10,11,9,10\n2020-01-02,10,9.5,9,10\n",
    )
    .unwrap();
    let p = path.to_str().unwrap();
    fails_with(
        &["run", "--data", p, "--strategy", "sma_cross"],
        &[
            p,
            "line 3",
            "`High`",
            "9.5",
            "High must be >= max(Open, Close)",
        ],
    );
    std::fs::write(
        &path,
        "Date,Open,High,Low,Close\n2020-01-01,10,11,9,10\n2020-01-01,10,11,9,10\n",
    )
    .unwrap();
    fails_with(
        &["run", "--data", p, "--strategy", "sma_cross"],
        &[p, "line 3", "`Date`", "duplicate"],
    );
}

#[test]
fn bad_arguments_exit_with_one_line() {
    fails_with(
        &["run", "--data", "sample:NOPE", "--strategy", "sma_cross"],
        &["unknown sample `NOPE`"],
    );
    fails_with(
        &["run", "--data", "sample:GOOG", "--strategy", "nope"],
        &["unknown strategy `nope`"],
    );
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--param",
            "fast=50",
        ],
        &["fast", "must be < slow"],
    );
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--param",
            "fast=x",
        ],
        &["fast", "expected an integer"],
    );
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--param",
            "bogus=1",
        ],
        &["bogus", "unknown parameter"],
    );
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--margin",
            "2",
        ],
        &["margin"],
    );
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--from",
            "nope",
        ],
        &["--from"],
    );
    fails_with(
        &["run", "--data", "/no/such.csv", "--strategy", "sma_cross"],
        &["/no/such.csv"],
    );
}

/// `backtide run --profile vectorbt --json` reproduces vectorbt's native golden cases.
#[test]
fn vectorbt_profile_through_the_cli() {
    for (file, extra) in [
        (
            "vbt_goog_native_longonly",
            vec!["--param", "direction=long_only"],
        ),
        (
            "vbt_goog_native_longonly_sltp",
            vec![
                "--param",
                "direction=long_only",
                "--param",
                "sl_pct=0.05",
                "--param",
                "tp_pct=0.1",
            ],
        ),
        (
            "vbt_goog_native_longshort",
            vec!["--param", "direction=long_short"],
        ),
    ] {
        let g = golden(file);
        let out = backtide()
            .args([
                "run",
                "--data",
                "sample:GOOG",
                "--strategy",
                "sma_cross",
                "--param",
                "fast=10",
                "--param",
                "slow=20",
            ])
            .args(["--commission", "0.002", "--profile", "vectorbt", "--json"])
            .args(&extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{file}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["profile"], "vectorbt");
        let bad = crate::vectorbt::compare_stats(&g, v["stats"].as_object().unwrap());
        assert!(bad.is_empty(), "{file}: {}", bad.join("\n"));
        let closed = g["trades"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["Status"] == "Closed")
            .count();
        assert_eq!(v["trades"].as_array().unwrap().len(), closed);
    }
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--profile",
            "vectorbt",
            "--trade-on-close",
        ],
        &["trade-on-close"],
    );
}

/// Output piped into a reader that stops early ends the process quietly, never a panic.
#[test]
fn a_reader_that_stops_early_is_not_a_panic() {
    use std::io::Read as _;
    for args in [
        &["run", "--data", "sample:GOOG", "--strategy", "sma_cross"][..],
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--json",
        ][..],
        &["strategies"][..],
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_backtide"))
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Read one byte, as `head -c 1` would, then go away.
        let mut out = child.stdout.take().unwrap();
        let mut one = [0u8; 1];
        out.read_exact(&mut one).unwrap();
        drop(out);
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(!err.contains("error"), "{args:?}: {err}");
        assert!(matches!(status.code(), Some(0 | 141)), "{args:?}: {status}");
    }
}
