//! Portfolio throughput and memory, against vectorbt in the same run.
//!
//! Workloads (fixed-seed synthetic universes generated here, written once as one Parquet
//! file per symbol under `target/bench-portfolio/`; a fifth of the assets list late):
//! 1. 500 assets × 2,520 daily bars;
//! 2. 50 assets × 100,000 minute bars;
//!
//! each with `equal_weight` rebalanced monthly and `momentum_rotation` (daily: lookback
//! 126, top 10, monthly; minute: lookback 390, top 5, weekly), 0.1 % fees, 100k cash:
//! - in process: `portfolio::run` alone, asset·bars/s (median of 5);
//! - whole process: `backtide run --data DIR --profile vectorbt …` (read + run + stats),
//!   wall time (median of 3) and peak RSS from `/usr/bin/time`, against twice the
//!   universe's own bytes + 50 MB;
//! - with `BACKTIDE_BENCH_PYTHON` set to a Python with vectorbt 1.2 (what
//!   `scripts/bench-portfolio.sh` does): `scripts/bench/vbt_portfolio.py` on the same
//!   files (`from_orders(size_type='targetpercent', cash_sharing=True,
//!   call_seq='auto')`, then `stats()`), whole process, and the ratio.
//!
//! Run: `scripts/bench-portfolio.sh` (with vectorbt) or
//! `cargo bench -p backtide-cli --bench portfolio` (Backtide only).

// A benchmark measures wall-clock time by definition; the ban protects the engine.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use backtide_core::portfolio::{self, PortfolioConfig, builtin};
use backtide_core::{Bars, Params};

const MINUTE: i64 = 60_000_000_000;
const DAY: i64 = 86_400_000_000_000;

/// xorshift64* random walk for one asset; the same seed gives the same bars.
fn walk(n: usize, start: i64, step: i64, seed: u64) -> Bars {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut rnd = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut price = 20.0 + 180.0 * rnd();
    let (mut t, mut o, mut h, mut l, mut c, mut v) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for i in 0..n {
        let open = price;
        price = (price * (1.0 + (rnd() - 0.499) * 0.02)).max(1.0);
        t.push(start + i as i64 * step);
        o.push(open);
        h.push(open.max(price) * (1.0 + rnd() * 0.002));
        l.push(open.min(price) * (1.0 - rnd() * 0.002));
        c.push(price);
        v.push((rnd() * 1e6).floor());
    }
    Bars::try_new(t, o, h, l, c, v).expect("synthetic bars are valid")
}

struct Workload {
    name: &'static str,
    assets: usize,
    bars: usize,
    step: i64,
    strategies: [(&'static str, &'static [(&'static str, &'static str)]); 2],
    python: [&'static [&'static str]; 2],
}

const WORKLOADS: [Workload; 2] = [
    Workload {
        name: "daily_500x2520",
        assets: 500,
        bars: 2_520,
        step: DAY,
        strategies: [
            ("equal_weight", &[("rebalance", "monthly")]),
            (
                "momentum_rotation",
                &[("lookback", "126"), ("top", "10"), ("rebalance", "monthly")],
            ),
        ],
        python: [
            &["equal_weight", "--rebalance", "monthly"],
            &[
                "momentum_rotation",
                "--lookback",
                "126",
                "--top",
                "10",
                "--rebalance",
                "monthly",
            ],
        ],
    },
    Workload {
        name: "minute_50x100k",
        assets: 50,
        bars: 100_000,
        step: MINUTE,
        strategies: [
            ("equal_weight", &[("rebalance", "monthly")]),
            (
                "momentum_rotation",
                &[("lookback", "390"), ("top", "5"), ("rebalance", "weekly")],
            ),
        ],
        python: [
            &["equal_weight", "--rebalance", "monthly"],
            &[
                "momentum_rotation",
                "--lookback",
                "390",
                "--top",
                "5",
                "--rebalance",
                "weekly",
            ],
        ],
    },
];

/// Writes the workload's universe (once) and returns its folder.
fn universe_dir(w: &Workload) -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/bench-portfolio")
        .join(w.name);
    let done = dir.join(".complete");
    if done.exists() {
        return dir;
    }
    std::fs::create_dir_all(&dir).unwrap();
    let base = 1_262_304_000_000_000_000; // 2010-01-01
    for a in 0..w.assets {
        // Every fifth asset lists a tenth of the way in (the union must handle it).
        let late = if a % 5 == 4 { w.bars / 10 } else { 0 };
        let bars = walk(
            w.bars - late,
            base + late as i64 * w.step,
            w.step,
            1000 + a as u64,
        );
        backtide_data::write_parquet(&bars, &dir.join(format!("S{a:04}.parquet"))).unwrap();
    }
    std::fs::write(&done, b"").unwrap();
    dir
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Wall seconds and peak RSS (MB) of a whole process, from GNU time, and its stdout.
fn timed(cmd: &mut Command) -> Option<(f64, f64, String)> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        eprintln!("failed: {}", String::from_utf8_lossy(&out.stderr));
        return None;
    }
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err.lines().rev().find(|l| l.starts_with("BENCH "))?;
    let mut it = line.split_whitespace().skip(1);
    let wall: f64 = it.next()?.parse().ok()?;
    let kb: f64 = it.next()?.parse().ok()?;
    Some((
        wall,
        kb / 1024.0,
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

fn gnu_time() -> Command {
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "BENCH %e %M"]);
    c
}

