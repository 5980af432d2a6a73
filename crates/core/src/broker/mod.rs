//! Broker simulation with backtesting.py 0.6.6 semantics.
//!
//! The broker holds cash, pending orders, open and closed trades. Each bar it fills the
//! orders placed on earlier bars against this bar's prices ([`Broker::process_orders`]),
//! then marks equity at the close. The rules are written down in
//! `shared/reference/backtesting-py.md`; comments below name the less obvious ones.

mod commission;
mod config;
mod plain;
mod process;
mod trade;

pub use commission::{Commission, CommissionModel};
pub use config::BrokerConfig;
pub(crate) use plain::PlainStep;
pub use trade::{ClosedTrade, Expiry, OcoGroup, Order, OrderId, Trade, TradeId};

use crate::error::Error;

/// Largest size below 1: backtesting.py's default "all available margin".
pub const FULL_EQUITY: f64 = 1.0 - f64::EPSILON;

/// What a strategy asks for; see [`crate::Context::buy`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OrderRequest {
    /// `0 < size < 1`: fraction of available margin; `size >= 1`: whole units.
    /// `None` means [`FULL_EQUITY`].
    pub size: Option<f64>,
    /// Limit price.
    pub limit: Option<f64>,
    /// Stop (trigger) price.
    pub stop: Option<f64>,
    /// Stop-loss price for the resulting trade.
    pub sl: Option<f64>,
    /// Take-profit price for the resulting trade.
    pub tp: Option<f64>,
    /// Label carried to the trade.
    pub tag: Option<String>,
    /// How long the order stays pending unfilled (default: until cancelled).
    pub expiry: Expiry,
    /// The group whose other pending orders are cancelled when this one fills.
    pub oco: Option<OcoGroup>,
}

impl OrderRequest {
    /// A market order for all available margin.
    pub fn market() -> Self {
        Self::default()
    }
    /// Sets the size.
    pub fn size(mut self, size: f64) -> Self {
        self.size = Some(size);
        self
    }
    /// Sets a limit price.
    pub fn limit(mut self, price: f64) -> Self {
        self.limit = Some(price);
        self
    }
    /// Sets a stop price.
    pub fn stop(mut self, price: f64) -> Self {
        self.stop = Some(price);
        self
    }
    /// Sets the stop-loss.
    pub fn sl(mut self, price: f64) -> Self {
        self.sl = Some(price);
        self
    }
    /// Sets the take-profit.
    pub fn tp(mut self, price: f64) -> Self {
        self.tp = Some(price);
        self
    }
    /// Sets the tag.
    pub fn tag(mut self, tag: impl Into<String>) -> Self {
        self.tag = Some(tag.into());
        self
    }
    /// Sets the time in force.
    pub fn expiry(mut self, expiry: Expiry) -> Self {
        self.expiry = expiry;
        self
    }
    /// Puts the order in a one-cancels-other group (see [`crate::Context::oco_group`]).
    pub fn oco(mut self, group: OcoGroup) -> Self {
        self.oco = Some(group);
        self
    }
}

/// The broker's state during a run.
#[derive(Debug)]
pub(crate) struct Broker {
    cfg: BrokerConfig,
    leverage: f64,
    pub(crate) cash: f64,
    pub(crate) orders: Vec<Order>,
    pub(crate) trades: Vec<Trade>,
    pub(crate) closed: Vec<ClosedTrade>,
    next_id: u64,
    /// Current bar.
    pub(crate) i: usize,
    pub(crate) warnings: Vec<crate::warning::RunWarning>,
    /// Orders the strategy placed (not closing, SL or TP orders).
    pub(crate) placed: usize,
    /// Whether warnings are kept: a sweep drops them, so it skips formatting them.
    pub(crate) keep_warnings: bool,
    snapshot: Vec<OrderId>,
    /// Groups handed out by [`Broker::oco_group`].
    oco_groups: u64,
    /// Whether any pending order has an expiry (most runs have none: the check is skipped).
    expiring: bool,
}

/// Whether the lean paths for plain market orders are taken ([`Broker::new_market`] and
/// the plain queues of `process_orders`): always, except in tests that compare them with
/// the general paths they stand for.
#[cfg(not(test))]
#[inline(always)]
pub(crate) fn lean_fills() -> bool {
    true
}

