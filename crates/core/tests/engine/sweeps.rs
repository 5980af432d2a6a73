//! Sweeps: determinism across thread counts, cancellation, combination order.

use std::sync::atomic::{AtomicBool, Ordering};

use backtide_core::strategy::builtin;
use backtide_core::sweep::{
    Axis, ComboResult, Constraint, Method, Objective, SweepControl, SweepSpec, run_sweep,
};
use backtide_core::{Bars, BrokerConfig, Commission, Error};

const DAY: i64 = 86_400_000_000_000;

fn bars(n: usize) -> Bars {
    random_walk(n, 0x1234_5678_9abc_def1, 0.04, DAY, 0.005)
}

/// xorshift random walk: `vol` is the widest close-to-close move, `wick` how far high and
/// low reach past open and close; prices stay at 0.5 or above.
fn random_walk(n: usize, seed: u64, vol: f64, step_ns: i64, wick: f64) -> Bars {
    let mut x = seed | 1;
    let mut c = 100.0;
    let (mut t, mut o, mut h, mut l, mut cl) = (vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let r = (x >> 11) as f64 / (1u64 << 53) as f64;
        let open = c;
        c = (c * (1.0 + (r - 0.5) * vol)).max(0.5);
        t.push(i as i64 * step_ns);
        o.push(open);
        h.push(open.max(c) * (1.0 + wick));
        l.push(open.min(c) * (1.0 - wick));
        cl.push(c);
    }
    Bars::try_new(t, o, h, l, cl, vec![f64::NAN; n]).unwrap()
}

fn spec(method: Method) -> SweepSpec {
    let info = builtin::find("sma_cross").unwrap();
    let p = |n: &str| info.params.iter().find(|p| p.name == n).unwrap();
    SweepSpec {
        strategy: info.into(),
        fixed: vec![("direction".into(), "long_short".into())],
        axes: vec![
            Axis::parse(p("fast"), "2:20:2").unwrap(),
            Axis::parse(p("slow"), "5:60:5").unwrap(),
        ],
        constraint: Some(Constraint::parse("fast < slow", info.params).unwrap()),
        method,
    }
}

fn collect(
    threads: usize,
    method: Method,
    cancel: Option<&AtomicBool>,
    stop_after: Option<usize>,
) -> (Vec<ComboResult>, backtide_core::sweep::SweepOutcome) {
    collect_spec(&spec(method), threads, cancel, stop_after)
}

fn collect_spec(
    spec: &SweepSpec,
    threads: usize,
    cancel: Option<&AtomicBool>,
    stop_after: Option<usize>,
) -> (Vec<ComboResult>, backtide_core::sweep::SweepOutcome) {
    let b = bars(1500);
    let cfg = BrokerConfig {
        commission: Commission::Relative(0.001),
        exclusive_orders: true,
        ..BrokerConfig::default()
    };
    let obj = Objective::new("sharpe_ratio", true).unwrap();
    let progress = |done: usize, _total: usize| {
        if let (Some(c), Some(k)) = (cancel, stop_after)
            && done >= k
        {
            c.store(true, Ordering::Relaxed);
        }
    };
    let control = SweepControl {
        threads,
        cancel,
        progress: Some(&progress),
        profile_blocks: 0,
        skip: 0,
        end: None,
    };
    let mut got = Vec::new();
    let outcome = run_sweep::<Error>(&b, spec, &cfg, &obj, &control, &mut |r| {
        got.push(r.clone());
        Ok(())
    })
    .unwrap();
    (got, outcome)
}

#[test]
fn identical_with_one_thread_and_all_threads() {
    let (one, o1) = collect(1, Method::Grid, None, None);
    let (all, o2) = collect(0, Method::Grid, None, None);
    let (four, _) = collect(4, Method::Grid, None, None);
    assert_eq!(one.len(), o1.total);
    assert!(!one.is_empty());
    assert_eq!(one, all);
    assert_eq!(one, four);
    assert_eq!(o1.best, o2.best);
    // Delivered in combination order.
    assert!(one.windows(2).all(|w| w[0].index + 1 == w[1].index));
}

