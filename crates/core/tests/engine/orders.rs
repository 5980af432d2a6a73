//! Orders with a time in force ([`Expiry`]) and one-cancels-other groups ([`OcoGroup`]):
//! hand-built cases, and property tests that each equals what a backtesting.py strategy
//! writes by hand (cancelling in `next`), which is how the golden fixtures of
//! `testdata/golden/orders/` were made.

use std::collections::HashMap;
use std::num::NonZeroU32;

use backtide_core::timeframe::Session;
use backtide_core::{
    Bars, BrokerConfig, Context, Error, Expiry, Init, OrderId, OrderRequest, RunResult, Strategy,
    run,
};
use proptest::prelude::*;

use crate::intrabar::bars;
use crate::properties::walk;

const DAY: i64 = 86_400_000_000_000;
const HOUR: i64 = 3_600_000_000_000;

/// A strategy that runs `script` on every bar.
struct Script<F>(F);

impl<F: FnMut(&mut Context<'_>) -> Result<(), Error> + Send> Strategy for Script<F> {
    fn init(&mut self, _: &mut Init<'_>) -> Result<(), Error> {
        Ok(())
    }
    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        (self.0)(ctx)
    }
}

fn fills(r: &RunResult) -> Vec<(usize, f64, f64)> {
    r.trades
        .iter()
        .map(|t| (t.entry_bar, t.size, t.entry_price))
        .chain(
            r.open_trades
                .iter()
                .map(|t| (t.entry_bar, t.size, t.entry_price)),
        )
        .collect()
}

/// Daily bars at 100 whose low reaches 95 only on `dip`.
fn dip_on(dip: usize) -> Bars {
    let rows: Vec<_> = (0..8)
        .map(|i| {
            let low = if i == dip { 95.0 } else { 99.0 };
            (i as i64 * DAY, 100.0, 101.0, low, 100.0)
        })
        .collect();
    bars(&rows)
}

fn limit_on_bar_1(expiry: Expiry) -> impl FnMut(&mut Context<'_>) -> Result<(), Error> + Send {
    move |ctx| {
        if ctx.index() == 1 {
            ctx.buy_with(OrderRequest::market().size(1.0).limit(96.0).expiry(expiry))?;
        }
        Ok(())
    }
}

#[test]
fn an_order_valid_for_n_bars_fills_on_the_nth_and_not_after() {
    let two = Expiry::Bars(NonZeroU32::new(2).unwrap());
    let cfg = BrokerConfig::default();
    // Placed on bar 1: valid on bars 2 and 3.
    let on_3 = run(&dip_on(3), &mut Script(limit_on_bar_1(two)), &cfg).unwrap();
    assert_eq!(fills(&on_3), vec![(3, 1.0, 96.0)]);
    let on_4 = run(&dip_on(4), &mut Script(limit_on_bar_1(two)), &cfg).unwrap();
    assert_eq!(fills(&on_4), vec![], "expired after bar 3");
    let gtc = run(&dip_on(4), &mut Script(limit_on_bar_1(Expiry::Gtc)), &cfg).unwrap();
    assert_eq!(fills(&gtc), vec![(4, 1.0, 96.0)]);
}

#[test]
fn an_expired_order_is_gone_when_next_looks() {
    let one = Expiry::Bars(NonZeroU32::new(1).unwrap());
    let mut seen = Vec::new();
    let cfg = BrokerConfig::default();
    let mut script = Script(|ctx: &mut Context<'_>| {
        seen.push((ctx.index(), ctx.orders().len()));
        if ctx.index() == 1 {
            ctx.buy_with(OrderRequest::market().size(1.0).limit(90.0).expiry(one))?;
        }
        Ok(())
    });
    run(&dip_on(5), &mut script, &cfg).unwrap();
    assert_eq!(seen[..3], [(1, 0), (2, 0), (3, 0)], "valid on bar 2 only");
}

