//! `backtide sweep` end to end: outputs, walk-forward, profiles, bad input.

use serde_json::Value;

use crate::cli::{backtide, fails_with, succeeds};
use crate::golden::golden;

fn sweep_args(out: &std::path::Path) -> Vec<String> {
    [
        "sweep",
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5:25:5",
        "--grid",
        "slow=10,15,20,25,30",
        "--constraint",
        "fast < slow",
        "--maximize",
        "equity_final",
        "--commission",
        "0.002",
        "--exclusive-orders",
        "--top",
        "3",
        "--out",
    ]
    .iter()
    .map(ToString::to_string)
    .chain([out.to_string_lossy().into_owned()])
    .collect()
}

#[test]
fn sweep_writes_csv_json_and_parquet() {
    let dir = tempfile::tempdir().unwrap();
    let combos = 5 + 4 + 3 + 2 + 1; // fast < slow over the two axes
    for ext in ["csv", "json", "parquet"] {
        let path = dir.path().join(format!("r.{ext}"));
        let out = backtide().args(sweep_args(&path)).output().unwrap();
        assert!(
            out.status.success(),
            "{ext}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.contains(&format!("{combos} of {combos} combinations")),
            "{stdout}"
        );
        assert!(stdout.contains("overfitting: 15 trials"), "{stdout}");
        match ext {
            "csv" => {
                let text = std::fs::read_to_string(&path).unwrap();
                let mut lines = text.lines();
                let header = lines.next().unwrap();
                assert!(
                    header.starts_with(
                        "fast,slow,direction,cross,size,sl_pct,sl_trail,tp_pct,trail_atr,trail_pct,risk_pct,start,end,"
                    ),
                    "{header}"
                );
                assert!(header.contains("sharpe_ratio"));
                assert_eq!(lines.count(), combos);
            }
            "json" => {
                let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
                assert_eq!(v["combos"].as_array().unwrap().len(), combos);
                assert_eq!(v["best"]["params"]["fast"], 10);
                assert_eq!(v["best"]["params"]["slow"], 15);
                assert_eq!(v["combos"][0]["stats"].as_object().unwrap().len(), 32);
                // The overfitting checks: N = 15 trials, probabilities in [0, 1], and the
                // deflated Sharpe ratio never above the probabilistic one.
                let o = &v["overfitting"];
                assert_eq!(o["trials"], 15);
                let (psr, dsr, pbo) = (
                    o["psr"].as_f64().unwrap(),
                    o["dsr"].as_f64().unwrap(),
                    o["pbo"].as_f64().unwrap(),
                );
                assert!((0.0..=1.0).contains(&psr) && (0.0..=1.0).contains(&pbo));
                assert!(dsr <= psr, "DSR {dsr} > PSR {psr}");
            }
            _ => {
                let bytes = std::fs::read(&path).unwrap();
                assert_eq!(&bytes[..4], b"PAR1");
            }
        }
    }
    // Only the three outputs: no temporary files left.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
}

#[test]
fn sweep_rejects_bad_input_with_one_line() {
    fails_with(
        &[
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=1:x:1",
        ],
        &["fast", "range"],
    );
    fails_with(
        &[
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "nope=1,2",
        ],
        &["nope", "not a parameter"],
    );
    fails_with(
        &[
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5,10",
            "--maximize",
            "profit",
        ],
        &["unknown statistic `profit`"],
    );
    fails_with(
        &[
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5,10",
            "--constraint",
            "fast < bogus",
        ],
        &["bogus"],
    );
    fails_with(
        &[
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5,10",
            "--out",
            "/tmp/x.txt",
        ],
        &[".csv, .json or .parquet"],
    );
}