#[test]
fn grid_respects_constraint_and_order() {
    let combos = spec(Method::Grid).combinations().unwrap();
    // fast ∈ {2..20 step 2} (10 values), slow ∈ {5..60 step 5} (12 values), fast < slow.
    let expected = (2..=20)
        .step_by(2)
        .map(|f| (5..=60).step_by(5).filter(|s| f < *s).count())
        .sum::<usize>();
    assert_eq!(combos.len(), expected);
    assert_eq!(combos[0][0].to_string(), "2");
    assert_eq!(combos[0][1].to_string(), "5");
    assert_eq!(
        combos[1][1].to_string(),
        "10",
        "the last axis turns fastest"
    );
}

#[test]
fn random_search_is_a_seeded_subset() {
    let (a, oa) = collect(
        0,
        Method::Random {
            samples: 20,
            seed: 7,
        },
        None,
        None,
    );
    let (b, _) = collect(
        1,
        Method::Random {
            samples: 20,
            seed: 7,
        },
        None,
        None,
    );
    let (c, _) = collect(
        0,
        Method::Random {
            samples: 20,
            seed: 8,
        },
        None,
        None,
    );
    assert_eq!(oa.total, 20);
    assert_eq!(a, b);
    assert_ne!(
        a.iter().map(|r| r.values.clone()).collect::<Vec<_>>(),
        c.iter().map(|r| r.values.clone()).collect::<Vec<_>>()
    );
    let (full, _) = collect(0, Method::Grid, None, None);
    for r in &a {
        let same = full.iter().find(|f| f.values == r.values).unwrap();
        assert_eq!(
            same.stats, r.stats,
            "a sampled combination gives the grid's result"
        );
    }
}

#[test]
fn cancelled_sweep_returns_the_finished_part() {
    // More combinations than one chunk holds, cancelled when the first chunk is done.
    let mut big = spec(Method::Grid);
    let info = builtin::find("sma_cross").unwrap();
    let p = |n: &str| info.params.iter().find(|p| p.name == n).unwrap();
    big.axes = vec![
        Axis::parse(p("fast"), "2:60:1").unwrap(),
        Axis::parse(p("slow"), "5:200:5").unwrap(),
    ];
    let cancel = AtomicBool::new(false);
    let (part, outcome) = collect_spec(&big, 1, Some(&cancel), Some(1));
    let (full, _) = collect_spec(&big, 1, None, None);
    assert!(outcome.cancelled);
    assert!(
        !part.is_empty() && part.len() < full.len(),
        "{} of {}",
        part.len(),
        full.len()
    );
    assert_eq!(outcome.completed, part.len());
    assert_eq!(
        &full[..part.len()],
        &part[..],
        "the finished part is exactly the first combinations"
    );
}

#[test]
fn bad_objective_and_params_are_errors() {
    assert!(Objective::new("nope", true).is_err());
    let mut s = spec(Method::Grid);
    s.fixed = vec![("bogus".into(), "1".into())];
    let b = bars(100);
    let obj = Objective::new("sqn", true).unwrap();
    let r = run_sweep::<Error>(
        &b,
        &s,
        &BrokerConfig::default(),
        &obj,
        &SweepControl::default(),
        &mut |_| Ok(()),
    );
    assert!(r.is_err());
}

/// A sweep (signal path, shared indicator cache) gives exactly the statistics of a
/// standalone run of the same combination (per-bar path, no cache).
#[test]
fn sweep_results_equal_standalone_runs() {
    let (results, _) = collect(0, Method::Grid, None, None);
    let b = bars(1500);
    let cfg = BrokerConfig {
        commission: Commission::Relative(0.001),
        exclusive_orders: true,
        ..BrokerConfig::default()
    };
    let info = builtin::find("sma_cross").unwrap();
    for r in results.iter().step_by(7) {
        let mut s = info.build(&r.params).unwrap();
        let run = backtide_core::run(&b, s.as_mut(), &cfg).unwrap();
        assert_eq!(
            backtide_core::stats::compute(&b, &run),
            r.stats,
            "{:?}",
            r.values
        );
    }
}

mod walk_forward {
    use super::*;
    use backtide_core::sweep::{WalkForward, run_walk_forward};

