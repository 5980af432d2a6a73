//! Portfolio invariants over random universes (assets that list late, skip bars and end
//! early) and random decisions: the per-bar and planned front ends give identical orders
//! and values; value = cash + Σ position × last close at every bar; no look-ahead for
//! any asset; no fill for an asset on a bar it does not have.

use backtide_core::portfolio::{
    self, CallSeq, Direction, Entry, EntrySize, ExitOf, FillAt, Intent, OrderPlan, PlanDriven,
    PlannedOrder, PortfolioConfig, PortfolioContext, PortfolioPlan, PortfolioResult,
    PortfolioStrategy, StopLoss, Stops,
    builtin::{self, EqualWeight, Rebalance},
};
use backtide_core::{Bars, Error, Params, Universe};
use proptest::prelude::*;

const DAY: i64 = 86_400_000_000_000;

struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            | 1)
    }
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// One asset's random walk on days `start..end`, skipping about `gaps` of its days.
fn asset(start: usize, end: usize, gaps: f64, seed: u64) -> Bars {
    let mut r = Rng::new(seed);
    let mut c = 20.0 + 80.0 * r.next();
    let (mut t, mut o, mut h, mut l, mut cl) = (vec![], vec![], vec![], vec![], vec![]);
    for d in start..end {
        let open = c * (1.0 + (r.next() - 0.5) * 0.01);
        c = (open * (1.0 + (r.next() - 0.5) * 0.05)).max(1.0);
        // Always keep the first day so the asset is not empty.
        if d > start && r.next() < gaps {
            continue;
        }
        t.push(d as i64 * DAY);
        o.push(open);
        h.push(open.max(c) * (1.0 + r.next() * 0.01));
        l.push(open.min(c) * (1.0 - r.next() * 0.01));
        cl.push(c);
    }
    let n = t.len();
    Bars::try_new(t, o, h, l, cl, vec![f64::NAN; n]).unwrap()
}

fn universe(n_assets: usize, days: usize, seed: u64) -> Universe {
    let mut r = Rng::new(seed ^ 0xA5A5);
    Universe::try_new((0..n_assets).map(|a| {
        let start = if a == 0 {
            0
        } else {
            (r.next() * days as f64 * 0.5) as usize
        };
        let end = if r.next() < 0.3 {
            days - (r.next() * days as f64 * 0.2) as usize
        } else {
            days
        };
        let gaps = if r.next() < 0.5 { 0.0 } else { 0.1 };
        let sym = format!("S{a}");
        (
            sym.clone(),
            sym,
            asset(
                start,
                end.max(start + 1),
                gaps,
                seed.wrapping_add(a as u64 * 7919),
            ),
        )
    }))
    .unwrap()
}

/// The same universe with every bar after union bar `k` replaced by other random prices.
fn with_future_changed(u: &Universe, k: usize, seed: u64) -> Universe {
    let cut = u.time()[k];
    Universe::try_new(u.assets().iter().enumerate().map(|(a, x)| {
        let b = x.bars();
        let mut r = Rng::new(seed + a as u64);
        let n = b.len();
        let (mut o, mut h, mut l, mut c) = (vec![], vec![], vec![], vec![]);
        for i in 0..n {
            if b.time()[i] <= cut {
                o.push(b.open()[i]);
                h.push(b.high()[i]);
                l.push(b.low()[i]);
                c.push(b.close()[i]);
            } else {
                let open = 10.0 + 100.0 * r.next();
                let close = 10.0 + 100.0 * r.next();
                o.push(open);
                c.push(close);
                h.push(open.max(close) * 1.01);
                l.push(open.min(close) * 0.99);
            }
        }
        let bars = Bars::try_new(b.time().to_vec(), o, h, l, c, vec![f64::NAN; n]).unwrap();
        (x.symbol().to_string(), x.symbol().to_string(), bars)
    }))
    .unwrap()
}

