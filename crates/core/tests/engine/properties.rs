//! Engine invariants over random data and random parameters.

use backtide_core::strategy::builtin;
use backtide_core::{
    Bars, BrokerConfig, ClosedTrade, Commission, Context, Error, Init, OrderRequest, Params,
    Strategy, run,
};
use proptest::prelude::*;

const DAY: i64 = 86_400_000_000_000;

/// A random walk with consistent OHLC; `seed`-determined.
pub(crate) fn walk(n: usize, seed: u64) -> Bars {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut c = 100.0;
    let (mut t, mut o, mut h, mut l, mut cl, mut v) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let open = c * (1.0 + (rnd() - 0.5) * 0.01);
        c = (open * (1.0 + (rnd() - 0.5) * 0.04)).max(1.0);
        t.push(i as i64 * DAY);
        o.push(open);
        h.push(open.max(c) * (1.0 + rnd() * 0.01));
        l.push(open.min(c) * (1.0 - rnd() * 0.01));
        cl.push(c);
        v.push((rnd() * 1e6).floor());
    }
    Bars::try_new(t, o, h, l, cl, v).unwrap()
}

/// The same bars with every bar after `k` replaced by another random walk's.
pub(crate) fn with_future_changed(b: &Bars, k: usize, seed: u64) -> Bars {
    let other = walk(b.len(), seed);
    let pick = |a: &[f64], o: &[f64]| {
        a[..=k]
            .iter()
            .chain(&o[k + 1..])
            .copied()
            .collect::<Vec<f64>>()
    };
    // Keep bar k+1 consistent with the bars before it is irrelevant: each bar is validated alone.
    Bars::try_new(
        b.time().to_vec(),
        pick(b.open(), other.open()),
        pick(b.high(), other.high()),
        pick(b.low(), other.low()),
        pick(b.close(), other.close()),
        pick(b.volume(), other.volume()),
    )
    .unwrap()
}

/// Pending orders after `next` as bits: (size, sl, tp).
type Decision = Vec<(u64, Option<u64>, Option<u64>)>;

/// Wraps a strategy and logs, per bar, what it decided (the pending orders after `next`).
struct Recorder {
    inner: Box<dyn Strategy>,
    log: Vec<(usize, Decision)>,
}

impl Strategy for Recorder {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        self.inner.init(ctx)
    }
    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        self.inner.next(ctx)?;
        let orders = ctx
            .orders()
            .iter()
            .map(|o| {
                (
                    o.size.to_bits(),
                    o.sl.map(f64::to_bits),
                    o.tp.map(f64::to_bits),
                )
            })
            .collect();
        self.log.push((ctx.index(), orders));
        Ok(())
    }
    // Skipping idle bars is part of what is tested: it must not depend on future bars either.
    fn idle_until(&self, from: usize) -> usize {
        self.inner.idle_until(from)
    }
}

fn strategy(name: &str, fast: usize, slow: usize, extra: &[(&str, &str)]) -> Box<dyn Strategy> {
    let info = builtin::find(name).unwrap();
    let (f, s) = (fast.to_string(), slow.to_string());
    let mut pairs: Vec<(&str, &str)> = vec![("fast", &f), ("slow", &s)];
    pairs.extend_from_slice(extra);
    info.build(&Params::from_pairs(info.params, pairs).unwrap())
        .unwrap()
}