/// Whether the lean paths are taken on this thread (see [`with_lean_fills`]).
#[cfg(test)]
pub(crate) fn lean_fills() -> bool {
    LEAN.with(std::cell::Cell::get)
}

#[cfg(test)]
thread_local! {
    static LEAN: std::cell::Cell<bool> = const { std::cell::Cell::new(true) };
}

/// Runs `f` with the lean paths on or off on this thread (tests compare the two).
#[cfg(test)]
pub(crate) fn with_lean_fills<R>(on: bool, f: impl FnOnce() -> R) -> R {
    let old = LEAN.with(|c| c.replace(on));
    let r = f();
    LEAN.with(|c| c.set(old));
    r
}

/// Signals that equity fell to zero or below; the run stops.
#[derive(Debug)]
pub(crate) struct OutOfMoney;

/// Python's float floor division (`a // b`), which is not always `floor(a / b)`:
/// it divides `a − fmod(a, b)` so a quotient that rounds up to an integer does not
/// buy one unit too many.
fn py_floordiv(a: f64, b: f64) -> f64 {
    // For positive operands Python's steps give the exact quotient a/b truncated (the
    // fmod is exact, and rounding `a − fmod` and the division moves the result by far
    // less than one half, which its final rounding removes). The rounded quotient q is
    // within q·2⁻⁵³ of the exact one, so ⌊q⌋ is that integer whenever q is further than
    // that from an integer: every sizing but a knife-edge one, without the slow fmod.
    if a > 0.0 && b > 0.0 && a.is_finite() && b.is_finite() {
        let q = a / b;
        if q < 1e15 {
            // ⌊q⌋ for 0 <= q < 1e15: the truncation (no library call).
            let f = (q as i64) as f64;
            let margin = q * 1e-15 + f64::MIN_POSITIVE;
            if q - f > margin && (f + 1.0) - q > margin {
                return f;
            }
        }
    }
    py_floordiv_steps(a, b)
}

/// `x.round_ties_even()`, without the library call when `x` is whole already (closing
/// whole trades of whole units).
#[inline]
fn round_ties_even(x: f64) -> f64 {
    if x.abs() < 4_503_599_627_370_496.0 && (x as i64) as f64 == x {
        return x;
    }
    x.round_ties_even()
}

/// CPython's `float_floor_div`, step by step.
fn py_floordiv_steps(a: f64, b: f64) -> f64 {
    let m = a % b;
    let mut div = (a - m) / b;
    if m != 0.0 && ((b < 0.0) != (m < 0.0)) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut f = div.floor();
        if div - f > 0.5 {
            f += 1.0;
        }
        f
    } else {
        0.0f64.copysign(a / b)
    }
}

impl Broker {
    pub(crate) fn new(cfg: BrokerConfig) -> Self {
        let leverage = 1.0 / cfg.margin;
        let cash = cfg.cash;
        Broker {
            cfg,
            leverage,
            cash,
            orders: Vec::new(),
            trades: Vec::new(),
            closed: Vec::new(),
            next_id: 0,
            i: 0,
            warnings: Vec::new(),
            placed: 0,
            keep_warnings: true,
            snapshot: Vec::new(),
            oco_groups: 0,
            expiring: false,
        }
    }

    /// A new one-cancels-other group. Its own counter: order and trade ids do not move.
    pub(crate) fn oco_group(&mut self) -> OcoGroup {
        self.oco_groups += 1;
        OcoGroup(self.oco_groups)
    }

    /// The market's session start.
    pub(crate) fn session(&self) -> crate::timeframe::Session {
        self.cfg.session
    }

    /// Drops the orders whose last bar is `i` (or earlier), after bar `i`'s fills and before
    /// the strategy decides on it: an order valid for one bar that did not fill there is
    /// gone when `next` looks at the orders.
    pub(crate) fn expire(&mut self, i: usize) {
        if self.expiring {
            self.orders
                .retain(|o| o.last_bar.is_none_or(|last| last > i));
            self.expiring = self.orders.iter().any(|o| o.last_bar.is_some());
        }
    }

