//! Engine throughput and memory.
//!
//! Workloads (fixed-seed synthetic random-walk minute bars, generated here):
//! 1. one `sma_cross` (10/30, long/short, 0.1 % commission) backtest on 10k, 100k and 1M
//!    bars: bars/s for the run alone and for run + statistics (median of several runs);
//! 2. resident memory for the 1M-bar run: peak RSS growth over the process baseline,
//!    per bar;
//! 3. a whole `backtide run` process on a 1M-row CSV and on the same bars as Parquet (read +
//!    validate + run + stats), with the phases `--timings` reports.
//!
//! Run: `cargo bench -p backtide-cli --bench engine` (release profile). Figures are from
//! whatever machine runs it; compare ratios from the same run, not across machines.

// A benchmark measures wall-clock time by definition; the ban protects the engine.
#![allow(clippy::disallowed_methods)]

use std::hint::black_box;
use std::io::Write;
use std::time::Instant;

use backtide_core::strategy::builtin::{self};
use backtide_core::{Bars, BrokerConfig, Commission, Params, run, stats};

mod common;
use common::synthetic;

fn strategy() -> Box<dyn backtide_core::Strategy> {
    let info = builtin::find("sma_cross").unwrap();
    info.build(&Params::from_pairs(info.params, [("fast", "10"), ("slow", "30")]).unwrap())
        .unwrap()
}

fn cfg() -> BrokerConfig {
    BrokerConfig {
        commission: Commission::Relative(0.001),
        ..BrokerConfig::default()
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn status_kb(field: &str) -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    // 2. Memory first, while the process is small: baseline RSS, then data + run.
    let base = status_kb("VmRSS:").unwrap_or(0.0);
    let n = 1_000_000;
    let bars = synthetic(n, 42);
    let res = run(&bars, strategy().as_mut(), &cfg()).unwrap();
    let st = stats::compute(&bars, &res);
    black_box(&st);
    let peak = status_kb("VmHWM:").unwrap_or(0.0);
    println!(
        "memory: 1M-bar sma_cross run ({} closed trades): peak RSS {:.1} MB above a {:.1} MB \
         baseline = {:.1} bytes/bar (per-bar columns: bars 48 + indicator 8 + equity 8 = 64)",
        res.trades.len(),
        (peak - base) / 1024.0,
        base / 1024.0,
        (peak - base) * 1024.0 / n as f64
    );
    drop((res, st));

    // 1. Throughput.
    for &n in &[10_000usize, 100_000, 1_000_000] {
        let bars = synthetic(n, 7);
        let reps = if n >= 1_000_000 { 7 } else { 21 };
        let (mut run_s, mut all_s) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            let mut s = strategy();
            let t0 = Instant::now();
            let res = run(&bars, s.as_mut(), &cfg()).unwrap();
            let t1 = Instant::now();
            black_box(stats::compute(&bars, &res));
            let t2 = Instant::now();
            run_s.push((t1 - t0).as_secs_f64());
            all_s.push((t2 - t0).as_secs_f64());
        }
        let (r, a) = (median(run_s), median(all_s));
        println!(
            "sma_cross {n:>9} bars: run {:>8.3} ms = {:>7.1} M bars/s; run+stats {:>8.3} ms = {:>7.1} M bars/s",
            r * 1e3,
            n as f64 / r / 1e6,
            a * 1e3,
            n as f64 / a / 1e6
        );
    }

    // 3. A whole `backtide run` process on a 1M-row CSV.
    let dir = std::env::temp_dir().join(format!("backtide-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("bars_1m.csv");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
        writeln!(w, "timestamp,Open,High,Low,Close,Volume").unwrap();
        for i in 0..bars_len(&bars) {
            writeln!(
                w,
                "{},{},{},{},{},{}",
                bars.time()[i] / 1_000_000_000,
                bars.open()[i],
                bars.high()[i],
                bars.low()[i],
                bars.close()[i],
                bars.volume()[i]
            )
            .unwrap();
        }
    }
    let parquet = dir.join("bars_1m.parquet");
    backtide_data::write_parquet(&bars, &parquet).unwrap();
    let exe = env!("CARGO_BIN_EXE_backtide");
    let run_args = |data: &std::path::Path| -> Vec<String> {
        [
            "run",
            "--data",
            data.to_str().unwrap(),
            "--strategy",
            "sma_cross",
            "--commission",
            "0.001",
            "--param",
            "fast=10",
            "--param",
            "slow=30",
        ]
        .map(String::from)
        .into()
    };
    for (what, data) in [("CSV", &csv), ("Parquet", &parquet)] {
        let mut times = Vec::new();
        for _ in 0..7 {
            let t0 = Instant::now();
            let out = std::process::Command::new(exe)
                .args(run_args(data))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            times.push(t0.elapsed().as_secs_f64());
        }
        // The phases of one more run, as `--timings` reports them.
        let out = std::process::Command::new(exe)
            .args(run_args(data))
            .arg("--timings")
            .output()
            .unwrap();
        let timings = String::from_utf8_lossy(&out.stderr)
            .lines()
            .find(|l| l.starts_with("timings:"))
            .unwrap_or("timings: (not printed)")
            .to_string();
        println!(
            "whole `backtide run` on a 1M-row {what} ({:.0} MB): median {:.3} s (min {:.3} s); {timings}",
            std::fs::metadata(data).unwrap().len() as f64 / 1e6,
            median(times.clone()),
            times.iter().copied().fold(f64::INFINITY, f64::min)
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn bars_len(b: &Bars) -> usize {
    b.len()
}