fn cfg(commission: f64, exclusive: bool) -> BrokerConfig {
    BrokerConfig {
        commission: Commission::Relative(commission),
        exclusive_orders: exclusive,
        ..BrokerConfig::default()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Decisions, fills and equity up to bar k do not change when bars after k change.
    #[test]
    fn no_look_ahead(seed in 0u64..1_000_000, fast in 2usize..15, gap in 1usize..30,
                     k_frac in 0.2f64..0.9, long_only in any::<bool>(), sltp in any::<bool>()) {
        let n = 400;
        let bars = walk(n, seed);
        let k = (n as f64 * k_frac) as usize;
        let changed = with_future_changed(&bars, k, seed ^ 0xdead_beef);
        let dir = if long_only { "long_only" } else { "long_short" };
        let mut extra = vec![("direction", dir)];
        if sltp { extra.extend([("sl_pct", "0.03"), ("tp_pct", "0.05")]); }
        let runs: Vec<_> = [&bars, &changed].iter().map(|b| {
            let mut rec = Recorder { inner: strategy("sma_cross", fast, fast + gap, &extra), log: vec![] };
            let res = run(b, &mut rec, &cfg(0.001, false)).unwrap();
            (rec.log, res)
        }).collect();
        let (a, b) = (&runs[0], &runs[1]);
        let upto = |log: &Vec<(usize, Decision)>| {
            log.iter().filter(|(i, _)| *i <= k).cloned().collect::<Vec<_>>()
        };
        prop_assert_eq!(upto(&a.0), upto(&b.0));
        let closed = |t: &Vec<ClosedTrade>| t.iter().filter(|t| t.exit_bar <= k).cloned().collect::<Vec<_>>();
        prop_assert_eq!(closed(&a.1.trades), closed(&b.1.trades));
        prop_assert_eq!(&a.1.equity[..=k], &b.1.equity[..=k]);
    }

    /// Equity at every bar equals cash rebuilt from the trade ledger (initial cash + closed
    /// PnL − entry commissions of open trades) plus open positions marked at the close.
    #[test]
    fn equity_is_cash_plus_position_value(seed in 0u64..1_000_000, fast in 2usize..15, gap in 1usize..30,
                                          commission in 0.0f64..0.005, exclusive in any::<bool>(),
                                          long_only in any::<bool>()) {
        let bars = walk(300, seed);
        let dir = if long_only { "long_only" } else { "long_short" };
        let mut s = strategy("sma_cross", fast, fast + gap, &[("direction", dir)]);
        let c = cfg(commission, exclusive);
        let res = run(&bars, s.as_mut(), &c).unwrap();
        let close = bars.close();
        let start = res.warmup + 1;
        for (i, &close_i) in close.iter().enumerate().skip(start) {
            let mut cash = c.cash;
            let mut value = 0.0;
            for t in &res.trades {
                if t.exit_bar <= i {
                    cash += t.pnl();
                } else if t.entry_bar <= i {
                    cash -= c.commission.of(t.size, t.entry_price);
                    value += t.size * (close_i - t.entry_price);
                }
            }
            for t in &res.open_trades {
                if t.entry_bar <= i {
                    cash -= c.commission.of(t.size, t.entry_price);
                    value += t.size * (close_i - t.entry_price);
                }
            }
            let want = cash + value;
            prop_assert!((res.equity[i] - want).abs() <= 1e-9 * want.abs().max(1.0),
                "bar {}: equity {} != cash {} + position value {}", i, res.equity[i], cash, value);
        }
    }

    /// Same inputs, bit-identical outputs.
    #[test]
    fn deterministic(seed in 0u64..1_000_000) {
        let bars = walk(300, seed);
        let a = run(&bars, strategy("sma_cross", 5, 20, &[]).as_mut(), &cfg(0.001, true)).unwrap();
        let b = run(&bars, strategy("sma_cross", 5, 20, &[]).as_mut(), &cfg(0.001, true)).unwrap();
        prop_assert_eq!(a, b);
    }
}

/// Stop, limit and stop-limit entries; SL/TP; cancellation; hedging — small scenarios with
/// hand-computed fills.
mod orders {
    use super::*;

    struct Script<F: FnMut(&mut Context<'_>) -> Result<(), Error> + Send>(F);
    impl<F: FnMut(&mut Context<'_>) -> Result<(), Error> + Send> Strategy for Script<F> {
        fn init(&mut self, _: &mut Init<'_>) -> Result<(), Error> {
            Ok(())
        }
        fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
            (self.0)(ctx)
        }
    }

    /// Bars with given (open, high, low, close).
    fn bars(rows: &[(f64, f64, f64, f64)]) -> Bars {
        let n = rows.len();
        Bars::try_new(
            (0..n as i64).map(|i| i * DAY).collect(),
            rows.iter().map(|r| r.0).collect(),
            rows.iter().map(|r| r.1).collect(),
            rows.iter().map(|r| r.2).collect(),
            rows.iter().map(|r| r.3).collect(),
            vec![f64::NAN; n],
        )
        .unwrap()
    }

    const FLAT: (f64, f64, f64, f64) = (100.0, 101.0, 99.0, 100.0);

    #[test]
    fn stop_entry_fills_at_stop_or_gap_open() {
        // Bar 2 touches 105 intrabar: fill at the stop. Bar 3 gaps over 103: fill at open.
        let b = bars(&[
            FLAT,
            FLAT,
            (100.0, 106.0, 99.0, 104.0),
            (110.0, 111.0, 109.0, 110.0),
        ]);
        let mut s = Script(|ctx: &mut Context<'_>| {
            if ctx.index() == 1 {
                ctx.buy_with(OrderRequest::market().size(1.0).stop(105.0))?;
                ctx.buy_with(OrderRequest::market().size(1.0).stop(108.0))?;
            }
            Ok(())
        });
        let r = run(
            &b,
            &mut s,
            &BrokerConfig {
                finalize_trades: true,
                ..BrokerConfig::default()
            },
        )
        .unwrap();
        let entries: Vec<(usize, f64)> = r
            .trades
            .iter()
            .map(|t| (t.entry_bar, t.entry_price))
            .collect();
        assert_eq!(entries, vec![(2, 105.0), (3, 110.0)]);
    }

    #[test]
    fn limit_entry_needs_price_strictly_through() {
        // Limit buy at 99: bar 2's low is exactly 99 (no fill), bar 3 trades through (fill at
        // min(open, limit) = 99).
        let b = bars(&[
            FLAT,
            FLAT,
            (100.0, 101.0, 99.0, 100.0),
            (100.0, 101.0, 98.0, 99.5),
        ]);
        let mut s = Script(|ctx: &mut Context<'_>| {
            if ctx.index() == 1 {
                ctx.buy_with(OrderRequest::market().size(2.0).limit(99.0))?;
            }
            Ok(())
        });
        let r = run(
            &b,
            &mut s,
            &BrokerConfig {
                finalize_trades: true,
                ..BrokerConfig::default()
            },
        )
        .unwrap();
        assert_eq!(r.trades.len(), 1);
        assert_eq!(
            (
                r.trades[0].entry_bar,
                r.trades[0].entry_price,
                r.trades[0].size
            ),
            (3, 99.0, 2.0)
        );
    }

    #[test]
    fn sl_beats_tp_in_the_same_bar_and_gaps_fill_at_open() {
        // Long at bar 2's open (100) with SL 95, TP 105. Bar 3 spans both: SL wins at 95.
        let wide = (100.0, 106.0, 94.0, 100.0);
        let b = bars(&[FLAT, FLAT, FLAT, wide, FLAT, FLAT, (90.0, 91.0, 89.0, 90.0)]);
        let mut s = Script(|ctx: &mut Context<'_>| {
            if ctx.index() == 1 || ctx.index() == 4 {
                ctx.buy_with(OrderRequest::market().size(1.0).sl(95.0).tp(105.0))?;
            }
            Ok(())
        });
        let r = run(&b, &mut s, &BrokerConfig::default()).unwrap();
        let exits: Vec<(usize, usize, f64)> = r
            .trades
            .iter()
            .map(|t| (t.entry_bar, t.exit_bar, t.exit_price))
            .collect();
        // Second trade: entered bar 5 at 100, bar 6 gaps below the SL: filled at the open, 90.
        assert_eq!(exits, vec![(2, 3, 95.0), (5, 6, 90.0)]);
    }

    #[test]
    fn stop_limit_waits_for_the_limit_after_the_trigger() {
        // Buy stop 105, limit 104. Bar 2 triggers the stop (high 106) and also trades below
        // the limit (low 103), but the limit cannot be assumed hit after the stop in the same
        // bar: no fill. The order is now a plain limit; bar 3 trades through 104: fill at
        // min(open 104.5, limit 104) = 104. (backtesting.py 0.6.6 gives the same fill.)
        let b = bars(&[
            FLAT,
            FLAT,
            (104.0, 106.0, 103.0, 105.0),
            (104.5, 105.0, 103.5, 104.0),
        ]);
        let mut s = Script(|ctx: &mut Context<'_>| {
            if ctx.index() == 1 {
                ctx.buy_with(OrderRequest::market().size(1.0).stop(105.0).limit(104.0))?;
            }
            Ok(())
        });
        let r = run(
            &b,
            &mut s,
            &BrokerConfig {
                finalize_trades: true,
                ..BrokerConfig::default()
            },
        )
        .unwrap();
        assert_eq!(r.trades.len(), 1);
        assert_eq!((r.trades[0].entry_bar, r.trades[0].entry_price), (3, 104.0));
    }

    #[test]
    fn fixed_plus_relative_and_custom_commission() {
        // Buy 10 units at bar 2's open (100), finalize at the last bar's open (110).
        let b = bars(&[FLAT, FLAT, FLAT, (110.0, 111.0, 109.0, 110.0)]);
        let script = || {
            Script(|ctx: &mut Context<'_>| {
                if ctx.index() == 1 {
                    ctx.buy_with(OrderRequest::market().size(10.0))?;
                }
                Ok(())
            })
        };
        let fixed = Commission::FixedPlusRelative {
            fixed: 2.0,
            rate: 0.001,
        };
        let cfg = BrokerConfig {
            commission: fixed,
            finalize_trades: true,
            ..BrokerConfig::default()
        };
        let r = run(&b, &mut script(), &cfg).unwrap();
        // Entry 2 + 0.001·10·100 = 3; exit 2 + 0.001·10·110 = 3.1.
        assert!((r.trades[0].commission - 6.1).abs() < 1e-12);
        assert!((r.trades[0].pnl() - (100.0 - 6.1)).abs() < 1e-9);
        let tiered = Commission::Custom(std::sync::Arc::new(|size: f64, price: f64| {
            (size.abs() * price * 0.0001).max(5.0)
        }));
        let cfg = BrokerConfig {
            commission: tiered,
            finalize_trades: true,
            ..BrokerConfig::default()
        };
        let r = run(&b, &mut script(), &cfg).unwrap();
        assert_eq!(
            r.trades[0].commission, 10.0,
            "the 5.0 minimum on both sides"
        );
    }

    #[test]
    fn slippage_moves_entries_and_exits_against_the_order() {
        // Buy 10 at bar 2's open (100) with 1 % slippage: 101. Close at bar 4's open (110):
        // a sell, so 110 · 0.99 = 108.9. PnL = 10 · (108.9 − 101) = 79 (no commission).
        let b = bars(&[FLAT, FLAT, FLAT, FLAT, (110.0, 111.0, 109.0, 110.0)]);
        let mut s = Script(|ctx: &mut Context<'_>| {
            if ctx.index() == 1 {
                ctx.buy_with(OrderRequest::market().size(10.0))?;
            } else if ctx.index() == 3 {
                ctx.close_position();
            }
            Ok(())
        });
        let cfg = BrokerConfig {
            slippage: 0.01,
            ..BrokerConfig::default()
        };
        let r = run(&b, &mut s, &cfg).unwrap();
        let t = &r.trades[0];
        assert_eq!((t.entry_price, t.exit_price), (101.0, 108.9));
        assert!((t.pnl() - 79.0).abs() < 1e-9);
    }

    #[test]
    fn a_same_bar_fill_that_wipes_out_equity_liquidates_on_that_bar() {
        // 50x leverage, fixed commission 20,000 on 10,000 cash: buying 1 unit at bar 1's
        // close (100) leaves equity at -10,000 right after the fill. The trade is closed at
        // that same close (commission 20,000 each side) and equity is 0 from bar 1 on.
        let b = bars(&[FLAT, FLAT, FLAT, FLAT]);
        let mut s = Script(|ctx: &mut Context<'_>| {
            if ctx.index() == 1 {
                ctx.buy_with(OrderRequest::market().size(1.0))?;
            }
            Ok(())
        });
        let cfg = BrokerConfig {
            margin: 0.02,
            commission: Commission::FixedPlusRelative {
                fixed: 20_000.0,
                rate: 0.0,
            },
            same_bar_close_fills: true,
            ..BrokerConfig::default()
        };
        let r = run(&b, &mut s, &cfg).unwrap();
        assert!(r.out_of_money);
        assert_eq!(r.equity, vec![10_000.0, 0.0, 0.0, 0.0]);
        let t = &r.trades[0];
        assert_eq!(
            (t.entry_bar, t.exit_bar, t.entry_price, t.exit_price),
            (1, 1, 100.0, 100.0)
        );
        assert_eq!(t.commission, 40_000.0);
    }

    #[test]
    fn cancelled_order_never_fills() {
        let b = bars(&[FLAT, FLAT, FLAT, FLAT]);
        let mut s = Script(|ctx: &mut Context<'_>| {
            if ctx.index() == 1 {
                let id = ctx.buy_with(OrderRequest::market().size(1.0).limit(50.0))?;
                assert!(ctx.cancel(id));
                assert!(ctx.orders().is_empty());
            }
            Ok(())
        });
        let r = run(&b, &mut s, &BrokerConfig::default()).unwrap();
        assert!(r.trades.is_empty() && r.open_trades.is_empty());
    }

    #[test]
    fn hedging_keeps_both_sides_netting_closes_fifo() {
        let b = bars(&[FLAT, FLAT, FLAT, FLAT]);
        let script = || {
            Script(|ctx: &mut Context<'_>| {
                if ctx.index() == 1 {
                    ctx.buy_with(OrderRequest::market().size(3.0))?;
                } else if ctx.index() == 2 {
                    ctx.sell_with(OrderRequest::market().size(2.0))?;
                }
                Ok(())
            })
        };
        let netting = run(&b, &mut script(), &BrokerConfig::default()).unwrap();
        assert_eq!(netting.trades.len(), 1, "2 of the 3 long units closed");
        assert_eq!(netting.trades[0].size, 2.0);
        assert_eq!(
            netting
                .open_trades
                .iter()
                .map(|t| t.size)
                .collect::<Vec<_>>(),
            vec![1.0]
        );
        let hedged = run(
            &b,
            &mut script(),
            &BrokerConfig {
                hedging: true,
                ..BrokerConfig::default()
            },
        )
        .unwrap();
        assert!(hedged.trades.is_empty());
        assert_eq!(
            hedged
                .open_trades
                .iter()
                .map(|t| t.size)
                .collect::<Vec<_>>(),
            vec![3.0, -2.0]
        );
    }

    #[test]
    fn invalid_sl_is_an_error_not_a_panic() {
        let b = bars(&[FLAT, FLAT, FLAT]);
        let mut s = Script(|ctx: &mut Context<'_>| {
            ctx.buy_with(OrderRequest::market().sl(150.0))?;
            Ok(())
        });
        assert!(matches!(
            run(&b, &mut s, &BrokerConfig::default()),
            Err(Error::Order(_))
        ));
    }
}