    #[test]
    fn windows_winners_and_stitched_equity() {
        let b = bars(1500);
        let cfg = BrokerConfig {
            commission: Commission::Relative(0.001),
            ..BrokerConfig::default()
        };
        let obj = Objective::new("sharpe_ratio", true).unwrap();
        let wf = WalkForward::parse("train=500,test=250").unwrap();
        let s = spec(Method::Grid);
        let r = run_walk_forward(&b, &s, &cfg, &obj, &wf, &SweepControl::default()).unwrap();
        assert_eq!(r.windows.len(), 4);
        assert_eq!(r.oos_range, 500..1500);
        assert_eq!(r.oos_equity.len(), 1000);
        assert_eq!(r.oos_equity[0], cfg.cash);
        for (k, w) in r.windows.iter().enumerate() {
            assert_eq!(w.test.start, 500 + 250 * k);
            // The in-sample winner is the winner of a standalone sweep on the training bars.
            let t = b.time();
            let train = b.slice_time(Some(t[w.train.start]), Some(t[w.train.end - 1]));
            let alone = run_sweep::<Error>(
                &train,
                &s,
                &cfg,
                &obj,
                &SweepControl::default(),
                &mut |_| Ok(()),
            )
            .unwrap();
            assert_eq!(alone.best.unwrap().values, w.best.values);
            // Each test segment starts flat at the previous segment's final equity (up to the
            // rounding of the compounding factor).
            if k > 0 {
                let seam = w.test.start - 500;
                let (a, z) = (r.oos_equity[seam - 1], r.oos_equity[seam]);
                assert!(
                    (a - z).abs() <= 1e-12 * a.abs(),
                    "seam {seam}: {a} then {z}"
                );
            }
        }
        // Trades fall inside the out-of-sample range and respect window bounds.
        assert!(
            r.oos_trades
                .iter()
                .all(|t| t.entry_bar <= t.exit_bar && t.exit_bar < 1000)
        );
        assert_eq!(r.oos_stats.num_trades, r.oos_trades.len());
        assert_eq!(r.oos_stats.equity_final, *r.oos_equity.last().unwrap());
    }

    #[test]
    fn anchored_training_grows() {
        let b = bars(900);
        let wf = WalkForward::parse("train=300,test=200,anchored").unwrap();
        let obj = Objective::new("equity_final", true).unwrap();
        let r = run_walk_forward(
            &b,
            &spec(Method::Grid),
            &BrokerConfig::default(),
            &obj,
            &wf,
            &SweepControl::default(),
        )
        .unwrap();
        assert!(r.windows.iter().all(|w| w.train.start == 0));
        assert_eq!(r.windows.last().unwrap().test, 700..900);
    }

    #[test]
    fn too_few_bars_is_an_error() {
        let wf = WalkForward::parse("train=5000,test=10").unwrap();
        let obj = Objective::new("sqn", true).unwrap();
        assert!(
            run_walk_forward(
                &bars(100),
                &spec(Method::Grid),
                &BrokerConfig::default(),
                &obj,
                &wf,
                &SweepControl::default()
            )
            .is_err()
        );
    }
}

/// Combinations are generated lazily: the first ones of a ~50-million-point grid come at
/// once (collecting it would take gigabytes).
#[test]
fn combinations_stream_without_materialising_the_grid() {
    let info = builtin::find("sma_cross").unwrap();
    let p = |n: &str| info.params.iter().find(|p| p.name == n).unwrap();
    let s = SweepSpec {
        strategy: info.into(),
        fixed: vec![],
        axes: vec![
            Axis::parse(p("fast"), "1:5000:1").unwrap(),
            Axis::parse(p("slow"), "2:10000:1").unwrap(),
        ],
        constraint: Some(Constraint::parse("fast < slow", info.params).unwrap()),
        method: Method::Grid,
    };
    let first: Vec<String> = s
        .stream()
        .unwrap()
        .take(3)
        .map(|v| format!("{}/{}", v[0], v[1]))
        .collect();
    assert_eq!(first, ["1/2", "1/3", "1/4"]);
}

