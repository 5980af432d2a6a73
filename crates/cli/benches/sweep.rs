//! Sweep throughput and memory.
//!
//! Workloads (fixed-seed synthetic random-walk minute bars, generated here), each
//! `sma_cross` long/short with 0.1 % commission, statistics for every combination:
//! 1. 1,000 combinations (fast 1..=20 × slow 30..=520 step 10) on 100k bars;
//! 2. 100 combinations (fast 1..=10 × slow 30..=120 step 10) on 1M bars;
//!
//! each on 1 thread and on all threads (and on all threads with the overfitting checks'
//! return profiles, as `backtide sweep` builds them by default), reported as
//! bar·combos/s, with the peak RSS of each workload (run in a child process of its own).
//! Each figure is the median of five sweeps, with the slowest and fastest beside it: a
//! single sweep on a shared machine moved by a fifth from call to call.
//!
//! Run: `cargo bench -p backtide-cli --bench sweep`.

// A benchmark measures wall-clock time by definition; the ban protects the engine.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use backtide_core::strategy::builtin;
use backtide_core::sweep::{Axis, Method, Objective, SweepControl, SweepSpec, run_sweep};
use backtide_core::{Bars, BrokerConfig, Commission, Error};

mod common;
use common::synthetic;

fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))?
                .split_whitespace()
                .nth(1)?
                .parse::<f64>()
                .ok()
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// Sweeps timed for each figure.
const REPEATS: usize = 5;

fn bench(label: &str, bars: &Bars, fast: &str, slow: &str) {
    let info = builtin::find("sma_cross").unwrap();
    let p = |n: &str| info.params.iter().find(|p| p.name == n).unwrap();
    let spec = SweepSpec {
        strategy: info.into(),
        fixed: vec![],
        axes: vec![
            Axis::parse(p("fast"), fast).unwrap(),
            Axis::parse(p("slow"), slow).unwrap(),
        ],
        constraint: None,
        method: Method::Grid,
    };
    let cfg = BrokerConfig {
        commission: Commission::Relative(0.001),
        ..BrokerConfig::default()
    };
    let obj = Objective::new("sharpe_ratio", true).unwrap();
    let threads_all = std::thread::available_parallelism().map_or(1, |n| n.get());
    // The last pass also builds the overfitting checks' return profiles, as `backtide
    // sweep` does by default (`--pbo-blocks 16`).
    for (threads, profile_blocks) in [(1, 0), (threads_all, 0), (threads_all, 16)] {
        let control = SweepControl {
            threads,
            profile_blocks,
            ..SweepControl::default()
        };
        let mut n = 0usize;
        let mut times: Vec<f64> = (0..REPEATS)
            .map(|_| {
                n = 0;
                let t0 = Instant::now();
                let out = run_sweep::<Error>(bars, &spec, &cfg, &obj, &control, &mut |_| {
                    n += 1;
                    Ok(())
                })
                .unwrap();
                assert_eq!(out.failed.0, 0);
                t0.elapsed().as_secs_f64()
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let rate = |s: f64| (n * bars.len()) as f64 / s / 1e6;
        let s = times[REPEATS / 2];
        println!(
            "{label}: {n} combos x {} bars, {threads} thread(s){}: {s:.3} s = {:.1} M bar·combos/s \
             (median of {REPEATS}; {:.1}–{:.1})",
            bars.len(),
            if profile_blocks > 0 {
                ", with overfitting profiles"
            } else {
                ""
            },
            rate(s),
            rate(times[REPEATS - 1]),
            rate(times[0]),
        );
    }
}

fn main() {
    // Each workload runs in its own process so its peak RSS is its own.
    match std::env::args().nth(1).as_deref() {
        Some("--workload-1000") => {
            bench(
                "1000 combos",
                &synthetic(100_000, 11),
                "1:20:1",
                "30:520:10",
            );
            println!(
                "  peak RSS (1000 x 100k, both thread counts): {:.1} MB",
                peak_rss_mb()
            );
        }
        Some("--workload-100") => {
            bench(
                "100 combos",
                &synthetic(1_000_000, 12),
                "1:10:1",
                "30:120:10",
            );
            println!(
                "  peak RSS (100 x 1M, both thread counts): {:.1} MB",
                peak_rss_mb()
            );
        }
        _ => {
            let me = std::env::current_exe().expect("own path");
            for w in ["--workload-1000", "--workload-100"] {
                let out = std::process::Command::new(&me)
                    .arg(w)
                    .output()
                    .expect("run workload");
                print!("{}", String::from_utf8_lossy(&out.stdout));
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
    }
}
