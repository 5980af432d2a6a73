//! Fills against finer bars (`run_intrabar`): with the bars themselves as their own finer
//! bars nothing changes, bit for bit; with a finer path the order of SL and TP follows it.

use backtide_core::strategy::builtin;
use backtide_core::{
    Bars, BrokerConfig, Commission, Context, Error, Init, Intrabar, OrderRequest, Params,
    RunResult, Strategy, run, run_intrabar,
};
use proptest::prelude::*;

use crate::properties::walk;

const DAY: i64 = 86_400_000_000_000;
const MINUTE: i64 = 60_000_000_000;

/// Places stop, limit and stop-limit entries (long and short, relative and whole-unit
/// sizes, with SL and TP), market entries with SL/TP and closes, chosen by a hash of the
/// seed and the bar, and cancels what has waited too long.
struct Orders {
    seed: u64,
}

impl Strategy for Orders {
    fn init(&mut self, _: &mut Init<'_>) -> Result<(), Error> {
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let i = ctx.index();
        let c = ctx.close()[i];
        let mut h = (self.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 31;
        let size = if h & 0x100 == 0 { 0.3 } else { 3.0 };
        let o = OrderRequest::market().size(size);
        let placed = match h % 9 {
            0 => ctx.buy_with(o.stop(c * 1.01).sl(c * 0.97).tp(c * 1.04)),
            1 => ctx.buy_with(o.limit(c * 0.99).sl(c * 0.96).tp(c * 1.02)),
            2 => ctx.sell_with(o.stop(c * 0.99).sl(c * 1.03).tp(c * 0.96)),
            3 => ctx.sell_with(o.limit(c * 1.01).sl(c * 1.04).tp(c * 0.98)),
            4 => ctx.buy_with(o.stop(c * 1.005).limit(c * 1.01).sl(c * 0.98).tp(c * 1.03)),
            5 => ctx.buy_with(o.sl(c * 0.985).tp(c * 1.015)),
            6 => ctx.sell_with(o.sl(c * 1.015).tp(c * 0.985)),
            7 => {
                ctx.close_position();
                return Ok(());
            }
            _ => return Ok(()),
        };
        // A rejected order (an SL on the wrong side of the price) is simply not placed.
        drop(placed);
        if ctx.orders().len() > 4 {
            let id = ctx.orders()[0].id();
            ctx.cancel(id);
        }
        Ok(())
    }
}

/// A cross built-in with SL and TP, maybe a trailing stop, per bar or through signals.
fn builtin_strategy(which: usize, r: &[u64; 4], signals: bool) -> Box<dyn Strategy> {
    let info = builtin::find(["sma_cross", "ema_cross", "macd_cross"][which]).unwrap();
    let fast = 2 + r[0] % 10;
    let mut pairs = vec![
        ("fast".to_string(), fast.to_string()),
        ("slow".to_string(), (fast + 1 + r[1] % 20).to_string()),
        (
            "sl_pct".to_string(),
            format!("{}", 0.01 + (r[2] % 4) as f64 / 100.0),
        ),
        (
            "tp_pct".to_string(),
            format!("{}", 0.01 + (r[3] % 5) as f64 / 100.0),
        ),
    ];
    if r[2].is_multiple_of(3) {
        pairs.push(("trail_atr".into(), "1.5".into()));
    }
    if r[3].is_multiple_of(2) {
        pairs.push(("direction".into(), "long_short".into()));
    }
    let params = Params::from_pairs(
        info.params,
        pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .unwrap();
    if signals {
        info.build_signals(&params).unwrap()
    } else {
        info.build(&params).unwrap()
    }
}

fn assert_same(a: &Result<RunResult, Error>, b: &Result<RunResult, Error>) {
    match (a, b) {
        (Ok(a), Ok(b)) => {
            assert_eq!(a.trades, b.trades);
            assert_eq!(a.open_trades, b.open_trades);
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a.equity), bits(&b.equity));
            assert_eq!(a, b);
        }
        (a, b) => assert_eq!(a.as_ref().err(), b.as_ref().err()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// The bars as their own finer bars (one each) fill exactly as the bars' OHLC: the same
    /// trades, open trades, warnings and equity bits, for the cross built-ins with SL, TP
    /// and trailing stops on both front ends, and for stop, limit and stop-limit entries.
    #[test]
    fn bars_as_their_own_finer_bars_change_nothing(
        seed in 0u64..1_000_000, which in 0usize..4, signals in any::<bool>(),
        r in proptest::array::uniform4(0u64..1000),
        toc in any::<bool>(), finalize in any::<bool>(), exclusive in any::<bool>(),
        hedging in any::<bool>(), fractional in any::<bool>(), commission in 0.0f64..0.004,
    ) {
        let bars = walk(300, seed);
        let fine = Intrabar::try_new(&bars, bars.clone()).unwrap();
        let cfg = BrokerConfig {
            commission: Commission::Relative(commission),
            trade_on_close: toc,
            finalize_trades: finalize,
            exclusive_orders: exclusive,
            hedging,
            fractional_unit: fractional.then_some(0.25),
            ..BrokerConfig::default()
        };
        let make = || -> Box<dyn Strategy> {
            if which == 3 {
                Box::new(Orders { seed })
            } else {
                builtin_strategy(which, &r, signals)
            }
        };
        let a = run(&bars, make().as_mut(), &cfg);
        let b = run_intrabar(&bars, &fine, make().as_mut(), &cfg);
        assert_same(&a, &b);
    }
}

/// The property is not vacuous: SL and TP exits and stop/limit entries happen.
#[test]
fn the_scripted_orders_fill_stops_limits_sl_and_tp() {
    let bars = walk(300, 7);
    let res = run(&bars, &mut Orders { seed: 7 }, &BrokerConfig::default()).unwrap();
    let at = |p: Option<f64>, t: &backtide_core::ClosedTrade| p == Some(t.exit_price);
    assert!(res.trades.iter().any(|t| at(t.sl, t)));
    assert!(res.trades.iter().any(|t| at(t.tp, t)));
    let fine = Intrabar::try_new(&bars, bars.clone()).unwrap();
    let again = run_intrabar(
        &bars,
        &fine,
        &mut Orders { seed: 7 },
        &BrokerConfig::default(),
    );
    assert_eq!(again.unwrap(), res);
}

pub(crate) fn bars(rows: &[(i64, f64, f64, f64, f64)]) -> Bars {
    Bars::try_new(
        rows.iter().map(|r| r.0).collect(),
        rows.iter().map(|r| r.1).collect(),
        rows.iter().map(|r| r.2).collect(),
        rows.iter().map(|r| r.3).collect(),
        rows.iter().map(|r| r.4).collect(),
        vec![0.0; rows.len()],
    )
    .unwrap()
}

/// backtesting.py fills the SL when a bar holds both (the SL is first in the queue); the
/// minutes of that day reach 106 before 94, so along the path the TP fills, at 105.
#[test]
fn the_finer_path_decides_between_sl_and_tp() {
    let day = bars(&[
        (0, 100.0, 100.0, 100.0, 100.0),
        (DAY, 100.0, 100.0, 100.0, 100.0),
        (2 * DAY, 100.0, 106.0, 94.0, 100.0),
        (3 * DAY, 100.0, 100.0, 100.0, 100.0),
    ]);
    // `next` first runs on bar 1 (no indicators): the order placed there fills at bar 2's
    // open, 100, and its SL and TP are checked on bar 2 itself.
    let minutes = bars(&[
        (2 * DAY, 100.0, 103.0, 99.0, 102.0),
        (2 * DAY + MINUTE, 102.0, 106.0, 101.0, 104.0),
        (2 * DAY + 2 * MINUTE, 104.0, 104.0, 94.0, 100.0),
    ]);
    let fine = Intrabar::try_new(&day, minutes).unwrap();
    let ohlc = run(&day, &mut OnBar(1), &BrokerConfig::default()).unwrap();
    let path = run_intrabar(&day, &fine, &mut OnBar(1), &BrokerConfig::default()).unwrap();
    let exits = |r: &RunResult| {
        r.trades
            .iter()
            .map(|t| (t.entry_bar, t.entry_price, t.exit_bar, t.exit_price))
            .collect::<Vec<_>>()
    };
    assert_eq!(exits(&ohlc), vec![(2, 100.0, 2, 95.0)]);
    assert_eq!(exits(&path), vec![(2, 100.0, 2, 105.0)]);
    assert_eq!(ohlc.equity, vec![10_000.0, 10_000.0, 9_995.0, 9_995.0]);
    assert_eq!(path.equity, vec![10_000.0, 10_000.0, 10_005.0, 10_005.0]);
}

/// Buys one unit with SL 95 and TP 105 on bar `.0`.
struct OnBar(usize);

impl Strategy for OnBar {
    fn init(&mut self, _: &mut Init<'_>) -> Result<(), Error> {
        Ok(())
    }
    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        if ctx.index() == self.0 {
            ctx.buy_with(OrderRequest::market().size(1.0).sl(95.0).tp(105.0))?;
        }
        Ok(())
    }
}

#[test]
fn finer_bars_grouped_for_other_bars_are_refused() {
    let a = walk(10, 1);
    let fine = Intrabar::try_new(&a, a.clone()).unwrap();
    let b = walk(12, 1);
    let e = run_intrabar(&b, &fine, &mut OnBar(1), &BrokerConfig::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "finer bars grouped for 10 bars, but the run has 12"
    );
}
