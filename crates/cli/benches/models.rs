//! Feature pipeline and ONNX inference throughput.
//!
//! Workload: 1M fixed-seed synthetic minute bars; the committed model
//! `testdata/models/tiny.onnx` (scaler + MLP 6 → 8 → 1) over the six features of
//! `testdata/models/tiny.features.json`. Timed separately: computing the feature matrix,
//! one batch of inference over every row (model compiled for that batch included), and a
//! whole `onnx_model` backtest; best of 5 runs each, in bars/s.
//!
//! Run: `cargo bench -p backtide-cli --bench models`.

// A benchmark measures wall-clock time by definition; the ban protects the engine.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::time::Instant;

use backtide_core::{BrokerConfig, Params};
use backtide_models::{FeatureSpec, OnnxModel, find_strategy};

mod common;
use common::synthetic;

fn best_of<T>(runs: usize, mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..runs {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/models");
    let (model_path, spec_path) = (root.join("tiny.onnx"), root.join("tiny.features.json"));
    let n = 1_000_000;
    let bars = synthetic(n, 7);
    let spec = FeatureSpec::load(&spec_path).unwrap();
    let (t_feat, m) = best_of(5, || spec.compute(&bars, &spec_path).unwrap());
    let input = m.row_major_f32();
    let model = OnnxModel::load(&model_path).unwrap();
    let (t_inf, y) = best_of(5, || {
        model
            .predict(input.clone(), m.rows(), m.columns.len())
            .unwrap()
    });
    assert_eq!(y.len(), n);
    let mut sorted: Vec<f32> = y.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f32::total_cmp);
    // Minute bars are not what the fixture's scaler expects: trade around the median output.
    let median = sorted[sorted.len() / 2];
    let info = find_strategy("onnx_model").unwrap();
    let params = Params::from_pairs(
        info.params,
        [
            ("model", model_path.to_str().unwrap()),
            ("features", spec_path.to_str().unwrap()),
            ("enter", &median.to_string()),
            ("exit", &median.to_string()),
        ],
    )
    .unwrap();
    let (t_run, r) = best_of(5, || {
        let mut s = info.build(&params).unwrap();
        backtide_core::run(&bars, s.as_mut(), &BrokerConfig::default()).unwrap()
    });
    let rate = |t: f64| n as f64 / t / 1e6;
    println!("1,000,000 bars, 6 features, tiny.onnx (best of 5)");
    println!(
        "  features            {:>8.1} ms  {:>7.1} M bars/s",
        t_feat * 1e3,
        rate(t_feat)
    );
    println!(
        "  inference (1 batch) {:>8.1} ms  {:>7.1} M bars/s",
        t_inf * 1e3,
        rate(t_inf)
    );
    println!(
        "  features+inference  {:>8.1} ms  {:>7.1} M bars/s",
        (t_feat + t_inf) * 1e3,
        rate(t_feat + t_inf)
    );
    println!(
        "  whole backtest      {:>8.1} ms  {:>7.1} M bars/s  ({} trades)",
        t_run * 1e3,
        rate(t_run),
        r.trades.len()
    );
}