/// Decisions drawn from a seed, independent of any state: the same list feeds a plan and
/// a per-bar strategy.
fn random_decisions(u: &Universe, seed: u64) -> Vec<PlannedOrder> {
    let mut r = Rng::new(seed);
    let mut out = Vec::new();
    for bar in 0..u.len() {
        for a in 0..u.n_assets() {
            if r.next() < 0.08 {
                let x = r.next();
                let intent = match (r.next() * 8.0) as u32 {
                    0 => Intent::TargetPercent(x * 0.5),
                    1 => Intent::TargetValue(x * 3_000.0),
                    2 => Intent::TargetUnits(x * 50.0),
                    3 => Intent::Units(x * 40.0 - 20.0),
                    4 => Intent::Value(x * 2_000.0 - 500.0),
                    5 => Intent::Close,
                    6 => Intent::Enter(Entry::long(if x < 0.3 {
                        EntrySize::AllCash
                    } else {
                        EntrySize::Percent(x)
                    })),
                    _ => Intent::Exit(ExitOf::Long),
                };
                out.push(PlannedOrder {
                    bar,
                    asset: a,
                    intent,
                });
            }
        }
    }
    out
}

struct Planned(Vec<PlannedOrder>);

impl PortfolioPlan for Planned {
    fn plan(&mut self, _: &Universe) -> Result<OrderPlan, Error> {
        Ok(OrderPlan {
            orders: self.0.clone(),
        })
    }
}

/// The same decisions placed bar by bar through the context.
struct PerBar(Vec<PlannedOrder>);

impl PortfolioStrategy for PerBar {
    fn next(&mut self, ctx: &mut PortfolioContext<'_>) -> Result<(), Error> {
        let bar = ctx.index();
        for o in self.0.iter().filter(|o| o.bar == bar) {
            match o.intent {
                Intent::TargetPercent(w) => ctx.order_target_percent(o.asset, w)?,
                Intent::TargetValue(v) => ctx.order_target_value(o.asset, v)?,
                Intent::TargetUnits(x) => ctx.order_target_units(o.asset, x)?,
                Intent::Units(x) if x >= 0.0 => ctx.buy(o.asset, x)?,
                Intent::Units(x) => ctx.sell(o.asset, -x)?,
                Intent::Close => ctx.close(o.asset)?,
                other => ctx.order(o.asset, other)?,
            }
        }
        Ok(())
    }
}

fn cfg(fees: f64, fixed: f64, call_seq: CallSeq, fill: FillAt, whole: bool) -> PortfolioConfig {
    PortfolioConfig {
        cash: 10_000.0,
        fees,
        fixed_fees: fixed,
        slippage: 0.001,
        size_granularity: whole.then_some(1.0),
        call_seq,
        fill,
    }
}

fn config() -> impl Strategy<Value = PortfolioConfig> {
    (
        0.0..0.01f64,
        prop_oneof![Just(0.0), Just(1.0)],
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(fees, fixed, auto, close, whole)| {
            cfg(
                fees,
                fixed,
                if auto {
                    CallSeq::Auto
                } else {
                    CallSeq::Default
                },
                if close {
                    FillAt::Close
                } else {
                    FillAt::NextOpen
                },
                whole,
            )
        })
}

/// Every built-in portfolio strategy, with small windows so they act on short data.
fn builtins() -> Vec<Box<dyn PortfolioStrategy>> {
    let mk = |name: &str, pairs: &[(&str, &str)]| {
        let info = builtin::find(name).unwrap();
        info.build(&Params::from_pairs(&info.params, pairs.iter().copied()).unwrap())
            .unwrap()
    };
    vec![
        mk("equal_weight", &[("rebalance", "7")]),
        mk(
            "equal_weight",
            &[("rebalance", "weekly"), ("threshold", "0.02")],
        ),
        mk(
            "momentum_rotation",
            &[("lookback", "10"), ("top", "2"), ("rebalance", "5")],
        ),
        mk(
            "inverse_volatility",
            &[("lookback", "8"), ("rebalance", "monthly")],
        ),
        mk(
            "sma_cross",
            &[
                ("fast", "3"),
                ("slow", "8"),
                ("size", "1500"),
                ("size_type", "value"),
            ],
        ),
        mk("rsi_reversion", &[("period", "5")]),
    ]
}

