//! Filling orders against a bar: backtesting.py's `_process_orders`.

use super::{Broker, ClosedTrade, OcoGroup, Order, OrderId, OutOfMoney, Trade, TradeId};
use crate::bars::Bars;
use crate::intrabar::Intrabar;
use crate::warning::RunWarning;

/// What filling an order reads of it (its tag is moved separately).
#[derive(Clone, Copy)]
struct Fill {
    id: OrderId,
    size: f64,
    limit: Option<f64>,
    sl: Option<f64>,
    tp: Option<f64>,
    parent: Option<TradeId>,
    oco: Option<OcoGroup>,
}

impl Fill {
    #[inline]
    fn of(o: &Order) -> Fill {
        Fill {
            id: o.id,
            size: o.size,
            limit: o.limit,
            sl: o.sl,
            tp: o.tp,
            parent: o.parent,
            oco: o.oco,
        }
    }
}

/// Prices of the bar being processed.
#[derive(Clone, Copy)]
struct BarPrices<'b> {
    open: f64,
    /// This bar's close: what equity and margin are marked at.
    close: f64,
    /// The previous bar's close: the fill price with `trade_on_close`.
    prev_close: f64,
    /// Where the high and low come from. Only stop, limit and SL/TP orders read them, so
    /// a run of market orders never touches those columns (in a sweep they are cold in
    /// cache: a load is a miss).
    range: Range<'b>,
}

#[derive(Clone, Copy)]
enum Range<'b> {
    /// Bar `i` of the series.
    Bar(&'b Bars, usize),
    /// Every price at one level (a fill at the close within the bar).
    Flat(f64),
}

impl BarPrices<'_> {
    #[inline]
    fn high(&self) -> f64 {
        match self.range {
            Range::Bar(bars, i) => bars.high()[i],
            Range::Flat(p) => p,
        }
    }

    #[inline]
    fn low(&self) -> f64 {
        match self.range {
            Range::Bar(bars, i) => bars.low()[i],
            Range::Flat(p) => p,
        }
    }
}

impl Broker {
    /// Processes bar `i`: fills pending orders, records equity. Returns the equity, or
    /// `OutOfMoney` after liquidating everything at the close when equity is <= 0.
    ///
    /// With `fine` (finer bars grouped by bar, see [`Intrabar`]) and finer bars for bar `i`,
    /// the orders are filled against each finer bar in turn instead of the bar's OHLC; the
    /// option is looked at only on bars with pending orders.
    pub(crate) fn next_bar(
        &mut self,
        bars: &Bars,
        fine: Option<&Intrabar>,
        i: usize,
    ) -> Result<f64, OutOfMoney> {
        self.i = i;
        let close = bars.close()[i];
        if !self.orders.is_empty() {
            let prev_close = bars.close()[i.saturating_sub(1)];
            match fine.map(|f| (f.fine(), f.range(i))) {
                Some((fine, r)) if !r.is_empty() => {
                    self.process_finer(fine, r, bars.open()[i], close, prev_close);
                }
                _ => {
                    let px = BarPrices {
                        open: bars.open()[i],
                        close,
                        prev_close,
                        range: Range::Bar(bars, i),
                    };
                    self.process_orders(px, false);
                }
            }
            self.expire(i);
        }
        let equity = self.equity(close);
        if equity <= 0.0 {
            self.liquidate(close, i);
            return Err(OutOfMoney);
        }
        Ok(equity)
    }

    /// Fills the pending orders against finer bars `r` of `fine` in time order, each as a
    /// bar of its own (its open, high and low), so whichever price the path reaches first
    /// fills first. The first finer bar opens at the bar's `open` (the finer open was checked
    /// to equal it within the tolerance; the bar's own is used, so market orders fill
    /// exactly there); sizing and margin stay at the bar's `close`, and `trade_on_close`
    /// fills at `prev_close`, as on the bar itself. Only stop, limit and SL/TP orders can be
    /// left after the first finer bar: market orders fill or are cancelled there.
    fn process_finer(
        &mut self,
        fine: &Bars,
        r: std::ops::Range<usize>,
        open: f64,
        close: f64,
        prev_close: f64,
    ) {
        let first = r.start;
        for k in r {
            if self.orders.is_empty() {
                break;
            }
            let px = BarPrices {
                open: if k == first { open } else { fine.open()[k] },
                close,
                prev_close,
                range: Range::Bar(fine, k),
            };
            self.process_orders(px, false);
        }
    }

    /// Equity fell to zero or below: close every trade at `close` on bar `i`; cash is 0.
    pub(crate) fn liquidate(&mut self, close: f64, i: usize) {
        while let Some(t) = self.trades.first() {
            let id = t.id;
            self.close_trade(id, close, i);
        }
        self.cash = 0.0;
    }

