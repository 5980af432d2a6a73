//! `backtide run --strategy onnx_model` and `backtide features` end to end.

use std::path::Path;

use serde_json::Value;

use crate::cli::fails_with;

fn backtide(args: &[&str]) -> String {
    let out = crate::cli::backtide().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/models")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[test]
fn onnx_model_backtest_on_goog() {
    let (model, spec) = (fixture("tiny.onnx"), fixture("tiny.features.json"));
    let args = [
        "run",
        "--data",
        "sample:GOOG",
        "--strategy",
        "onnx_model",
        "--param",
        &format!("model={model}"),
        "--param",
        &format!("features={spec}"),
        "--param",
        "direction=long_short",
        "--json",
    ];
    let out = backtide(&args);
    let v: Value = serde_json::from_str(&out).unwrap();
    let trades = v["trades"].as_array().unwrap();
    assert!(trades.len() > 20, "{}", trades.len());
    assert_eq!(v["strategy"]["name"], "onnx_model");
    // Long and short trades both occur with long_short.
    assert!(trades.iter().any(|t| t["size"].as_f64().unwrap() > 0.0));
    assert!(trades.iter().any(|t| t["size"].as_f64().unwrap() < 0.0));
    // Deterministic: the same run twice gives the same result.
    assert_eq!(out, backtide(&args));
    // Nothing can happen before the slowest feature (SMA(50)) has a value.
    let first_entry = trades
        .iter()
        .map(|t| t["entry_bar"].as_u64().unwrap())
        .min()
        .unwrap();
    assert!(first_entry >= 50, "{first_entry}");
}

#[test]
fn bad_models_and_specs_exit_with_one_line() {
    let spec = fixture("tiny.features.json");
    for (model, needle) in [
        ("bad_corrupt.onnx", "not a valid ONNX model"),
        (
            "bad_width.onnx",
            "takes 4 features per row, the feature spec gives 6",
        ),
        ("bad_operator.onnx", "FooBar"),
        ("bad_output.onnx", "one value per row"),
    ] {
        fails_with(
            &[
                "run",
                "--data",
                "sample:GOOG",
                "--strategy",
                "onnx_model",
                "--param",
                &format!("model={}", fixture(model)),
                "--param",
                &format!("features={spec}"),
            ],
            &[needle],
        );
    }
    fails_with(
        &[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "onnx_model",
            "--param",
            &format!("model={}", fixture("tiny.onnx")),
            "--param",
            "features=/nonexistent/spec.json",
        ],
        &["/nonexistent/spec.json"],
    );
}

#[test]
fn features_export_with_a_clearly_named_label() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("f.csv");
    backtide(&[
        "features",
        "--data",
        "sample:GOOG",
        "--spec",
        &fixture("tiny.features.json"),
        "--out",
        out.to_str().unwrap(),
        "--label",
        "5",
    ]);
    let text = std::fs::read_to_string(&out).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "time,ret_1,ret_5,rsi_14,vol_20,volz_20,sma_10_over_sma_50,label_fwd_return_5"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2148);
    // ret_1 on the second bar: close[1] / close[0] - 1.
    let bars = backtide_data::sample("GOOG").unwrap();
    let c = bars.close();
    let ret1: f64 = rows[1][1].parse().unwrap();
    assert!((ret1 - (c[1] / c[0] - 1.0)).abs() < 1e-15);
    let label: f64 = rows[0][7].parse().unwrap();
    assert!((label - (c[5] / c[0] - 1.0)).abs() < 1e-15);
    // The label is empty where the future is unknown.
    assert_eq!(rows[2147][7], "");
    let pq = dir.path().join("f.parquet");
    backtide(&[
        "features",
        "--data",
        "sample:GOOG",
        "--spec",
        &fixture("tiny.features.json"),
        "--out",
        pq.to_str().unwrap(),
    ]);
    assert!(std::fs::read(&pq).unwrap().starts_with(b"PAR1"));
}

/// A threshold sweep shares the model's outputs between combinations (one inference) and
/// gives each combination the result of its own run.
#[test]
fn threshold_sweep_equals_single_runs() {
    let (model, spec) = (fixture("tiny.onnx"), fixture("tiny.features.json"));
    let (m, f) = (format!("model={model}"), format!("features={spec}"));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    backtide(&[
        "sweep",
        "--data",
        "sample:GOOG",
        "--strategy",
        "onnx_model",
        "--param",
        &m,
        "--param",
        &f,
        "--grid",
        "enter=0.5,0.6",
        "--grid",
        "exit=0.4,0.45",
        "--pbo-blocks",
        "0",
        "--out",
        out.to_str().unwrap(),
    ]);
    let sweep: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    let combos = sweep["combos"].as_array().unwrap();
    assert_eq!(combos.len(), 4);
    for c in combos {
        let enter = format!("enter={}", c["params"]["enter"]);
        let exit = format!("exit={}", c["params"]["exit"]);
        let run: Value = serde_json::from_str(&backtide(&[
            "run",
            "--data",
            "sample:GOOG",
            "--strategy",
            "onnx_model",
            "--param",
            &m,
            "--param",
            &f,
            "--param",
            &enter,
            "--param",
            &exit,
            "--json",
        ]))
        .unwrap();
        assert_eq!(c["stats"], run["stats"], "{enter} {exit}");
    }
}