/// Random parameters for each built-in strategy, as `name=value` text.
fn random_params(name: &str, r: &[u64; 6], long_only: bool) -> Vec<(String, String)> {
    let pick = |k: usize, lo: u64, span: u64| (lo + r[k] % span).to_string();
    let dir = if long_only { "long_only" } else { "long_short" };
    let mut p: Vec<(String, String)> = match name {
        "sma_cross" | "ema_cross" => {
            let fast = 2 + r[0] % 14;
            vec![
                ("fast".into(), fast.to_string()),
                ("slow".into(), (fast + 1 + r[1] % 30).to_string()),
            ]
        }
        "macd_cross" => {
            let fast = 2 + r[0] % 10;
            vec![
                ("fast".into(), fast.to_string()),
                ("slow".into(), (fast + 1 + r[1] % 20).to_string()),
                ("signal".into(), pick(2, 2, 10)),
            ]
        }
        "rsi_reversion" => vec![
            ("period".into(), pick(0, 2, 20)),
            ("lower".into(), pick(1, 20, 20)),
            ("upper".into(), pick(2, 60, 20)),
        ],
        "bollinger_reversion" => vec![
            ("period".into(), pick(0, 5, 25)),
            ("k".into(), format!("{}", 1.0 + (r[1] % 20) as f64 / 10.0)),
        ],
        "donchian_breakout" => vec![
            ("entry".into(), pick(0, 5, 25)),
            ("exit".into(), pick(1, 2, 12)),
        ],
        _ => vec![],
    };
    if name != "buy_and_hold" {
        let cross = matches!(name, "sma_cross" | "ema_cross" | "macd_cross");
        let dir = if cross && r[0].is_multiple_of(5) {
            "short_only"
        } else {
            dir
        };
        p.push(("direction".into(), dir.into()));
        if cross && r[2].is_multiple_of(2) {
            p.push(("cross".into(), "stateful".into()));
        }
    }
    if matches!(name, "sma_cross" | "ema_cross" | "macd_cross") && r[3].is_multiple_of(3) {
        p.push((
            "sl_pct".into(),
            format!("{}", 0.01 + (r[4] % 5) as f64 / 100.0),
        ));
        p.push((
            "tp_pct".into(),
            format!("{}", 0.02 + (r[5] % 5) as f64 / 100.0),
        ));
    }
    let cross = matches!(name, "sma_cross" | "ema_cross" | "macd_cross");
    // Risk sizing (with the stop it needs) and trailing stops, on both paths alike.
    let risk = cross && r[3].is_multiple_of(3) && r[1].is_multiple_of(3);
    if risk {
        p.push((
            "risk_pct".into(),
            format!("{}", 0.005 + (r[2] % 4) as f64 / 100.0),
        ));
    }
    if cross && r[0] % 4 == 1 {
        p.push(("trail_atr".into(), format!("{}", 1 + r[4] % 4)));
    }
    if r[5].is_multiple_of(4) && !risk {
        p.push((
            "size".into(),
            if r[4].is_multiple_of(2) {
                "0.5".into()
            } else {
                "3".into()
            },
        ));
    }
    p
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// One core, two front ends: for every built-in strategy the per-bar path and the
    /// signal path give identical trades, open trades, equity and warnings.
    #[test]
    fn per_bar_and_signal_paths_agree(seed in 0u64..1_000_000, which in 0usize..7,
                                      r in proptest::array::uniform6(0u64..1000),
                                      long_only in any::<bool>(), exclusive in any::<bool>(),
                                      toc in any::<bool>(), finalize in any::<bool>(),
                                      commission in 0.0f64..0.004) {
        let info = &builtin::STRATEGIES[which];
        let bars = walk(350, seed);
        let pairs = random_params(info.name, &r, long_only);
        let params = Params::from_pairs(info.params, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let cfg = BrokerConfig {
            commission: Commission::Relative(commission),
            exclusive_orders: exclusive,
            trade_on_close: toc,
            finalize_trades: finalize,
            ..BrokerConfig::default()
        };
        let a = run(&bars, info.build(&params).unwrap().as_mut(), &cfg);
        let b = run(&bars, info.build_signals(&params).unwrap().as_mut(), &cfg);
        match (a, b) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(&a.trades, &b.trades, "{} {:?}", info.name, pairs);
                prop_assert_eq!(&a.open_trades, &b.open_trades);
                prop_assert_eq!(&a.equity, &b.equity);
                prop_assert_eq!(&a.warnings, &b.warnings);
                prop_assert_eq!(a, b);
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "one path failed: {:?} vs {:?}", a.err(), b.err()),
        }
    }
}