fn main() {
    let bin = env!("CARGO_BIN_EXE_backtide");
    let python = std::env::var("BACKTIDE_BENCH_PYTHON").ok();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/bench/vbt_portfolio.py");
    for w in &WORKLOADS {
        let dir = universe_dir(w);
        let u = backtide_data::load_universe(&[dir.display().to_string()]).unwrap();
        let cells = u.assets().iter().map(|a| a.bars().len()).sum::<usize>();
        let own_mb = u.data_bytes() as f64 / 1e6;
        println!(
            "{}: {} assets, {} union bars, {} asset·bars, {:.1} MB of bars",
            w.name,
            u.n_assets(),
            u.len(),
            cells,
            own_mb
        );
        let cfg = PortfolioConfig {
            cash: 100_000.0,
            fees: 0.001,
            ..PortfolioConfig::default()
        };
        for ((name, pairs), py_args) in w.strategies.iter().zip(w.python) {
            let info = builtin::find(name).unwrap();
            let params = Params::from_pairs(&info.params, pairs.iter().copied()).unwrap();
            let mut times = Vec::new();
            let mut orders = 0;
            let mut final_value = 0.0;
            for _ in 0..5 {
                let mut s = info.build(&params).unwrap();
                let t0 = Instant::now();
                let res = portfolio::run(&u, s.as_mut(), &cfg).unwrap();
                times.push(t0.elapsed().as_secs_f64());
                orders = res.fills.len();
                final_value = *res.value.last().unwrap();
            }
            let engine = median(times);
            let mut cmd = gnu_time();
            cmd.arg(bin).args(["run", "--data"]).arg(&dir);
            cmd.args([
                "--strategy",
                name,
                "--profile",
                "vectorbt",
                "--commission",
                "0.001",
            ]);
            cmd.args(["--cash", "100000"]);
            for (k, v) in pairs.iter() {
                cmd.args(["--param", &format!("{k}={v}")]);
            }
            let runs: Vec<(f64, f64, String)> = (0..3).filter_map(|_| timed(&mut cmd)).collect();
            let ours_wall = median(runs.iter().map(|r| r.0).collect());
            let ours_rss = runs.iter().map(|r| r.1).fold(0.0, f64::max);
            println!(
                "  {name}: {orders} orders, final value {final_value:.2}; engine {:.1} ms ({:.0} M asset·bars/s); \
                 whole process {:.3} s, peak RSS {:.1} MB (limit 2 × {:.1} + 50 = {:.1} MB)",
                engine * 1e3,
                cells as f64 / engine / 1e6,
                ours_wall,
                ours_rss,
                own_mb,
                2.0 * own_mb + 50.0
            );
            if let Some(py) = &python {
                let mut cmd = gnu_time();
                cmd.arg(py).arg(&script).arg(&dir).args(py_args.iter());
                cmd.args(["--fees", "0.001", "--init-cash", "100000"]);
                match timed(&mut cmd) {
                    Some((wall, rss, stdout)) => {
                        // The same portfolio, computed independently: say whether it agrees.
                        let v: serde_json::Value = stdout
                            .lines()
                            .rev()
                            .find_map(|l| serde_json::from_str(l).ok())
                            .unwrap_or_default();
                        let agree = v["orders"].as_u64() == Some(orders as u64)
                            && v["final_value"]
                                .as_f64()
                                .is_some_and(|x| (x - final_value).abs() <= 1e-9 * x.abs());
                        println!(
                            "    vectorbt 1.2 whole process {wall:.3} s, peak RSS {rss:.1} MB \
                             ({} orders, final value {}: {}): Backtide {:.1}× faster, {:.1}× less memory",
                            v["orders"],
                            v["final_value"],
                            if agree {
                                "same as Backtide"
                            } else {
                                "DIFFERS from Backtide"
                            },
                            wall / ours_wall,
                            rss / ours_rss
                        )
                    }
                    None => println!("    vectorbt run failed (see above)"),
                }
            }
        }
    }
}