    /// Cancels the other pending orders of `oid`'s one-cancels-other group, once it filled.
    fn cancel_siblings(&mut self, oid: OrderId, group: Option<OcoGroup>) {
        if let Some(g) = group {
            self.orders.retain(|o| o.id == oid || o.oco != Some(g));
        }
    }

    fn fresh_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Cash plus open trades marked at `price_now` (this bar's close).
    #[inline]
    pub(crate) fn equity(&self, last_price: f64) -> f64 {
        let mut e = self.cash;
        for t in &self.trades {
            e += t.pl_at(last_price);
        }
        e
    }

    pub(crate) fn margin_available(&self, last_price: f64) -> f64 {
        let used: f64 = self
            .trades
            .iter()
            .map(|t| t.size.abs() * last_price / self.leverage)
            .sum();
        (self.equity(last_price) - used).max(0.0)
    }

    /// What an order of `fraction` (in (−1, 1)) of the margin `available` may spend, and
    /// the units that buys at `per_unit`: whole ones by Python's floor division, or exact
    /// ones with `continuous_sizes`.
    #[inline]
    fn units_for(&self, available: f64, fraction: f64, per_unit: f64) -> (f64, f64) {
        let spendable = available * self.leverage * fraction.abs();
        let units = if self.cfg.continuous_sizes {
            spendable / per_unit
        } else {
            py_floordiv(spendable, per_unit)
        };
        (spendable, units)
    }

    /// Entry price: the spread (backtesting.py) and slippage (vectorbt) both move it
    /// against the order.
    fn adjusted_price(&self, size: f64, price: f64) -> f64 {
        self.slipped(price * (1.0 + self.cfg.spread.copysign(size)), size)
    }

    /// `price` moved against an order of `size` by the slippage (on every fill).
    fn slipped(&self, price: f64, size: f64) -> f64 {
        if self.cfg.slippage == 0.0 {
            price
        } else {
            price * (1.0 + self.cfg.slippage.copysign(size))
        }
    }

    /// Places a new order, as backtesting.py's `Broker.new_order`.
    /// `last_bar` is the last bar it may fill on (from its [`Expiry`]), `None` for good
    /// till cancelled.
    pub(crate) fn new_order(
        &mut self,
        size: f64,
        req: OrderRequest,
        last_price: f64,
        last_bar: Option<usize>,
    ) -> Result<OrderId, Error> {
        for (name, v) in [
            ("limit", req.limit),
            ("stop", req.stop),
            ("sl", req.sl),
            ("tp", req.tp),
        ] {
            if let Some(p) = v
                && !(p.is_finite() && p > 0.0)
            {
                return Err(Error::Order(format!(
                    "{name} must be a finite price > 0, got {p}"
                )));
            }
        }
        if !(size.is_finite() && size != 0.0) {
            return Err(Error::Order(format!("size must be non-zero, got {size}")));
        }
        let reference = req
            .limit
            .or(req.stop)
            .unwrap_or(self.adjusted_price(size, last_price));
        let (lo, hi) = if size > 0.0 {
            (req.sl, req.tp)
        } else {
            (req.tp, req.sl)
        };
        if !(lo.unwrap_or(f64::NEG_INFINITY) < reference && reference < hi.unwrap_or(f64::INFINITY))
        {
            let (a, b) = if size > 0.0 {
                ("SL", "TP")
            } else {
                ("TP", "SL")
            };
            return Err(Error::Order(format!(
                "{} orders require: {a} ({lo:?}) < LIMIT/STOP/price ({reference}) < {b} ({hi:?})",
                if size > 0.0 { "long" } else { "short" }
            )));
        }
        if self.cfg.exclusive_orders {
            self.orders
                .retain(|o| !Self::is_contingent_in(&self.trades, o));
            for k in 0..self.trades.len() {
                let id = self.trades[k].id;
                self.close_trade_order(id, 1.0);
            }
        }
        let id = OrderId(self.fresh_id());
        self.placed += 1;
        self.orders.push(Order {
            id,
            size,
            limit: req.limit,
            stop: req.stop,
            sl: req.sl,
            tp: req.tp,
            tag: req.tag,
            parent: None,
            last_bar,
            oco: req.oco,
        });
        self.expiring |= last_bar.is_some();
        Ok(id)
    }

    /// [`Broker::new_order`] of a market order without limit, stop, SL, TP, tag, expiry or
    /// group (`OrderRequest::market()`), as a plain signal strategy places one on every
    /// signal: the same checks, the same id and queue entry, without the request. Refused
    /// orders and `exclusive_orders` (which closes trades first) take the general path.
    #[inline]
    pub(crate) fn new_market(&mut self, size: f64, last_price: f64) -> Result<OrderId, Error> {
        let plain =
            lean_fills() && !self.cfg.exclusive_orders && size.is_finite() && size != 0.0 && {
                // `new_order`'s check with neither SL nor TP: the price is finite.
                let reference = self.adjusted_price(size, last_price);
                f64::NEG_INFINITY < reference && reference < f64::INFINITY
            };
        if !plain {
            return self.new_order(size, OrderRequest::market(), last_price, None);
        }
        let id = OrderId(self.fresh_id());
        self.placed += 1;
        self.orders.push(Order {
            id,
            size,
            limit: None,
            stop: None,
            sl: None,
            tp: None,
            tag: None,
            parent: None,
            last_bar: None,
            oco: None,
        });
        Ok(id)
    }

    fn is_contingent_in(trades: &[Trade], o: &Order) -> bool {
        o.parent.is_some_and(|p| {
            trades
                .iter()
                .find(|t| t.id == p)
                .is_some_and(|t| t.sl_order == Some(o.id) || t.tp_order == Some(o.id))
        })
    }

    fn is_contingent(&self, o: &Order) -> bool {
        Self::is_contingent_in(&self.trades, o)
    }

    /// Queues an order closing `portion` of a trade (backtesting.py's `Trade.close`),
    /// in front of the queue.
    pub(crate) fn close_trade_order(&mut self, id: TradeId, portion: f64) {
        let Some(t) = self.trades.iter().find(|t| t.id == id) else {
            return;
        };
        // backtesting.py closes whole units (its sizes are whole); exact sizes close exactly.
        let units = if self.cfg.continuous_sizes {
            t.size.abs() * portion
        } else {
            round_ties_even(t.size.abs() * portion).max(1.0)
        };
        let size = units.copysign(-t.size);
        let tag = t.tag.clone();
        let oid = OrderId(self.fresh_id());
        self.orders.insert(
            0,
            Order {
                id: oid,
                size,
                limit: None,
                stop: None,
                sl: None,
                tp: None,
                tag,
                parent: Some(id),
                last_bar: None,
                oco: None,
            },
        );
    }

    /// Sets (or with `None` removes) a trade's stop-loss or take-profit order.
    pub(crate) fn set_contingent(
        &mut self,
        id: TradeId,
        is_sl: bool,
        price: Option<f64>,
    ) -> Result<(), Error> {
        if let Some(p) = price
            && !(p.is_finite() && p > 0.0)
        {
            return Err(Error::Order(format!(
                "SL/TP must be a finite price > 0, got {p}"
            )));
        }
        let Some(pos) = self.trades.iter().position(|t| t.id == id) else {
            return Err(Error::Order("no such open trade".into()));
        };
        let t = &mut self.trades[pos];
        let old = if is_sl {
            t.sl = None;
            t.sl_order.take()
        } else {
            t.tp = None;
            t.tp_order.take()
        };
        if let Some(old) = old {
            self.orders.retain(|o| o.id != old);
        }
        if let Some(p) = price {
            let t = &self.trades[pos];
            let (size, tag) = (-t.size, t.tag.clone());
            let oid = OrderId(self.fresh_id());
            let (stop, limit) = if is_sl {
                (Some(p), None)
            } else {
                (None, Some(p))
            };
            self.orders.insert(
                0,
                Order {
                    id: oid,
                    size,
                    limit,
                    stop,
                    sl: None,
                    tp: None,
                    tag,
                    parent: Some(id),
                    last_bar: None,
                    oco: None,
                },
            );
            let t = &mut self.trades[pos];
            if is_sl {
                t.sl_order = Some(oid);
                t.sl = Some(p);
            } else {
                t.tp_order = Some(oid);
                t.tp = Some(p);
            }
        }
        Ok(())
    }

    /// The stop of the only open trade when its stop-loss order is the only pending order
    /// (no take-profit): whether the trade is long, and the stop. On a bar that does not
    /// reach the stop (a long's low above it, a short's high below it), processing the
    /// orders then changes nothing.
    pub(crate) fn lone_stop(&self) -> Option<(bool, f64)> {
        let ([t], [o]) = (self.trades.as_slice(), self.orders.as_slice()) else {
            return None;
        };
        if t.sl_order != Some(o.id) || t.tp_order.is_some() || o.limit.is_some() {
            return None;
        }
        let stop = o.stop?;
        (t.sl == Some(stop)).then_some((t.is_long(), stop))
    }

    /// [`Broker::set_contingent`] called `moves` times on the stop of [`Broker::lone_stop`],
    /// the last time with `stop`: the same order, ids and all, in one step.
    pub(crate) fn move_lone_stop(&mut self, stop: f64, moves: u64) {
        if moves == 0 {
            return;
        }
        self.next_id += moves;
        let oid = OrderId(self.next_id);
        let (t, o) = (&mut self.trades[0], &mut self.orders[0]);
        o.id = oid;
        o.stop = Some(stop);
        t.sl_order = Some(oid);
        t.sl = Some(stop);
    }

    /// Cancels a pending order; cancelling an SL/TP order detaches it from its trade.
    pub(crate) fn cancel(&mut self, id: OrderId) -> bool {
        let Some(pos) = self.orders.iter().position(|o| o.id == id) else {
            return false;
        };
        let o = self.orders.remove(pos);
        if let Some(p) = o.parent
            && let Some(t) = self.trades.iter_mut().find(|t| t.id == p)
        {
            if t.sl_order == Some(id) {
                t.sl_order = None;
                t.sl = None;
            } else if t.tp_order == Some(id) {
                t.tp_order = None;
                t.tp = None;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn floor_division_rounds_like_python() {
        // Cases whose quotient rounds up to an integer: Python gives one less.
        assert_eq!(py_floordiv(1.0, 0.1), 9.0);
        assert_eq!(py_floordiv(0.7, 0.1), 6.0);
        assert_eq!(py_floordiv(10_000.0, 100.0), 100.0);
        assert_eq!(py_floordiv(-7.0, 2.0), -4.0);
        assert_eq!(py_floordiv(7.0, -2.0), -4.0);
        assert_eq!(py_floordiv(0.0, 3.0), 0.0);
    }

    proptest! {
        /// The shortcut for whole numbers rounds as the library: whole and half sizes,
        /// either sign, zeros, past 2⁵², infinities and NaN.
        #[test]
        fn rounding_whole_sizes_equals_the_library(
            x in prop_oneof![
                (-1e6f64..1e6).prop_map(f64::round),
                (-1e6f64..1e6).prop_map(|x| x.round() + 0.5),
                -1e20f64..1e20,
                Just(0.0),
                Just(-0.0),
                Just(4_503_599_627_370_496.0),
                Just(9_223_372_036_854_775_808.0),
                Just(f64::INFINITY),
                Just(f64::NAN),
            ],
        ) {
            prop_assert_eq!(round_ties_even(x).to_bits(), x.round_ties_even().to_bits(), "{}", x);
        }

        /// The shortcut for positive operands gives exactly Python's steps, near-integer
        /// quotients (where the shortcut must step aside) included.
        #[test]
        fn the_shortcut_equals_pythons_steps(
            b in 1e-3f64..1e6,
            k in 0u64..2_000_000,
            nudge in prop_oneof![
                Just(0.0),
                -1e-14f64..1e-14,
                -1e-9f64..1e-9,
                -0.5f64..0.5,
            ],
        ) {
            let a = (k as f64 + nudge) * b;
            if a > 0.0 {
                prop_assert_eq!(
                    py_floordiv(a, b).to_bits(),
                    py_floordiv_steps(a, b).to_bits(),
                    "{} // {}", a, b
                );
            }
        }
    }
}
