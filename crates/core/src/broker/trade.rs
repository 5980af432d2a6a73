//! Orders and trades as the broker keeps them.

/// Identifies an order for the life of a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderId(pub(crate) u64);

impl OrderId {
    /// The id as a number (for front ends that hand ids to another language).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// Identifies a trade for the life of a backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TradeId(pub(crate) u64);

impl TradeId {
    /// The id as a number (for front ends that hand ids to another language).
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A pending order.
#[derive(Debug, Clone, PartialEq)]
pub struct Order {
    pub(crate) id: OrderId,
    /// Signed size: a fraction of available margin if `|size| < 1`, else whole units.
    pub size: f64,
    /// Limit price, if a limit order.
    pub limit: Option<f64>,
    /// Stop (trigger) price, if a stop order; cleared once triggered.
    pub stop: Option<f64>,
    /// Stop-loss for the trade this order opens.
    pub sl: Option<f64>,
    /// Take-profit for the trade this order opens.
    pub tp: Option<f64>,
    /// Free-form label carried to the trade.
    pub tag: Option<String>,
    /// Set for orders that close (part of) a trade: its SL/TP or a `close()`.
    pub(crate) parent: Option<TradeId>,
    /// The last bar on which it may fill; `None`: good till cancelled.
    pub(crate) last_bar: Option<usize>,
    /// Its one-cancels-other group.
    pub(crate) oco: Option<OcoGroup>,
}

/// How long an order stays pending when it does not fill: its time in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Expiry {
    /// Good till cancelled: backtesting.py's only kind.
    #[default]
    Gtc,
    /// Valid on the `n` bars after the bar that placed it (n ≥ 1), then cancelled: what a
    /// backtesting.py strategy writes as "cancel the orders placed n bars ago" at the top
    /// of `next`.
    Bars(std::num::NonZeroU32),
    /// Valid until the end of the session ([`crate::BrokerConfig::session`]) of the first
    /// bar it can fill on: a day order. Placed on a day's last bar (or on a daily bar), it
    /// is good for the next session, as an order entered after the close is.
    Session,
}

/// A one-cancels-other group: when one of its orders fills, the group's other pending
/// orders are cancelled at once (within the bar, before they are looked at), as a breakout
/// pair of a buy-stop above and a sell-stop below. Cancelling one by hand, or the broker
/// dropping one (too little margin), leaves the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OcoGroup(pub(crate) u64);

impl Order {
    /// This order's id (for [`crate::Context::cancel`]).
    pub fn id(&self) -> OrderId {
        self.id
    }
    /// True for a buy.
    pub fn is_long(&self) -> bool {
        self.size > 0.0
    }
    /// The trade this order closes, if it is an SL/TP or close order.
    pub fn parent_trade(&self) -> Option<TradeId> {
        self.parent
    }
    /// The last bar on which it may fill; `None` when good till cancelled.
    pub fn last_bar(&self) -> Option<usize> {
        self.last_bar
    }
    /// Its one-cancels-other group, if any.
    pub fn oco(&self) -> Option<OcoGroup> {
        self.oco
    }
}

/// An open trade.
#[derive(Debug, Clone, PartialEq)]
pub struct Trade {
    pub(crate) id: TradeId,
    /// Units held, negative when short.
    pub size: f64,
    /// Fill price including the spread.
    pub entry_price: f64,
    /// Bar index of the fill.
    pub entry_bar: usize,
    /// Label of the order that opened it.
    pub tag: Option<String>,
    /// Stop-loss price, if set.
    pub sl: Option<f64>,
    /// Take-profit price, if set.
    pub tp: Option<f64>,
    pub(crate) sl_order: Option<OrderId>,
    pub(crate) tp_order: Option<OrderId>,
}

impl Trade {
    /// This trade's id.
    pub fn id(&self) -> TradeId {
        self.id
    }
    /// True for a long trade.
    pub fn is_long(&self) -> bool {
        self.size > 0.0
    }
    /// Unrealised profit at `price`, before commissions.
    pub fn pl_at(&self, price: f64) -> f64 {
        self.size * (price - self.entry_price)
    }
}

/// A closed trade, as reported in results.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedTrade {
    /// Units, negative when short.
    pub size: f64,
    /// Bar index of the entry fill.
    pub entry_bar: usize,
    /// Bar index of the exit fill.
    pub exit_bar: usize,
    /// Entry price including the spread.
    pub entry_price: f64,
    /// Exit price.
    pub exit_price: f64,
    /// Stop-loss price in force at the exit (also when the SL filled through a gap at
    /// the open).
    pub sl: Option<f64>,
    /// Take-profit price in force at the exit.
    pub tp: Option<f64>,
    /// Commission paid at entry and exit.
    pub commission: f64,
    /// Label of the order that opened it.
    pub tag: Option<String>,
}

impl ClosedTrade {
    /// Profit net of both commissions.
    pub fn pnl(&self) -> f64 {
        self.size * (self.exit_price - self.entry_price) - self.commission
    }

    /// Return as a fraction, net of commissions (backtesting.py's `ReturnPct`).
    pub fn return_frac(&self) -> f64 {
        let gross = self.size.signum() * (self.exit_price / self.entry_price - 1.0);
        gross - self.commission / (self.size.abs() * self.entry_price)
    }
}