/// Hourly bars over two days with a 09:30 session: an order for the session lasts to the
/// last bar before the next 09:30; placed on that last bar, it is good for the next session.
#[test]
fn a_session_order_lapses_at_the_session_end() {
    let times: Vec<i64> = [9, 10, 11, 12, 13, 14, 15]
        .into_iter()
        .flat_map(|h| [h * HOUR + HOUR / 2, DAY + h * HOUR + HOUR / 2])
        .collect::<Vec<_>>();
    let mut times = times;
    times.sort();
    let lows = |dip: i64| -> Bars {
        let rows: Vec<_> = times
            .iter()
            .map(|&t| (t, 100.0, 101.0, if t == dip { 95.0 } else { 99.0 }, 100.0))
            .collect();
        bars(&rows)
    };
    let cfg = BrokerConfig {
        session: "09:30".parse::<Session>().unwrap(),
        ..BrokerConfig::default()
    };
    let at = |placed: usize| {
        move |ctx: &mut Context<'_>| {
            if ctx.index() == placed {
                ctx.buy_with(
                    OrderRequest::market()
                        .size(1.0)
                        .limit(96.0)
                        .expiry(Expiry::Session),
                )?;
            }
            Ok(())
        }
    };
    let last_of_day_1 = 15 * HOUR + HOUR / 2;
    let first_of_day_2 = DAY + 9 * HOUR + HOUR / 2;
    // Placed at 10:30 on day 1: good through 15:30 of day 1.
    let r = run(&lows(last_of_day_1), &mut Script(at(1)), &cfg).unwrap();
    assert_eq!(fills(&r), vec![(6, 1.0, 96.0)]);
    let r = run(&lows(first_of_day_2), &mut Script(at(1)), &cfg).unwrap();
    assert_eq!(fills(&r), vec![], "lapsed at the end of day 1's session");
    // Placed on the last bar of day 1: good for all of day 2.
    let r = run(&lows(DAY + 15 * HOUR + HOUR / 2), &mut Script(at(6)), &cfg).unwrap();
    assert_eq!(fills(&r), vec![(13, 1.0, 96.0)]);
    // With sessions starting at 12:00 the same order placed at 10:30 lapses at 11:30.
    let noon = BrokerConfig {
        session: "12:00".parse::<Session>().unwrap(),
        ..BrokerConfig::default()
    };
    let r = run(&lows(12 * HOUR + HOUR / 2), &mut Script(at(1)), &noon).unwrap();
    assert_eq!(fills(&r), vec![]);
    let r = run(&lows(11 * HOUR + HOUR / 2), &mut Script(at(1)), &noon).unwrap();
    assert_eq!(fills(&r), vec![(2, 1.0, 96.0)]);
}

/// A buy-stop above and a sell-stop below in one group: the bar that takes the buy-stop
/// cancels the sell-stop, so a later fall through it opens nothing; without the group the
/// sell-stop fills later and closes the long.
#[test]
fn a_filled_order_cancels_the_rest_of_its_group() {
    let b = bars(&[
        (0, 100.0, 101.0, 99.0, 100.0),
        (DAY, 100.0, 101.0, 99.0, 100.0),
        (2 * DAY, 100.0, 106.0, 99.0, 105.0),
        (3 * DAY, 105.0, 105.0, 90.0, 92.0),
        (4 * DAY, 92.0, 93.0, 91.0, 92.0),
    ]);
    let pair = |grouped: bool| {
        move |ctx: &mut Context<'_>| {
            if ctx.index() == 1 {
                let g = ctx.oco_group();
                let (up, down) = (
                    OrderRequest::market().size(1.0).stop(105.0),
                    OrderRequest::market().size(1.0).stop(95.0),
                );
                let (up, down) = if grouped {
                    (up.oco(g), down.oco(g))
                } else {
                    (up, down)
                };
                ctx.buy_with(up)?;
                ctx.sell_with(down)?;
            }
            if ctx.index() == 2 {
                // The sell-stop is already gone when `next` runs on the fill's bar.
                assert_eq!(ctx.orders().len(), usize::from(!grouped));
            }
            Ok(())
        }
    };
    let cfg = BrokerConfig::default();
    let oco = run(&b, &mut Script(pair(true)), &cfg).unwrap();
    assert_eq!(fills(&oco), vec![(2, 1.0, 105.0)]);
    assert!(oco.trades.is_empty(), "the long stays open");
    let free = run(&b, &mut Script(pair(false)), &cfg).unwrap();
    let t = &free.trades[0];
    assert_eq!((t.entry_bar, t.exit_bar, t.exit_price), (2, 3, 95.0));
}