    /// Fills the market orders placed on bar `i` at its close, within the bar
    /// (`same_bar_close_fills`). Stop, limit and SL/TP orders wait for the next bar.
    pub(crate) fn fill_at_close(&mut self, bars: &Bars, i: usize) {
        let c = bars.close()[i];
        let px = BarPrices {
            open: c,
            close: c,
            prev_close: c,
            range: Range::Flat(c),
        };
        self.process_orders(px, true);
    }

    /// Fills what the bar's prices allow; `market_only` leaves stop, limit and SL/TP orders
    /// pending (fills at a bar's close within the bar).
    fn process_orders(&mut self, px: BarPrices<'_>, market_only: bool) {
        if super::lean_fills() && self.fill_plain(px) {
            return;
        }
        let mut reprocess = true;
        while reprocess {
            reprocess = false;
            let mut snapshot = std::mem::take(&mut self.snapshot);
            snapshot.clear();
            snapshot.extend(self.orders.iter().map(|o| o.id));
            for &oid in &snapshot {
                if self.process_one(oid, px, market_only) {
                    reprocess = true;
                }
            }
            self.snapshot = snapshot;
        }
    }

    /// [`Broker::process_orders`] for the queues a signal strategy's market orders leave: an
    /// order closing the only open trade whole, then a market entry without SL/TP (a
    /// reversal), or either alone (an exit; an entry while flat). Such orders leave the
    /// queue on their first look, in queue order, and ask for no second pass, so the
    /// general loop would run [`Broker::fill_closing`] and [`Broker::fill_standalone`] once
    /// each, in this order, with these prices: this runs the same two calls, without the
    /// snapshot, the copies and the lookups. Returns false, having changed nothing, for any
    /// other queue.
    #[inline]
    fn fill_plain(&mut self, px: BarPrices<'_>) -> bool {
        let market = |o: &Order| o.limit.is_none() && o.stop.is_none();
        let entry = |o: &Order| market(o) && o.parent.is_none() && o.sl.is_none() && o.tp.is_none();
        // Closes `t` whole at market, and is not one of its SL/TP orders (it has none).
        let closes = |o: &Order, t: &Trade| {
            market(o)
                && o.parent == Some(t.id)
                && t.sl_order.is_none()
                && t.tp_order.is_none()
                && t.size + closing_size(o.size, t.size) == 0.0
        };
        let (close, enter) = match (self.orders.as_slice(), self.trades.as_slice()) {
            ([e], []) => (false, entry(e)),
            ([c], [t]) => (closes(c, t), false),
            ([c, e], [t]) => {
                let both = closes(c, t) && entry(e);
                (both, both)
            }
            _ => (false, false),
        };
        if !(close || enter) {
            return false;
        }
        // Neither order is an SL/TP order (`contingent` in `process_one`).
        let (price, time_index) = self.market_fill(px, false);
        // Both leave the queue before their fills (as in `process_one`): read what the
        // fills need and empty it, without moving the orders.
        let closing = close.then(|| Fill::of(&self.orders[0]));
        let entry = enter.then(|| {
            let e = self.orders.last_mut().expect("the entry matched above");
            (Fill::of(e), e.tag.take())
        });
        self.orders.clear();
        if let Some(c) = closing {
            self.fill_closing(c, price, time_index);
        }
        if let Some((e, tag)) = entry {
            let again = self.fill_standalone(e, tag, price, None, time_index, px);
            debug_assert!(!again, "no SL/TP: nothing to look at again");
        }
        true
    }

    /// Where and on which bar a market order fills: the open, or with `trade_on_close`
    /// the previous close on the previous bar (SL/TP orders, `contingent`, always at the open).
    #[inline]
    fn market_fill(&self, px: BarPrices<'_>, contingent: bool) -> (f64, usize) {
        if self.cfg.trade_on_close && !contingent {
            (px.prev_close, self.i - 1)
        } else {
            (px.open, self.i)
        }
    }

    fn position_of(&self, oid: OrderId) -> Option<usize> {
        self.orders.iter().position(|o| o.id == oid)
    }

    fn remove_order(&mut self, oid: OrderId) {
        if let Some(p) = self.position_of(oid) {
            self.orders.remove(p);
        }
    }

