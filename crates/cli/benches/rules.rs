//! The rule language's cost: a `rules` sweep restating `sma_cross` against the built-in
//! sweep in the same run (1,000 combinations × 100k fixed-seed minute bars, long/short,
//! 0.1 % commission, all threads; without and with the overfitting profiles), and the
//! time to compile an expression (parse, type-check, bind, plan).
//!
//! Run: `cargo bench -p backtide-cli --bench rules`.

// A benchmark measures wall-clock time by definition; the ban protects the engine.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use backtide_core::strategy::builtin;
use backtide_core::sweep::{
    Axis, ComboResult, Method, Objective, SweepControl, SweepSpec, run_sweep,
};
use backtide_core::{Bars, BrokerConfig, Commission, Error, Params};

mod common;
use common::synthetic;

const ENTRY: &str = "crossover(sma(close, $fast), sma(close, $slow))";
const EXIT: &str = "crossunder(sma(close, $fast), sma(close, $slow))";

fn spec(name: &str) -> SweepSpec {
    let fixed: Vec<(String, String)> = if name == "rules" {
        vec![
            ("entry".into(), ENTRY.into()),
            ("exit".into(), EXIT.into()),
            ("direction".into(), "long_short".into()),
            ("entries".into(), "reenter".into()),
        ]
    } else {
        vec![("direction".into(), "long_short".into())]
    };
    let given: Vec<(&str, &str)> = fixed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let info = builtin::find(name).unwrap().specialize(&given).unwrap();
    let p = |n: &str| info.params.iter().find(|p| p.name == n).unwrap();
    SweepSpec {
        strategy: info.into(),
        fixed,
        axes: vec![
            Axis::parse(p("fast"), "1:20:1").unwrap(),
            Axis::parse(p("slow"), "30:520:10").unwrap(),
        ],
        constraint: None,
        method: Method::Grid,
    }
}

/// Seconds, combinations, and the best combination's statistics (as text).
fn sweep(bars: &Bars, spec: &SweepSpec, profile_blocks: usize) -> (f64, usize, String) {
    let cfg = BrokerConfig {
        commission: Commission::Relative(0.001),
        ..BrokerConfig::default()
    };
    let obj = Objective::new("sharpe_ratio", true).unwrap();
    let control = SweepControl {
        threads: 0,
        profile_blocks,
        ..SweepControl::default()
    };
    let t0 = Instant::now();
    let mut n = 0usize;
    let out = run_sweep::<Error>(bars, spec, &cfg, &obj, &control, &mut |_: &ComboResult| {
        n += 1;
        Ok(())
    })
    .unwrap();
    let s = t0.elapsed().as_secs_f64();
    assert_eq!(out.failed, (0, None));
    let best = out.best.expect("a best combination");
    (s, n, format!("{:?} {:?}", best.values, best.stats))
}

fn main() {
    let bars = synthetic(100_000, 11);
    let (builtin_spec, rules_spec) = (spec("sma_cross"), spec("rules"));
    for blocks in [0, 16] {
        // Interleaved, best of three each: the machine is shared and noisy.
        let (mut b, mut r) = (f64::INFINITY, f64::INFINITY);
        let mut n = 0;
        for _ in 0..3 {
            let (s, k, best_b) = sweep(&bars, &builtin_spec, blocks);
            b = b.min(s);
            let (s, _, best_r) = sweep(&bars, &rules_spec, blocks);
            r = r.min(s);
            assert_eq!(
                best_b, best_r,
                "the rules sweep finds the built-in's best combination"
            );
            n = k;
        }
        let rate = |s: f64| (n * bars.len()) as f64 / s / 1e6;
        println!(
            "{n} combos x {} bars, all threads{}: sma_cross {:.0} M bar·combos/s, rules {:.0} M; rules take {:.2}x the built-in's time",
            bars.len(),
            if blocks > 0 {
                ", with overfitting profiles"
            } else {
                ""
            },
            rate(b),
            rate(r),
            r / b
        );
    }

    // Compiling: parse, check, bind the parameters and plan (what every combination does).
    let exprs = [
        ("entry", "rsi(close, 14) < 30 and close > sma(close, 200)"),
        ("exit", "rsi(close, 14) > 70"),
        ("sl", "close - 2 * atr(high, low, close, 14)"),
    ];
    let info = builtin::find("rules").unwrap();
    let params = Params::from_pairs(info.params, exprs).unwrap();
    let reps = 20_000;
    let t0 = Instant::now();
    for _ in 0..reps {
        std::hint::black_box(backtide_core::rules::RulesStrategy::from_params(&params).unwrap());
    }
    let per = t0.elapsed().as_secs_f64() / reps as f64;
    println!(
        "compiling entry, exit and sl ({} characters): {:.1} µs ({:.1} µs an expression)",
        exprs.iter().map(|(_, e)| e.len()).sum::<usize>(),
        per * 1e6,
        per * 1e6 / exprs.len() as f64
    );
}