/// Both stops inside one bar: the first in the queue (the order placed first) fills and
/// the other is cancelled there, before it is looked at. backtesting.py, cancelling by hand
/// in `next`, would fill both on that bar (the second closing the first): the one place the
/// two differ, which `oco_equals_cancelling_in_next` leaves out.
#[test]
fn a_bar_that_reaches_both_fills_only_the_first() {
    let b = bars(&[
        (0, 100.0, 101.0, 99.0, 100.0),
        (DAY, 100.0, 101.0, 99.0, 100.0),
        (2 * DAY, 100.0, 106.0, 94.0, 100.0),
        (3 * DAY, 100.0, 101.0, 99.0, 100.0),
    ]);
    let mut script = Script(|ctx: &mut Context<'_>| {
        if ctx.index() == 1 {
            let g = ctx.oco_group();
            ctx.sell_with(OrderRequest::market().size(1.0).stop(95.0).oco(g))?;
            ctx.buy_with(OrderRequest::market().size(1.0).stop(105.0).oco(g))?;
        }
        Ok(())
    });
    let r = run(&b, &mut script, &BrokerConfig::default()).unwrap();
    assert_eq!(fills(&r), vec![(2, -1.0, 95.0)]);
}

#[test]
fn cancelling_one_by_hand_keeps_the_others() {
    let b = dip_on(4);
    let mut script = Script(|ctx: &mut Context<'_>| {
        if ctx.index() == 1 {
            let g = ctx.oco_group();
            let a = ctx.buy_with(OrderRequest::market().size(1.0).limit(96.0).oco(g))?;
            ctx.buy_with(OrderRequest::market().size(1.0).limit(97.0).oco(g))?;
            assert!(ctx.cancel(a));
        }
        Ok(())
    });
    let r = run(&b, &mut script, &BrokerConfig::default()).unwrap();
    assert_eq!(fills(&r), vec![(4, 1.0, 97.0)]);
}

/// Random stop and limit entries (both sides, with SL/TP, some in pairs), valid for `n`
/// bars, placed with the broker's expiry and groups or, `by_hand`, as a backtesting.py
/// strategy writes them: at the top of `next`, cancel what was placed `n` bars ago and the
/// rest of every pair one of whose orders filled. Sizes are whole units far below the
/// margin, so an order that leaves the queue has filled.
struct Random {
    seed: u64,
    n: u32,
    by_hand: bool,
    /// Pending orders this strategy placed: the bar, and the pair they belong to.
    placed: HashMap<OrderId, (usize, Option<usize>)>,
    /// Set when two orders of one pair filled on the same bar.
    both_in_one_bar: bool,
}

impl Random {
    fn new(seed: u64, n: u32, by_hand: bool) -> Random {
        Random {
            seed,
            n,
            by_hand,
            placed: HashMap::new(),
            both_in_one_bar: false,
        }
    }

    fn cancel_by_hand(&mut self, ctx: &mut Context<'_>) {
        let i = ctx.index();
        let pending: Vec<OrderId> = ctx.orders().iter().map(|o| o.id()).collect();
        let mut filled_pairs: Vec<usize> = Vec::new();
        for (id, &(_, pair)) in &self.placed {
            if let Some(p) = pair
                && !pending.contains(id)
            {
                self.both_in_one_bar |= filled_pairs.contains(&p);
                filled_pairs.push(p);
            }
        }
        self.placed.retain(|id, _| pending.contains(id));
        let mut ids: Vec<_> = self.placed.iter().map(|(id, v)| (*id, *v)).collect();
        ids.sort_by_key(|(id, _)| *id);
        for (id, (at, pair)) in ids {
            let sibling_filled = pair.is_some_and(|p| filled_pairs.contains(&p));
            if sibling_filled || i - at >= self.n as usize {
                ctx.cancel(id);
                self.placed.remove(&id);
            }
        }
    }
}