    /// Handles one order; returns true if the queue must be processed again on this bar
    /// (a market order opened a trade with SL/TP that may trigger within the same bar).
    fn process_one(&mut self, oid: OrderId, px: BarPrices<'_>, market_only: bool) -> bool {
        let Some(pos) = self.position_of(oid) else {
            return false;
        };
        let order = &self.orders[pos];
        let (is_long, stop_price, limit) = (order.is_long(), order.stop, order.limit);
        let contingent = self.is_contingent(order);
        if market_only && (contingent || stop_price.is_some() || limit.is_some()) {
            return false;
        }

        // A stop order waits until the bar touches its stop, then acts as market/limit.
        if let Some(stop) = stop_price {
            let hit = if is_long {
                px.high() >= stop
            } else {
                px.low() <= stop
            };
            if !hit {
                return false;
            }
            self.orders[pos].stop = None;
        }

        let (price, time_index) = if let Some(limit) = limit {
            let hit = if is_long {
                px.low() < limit
            } else {
                px.high() > limit
            };
            // Stop and limit hit in one bar: assume pessimistically the limit came first.
            let limit_before_stop = hit
                && if is_long {
                    limit < stop_price.unwrap_or(f64::NEG_INFINITY)
                } else {
                    limit > stop_price.unwrap_or(f64::INFINITY)
                };
            if !hit || limit_before_stop {
                return false;
            }
            let base = stop_price.unwrap_or(px.open);
            let price = if is_long {
                base.min(limit)
            } else {
                base.max(limit)
            };
            (price, self.i)
        } else if let Some(stop) = stop_price {
            let p = if self.cfg.trade_on_close && !contingent {
                px.prev_close
            } else {
                px.open
            };
            (if is_long { p.max(stop) } else { p.min(stop) }, self.i)
        } else {
            self.market_fill(px, contingent)
        };

        // From here on the order leaves the queue, filled or dropped.
        let order = &mut self.orders[pos];
        let (fill, tag) = (Fill::of(order), order.tag.take());
        self.orders.remove(pos);
        if fill.parent.is_some() {
            self.fill_closing(fill, price, time_index);
            return false;
        }
        self.fill_standalone(fill, tag, price, stop_price, time_index, px)
    }

    /// Fills `order`, taken off the queue, that closes (part of) a trade: SL, TP or
    /// close(), at `price` on bar `time_index`.
    fn fill_closing(&mut self, order: Fill, price: f64, time_index: usize) {
        let Some(tid) = order.parent else {
            return;
        };
        if let Some(t) = self.trades.iter().find(|t| t.id == tid) {
            let size = closing_size(order.size, t.size);
            let exit = self.slipped(price, size);
            self.reduce_trade(tid, exit, size, time_index);
        }
    }

    /// Fills a stand-alone `order`, taken off the queue, at `price` (its stop, if it had
    /// one, was `stop_price`) on bar `time_index`: sizes it, nets it against opposite
    /// trades, opens the rest. Returns true if the queue must be processed again on this bar
    /// (a market order opened a trade with SL/TP that may trigger within the same bar).
    fn fill_standalone(
        &mut self,
        order: Fill,
        tag: Option<String>,
        price: f64,
        stop_price: Option<f64>,
        time_index: usize,
        px: BarPrices<'_>,
    ) -> bool {
        let is_long = order.size > 0.0;
        let is_market = order.limit.is_none() && stop_price.is_none();
        let adjusted = self.adjusted_price(order.size, price);
        let per_unit = adjusted + self.cfg.commission.of(order.size, price) / order.size.abs();
        let mut size = order.size;
        if -1.0 < size && size < 1.0 {
            let avail = self.margin_available(px.close);
            let (spendable, units) = self.units_for(avail, size, per_unit);
            size = units.copysign(size);
            if units == 0.0 {
                if self.keep_warnings {
                    let w = RunWarning::NoWholeUnit {
                        bar: self.i,
                        equity: self.equity(px.close),
                        available: avail,
                        spendable,
                        unit_cost: per_unit,
                    };
                    self.warnings.push(w);
                }
                return false;
            }
        }
        let mut need = size;

        if !self.cfg.hedging {
            // FIFO netting at the unadjusted price (the spread was paid at entry).
            while let Some((tid, tsize)) = self
                .trades
                .iter()
                .find(|t| t.is_long() != is_long)
                .map(|t| (t.id, t.size))
            {
                if need.abs() >= tsize.abs() {
                    let exit = self.slipped(price, -tsize);
                    self.close_trade(tid, exit, time_index);
                    need += tsize;
                } else {
                    let exit = self.slipped(price, need);
                    self.reduce_trade(tid, exit, need, time_index);
                    need = 0.0;
                }
                if need == 0.0 {
                    break;
                }
            }
        }

        // Exact sizes may overshoot the margin by a rounding error; allow for it.
        let slack = if self.cfg.continuous_sizes {
            1.0 + 1e-12
        } else {
            1.0
        };
        if need.abs() * per_unit > self.margin_available(px.close) * self.leverage * slack {
            if self.keep_warnings {
                let w = RunWarning::InsufficientMargin {
                    bar: self.i,
                    units: need,
                    cost: need.abs() * per_unit,
                    spendable: self.margin_available(px.close) * self.leverage,
                };
                self.warnings.push(w);
            }
            return false;
        }

        // Filled (opened, or only netted): the rest of its group is cancelled.
        self.cancel_siblings(order.id, order.oco);
        let mut reprocess = false;
        if need != 0.0 {
            let (sl, tp) = (order.sl, order.tp);
            self.open_trade(adjusted, need, tag, (sl, tp), time_index);
            if sl.is_some() || tp.is_some() {
                let sl = sl.unwrap_or(if is_long {
                    f64::NEG_INFINITY
                } else {
                    f64::INFINITY
                });
                if is_market {
                    reprocess = true;
                } else if stop_price.is_some()
                    && order.limit.is_none()
                    && tp.is_some_and(|tp| {
                        if is_long {
                            tp <= px.high() && sl < px.low()
                        } else {
                            tp >= px.low() && sl > px.high()
                        }
                    })
                {
                    // Stop entry and TP in the same bar but not the SL: unambiguous.
                    reprocess = true;
                } else if (order.sl.is_some_and(|p| px.low() <= p && p <= px.high())
                    || tp.is_some_and(|p| px.low() <= p && p <= px.high()))
                    && self.keep_warnings
                {
                    let w = RunWarning::ContingentInEntryBar { bar: self.i };
                    self.warnings.push(w);
                }
            }
        }
        reprocess
    }