/// The agreement above is not vacuous: with default parameters every built-in trades on
/// this data, identically on both paths.
#[test]
fn both_paths_trade_for_every_builtin() {
    let bars = walk(2000, 99);
    for info in builtin::STRATEGIES {
        // `rules` has no default expressions: a close-over-SMA rule.
        let given: &[(&str, &str)] = if info.name == "rules" {
            &[
                ("entry", "close > sma(close, 20)"),
                ("exit", "close < sma(close, 20)"),
            ]
        } else {
            &[]
        };
        let params = Params::from_pairs(info.params, given.iter().copied()).unwrap();
        let cfg = BrokerConfig {
            finalize_trades: true,
            ..BrokerConfig::default()
        };
        let a = run(&bars, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
        let b = run(&bars, info.build_signals(&params).unwrap().as_mut(), &cfg).unwrap();
        assert!(!a.trades.is_empty(), "{} made no trades", info.name);
        assert_eq!(a, b, "{}", info.name);
    }
}

/// A strategy that lets the engine skip no bar (the reference for `idle_until`).
struct EveryBar(Box<dyn backtide_core::Strategy>);

impl backtide_core::Strategy for EveryBar {
    fn init(&mut self, ctx: &mut backtide_core::Init<'_>) -> Result<(), backtide_core::Error> {
        self.0.init(ctx)
    }
    fn next(&mut self, ctx: &mut backtide_core::Context<'_>) -> Result<(), backtide_core::Error> {
        self.0.next(ctx)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Trailing stops skip the bars where no trade is open: the same run as visiting every
    /// bar, on both paths, for the cross strategies in every direction.
    #[test]
    fn trailing_stops_skip_only_bars_that_change_nothing(
        seed in 0u64..1_000_000, which in 0usize..3,
        r in proptest::array::uniform6(0u64..1000), long_only in any::<bool>(),
        atr in 1u32..5, pct in any::<bool>(),
    ) {
        let info = &builtin::STRATEGIES[which];
        let bars = walk(400, seed);
        let mut pairs = random_params(info.name, &r, long_only);
        pairs.retain(|(k, _)| k != "trail_atr");
        pairs.push(if pct {
            ("trail_pct".into(), format!("0.0{atr}"))
        } else {
            ("trail_atr".into(), atr.to_string())
        });
        let params = Params::from_pairs(info.params, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let cfg = BrokerConfig { finalize_trades: true, ..BrokerConfig::default() };
        for build in [builtin::StrategyInfo::build, builtin::StrategyInfo::build_signals] {
            let skipping = run(&bars, build(info, &params).unwrap().as_mut(), &cfg).unwrap();
            let every = run(&bars, &mut EveryBar(build(info, &params).unwrap()), &cfg).unwrap();
            prop_assert_eq!(&skipping, &every, "{} {:?}", info.name, pairs);
        }
    }
}

/// A random walk whose bars open away from the last close by up to `gap` (a fraction), so
/// trailing stops are often gapped through at the open.
fn gappy_walk(n: usize, seed: u64, gap: f64) -> Bars {
    let mut x = seed
        .wrapping_mul(2862933555777941757)
        .wrapping_add(3037000493);
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut c = 100.0;
    let (mut t, mut o, mut h, mut l, mut cl, mut v) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for i in 0..n {
        let open = (c * (1.0 + (rnd() - 0.5) * 2.0 * gap)).max(1.0);
        c = (open * (1.0 + (rnd() - 0.5) * 0.04)).max(1.0);
        t.push(i as i64 * DAY);
        o.push(open);
        h.push(open.max(c) * (1.0 + rnd() * 0.01));
        l.push(open.min(c) * (1.0 - rnd() * 0.01));
        cl.push(c);
        v.push((rnd() * 1e6).floor());
    }
    Bars::try_new(t, o, h, l, cl, v).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The engine's own trailing of a lone stop (checked, marked and moved without calling
    /// the strategy) is the per-bar path bit for bit: random bars with gaps through the
    /// stop, random trail distances, long-only, short-only and reversing, with costs,
    /// leverage (runs that go out of money included), SL/TP and trade-on-close.
    #[test]
    fn engine_trailing_equals_the_per_bar_trailing_stop(
        seed in 0u64..1_000_000, which in 0usize..3,
        r in proptest::array::uniform6(0u64..1000),
        dir in 0usize..3,
        pct in any::<bool>(), distance in 0.0f64..1.0,
        gap in prop_oneof![Just(0.0), 0.0f64..0.05],
        commission in prop_oneof![Just(0.0), 0.0f64..0.01],
        fixed in prop_oneof![3 => Just(0.0), 1 => 0.0f64..5.0],
        spread in prop_oneof![Just(0.0), 0.0f64..0.002],
        margin in prop_oneof![3 => Just(1.0), 1 => 0.02f64..1.0],
        toc in any::<bool>(), exclusive in any::<bool>(), finalize in any::<bool>(),
        n in 150usize..500,
    ) {
        let info = &builtin::STRATEGIES[which];
        let bars = gappy_walk(n, seed, gap);
        let mut pairs = random_params(info.name, &r, dir == 0);
        pairs.retain(|(k, _)| !k.starts_with("trail_") && k != "direction");
        pairs.push(("direction".into(), ["long_only", "short_only", "long_short"][dir].into()));
        pairs.push(if pct {
            ("trail_pct".into(), format!("{}", 0.001 + distance * 0.08))
        } else {
            ("trail_atr".into(), format!("{}", 0.1 + distance * 5.0))
        });
        let params = Params::from_pairs(info.params, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let cfg = BrokerConfig {
            commission: Commission::from_parts(commission, fixed),
            spread,
            margin,
            trade_on_close: toc,
            exclusive_orders: exclusive,
            finalize_trades: finalize,
            ..BrokerConfig::default()
        };
        for build in [builtin::StrategyInfo::build, builtin::StrategyInfo::build_signals] {
            let fast = run(&bars, build(info, &params).unwrap().as_mut(), &cfg);
            let every = run(&bars, &mut EveryBar(build(info, &params).unwrap()), &cfg);
            match (fast, every) {
                (Ok(a), Ok(b)) => {
                    prop_assert_eq!(&a.trades, &b.trades, "{} {:?}", info.name, pairs);
                    let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                    prop_assert_eq!(bits(&a.equity), bits(&b.equity));
                    prop_assert_eq!(a, b);
                }
                (Err(a), Err(b)) => prop_assert_eq!(a, b),
                (a, b) => prop_assert!(false, "one path failed: {:?} vs {:?}", a.err(), b.err()),
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// vectorbt's trailing stop loss (`sl_trail=true`) on both front ends: the per-bar
    /// strategy, its signal form and a run that visits every bar give the same run, bit for
    /// bit, in every direction, with or without a take profit and risk sizing, on bars that
    /// gap through the stop; fills at the close (the vectorbt profile) or, in the
    /// backtesting.py profile, with `trade_on_close`.
    #[test]
    fn sl_trail_is_the_same_on_both_paths(
        seed in 0u64..1_000_000, which in 0usize..3,
        r in proptest::array::uniform6(0u64..1000),
        dir in 0usize..3,
        sl in 0.005f64..0.1, tp in proptest::option::of(0.01f64..0.2),
        gap in prop_oneof![Just(0.0), 0.0f64..0.05],
        commission in prop_oneof![Just(0.0), 0.0f64..0.01],
        vectorbt in any::<bool>(), finalize in any::<bool>(),
        n in 150usize..500,
    ) {
        let info = &builtin::STRATEGIES[which];
        let bars = gappy_walk(n, seed, gap);
        let mut pairs = random_params(info.name, &r, dir == 0);
        pairs.retain(|(k, _)| {
            !k.starts_with("trail_") && !matches!(k.as_str(), "direction" | "sl_pct" | "tp_pct")
        });
        pairs.push(("direction".into(), ["long_only", "short_only", "long_short"][dir].into()));
        pairs.push(("sl_pct".into(), sl.to_string()));
        pairs.push(("sl_trail".into(), "true".into()));
        if let Some(tp) = tp {
            pairs.push(("tp_pct".into(), tp.to_string()));
        }
        let params = Params::from_pairs(info.params, pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        let cfg = BrokerConfig {
            commission: Commission::Relative(commission),
            same_bar_close_fills: vectorbt,
            continuous_sizes: vectorbt,
            trade_on_close: !vectorbt,
            finalize_trades: finalize,
            ..BrokerConfig::default()
        };
        let per_bar = run(&bars, info.build(&params).unwrap().as_mut(), &cfg);
        let signals = run(&bars, info.build_signals(&params).unwrap().as_mut(), &cfg);
        let every = run(&bars, &mut EveryBar(info.build_signals(&params).unwrap()), &cfg);
        match (per_bar, signals, every) {
            (Ok(a), Ok(b), Ok(c)) => {
                prop_assert_eq!(&a.trades, &b.trades, "{} {:?}", info.name, pairs);
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                prop_assert_eq!(bits(&a.equity), bits(&b.equity));
                prop_assert_eq!(&a, &b);
                prop_assert_eq!(&b, &c);
            }
            (a, b, c) => prop_assert!(false, "a path failed: {:?} {:?} {:?}", a.err(), b.err(), c.err()),
        }
    }
}

/// The agreement above is not vacuous: on a random walk the trailing stop closes most
/// trades, at prices the fixed stop never reaches, and each stop is the best price since
/// the entry less the fraction.
#[test]
fn sl_trail_moves_the_stop() {
    let bars = walk(2000, 7);
    let info = builtin::find("sma_cross").unwrap();
    let cfg = BrokerConfig {
        same_bar_close_fills: true,
        continuous_sizes: true,
        ..BrokerConfig::default()
    };
    let with = |trail: &str| {
        let p = Params::from_pairs(
            info.params,
            [
                ("direction", "long_only"),
                ("cross", "stateful"),
                ("sl_pct", "0.03"),
                ("sl_trail", trail),
            ],
        )
        .unwrap();
        run(&bars, info.build(&p).unwrap().as_mut(), &cfg).unwrap()
    };
    let (fixed, trailing) = (with("false"), with("true"));
    assert_ne!(fixed.trades, trailing.trades);
    let stopped: Vec<&ClosedTrade> = trailing
        .trades
        .iter()
        .filter(|t| t.sl == Some(t.exit_price))
        .collect();
    assert!(
        stopped.len() * 2 > trailing.trades.len(),
        "{} of {}",
        stopped.len(),
        trailing.trades.len()
    );
    let (close, high) = (bars.close(), bars.high());
    let mut moved = 0;
    for t in stopped {
        // The reference: the entry close, then the highs of the bars before the exit bar.
        let best = high[t.entry_bar + 1..t.exit_bar]
            .iter()
            .fold(close[t.entry_bar], |b, &h| if h > b { h } else { b });
        assert_eq!(t.sl, Some(best * (1.0 - 0.03)));
        moved += (best > close[t.entry_bar]) as usize;
    }
    assert!(moved > 10, "{moved} stops moved");
}