impl Strategy for Random {
    fn init(&mut self, _: &mut Init<'_>) -> Result<(), Error> {
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let i = ctx.index();
        if self.by_hand {
            self.cancel_by_hand(ctx);
        }
        let mut h = (self.seed ^ (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .wrapping_mul(0xbf58_476d_1ce4_e5b9);
        h ^= h >> 29;
        if !h.is_multiple_of(3) {
            return Ok(());
        }
        let c = ctx.close()[i];
        let size = if h & 0x100 == 0 { 1.0 } else { 2.0 };
        let expiry = if self.by_hand {
            Expiry::Gtc
        } else {
            Expiry::Bars(NonZeroU32::new(self.n).unwrap())
        };
        let base = OrderRequest::market().size(size).expiry(expiry);
        let pair = h & 0x200 != 0;
        let group = ctx.oco_group();
        let with = |o: OrderRequest| {
            if pair && !self.by_hand {
                o.oco(group)
            } else {
                o
            }
        };
        // A pair's orders are at least 5 % apart: more than a bar of `walk` spans, so no
        // bar reaches both. Single orders sit nearer, so that they fill often.
        let away = if pair { 0.025 } else { 0.002 };
        let up = (1.0 + away + ((h >> 12) % 30) as f64 / 1000.0) * c;
        let down = (1.0 - away - ((h >> 20) % 30) as f64 / 1000.0) * c;
        let mut ids = Vec::new();
        if pair || h & 0x400 != 0 {
            ids.push(ctx.buy_with(with(base.clone().stop(up).sl(down * 0.98)))?);
        } else {
            ids.push(ctx.buy_with(with(base.clone().limit(down).tp(up * 1.02)))?);
        }
        if pair {
            ids.push(ctx.sell_with(with(base.clone().stop(down).tp(down * 0.97)))?);
        }
        for id in ids {
            self.placed.insert(id, (i, pair.then_some(i)));
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Orders valid for n bars give what cancelling them n bars after placing gives, on
    /// every bar; groups give what cancelling a filled order's pair in `next` gives. A bar
    /// that fills both orders of a pair is where the two differ (see
    /// `a_bar_that_reaches_both_fills_only_the_first`): the pairs are placed too far apart
    /// for that, and the test checks it did not happen.
    #[test]
    fn expiry_and_groups_equal_cancelling_in_next(
        seed in any::<u64>(),
        n in 1u32..8,
        commission in prop_oneof![Just(0.0), 0.0..0.003f64],
        hedging in any::<bool>(),
    ) {
        let bars = walk(900, seed);
        // Cash enough that no order is ever refused for margin, which the hand-written
        // cancelling cannot tell from a fill (with hedging, trades pile up: at 10,000 one
        // seed ran out of margin, and the hand-written version cancelled the partner of an
        // order the broker had refused, which a group rightly leaves pending).
        let cfg = BrokerConfig {
            cash: 1_000_000.0,
            commission: backtide_core::Commission::Relative(commission),
            hedging,
            ..BrokerConfig::default()
        };
        let mut hand = Random::new(seed, n, true);
        let b = run(&bars, &mut hand, &cfg).unwrap();
        prop_assert!(!hand.both_in_one_bar);
        let refused = |r: &RunResult| {
            r.warning_details
                .iter()
                .any(|w| matches!(w, backtide_core::RunWarning::InsufficientMargin { .. }))
        };
        prop_assert!(!refused(&b), "an order was refused for margin");
        let a = run(&bars, &mut Random::new(seed, n, false), &cfg).unwrap();
        let fills = a.trades.len() + a.open_trades.len();
        prop_assert!(fills > 10, "{} fills", fills);
        prop_assert_eq!(a.equity, b.equity);
        prop_assert_eq!(a.trades, b.trades);
        prop_assert_eq!(a.orders_placed, b.orders_placed);
    }
}

/// `rules` with stop or limit entries, an expiry, pairs and partial exits, written out by
/// hand as a per-bar strategy on [`Context`]: the two give the same run, bit for bit.
struct HandRules {
    n: usize,
    valid: Option<u32>,
    oco: bool,
    limit: bool,
    portion: f64,
    hh: Option<backtide_core::Indicator>,
    ll: Option<backtide_core::Indicator>,
}

impl Strategy for HandRules {
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
        let b = ctx.bars();
        let (hh, ll) = (
            backtide_core::indicators::highest(b.high(), self.n),
            backtide_core::indicators::lowest(b.low(), self.n),
        );
        self.hh = Some(ctx.indicator("hh", hh));
        self.ll = Some(ctx.indicator("ll", ll));
        // The rules' `shift(close, 3)` in the exits counts toward the warm-up, as `self.I`.
        ctx.warmup_only("shift(close, 3)", 3);
        Ok(())
    }

    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
        let i = ctx.index();
        let (h, l) = (ctx.ind(self.hh.unwrap())[i], ctx.ind(self.ll.unwrap())[i]);
        let c = ctx.close().to_vec();
        let (up, down) = if self.oco {
            (true, true)
        } else {
            (i >= 2 && c[i] > c[i - 2], i >= 2 && c[i] < c[i - 2])
        };
        let expiry = self
            .valid
            .map_or(Expiry::Gtc, |k| Expiry::Bars(NonZeroU32::new(k).unwrap()));
        let waiting = ctx.orders().iter().any(|o| o.parent_trade().is_none());
        let flat = ctx.position().is_flat();
        let long = |g| {
            let o = OrderRequest::market().expiry(expiry).tp(h * 1.1);
            let o = if self.limit {
                o.limit(l).sl(l * 0.95)
            } else {
                o.stop(h).sl(l)
            };
            match g {
                Some(g) => o.oco(g),
                None => o,
            }
        };
        let short = |g| {
            let o = OrderRequest::market()
                .expiry(expiry)
                .stop(l)
                .sl(h)
                .tp(l * 0.9);
            match g {
                Some(g) => o.oco(g),
                None => o,
            }
        };
        let mut placed = false;
        if !waiting && flat && self.oco {
            let g = Some(ctx.oco_group());
            ctx.buy_with(long(g))?;
            ctx.sell_with(short(g))?;
            placed = true;
        } else if !waiting && flat && up {
            ctx.buy_with(long(None))?;
            placed = true;
        } else if !waiting && flat && down {
            ctx.sell_with(short(None))?;
            placed = true;
        }
        let p = ctx.position();
        let exit_long = i >= 3 && c[i] < c[i - 3];
        let exit_short = i >= 3 && c[i] > c[i - 3];
        if !placed && ((exit_long && p.is_long()) || (exit_short && p.is_short())) {
            ctx.close_position_portion(self.portion);
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn rules_with_the_new_orders_equal_the_same_strategy_written_per_bar(
        seed in any::<u64>(),
        n in 2usize..15,
        valid in proptest::option::weighted(0.8, 1u32..6),
        oco in any::<bool>(),
        limit in any::<bool>(),
        portion in prop_oneof![Just(1.0), Just(0.5), 0.1..1.0f64],
        commission in prop_oneof![Just(0.0), 0.0..0.003f64],
    ) {
        let bars = walk(500, seed);
        let cfg = BrokerConfig {
            commission: backtide_core::Commission::Relative(commission),
            ..BrokerConfig::default()
        };
        let mut hand = HandRules { n, valid, oco, limit, portion, hh: None, ll: None };
        let want = run(&bars, &mut hand, &cfg).unwrap();
        let entry_price = if limit { "entry_limit" } else { "entry_stop" };
        let long_at = if limit { format!("lowest(low, {n})") } else { format!("highest(high, {n})") };
        let mut texts: Vec<(String, String)> = vec![
            ("direction".into(), "long_short".into()),
            ("entries".into(), "when_flat".into()),
            (entry_price.into(), long_at),
            ("short_entry_stop".into(), format!("lowest(low, {n})")),
            ("sl".into(), if limit { format!("lowest(low, {n}) * 0.95") } else { format!("lowest(low, {n})") }),
            ("short_tp".into(), format!("lowest(low, {n}) * 0.9")),
            ("tp".into(), format!("highest(high, {n}) * 1.1")),
            ("short_sl".into(), format!("highest(high, {n})")),
            ("exit".into(), "close < shift(close, 3)".into()),
            ("short_exit".into(), "close > shift(close, 3)".into()),
            ("exit_portion".into(), portion.to_string()),
        ];
        if oco {
            texts.push(("entry".into(), "true".into()));
            texts.push(("short_entry".into(), "true".into()));
            texts.push(("oco".into(), "true".into()));
        } else {
            texts.push(("entry".into(), "close > shift(close, 2)".into()));
            texts.push(("short_entry".into(), "close < shift(close, 2)".into()));
        }
        if let Some(k) = valid {
            texts.push(("valid_for".into(), k.to_string()));
        }
        let pairs: Vec<(&str, &str)> = texts.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let info = backtide_core::strategy::builtin::find("rules").unwrap();
        let p = backtide_core::Params::from_pairs(info.params, pairs.iter().copied()).unwrap();
        for build in [info.build_signals(&p), info.build(&p)] {
            let mut s = build.unwrap();
            let got = run(&bars, s.as_mut(), &cfg).unwrap();
            prop_assert_eq!(&got.trades, &want.trades);
            prop_assert_eq!(&got.equity, &want.equity);
            prop_assert_eq!(got.orders_placed, want.orders_placed);
        }
        prop_assert!(want.orders_placed > usize::from(valid.is_some()));
    }
}