/// Sweeps hand statistics each block of equity as a run marks it and never hold a curve.
/// Over several blocks (2,048 bars each) and every built-in strategy, with fills at the
/// close, leverage deep enough to wipe the account out, trades closed at the end or left
/// open, fractional units, on one thread or two, a sweep's statistics and overfitting
/// profile have the bits of a standalone run's.
mod streamed_statistics {
    use super::*;
    use backtide_core::sweep::overfitting::ReturnProfile;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn sweep_statistics_equal_a_standalone_runs(
            n in 2_000usize..7_000,
            seed in any::<u64>(),
            strategy in 0usize..7,
            trade_on_close in any::<bool>(),
            finalize_trades in any::<bool>(),
            leveraged in any::<bool>(),
            blocks in prop_oneof![Just(0usize), Just(8)],
            threads in 1usize..=2,
            fractional in any::<bool>(),
        ) {
            let vol = if leveraged { 0.03 } else { 0.01 };
            let b = random_walk(n, seed, vol, 60_000_000_000, 0.001);
            let names = [
                "sma_cross", "ema_cross", "macd_cross", "rsi_reversion",
                "bollinger_reversion", "donchian_breakout", "buy_and_hold",
            ];
            let info = builtin::find(names[strategy]).unwrap();
            let spec = SweepSpec {
                strategy: info.into(),
                fixed: vec![],
                axes: vec![],
                constraint: None,
                method: Method::Grid,
            };
            let cfg = BrokerConfig {
                commission: Commission::Relative(0.001),
                trade_on_close,
                finalize_trades,
                margin: if leveraged { 0.02 } else { 1.0 },
                // Trades in thousandths of a unit: the run keeps its whole curve.
                fractional_unit: fractional.then_some(0.001),
                ..BrokerConfig::default()
            };
            let obj = Objective::new("sharpe_ratio", true).unwrap();
            let control = SweepControl { threads, profile_blocks: blocks, ..SweepControl::default() };
            let mut got = Vec::new();
            run_sweep::<Error>(&b, &spec, &cfg, &obj, &control, &mut |r| {
                got.push(r.clone());
                Ok(())
            })
            .unwrap();
            prop_assert_eq!(got.len(), 1);
            let mut s = info.build(&got[0].params).unwrap();
            let run = backtide_core::run(&b, s.as_mut(), &cfg).unwrap();
            let want = backtide_core::stats::compute(&b, &run);
            // Debug prints each float's shortest round-trip form (and NaN as NaN).
            prop_assert_eq!(format!("{:?}", got[0].stats), format!("{want:?}"));
            let profile = (blocks > 0).then(|| ReturnProfile::of_equity(&run.equity, blocks));
            prop_assert_eq!(format!("{:?}", got[0].profile), format!("{profile:?}"));
        }
    }
}

/// Once a sweep's indicator cache is full, SMAs are computed as the cross scan reads them
/// instead of shared: runs are unchanged, to the bit, with either rule, on data several
/// scan blocks (2,048 bars) long.
#[test]
fn a_full_indicator_cache_changes_no_result() {
    use backtide_core::{IndicatorCache, Params};
    let b = bars(7_000);
    let info = builtin::find("sma_cross").unwrap();
    let cfg = BrokerConfig {
        commission: Commission::Relative(0.001),
        ..BrokerConfig::default()
    };
    for (fast, slow, cross) in [("3", "40", "strict"), ("10", "25", "stateful")] {
        let params = Params::from_pairs(
            info.params,
            [("fast", fast), ("slow", slow), ("cross", cross)],
        )
        .unwrap();
        let alone = backtide_core::run(&b, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
        for budget in [0, 64 << 20] {
            let cache = IndicatorCache::with_budget(budget);
            let mut s = info.build_signals(&params).unwrap();
            let swept = backtide_core::run_with_cache(&b, s.as_mut(), &cfg, Some(&cache)).unwrap();
            assert_eq!(
                swept.trades, alone.trades,
                "{fast}/{slow} {cross}, budget {budget}"
            );
            assert_eq!(
                swept.equity, alone.equity,
                "{fast}/{slow} {cross}, budget {budget}"
            );
            assert_eq!(cache.len(), if budget == 0 { 0 } else { 2 });
        }
        assert!(alone.trades.len() > 20, "the data crosses often");
    }
}