#[test]
fn sweep_random_method_is_reproducible() {
    let run = |seed: &str| {
        let out = backtide()
            .args([
                "sweep",
                "--data",
                "sample:GOOG",
                "--strategy",
                "sma_cross",
                "--grid",
                "fast=2:30:1",
            ])
            .args([
                "--grid",
                "slow=10:100:5",
                "--constraint",
                "fast < slow",
                "--method",
                "random",
            ])
            .args(["--samples", "15", "--seed", seed, "--threads", "2"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(run("3"), run("3"));
    assert!(run("3").starts_with("15 of 15 combinations"));
}

#[test]
fn sweep_walk_forward_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wf.json");
    let out = backtide()
        .args([
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5:20:5",
        ])
        .args([
            "--grid",
            "slow=30:60:10",
            "--maximize",
            "sharpe_ratio",
            "--commission",
            "0.002",
        ])
        .args([
            "--walk-forward",
            "train=500,test=250",
            "--out",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(stdout.starts_with("walk-forward: 7 windows"), "{stdout}");
    assert!(stdout.contains("stitched out-of-sample"));
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let wf = &v["walk_forward"];
    let windows = wf["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 7);
    assert_eq!(windows[0]["train"]["bars"], 500);
    assert_eq!(windows[0]["test"]["bars"], 250);
    assert_eq!(windows[6]["test"]["bars"], 2148 - 500 - 6 * 250);
    for w in windows {
        assert_eq!(w["in_sample"].as_object().unwrap().len(), 32);
        assert_eq!(w["out_of_sample"].as_object().unwrap().len(), 32);
    }
    assert_eq!(wf["equity"].as_array().unwrap().len(), 2148 - 500);
    fails_with(
        &[
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5,10",
            "--walk-forward",
            "train=10",
        ],
        &["walk_forward"],
    );
}

/// A sweep in the vectorbt profile reports vectorbt's statistics: the golden case as a
/// one-combination sweep gives its exact numbers.
#[test]
fn vectorbt_profile_sweep() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v.json");
    let out = backtide()
        .args([
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=10",
        ])
        .args([
            "--grid",
            "slow=20",
            "--param",
            "direction=long_only",
            "--commission",
            "0.002",
        ])
        .args([
            "--profile",
            "vectorbt",
            "--maximize",
            "total_return_pct",
            "--out",
            path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let g = golden("vbt_goog_native_longonly");
    let bad = crate::vectorbt::compare_stats(&g, v["combos"][0]["stats"].as_object().unwrap());
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    fails_with(
        &[
            "sweep",
            "--data",
            "sample:GOOG",
            "--strategy",
            "sma_cross",
            "--grid",
            "fast=5,10",
            "--profile",
            "vectorbt",
            "--maximize",
            "sqn",
        ],
        &["unknown statistic `sqn`"],
    );
}

/// A sweep split into shards (as Kubernetes Indexed Jobs and Slurm arrays run it) and
/// merged equals the sweep run whole: the same JSON and Parquet bytes (every combination,
/// the best, the overfitting checks) and the same printed table.
#[test]
fn sharded_sweeps_merge_into_the_unsharded_result() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let sweep = [
        "sweep",
        "--data",
        "sample:GOOG",
        "--strategy",
        "sma_cross",
        "--grid",
        "fast=5:30:5",
        "--grid",
        "slow=20:100:10",
        "--constraint",
        "fast < slow",
        "--commission",
        "0.002",
    ];
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        let out = backtide()
            .args(sweep)
            .args(extra)
            .env_remove("JOB_COMPLETION_INDEX")
            .env_remove("SLURM_ARRAY_TASK_ID")
            .envs(env.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let p = |name: &str| d.join(name).to_str().unwrap().to_string();
    let whole = run(&["--out", &p("all.json")], &[]);
    run(&["--out", &p("all.parquet")], &[]);
    // Shard 0 by number, 1 from a Kubernetes index, 2 from a Slurm array counted from 1.
    run(&["--shard", "0/3", "--out", &p("part-0.parquet")], &[]);
    run(
        &["--shard", "auto/3", "--out", &p("part-1.parquet")],
        &[("JOB_COMPLETION_INDEX", "1")],
    );
    let s2 = run(
        &["--shard", "auto/3", "--out", &p("part-2.parquet")],
        &[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1")],
    );
    assert!(
        s2.starts_with("shard 2/3: combinations 33..50 of 50: 17 done"),
        "{s2}"
    );
    let merge = |parts: &[&str], out: &str| {
        backtide()
            .arg("sweep-merge")
            .args(parts.iter().map(|x| p(x)))
            .args(["--out", &p(out)])
            .output()
            .unwrap()
    };
    let m = merge(
        &["part-2.parquet", "part-0.parquet", "part-1.parquet"],
        "m.json",
    );
    assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
    assert_eq!(String::from_utf8(m.stdout).unwrap(), whole);
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    assert!(read("m.json") == read("all.json"), "merged JSON differs");
    let v: serde_json::Value = serde_json::from_slice(&read("m.json")).unwrap();
    assert_eq!(v["overfitting"]["trials"], 50);
    // 1, 3 and 7 shards, every output format: the unsharded bytes.
    run(&["--out", &p("all.csv")], &[]);
    for n in [1usize, 3, 7] {
        let parts: Vec<String> = (0..n).map(|i| format!("n{n}-{i}.parquet")).collect();
        for (i, part) in parts.iter().enumerate() {
            run(&["--shard", &format!("{i}/{n}"), "--out", &p(part)], &[]);
        }
        let names: Vec<&str> = parts.iter().rev().map(String::as_str).collect();
        for ext in ["csv", "json", "parquet"] {
            let out = format!("n{n}.{ext}");
            let m = merge(&names, &out);
            assert!(m.status.success(), "{}", String::from_utf8_lossy(&m.stderr));
            assert!(
                read(&out) == read(&format!("all.{ext}")),
                "{n} shards: merged {ext} differs"
            );
        }
    }
    let m = merge(
        &["part-0.parquet", "part-1.parquet", "part-2.parquet"],
        "m.parquet",
    );
    assert!(m.status.success());
    assert!(
        read("m.parquet") == read("all.parquet"),
        "merged Parquet differs"
    );

    // What cannot be merged says why.
    let fails = |parts: &[&str], says: &str| {
        let m = merge(parts, "x.json");
        assert!(!m.status.success());
        let err = String::from_utf8_lossy(&m.stderr);
        assert!(err.contains(says), "`{err}` lacks `{says}`");
        assert!(!d.join("x.json").exists());
    };
    fails(
        &["part-0.parquet", "part-2.parquet"],
        "shard(s) 1 of 3 missing",
    );
    fails(
        &[
            "part-0.parquet",
            "part-1.parquet",
            "part-2.parquet",
            "part-2.parquet",
        ],
        "a shard is given twice",
    );
    run(
        &[
            "--param",
            "sl_pct=0.05",
            "--shard",
            "1/3",
            "--out",
            &p("other.parquet"),
        ],
        &[],
    );
    fails(
        &["part-0.parquet", "other.parquet", "part-2.parquet"],
        "not a shard of the same sweep",
    );
    fails(&["all.parquet"], "not a sweep shard");
    crate::cli::fails_with(
        &[
            sweep.as_slice(),
            &["--shard", "3/3", "--out", &p("y.parquet")],
        ]
        .concat(),
        &["--shard 3/3: I must be below N"],
    );
    crate::cli::fails_with(
        &[sweep.as_slice(), &["--shard", "0/3"]].concat(),
        &["--shard needs --out FILE.parquet"],
    );
}

/// A sweep over several of the statistics' 2,048-bar blocks gives each combination the
/// statistics of a standalone `backtide run` of it (the same JSON values), and its output
/// file is the same bytes on one thread and on two. With 5 % margin some combinations wipe
/// the account out; without `--finalize-trades` the last trade is left open.
#[test]
fn sweep_combinations_equal_standalone_runs_on_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("walk.csv");
    std::fs::write(&data, crate::serve::walk_csv(6_000)).unwrap();
    // The settings the sweep and each standalone run share.
    let settings = [
        "--data",
        data.to_str().unwrap(),
        "--strategy",
        "sma_cross",
        "--param",
        "direction=long_short",
        "--commission",
        "0.001",
        "--margin",
        "0.05",
    ];
    let common = |out: &std::path::Path, threads: &str| -> Vec<String> {
        let grid = ["--grid", "fast=2:14:3", "--grid", "slow=20:60:20"];
        let rest = ["--threads", threads, "--out", out.to_str().unwrap()];
        [&["sweep"][..], &settings, &grid, &rest]
            .concat()
            .iter()
            .map(ToString::to_string)
            .collect()
    };
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let path = dir.path().join(format!("t{threads}.json"));
        succeeds(common(&path, threads));
        outputs.push(std::fs::read(&path).unwrap());
    }
    assert!(outputs[0] == outputs[1], "one thread and two differ");
    let v: Value = serde_json::from_slice(&outputs[0]).unwrap();
    let combos = v["combos"].as_array().unwrap();
    assert_eq!(combos.len(), 5 * 3);
    let mut wiped = 0;
    for c in combos {
        let p = &c["params"];
        let (fast, slow) = (format!("fast={}", p["fast"]), format!("slow={}", p["slow"]));
        let out = succeeds(
            [
                &["run"][..],
                &settings,
                &["--param", &fast, "--param", &slow, "--json"],
            ]
            .concat(),
        );
        let run: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(run["stats"], c["stats"], "{p}");
        wiped += usize::from(run["stats"]["equity_final"].as_f64() == Some(0.0));
    }
    assert!(wiped > 0, "some combinations lose everything");
}