    /// Opens a trade of `size` at `price` on `bar` with the entry order's tag and its
    /// (SL, TP).
    fn open_trade(
        &mut self,
        price: f64,
        size: f64,
        tag: Option<String>,
        (sl, tp): (Option<f64>, Option<f64>),
        bar: usize,
    ) {
        let id = TradeId(self.fresh_id());
        self.trades.push(Trade {
            id,
            size,
            entry_price: price,
            entry_bar: bar,
            tag,
            sl: None,
            tp: None,
            sl_order: None,
            tp_order: None,
        });
        self.cash -= self.cfg.commission.of(size, price);
        // TP first, then SL: both go to the front of the queue, so SL is checked first.
        if let Some(tp) = tp {
            let _ = self.set_contingent(id, false, Some(tp));
        }
        if let Some(sl) = sl {
            let _ = self.set_contingent(id, true, Some(sl));
        }
    }

    /// Closes `size` units (signed, opposite to the trade) of trade `tid` at `price`.
    fn reduce_trade(&mut self, tid: TradeId, price: f64, size: f64, bar: usize) {
        let Some(pos) = self.trades.iter().position(|t| t.id == tid) else {
            return;
        };
        let left = self.trades[pos].size + size;
        if left == 0.0 {
            self.close_trade(tid, price, bar);
            return;
        }
        // Shrink the trade and its SL/TP orders, and close a copy of the part that goes.
        let t = &mut self.trades[pos];
        t.size = left;
        let (sl_o, tp_o) = (t.sl_order, t.tp_order);
        let mut part = t.clone();
        for o in self.orders.iter_mut() {
            if Some(o.id) == sl_o || Some(o.id) == tp_o {
                o.size = -left;
            }
        }
        part.id = TradeId(self.fresh_id());
        part.size = -size;
        part.sl_order = None;
        part.tp_order = None;
        let pid = part.id;
        self.trades.push(part);
        self.close_trade(pid, price, bar);
    }

    pub(crate) fn close_trade(&mut self, tid: TradeId, price: f64, bar: usize) {
        let Some(pos) = self.trades.iter().position(|t| t.id == tid) else {
            return;
        };
        let t = self.trades.remove(pos);
        for o in [t.sl_order, t.tp_order].into_iter().flatten() {
            self.remove_order(o);
        }
        let exit_commission = self.cfg.commission.of(t.size, price);
        let entry_commission = self.cfg.commission.of(t.size, t.entry_price);
        self.cash -= exit_commission;
        self.cash += t.pl_at(price);
        self.closed.push(ClosedTrade {
            size: t.size,
            entry_bar: t.entry_bar,
            exit_bar: bar,
            entry_price: t.entry_price,
            exit_price: price,
            sl: t.sl,
            tp: t.tp,
            commission: entry_commission + exit_commission,
            tag: t.tag,
        });
    }
}

/// The units an order of `order_size` that closes (part of) a trade of `trade_size` fills:
/// at most the trade's, signed as the order.
#[inline]
pub(super) fn closing_size(order_size: f64, trade_size: f64) -> f64 {
    order_size.abs().min(trade_size.abs()).copysign(order_size)
}