fn check_accounting(u: &Universe, res: &PortfolioResult) -> Result<(), TestCaseError> {
    let pos = portfolio::positions_per_bar(u, res);
    let mut last = vec![f64::NAN; u.n_assets()];
    let mut k = vec![0usize; u.n_assets()];
    for (t, (&cash, &v)) in res.cash.iter().zip(&res.value).enumerate() {
        let mut value = cash;
        for (a, x) in u.assets().iter().enumerate() {
            if k[a] < x.rows().len() && x.rows()[k[a]] as usize == t {
                last[a] = x.bars().close()[k[a]];
                k[a] += 1;
            }
            if pos[a][t] != 0.0 {
                value += pos[a][t] * last[a];
            }
        }
        prop_assert!(
            (v - value).abs() <= 1e-9 * v.abs().max(1.0),
            "bar {t}: value {v} vs {value}"
        );
        prop_assert!(cash >= 0.0, "bar {t}: negative cash {cash}");
    }
    for f in &res.fills {
        prop_assert!(
            u.assets()[f.asset].row_at(f.bar).is_some(),
            "fill for {} at bar {} where it has no bar",
            u.assets()[f.asset].symbol(),
            f.bar
        );
    }
    Ok(())
}

/// Long and short signals drawn from a seed, entries with stops now and then.
fn random_signals(u: &Universe, seed: u64) -> Vec<PlannedOrder> {
    let mut r = Rng::new(seed);
    let mut out = Vec::new();
    for bar in 0..u.len() {
        for a in 0..u.n_assets() {
            if r.next() < 0.1 {
                let x = r.next();
                let size = match (r.next() * 3.0) as u32 {
                    0 => EntrySize::AllCash,
                    1 => EntrySize::Units(1.0 + x * 30.0),
                    _ => EntrySize::Value(100.0 + x * 3_000.0),
                };
                let stops = Stops {
                    stop_loss: (r.next() < 0.5).then(|| StopLoss {
                        fraction: 0.01 + 0.05 * r.next(),
                        trailing: r.next() < 0.5,
                    }),
                    take_profit: (r.next() < 0.5).then(|| 0.01 + 0.1 * r.next()),
                };
                let intent = match (r.next() * 5.0) as u32 {
                    0 => Intent::Enter(Entry {
                        direction: Direction::Long,
                        size,
                        stops,
                    }),
                    1 => Intent::Enter(Entry {
                        direction: Direction::Short,
                        size,
                        stops,
                    }),
                    2 => Intent::Exit(ExitOf::Long),
                    3 => Intent::Exit(ExitOf::Short),
                    _ => Intent::Exit(ExitOf::Any),
                };
                out.push(PlannedOrder {
                    bar,
                    asset: a,
                    intent,
                });
            }
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// Long and short positions with stops keep the books (value = cash + Σ position ×
    /// close), give the same fills planned or per bar, and their exit trades add up to the
    /// portfolio's profit.
    #[test]
    fn long_short_and_stops_keep_the_books(
        n in 1usize..5, days in 30usize..160, seed in any::<u64>(), cfg in config()
    ) {
        let cfg = PortfolioConfig { fill: FillAt::Close, ..cfg };
        let u = universe(n, days, seed);
        let d = random_signals(&u, seed ^ 3);
        let a = portfolio::run(&u, &mut PlanDriven::new(Planned(d.clone())), &cfg).unwrap();
        let b = portfolio::run(&u, &mut PerBar(d), &cfg).unwrap();
        prop_assert_eq!(&a, &b);
        check_accounting(&u, &a)?;
        let trades = portfolio::exit_trades(&u, &a);
        let pnl: f64 = trades.iter().map(|t| t.pnl()).sum();
        let profit = a.value[u.len() - 1] - a.init_cash;
        prop_assert!((pnl - profit).abs() <= 1e-6 * a.init_cash, "trades {pnl} vs {profit}");
    }

    /// Assets that all have every bar: the engine runs the stretches between decisions in
    /// one loop when no order waits and no stop is open; the per-bar strategy (active on
    /// every bar) takes the bar-by-bar path. Both give the same result, bit for bit.
    #[test]
    fn stretches_between_decisions_equal_the_bar_by_bar_run(
        n in 1usize..4, days in 30usize..200, seed in any::<u64>(), cfg in config(),
        with_stops in any::<bool>(),
    ) {
        let u = Universe::try_new((0..n).map(|a| {
            let sym = format!("S{a}");
            (sym.clone(), sym, asset(0, days, 0.0, seed.wrapping_add(a as u64 * 7919)))
        }))
        .unwrap();
        let (d, cfg) = if with_stops {
            (random_signals(&u, seed ^ 3), PortfolioConfig { fill: FillAt::Close, ..cfg })
        } else {
            (random_decisions(&u, seed ^ 1), cfg)
        };
        let a = portfolio::run(&u, &mut PlanDriven::new(Planned(d.clone())), &cfg).unwrap();
        let b = portfolio::run(&u, &mut PerBar(d), &cfg).unwrap();
        prop_assert_eq!(&a, &b);
        check_accounting(&u, &a)?;
    }

    #[test]
    fn per_bar_and_planned_decisions_fill_identically(
        n in 1usize..6, days in 30usize..160, seed in any::<u64>(), cfg in config()
    ) {
        let u = universe(n, days, seed);
        let d = random_decisions(&u, seed ^ 1);
        let a = portfolio::run(&u, &mut PlanDriven::new(Planned(d.clone())), &cfg).unwrap();
        let b = portfolio::run(&u, &mut PerBar(d), &cfg).unwrap();
        prop_assert_eq!(&a, &b);
        check_accounting(&u, &a)?;
    }

    #[test]
    fn equal_weight_per_bar_equals_its_weight_matrix(
        n in 1usize..6, days in 30usize..160, seed in any::<u64>(), cfg in config(), every in 1usize..30
    ) {
        let u = universe(n, days, seed);
        let mut per_bar = EqualWeight::new(Rebalance::Bars(every), None);
        let a = portfolio::run(&u, &mut per_bar, &cfg).unwrap();
        // The weight matrix written out independently: 1/m for the m assets with a bar on
        // each rebalance bar, NaN (no order) for the others.
        let rows = (0..u.len()).step_by(every).map(|t| {
            let present: Vec<bool> = u.assets().iter().map(|x| x.row_at(t).is_some()).collect();
            let m = present.iter().filter(|p| **p).count();
            (t, present.iter().map(|&p| if p { 1.0 / m as f64 } else { f64::NAN }).collect())
        });
        let plan = OrderPlan::from_weights(rows);
        let b = portfolio::run(&u, &mut PlanDriven::new(Planned(plan.orders)), &cfg).unwrap();
        prop_assert_eq!(&a, &b);
    }

    #[test]
    fn builtins_keep_the_books_and_never_fill_a_missing_bar(
        n in 1usize..6, days in 30usize..200, seed in any::<u64>(), cfg in config()
    ) {
        let u = universe(n, days, seed);
        for mut s in builtins() {
            let res = portfolio::run(&u, s.as_mut(), &cfg).unwrap();
            check_accounting(&u, &res)?;
        }
    }

    #[test]
    fn changing_later_bars_changes_nothing_before(
        n in 1usize..5, days in 40usize..160, seed in any::<u64>(), cfg in config(), cut in 0.1f64..0.9
    ) {
        let u = universe(n, days, seed);
        let k = ((u.len() as f64 * cut) as usize).min(u.len() - 2);
        let v = with_future_changed(&u, k, seed ^ 99);
        for (mut s, mut s2) in builtins().into_iter().zip(builtins()) {
            let a = portfolio::run(&u, s.as_mut(), &cfg).unwrap();
            let b = portfolio::run(&v, s2.as_mut(), &cfg).unwrap();
            let upto = |r: &PortfolioResult| r.fills.iter().filter(|f| f.bar <= k).copied().collect::<Vec<_>>();
            prop_assert_eq!(upto(&a), upto(&b));
            prop_assert_eq!(&a.value[..=k], &b.value[..=k]);
            prop_assert_eq!(&a.cash[..=k], &b.cash[..=k]);
        }
    }
}

#[test]
fn an_order_for_an_asset_without_a_bar_waits_for_its_next_bar() {
    // B has no bar on day 1: the order placed there fills on day 2, at day 2's close.
    let a = asset(0, 4, 0.0, 1);
    let b = Bars::try_new(
        vec![0, 2 * DAY, 3 * DAY],
        vec![10.0, 12.0, 13.0],
        vec![11.0, 13.0, 14.0],
        vec![9.0, 11.0, 12.0],
        vec![10.0, 12.5, 13.0],
        vec![f64::NAN; 3],
    )
    .unwrap();
    let u = Universe::try_new([("A".into(), "a".into(), a), ("B".into(), "b".into(), b)]).unwrap();
    let plan = vec![PlannedOrder {
        bar: 1,
        asset: 1,
        intent: Intent::TargetPercent(0.5),
    }];
    let res = portfolio::run(
        &u,
        &mut PlanDriven::new(Planned(plan)),
        &PortfolioConfig::default(),
    )
    .unwrap();
    assert_eq!(res.fills.len(), 1);
    assert_eq!((res.fills[0].bar, res.fills[0].price), (2, 12.5));
}

/// A portfolio sweep's combinations are the standalone runs of their parameters, in
/// combination order, whatever the thread count.
#[test]
fn a_portfolio_sweep_equals_its_standalone_runs_on_any_thread_count() {
    use backtide_core::sweep::{
        Axis, ComboResult, Dialect, Method, Objective, SweepControl, SweepSpec, run_portfolio_sweep,
    };
    let u = universe(4, 300, 7);
    let info = builtin::find("momentum_rotation").unwrap();
    let spec = SweepSpec {
        strategy: info.into(),
        fixed: vec![("rebalance".into(), "10".into())],
        axes: vec![
            Axis::parse(&info.params[0], "5:40:5").unwrap(),
            Axis::parse(&info.params[1], "1,2,3").unwrap(),
        ],
        constraint: None,
        method: Method::Grid,
    };
    let cfg = cfg(0.001, 0.0, CallSeq::Auto, FillAt::Close, false);
    let objective = Objective::in_dialect(Dialect::Vectorbt, "sharpe_ratio", true).unwrap();
    let collect = |threads: usize| {
        let mut out: Vec<ComboResult> = Vec::new();
        let control = SweepControl {
            threads,
            profile_blocks: 4,
            ..SweepControl::default()
        };
        let outcome =
            run_portfolio_sweep::<Error>(&u, &spec, &cfg, &objective, &control, &mut |r| {
                out.push(r.clone());
                Ok(())
            })
            .unwrap();
        assert_eq!(outcome.completed, 24);
        out
    };
    let one = collect(1);
    assert_eq!(one, collect(2));
    for r in &one {
        let mut s = info.build(&r.params).unwrap();
        let res = portfolio::run(&u, s.as_mut(), &cfg).unwrap();
        let trades = portfolio::exit_trades(&u, &res);
        assert_eq!(
            r.vbt.as_ref(),
            Some(&portfolio::stats::vectorbt(&u, &res, &trades))
        );
        assert_eq!(r.stats, portfolio::stats::backtesting_py(&u, &res, &trades));
    }
    // A single-asset strategy name is refused with a clear error, not run on one column.
    let single = SweepSpec {
        strategy: backtide_core::strategy::builtin::find("sma_cross")
            .unwrap()
            .into(),
        ..spec.clone()
    };
    let e = run_portfolio_sweep::<Error>(
        &u,
        &single,
        &cfg,
        &objective,
        &SweepControl::default(),
        &mut |_| Ok(()),
    );
    assert!(e.unwrap_err().to_string().contains("single-asset"));
}

/// Walk-forward over a portfolio strategy: every test window traded by its training
/// winner, stitched, the same on any thread count; positions are sold at each window's end.
#[test]
fn a_portfolio_walk_forward_stitches_its_test_windows() {
    use backtide_core::sweep::{
        Axis, Method, Objective, SweepControl, SweepSpec, WalkForward, run_portfolio_walk_forward,
    };
    let u = universe(3, 400, 11);
    let info = builtin::find("momentum_rotation").unwrap();
    let spec = SweepSpec {
        strategy: info.into(),
        fixed: vec![("rebalance".into(), "5".into())],
        axes: vec![Axis::parse(&info.params[0], "5,10,20").unwrap()],
        constraint: None,
        method: Method::Grid,
    };
    let cfg = cfg(0.001, 0.0, CallSeq::Auto, FillAt::Close, false);
    let objective = Objective::new("equity_final", true).unwrap();
    let wf = WalkForward::parse("train=100,test=50").unwrap();
    let run = |threads| {
        let control = SweepControl {
            threads,
            ..SweepControl::default()
        };
        run_portfolio_walk_forward(&u, &spec, &cfg, &objective, &wf, &control).unwrap()
    };
    let r = run(1);
    // Debug text compares NaN statistics (no trades in a window) as equal.
    assert_eq!(format!("{r:?}"), format!("{:?}", run(2)));
    assert_eq!(r.windows.len(), wf.windows(u.len()).len());
    assert_eq!(r.oos_equity.len(), r.oos_range.len());
    assert_eq!(r.oos_range.start, 100);
    // Each window starts from cash: its first value is the stitched scale times the cash
    // less at most the first bar's fees.
    assert!(r.oos_equity[0] <= cfg.cash && r.oos_equity[0] > cfg.cash * 0.99);
    assert!(r.oos_trades.iter().all(|t| t.tag.is_some()));
}

/// A stop loss inside a bar fills at the stop price without slippage; one the bar opens
/// beyond fills at the open; stops need fills at the close.
#[test]
fn stops_fill_within_the_bar_or_at_a_gap() {
    let bars = |open: Vec<f64>, high: Vec<f64>, low: Vec<f64>, close: Vec<f64>| {
        let n = close.len();
        Bars::try_new(
            (0..n as i64).map(|i| i * DAY).collect(),
            open,
            high,
            low,
            close,
            vec![f64::NAN; n],
        )
        .unwrap()
    };
    // Entry at the close of 100; the stop 12.5 % under it, at 87.5.
    let a = bars(
        vec![100.0, 99.0, 95.0, 100.0, 80.0],
        vec![100.0, 101.0, 96.0, 100.0, 81.0],
        vec![100.0, 90.0, 86.0, 100.0, 70.0],
        vec![100.0, 95.0, 90.0, 100.0, 75.0],
    );
    let u = Universe::try_new([("A".into(), "a".into(), a)]).unwrap();
    let entry = |bar| PlannedOrder {
        bar,
        asset: 0,
        intent: Intent::Enter(Entry {
            direction: Direction::Long,
            size: EntrySize::Units(1.0),
            stops: Stops {
                stop_loss: Some(StopLoss {
                    fraction: 0.125,
                    trailing: false,
                }),
                take_profit: None,
            },
        }),
    };
    let cfg = PortfolioConfig {
        slippage: 0.01,
        ..PortfolioConfig::default()
    };
    let res = portfolio::run(
        &u,
        &mut PlanDriven::new(Planned(vec![entry(0), entry(3)])),
        &cfg,
    )
    .unwrap();
    let fills: Vec<(usize, f64)> = res.fills.iter().map(|f| (f.bar, f.price)).collect();
    assert_eq!(fills, vec![(0, 101.0), (2, 87.5), (3, 101.0), (4, 80.0)]);
    let next_open = PortfolioConfig {
        fill: FillAt::NextOpen,
        ..cfg
    };
    let err = portfolio::run(
        &u,
        &mut PlanDriven::new(Planned(vec![entry(0)])),
        &next_open,
    );
    assert!(matches!(err, Err(Error::Config { field: "fill", .. })));
}
