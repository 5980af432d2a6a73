//! The `Strategy` trait and what a strategy sees.
//!
//! As in backtesting.py: `init` runs once over the whole series and declares indicators;
//! `next` runs on each bar once its close is known and can only see data and indicator
//! values up to that bar: every accessor of [`Context`] returns a slice ending at the
//! current bar, so look-ahead cannot be written.

pub mod builtin;
mod params;
mod series;
pub(crate) mod signals;
pub mod trailing;

pub use params::{DefaultValue, ParamKind, ParamSpec, ParamValue, Params};
pub use series::Series;
pub use signals::{
    Decision, EntryOrders, EntryRule, PerBar, RiskSizing, SignalDriven, SignalStrategy, Signals,
    SparseSignals,
};

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, RwLock};

use crate::bars::{Bars, TimestampNs};
use crate::broker::{
    Broker, ClosedTrade, Expiry, FULL_EQUITY, OcoGroup, Order, OrderId, OrderRequest, Trade,
    TradeId,
};
use crate::error::Error;

/// A trading strategy.
///
/// ```
/// use backtide_core::{Context, Error, Indicator, Init, Strategy, indicators};
///
/// /// Buys when the close crosses above its 20-bar SMA, closes when it crosses below.
/// struct CloseOverSma { sma: Option<Indicator> }
///
/// impl Strategy for CloseOverSma {
///     fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error> {
///         let sma = indicators::sma(ctx.bars().close(), 20);
///         self.sma = Some(ctx.indicator("SMA(20)", sma));
///         Ok(())
///     }
///     fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error> {
///         let sma = ctx.ind(self.sma.unwrap());
///         let close = ctx.close();
///         if ctx.crossover(close, sma) && ctx.position().size == 0.0 {
///             ctx.buy()?;
///         } else if ctx.crossover(sma, close) {
///             ctx.close_position();
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait Strategy: Send {
    /// Computes indicators over the whole series and registers them with
    /// [`Init::indicator`]. The first `next` call is on bar `1 + warm-up`, where the
    /// warm-up is the first bar at which every registered indicator is non-NaN.
    fn init(&mut self, ctx: &mut Init<'_>) -> Result<(), Error>;

    /// Decides on bar `ctx.index()`, after its close. Market orders fill at the next bar's
    /// open (or this close with `trade_on_close`).
    fn next(&mut self, ctx: &mut Context<'_>) -> Result<(), Error>;

    /// The first bar at or after `from` on which `next` might act: a promise that `next`
    /// would do nothing on the bars in between. The engine then only marks equity on those
    /// bars (while no order is pending), which is what makes signal-driven strategies fast.
    /// The default promises nothing. Decisions come from causal indicators, so this never
    /// lets a strategy see the future; it only saves calls.
    fn idle_until(&self, from: usize) -> usize {
        from
    }

    /// A trailing stop the engine may move itself on the bars from `from` on: a promise
    /// that, while one trade is open with only its stop-loss order pending, `next` on each
    /// bar before [`TrailingStop::idle_to`] would do nothing but move that stop to
    /// `close ∓ atr[i] · n_atr` in the trade's favour (as [`trailing::Trailing`] does). The
    /// engine then checks the stop and marks equity in a tight loop, and calls `next`
    /// again on the bar the stop is hit, the decision bar, or any bar it cannot settle
    /// itself. The default promises nothing.
    fn trailing_stop(&self, from: usize) -> Option<TrailingStop<'_>> {
        let _ = from;
        None
    }

    /// Signals that are this strategy's every decision from `init` on: a promise that
    /// `next` on each bar places exactly the orders a [`SignalDriven`] of these signals
    /// places when they have no stop or limit entries, expiry, pairs, partial exits,
    /// SL/TP or risk sizing (plain market orders that enter, reverse and exit). The engine
    /// then runs the decisions itself without calling `next`, down to the same bits (a
    /// sweep's combinations are mostly this). Asked once, after `init`. The default
    /// promises nothing.
    fn plain_signals(&self) -> Option<&signals::SparseSignals> {
        None
    }
}

/// What [`Strategy::trailing_stop`] promises.
#[derive(Debug, Clone, Copy)]
pub struct TrailingStop<'a> {
    /// The average true range of every bar.
    pub atr: &'a [f64],
    /// The stop's distance in ATRs.
    pub n_atr: f64,
    /// The first bar, at or after `from`, on which `next` might do more.
    pub idle_to: usize,
}

/// Handle to an indicator registered in `init`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Indicator(usize);

/// Indicator series shared between backtests on the same bars, e.g. the combinations of a
/// parameter sweep: `SMA(20)` is computed once however many combinations use it. Values
/// are the same whoever computes them first, so sharing never changes a result.
#[derive(Debug)]
pub struct IndicatorCache {
    map: RwLock<HashMap<String, Series>>,
    /// The series being computed and the bytes kept or promised. Each series is computed
    /// once, and two runs never hold a duplicate of one (a whole series each) at the same
    /// time: a run that needs a series another is computing waits for it. Different
    /// series are computed side by side (a sweep's first combinations need dozens).
    claims: Mutex<Claims>,
    /// Signalled whenever a claim ends.
    released: Condvar,
    /// Bytes of series kept; beyond it, series are computed and not stored.
    budget: usize,
}

#[derive(Default)]
struct Claims {
    computing: HashSet<String>,
    /// Bytes of the series kept, and of those promised room before they are computed.
    used: usize,
    /// The slab whole-length series are written into, and the values of it handed out.
    slab: Option<(Arc<series::Slab>, usize)>,
}

impl Claims {
    /// Room for a whole-length series of `len` values: a stretch of the current slab, or
    /// of a new one when it has no room left, handed out to the caller alone (the slab's
    /// count moves past it under the lock); a vector when no mapping is to be had.
    fn stretch(&mut self, len: usize) -> Room {
        let room = match &self.slab {
            Some((slab, taken)) if slab.cap() - taken >= len => Some((slab.clone(), *taken)),
            _ => series::Slab::new(len.max(SLAB_VALUES)).map(|s| (Arc::new(s), 0)),
        };
        match room {
            Some((slab, start)) => {
                self.slab = Some((slab.clone(), start + len));
                Room::Slab { slab, start, len }
            }
            None => Room::Vec(vec![0.0; len]),
        }
    }
}

/// Where one whole-length series is written ([`Claims::stretch`]).
enum Room {
    /// A stretch of a slab, handed out to this series alone.
    Slab {
        slab: Arc<series::Slab>,
        start: usize,
        len: usize,
    },
    /// No mapping to be had: a vector, as any other series.
    Vec(Vec<f64>),
}

impl Room {
    /// Its values, to be written before [`Room::into_series`].
    fn values(&mut self) -> &mut [f64] {
        match self {
            // SAFETY: `start..start + len` was handed out to this room alone
            // ([`Claims::stretch`]), and its series is made only when the room is consumed
            // (`into_series`), after this borrow ends.
            #[allow(unsafe_code, reason = "writing a stretch handed out to this room")]
            Room::Slab { slab, start, len } => unsafe { slab.part_mut(*start, *len) },
            Room::Vec(v) => v,
        }
    }

    fn into_series(self) -> Series {
        match self {
            Room::Slab { slab, start, len } => Series::in_slab(slab, start, len),
            Room::Vec(v) => Series::from(v),
        }
    }
}

impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims")
            .field("computing", &self.computing)
            .field("used", &self.used)
            .finish_non_exhaustive()
    }
}

/// Values of a slab for whole-length series (8 MB, four huge pages): a few lines of a
/// short series each, and no more than that touched beyond the lines themselves.
const SLAB_VALUES: usize = 1 << 20;

/// What [`IndicatorCache::look_up`] found.
enum Lookup<'a> {
    Found(Series),
    /// The budget has no room for it.
    Full,
    /// This run computes it: its room promised and its key claimed, the lock still held.
    Claimed(MutexGuard<'a, Claims>),
}

/// A run's claim on computing one series: released, with any room promised for it, when
/// dropped, however the computation ends (a panic included), so no run waits forever.
struct Claim<'a> {
    cache: &'a IndicatorCache,
    key: &'a str,
    promised: usize,
}

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        let mut claims = self.cache.claims();
        claims.used -= self.promised;
        claims.computing.remove(self.key);
        drop(claims);
        self.cache.released.notify_all();
    }
}

impl Default for IndicatorCache {
    /// A cache that keeps at most 64 MiB of series.
    fn default() -> Self {
        Self::with_budget(64 << 20)
    }
}

impl IndicatorCache {
    /// A cache that keeps at most `bytes` of series, so a sweep's memory stays bounded
    /// however many indicator variants it uses; results never depend on the budget.
    pub fn with_budget(bytes: usize) -> Self {
        IndicatorCache {
            map: RwLock::new(HashMap::new()),
            claims: Mutex::new(Claims::default()),
            released: Condvar::new(),
            budget: bytes,
        }
    }

    fn get(&self, key: &str) -> Option<Series> {
        self.map
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(key)
            .cloned()
    }

    fn claims(&self) -> MutexGuard<'_, Claims> {
        self.claims.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The series cached under `key`, computing it with `f` the first time (or every
    /// time, once the budget is spent).
    pub fn get_or_compute(&self, key: &str, f: impl FnOnce() -> Vec<f64>) -> Series {
        self.compute(key, None, f)
            .expect("without a size to check, a series is always computed")
    }

    /// The series cached under `key`, computing and keeping it with `f` if the budget has
    /// room for `bytes` more; `None` (without computing) once it has not, so the caller
    /// can produce the values another way (a sweep streams them block by block).
    pub fn get_if_room(
        &self,
        key: &str,
        bytes: usize,
        f: impl FnOnce() -> Vec<f64>,
    ) -> Option<Series> {
        self.compute(key, Some(bytes), f)
    }

    /// The series cached under `key`, or a new one of `len` values written by `fill` into
    /// the cache's slab and kept, if the budget has room for it; `None` (without
    /// computing) once it has not. Lines as long as the data go this way: written where
    /// they are kept, in memory that faults in huge pages ([`Series`]).
    pub(crate) fn get_filled_if_room(
        &self,
        key: &str,
        len: usize,
        fill: impl FnOnce(&mut [f64]),
    ) -> Option<Series> {
        let promised = len * std::mem::size_of::<f64>();
        let mut claims = match self.look_up(key, promised) {
            Lookup::Found(v) => return Some(v),
            Lookup::Full => return None,
            Lookup::Claimed(claims) => claims,
        };
        let mut room = claims.stretch(len);
        drop(claims);
        let claim = Claim {
            cache: self,
            key,
            promised,
        };
        fill(room.values());
        let series = room.into_series();
        // Its promise was its own bytes: it is always kept.
        self.settle(claim, &series);
        Some(series)
    }

    /// The series of `len` values under those of `keys` that are neither cached nor being
    /// computed, as many as the budget has room for (in order), written together by `fill`
    /// (given the indices of the keys it writes, and their values, in that order) into the
    /// cache's slabs and kept. For series cheaper computed side by side than one at a time
    /// (moving averages of several windows); a key left out is found or computed as usual
    /// when it is asked for.
    pub(crate) fn fill_together_if_room(
        &self,
        keys: &[String],
        len: usize,
        fill: impl FnOnce(&[usize], &mut [&mut [f64]]),
    ) {
        let promised = len * std::mem::size_of::<f64>();
        let mut claims = self.claims();
        let mut taken = Vec::new();
        for (k, key) in keys.iter().enumerate() {
            if claims.computing.contains(key) || self.get(key).is_some() {
                continue;
            }
            if claims.used + promised > self.budget {
                break;
            }
            claims.used += promised;
            claims.computing.insert(key.clone());
            taken.push((k, claims.stretch(len)));
        }
        drop(claims);
        if taken.is_empty() {
            return;
        }
        let (which, mut rooms): (Vec<usize>, Vec<Room>) = taken.into_iter().unzip();
        let held: Vec<Claim<'_>> = which
            .iter()
            .map(|&k| Claim {
                cache: self,
                key: &keys[k],
                promised,
            })
            .collect();
        let mut values: Vec<&mut [f64]> = rooms.iter_mut().map(Room::values).collect();
        fill(&which, &mut values);
        drop(values);
        for (claim, room) in held.into_iter().zip(rooms) {
            self.settle(claim, &room.into_series());
        }
    }

    /// Ends `claim` with its series `v` computed: the promise becomes the series' own
    /// size if it is kept (it fits the budget), in one step with ending the claim, and it
    /// is in the map first, so a run waiting for it finds it.
    fn settle(&self, mut claim: Claim<'_>, v: &Series) {
        let bytes = v.len() * std::mem::size_of::<f64>();
        let mut claims = self.claims();
        claims.used -= claim.promised;
        claim.promised = 0;
        if claims.used + bytes <= self.budget {
            claims.used += bytes;
            self.map
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(claim.key.to_string(), v.clone());
        }
        claims.computing.remove(claim.key);
        drop(claims);
        drop(claim);
    }

    /// The series cached under `key`; or, once no other run is computing it, this run's
    /// claim on computing it with `promised` bytes of room promised (the lock still held,
    /// for the caller to take more under it); or no room for it.
    fn look_up(&self, key: &str, promised: usize) -> Lookup<'_> {
        if let Some(v) = self.get(key) {
            return Lookup::Found(v);
        }
        let mut claims = self.claims();
        while claims.computing.contains(key) {
            claims = self
                .released
                .wait(claims)
                .unwrap_or_else(|e| e.into_inner());
        }
        // Another run may have computed it while this one waited.
        if let Some(v) = self.get(key) {
            return Lookup::Found(v);
        }
        if claims.used + promised > self.budget {
            return Lookup::Full;
        }
        claims.used += promised;
        claims.computing.insert(key.to_string());
        Lookup::Claimed(claims)
    }

    /// The cached series, or `f`'s, kept if it fits; with `need` set, `None` instead of
    /// computing a series of that size that would not fit (its room is promised before it
    /// is computed, so series computed side by side never overrun the budget).
    fn compute(
        &self,
        key: &str,
        need: Option<usize>,
        f: impl FnOnce() -> Vec<f64>,
    ) -> Option<Series> {
        let promised = need.unwrap_or(0);
        match self.look_up(key, promised) {
            Lookup::Found(v) => return Some(v),
            Lookup::Full => return None,
            Lookup::Claimed(claims) => drop(claims),
        }
        let claim = Claim {
            cache: self,
            key,
            promised,
        };
        // Wrapped, not converted: an `Arc<[f64]>` would copy the series (twice the memory
        // while both exist).
        let v = Series::from(f());
        self.settle(claim, &v);
        Some(v)
    }

    /// Number of cached series.
    pub fn len(&self) -> usize {
        self.map.read().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What `init` sees: all bars, and where indicators are registered.
pub struct Init<'a> {
    bars: &'a Bars,
    cache: Option<&'a IndicatorCache>,
    /// When the market's trading day starts (the run's [`crate::BrokerConfig::session`]).
    session: crate::timeframe::Session,
    pub(crate) indicators: Vec<Registered>,
}

/// An indicator registered in `init`.
#[derive(Debug)]
pub(crate) struct Registered {
    pub(crate) name: String,
    /// Its values (empty when registered with [`Init::warmup_only`]).
    pub(crate) values: Vec<f64>,
    /// The first bar with a value, or the number of bars if none has one.
    pub(crate) first_valid: usize,
}

impl<'a> Init<'a> {
    pub(crate) fn new(bars: &'a Bars, cache: Option<&'a IndicatorCache>) -> Self {
        Init {
            bars,
            cache,
            session: crate::timeframe::Session::default(),
            indicators: Vec::new(),
        }
    }

    /// The same, with the market's trading day starting at `session`'s start.
    pub(crate) fn in_session(mut self, session: crate::timeframe::Session) -> Self {
        self.session = session;
        self
    }

    /// When the market's trading day starts (the run's [`crate::BrokerConfig::session`];
    /// midnight by default): `tf()` in rules resamples to its sessions.
    pub fn session(&self) -> crate::timeframe::Session {
        self.session
    }

    /// A series computed by `f`, shared through the run's [`IndicatorCache`] when there is
    /// one (sweeps), so identical indicators are computed once. `key` must identify the
    /// computation completely (e.g. `"SMA(close,20)"`).
    pub fn shared(&self, key: &str, f: impl FnOnce() -> Vec<f64>) -> Series {
        match self.cache {
            Some(c) => c.get_or_compute(key, f),
            None => Series::from(f()),
        }
    }

    /// [`Init::shared`] of a series as long as the bars, which `fill` writes, when it is
    /// cached or the cache has room for it; `None` when this run has no cache or the cache
    /// is full (the caller then computes the values as it reads them, keeping memory
    /// flat).
    pub(crate) fn shared_if_room(
        &self,
        key: &str,
        fill: impl FnOnce(&mut [f64]),
    ) -> Option<Series> {
        let len = self.bars.len();
        self.cache
            .and_then(|c| c.get_filled_if_room(key, len, fill))
    }

    /// Series as long as the bars under those of `keys` that the cache has room for and
    /// no run has computed or is computing, written together by `fill` (given the indices
    /// of those keys and their values); [`Init::shared_if_room`] then finds them. Nothing
    /// without a cache.
    pub(crate) fn shared_together_if_room(
        &self,
        keys: &[String],
        fill: impl FnOnce(&[usize], &mut [&mut [f64]]),
    ) {
        if let Some(c) = self.cache {
            c.fill_together_if_room(keys, self.bars.len(), fill);
        }
    }

    /// True when indicators are shared with other runs (a sweep).
    pub fn has_cache(&self) -> bool {
        self.cache.is_some()
    }

    /// The whole series.
    pub fn bars(&self) -> &'a Bars {
        self.bars
    }

    /// Registers an indicator series (one value per bar). Its NaN prefix counts toward
    /// the warm-up; `next` sees it through [`Context::ind`].
    ///
    /// # Panics
    /// If `values` does not have one value per bar (a programming error in the strategy).
    pub fn indicator(&mut self, name: impl Into<String>, values: Vec<f64>) -> Indicator {
        assert_eq!(
            values.len(),
            self.bars.len(),
            "an indicator needs one value per bar"
        );
        self.indicators.push(Registered {
            name: name.into(),
            first_valid: crate::indicators::first_valid(&values),
            values,
        });
        Indicator(self.indicators.len() - 1)
    }

    /// Registers an indicator that `next` never reads (the lines behind a signal
    /// strategy's vectors) by its name and its first bar with a value (the number of bars
    /// if none has one), which counts toward the warm-up exactly as [`Init::indicator`]'s
    /// NaN prefix does. A sweep then keeps no copy of the series per combination.
    pub fn warmup_only(&mut self, name: impl Into<String>, first_valid: usize) {
        self.indicators.push(Registered {
            name: name.into(),
            values: Vec::new(),
            first_valid: first_valid.min(self.bars.len()),
        });
    }
}

/// The aggregate of all open trades.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position {
    /// Net units held (negative when short).
    pub size: f64,
    /// Unrealised profit of open trades at the current close, before exit commission.
    pub pl: f64,
}

impl Position {
    /// True when long.
    pub fn is_long(&self) -> bool {
        self.size > 0.0
    }
    /// True when short.
    pub fn is_short(&self) -> bool {
        self.size < 0.0
    }
    /// True when no trade is open.
    pub fn is_flat(&self) -> bool {
        self.size == 0.0
    }
}

/// An order's size, [`FULL_EQUITY`] when unset, if it is a fraction in (0, 1) or whole
/// units.
pub(crate) fn checked_size(size: Option<f64>) -> Result<f64, Error> {
    let size = size.unwrap_or(FULL_EQUITY);
    let whole = size >= 1.0 && size.fract() == 0.0;
    if !(size.is_finite() && ((size > 0.0 && size < 1.0) || whole)) {
        return Err(Error::Order(format!(
            "size must be a fraction in (0, 1) of available margin or a whole number of \
             units >= 1, got {size}"
        )));
    }
    Ok(size)
}

/// What `next` sees on bar `i`: data and indicators up to `i`, and the broker.
pub struct Context<'a> {
    pub(crate) i: usize,
    pub(crate) bars: &'a Bars,
    pub(crate) indicators: &'a [Registered],
    pub(crate) broker: &'a mut Broker,
}

impl Context<'_> {
    /// Index of the current bar.
    pub fn index(&self) -> usize {
        self.i
    }
    /// Timestamps up to and including the current bar.
    pub fn time(&self) -> &[TimestampNs] {
        &self.bars.time()[..=self.i]
    }
    /// Opens up to the current bar.
    pub fn open(&self) -> &[f64] {
        &self.bars.open()[..=self.i]
    }
    /// Highs up to the current bar.
    pub fn high(&self) -> &[f64] {
        &self.bars.high()[..=self.i]
    }
    /// Lows up to the current bar.
    pub fn low(&self) -> &[f64] {
        &self.bars.low()[..=self.i]
    }
    /// Closes up to the current bar.
    pub fn close(&self) -> &[f64] {
        &self.bars.close()[..=self.i]
    }
    /// Volumes up to the current bar.
    pub fn volume(&self) -> &[f64] {
        &self.bars.volume()[..=self.i]
    }
    /// An indicator's values up to the current bar.
    pub fn ind(&self, h: Indicator) -> &[f64] {
        &self.indicators[h.0].values[..=self.i]
    }
    /// True if `a` crossed above `b` on this bar (strict, as backtesting.py).
    pub fn crossover(&self, a: &[f64], b: &[f64]) -> bool {
        let n = a.len().min(b.len());
        n >= 2 && a[n - 2] < b[n - 2] && a[n - 1] > b[n - 1]
    }

    /// Market buy for all available margin.
    pub fn buy(&mut self) -> Result<OrderId, Error> {
        self.buy_with(OrderRequest::market())
    }
    /// Market sell (short) for all available margin.
    pub fn sell(&mut self) -> Result<OrderId, Error> {
        self.sell_with(OrderRequest::market())
    }
    /// A buy order with size, limit, stop, SL, TP or tag.
    pub fn buy_with(&mut self, req: OrderRequest) -> Result<OrderId, Error> {
        self.place(1.0, req)
    }
    /// A sell order with size, limit, stop, SL, TP or tag.
    pub fn sell_with(&mut self, req: OrderRequest) -> Result<OrderId, Error> {
        self.place(-1.0, req)
    }

    fn place(&mut self, sign: f64, req: OrderRequest) -> Result<OrderId, Error> {
        let size = checked_size(req.size)?;
        let last = self.bars.close()[self.i];
        let last_bar = self.last_bar(req.expiry);
        self.broker.new_order(sign * size, req, last, last_bar)
    }

    /// `buy_with` (`sign` 1) or `sell_with` (-1) of a market order with only a size: no
    /// limit, stop, SL, TP, tag, expiry or group. The same order, checks and errors,
    /// without building the request (a signal strategy places one on every signal).
    pub(crate) fn market_order(&mut self, sign: f64, size: Option<f64>) -> Result<OrderId, Error> {
        let size = checked_size(size)?;
        let last = self.bars.close()[self.i];
        self.broker.new_market(sign * size, last)
    }

    /// The last bar an order placed now with `expiry` may fill on (`None`: no last bar).
    fn last_bar(&self, expiry: Expiry) -> Option<usize> {
        let i = self.i;
        match expiry {
            Expiry::Gtc => None,
            Expiry::Bars(n) => Some(i.saturating_add(n.get() as usize)),
            Expiry::Session => {
                let time = self.bars.time();
                let Some(&first) = time.get(i + 1) else {
                    return Some(i + 1);
                };
                let session = self.broker.session();
                let day = session.day(first);
                let later = time[i + 1..].partition_point(|&t| session.day(t) == day);
                Some(i + later)
            }
        }
    }

    /// A new one-cancels-other group for [`OrderRequest::oco`]: when one of the orders
    /// placed with it fills, the others still pending are cancelled.
    pub fn oco_group(&mut self) -> OcoGroup {
        self.broker.oco_group()
    }

    /// The current position.
    pub fn position(&self) -> Position {
        let last = self.bars.close()[self.i];
        let mut p = Position { size: 0.0, pl: 0.0 };
        for t in &self.broker.trades {
            p.size += t.size;
            p.pl += t.pl_at(last);
        }
        p
    }
    /// Closes every open trade at the next fill.
    pub fn close_position(&mut self) {
        self.close_position_portion(1.0);
    }
    /// Closes `portion` (in (0, 1]) of every open trade.
    pub fn close_position_portion(&mut self, portion: f64) {
        for k in 0..self.broker.trades.len() {
            let id = self.broker.trades[k].id;
            self.broker.close_trade_order(id, portion);
        }
    }
    /// Closes `portion` (in (0, 1]) of one trade at the next fill.
    pub fn close_trade(&mut self, id: TradeId, portion: f64) {
        self.broker.close_trade_order(id, portion);
    }
    /// Sets or clears a trade's stop-loss.
    pub fn set_sl(&mut self, id: TradeId, price: Option<f64>) -> Result<(), Error> {
        self.broker.set_contingent(id, true, price)
    }
    /// Sets or clears a trade's take-profit.
    pub fn set_tp(&mut self, id: TradeId, price: Option<f64>) -> Result<(), Error> {
        self.broker.set_contingent(id, false, price)
    }
    /// Open trades, oldest first.
    pub fn trades(&self) -> &[Trade] {
        &self.broker.trades
    }
    /// Closed trades, in closing order.
    pub fn closed_trades(&self) -> &[ClosedTrade] {
        &self.broker.closed
    }
    /// Pending orders, in processing order.
    pub fn orders(&self) -> &[Order] {
        &self.broker.orders
    }
    /// Cancels a pending order; false if it is no longer pending.
    pub fn cancel(&mut self, id: OrderId) -> bool {
        self.broker.cancel(id)
    }
    /// Account equity marked at the current close.
    pub fn equity(&self) -> f64 {
        self.broker.equity(self.bars.close()[self.i])
    }
    /// Cash (equity less open trades' unrealised P/L).
    pub fn cash(&self) -> f64 {
        self.broker.cash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_what_fits_and_computes_nothing_it_was_told_not_to() {
        let series = |v: f64| vec![v; 100];
        let cache = IndicatorCache::with_budget(100 * 8);
        let a = cache.get_if_room("a", 800, || series(1.0)).unwrap();
        assert_eq!(a[0], 1.0);
        assert!(
            cache
                .get_if_room("b", 800, || panic!("no room: not computed"))
                .is_none()
        );
        // Kept ones come back without computing; one that does not fit is computed, not kept.
        let again = cache.get_if_room("a", 800, || panic!("cached")).unwrap();
        assert!(a.same(&again));
        assert_eq!(cache.get_or_compute("b", || series(2.0))[0], 2.0);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn concurrent_runs_compute_a_series_once() {
        let cache = IndicatorCache::default();
        let calls = std::sync::atomic::AtomicUsize::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    cache.get_or_compute("x", || {
                        calls.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                        vec![1.0; 10]
                    })
                });
            }
        });
        assert_eq!(calls.load(std::sync::atomic::Ordering::Relaxed), 1);
    }

    /// Two different series are computed side by side: `a`'s computation waits until `b`'s
    /// is done, which a cache computing one series at a time never lets happen (the test
    /// then fails on its timeout instead of hanging).
    #[test]
    fn different_series_are_computed_side_by_side() {
        let cache = &IndicatorCache::default();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|s| {
            let a = s.spawn(move || {
                cache.get_or_compute("a", || {
                    let b_done = rx.recv_timeout(std::time::Duration::from_secs(10));
                    assert!(b_done.is_ok(), "`b` was not computed while `a` was");
                    vec![1.0; 10]
                })
            });
            // Started once `a` holds its claim.
            while !cache.claims().computing.contains("a") {
                std::thread::yield_now();
            }
            cache.get_or_compute("b", || vec![2.0; 10]);
            tx.send(()).expect("`a` is waiting");
            assert_eq!(a.join().expect("`a` computed")[0], 1.0);
        });
        assert_eq!(cache.len(), 2);
    }

    /// A computation that panics releases its claim and the room promised for it: the next
    /// run computes the series, and the budget is whole again.
    #[test]
    fn a_failed_computation_releases_its_claim() {
        let cache = IndicatorCache::with_budget(800);
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get_if_room("a", 800, || panic!("the indicator failed"))
        }));
        assert!(failed.is_err());
        assert!(cache.claims().computing.is_empty());
        assert_eq!(cache.claims().used, 0);
        let a = cache
            .get_if_room("a", 800, || vec![1.0; 100])
            .expect("room again");
        assert_eq!(a[0], 1.0);
        assert_eq!(cache.len(), 1);
    }

    /// Lines written into the cache's slabs, from two threads side by side, read back as
    /// written, each once, within the budget (lines past it are not computed); more than
    /// one slab's worth, and a failed fill gives its room back.
    #[test]
    fn lines_filled_into_slabs_read_back_within_the_budget() {
        let len = 300_000; // 2.4 MB: three to an 8 MB slab, so the lines span slabs.
        let budget = 10 * len * 8;
        let cache = IndicatorCache::with_budget(budget);
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get_filled_if_room("bad", len, |_| panic!("the indicator failed"))
        }));
        assert!(failed.is_err());
        assert_eq!(cache.claims().used, 0);
        let fills = std::sync::atomic::AtomicUsize::new(0);
        let got: Vec<Vec<Option<Series>>> = std::thread::scope(|s| {
            let workers: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        (0..12)
                            .map(|k| {
                                cache.get_filled_if_room(&format!("line{k}"), len, |out| {
                                    fills.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                    for (i, x) in out.iter_mut().enumerate() {
                                        *x = (k * len + i) as f64;
                                    }
                                })
                            })
                            .collect()
                    })
                })
                .collect();
            workers.into_iter().map(|w| w.join().unwrap()).collect()
        });
        let kept = got[0].iter().filter(|l| l.is_some()).count();
        assert_eq!(kept, 10, "as many lines as the budget holds");
        assert_eq!(
            fills.load(std::sync::atomic::Ordering::Relaxed),
            10,
            "each kept line filled once"
        );
        assert_eq!(cache.claims().used, budget);
        for lines in &got {
            for (k, line) in lines.iter().enumerate() {
                if let Some(line) = line {
                    assert_eq!(line.len(), len);
                    assert!(
                        line.iter()
                            .enumerate()
                            .all(|(i, &x)| x == (k * len + i) as f64)
                    );
                    assert!(line.same(&got[0][k].clone().expect("both threads see it")));
                }
            }
        }
    }

    /// Series filled together take only the keys nobody computed, as many as the budget
    /// holds; each is then found as if filled alone, and a panicking fill keeps nothing.
    #[test]
    fn series_filled_together_skip_cached_keys_and_stop_at_the_budget() {
        let len = 1000;
        let cache = IndicatorCache::with_budget(3 * len * 8);
        let keys: Vec<String> = ["a", "b", "c", "d"].map(String::from).into();
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.fill_together_if_room(&keys, len, |_, _| panic!("the indicator failed"))
        }));
        assert!(failed.is_err());
        assert_eq!((cache.claims().used, cache.len()), (0, 0));
        let b = cache.get_filled_if_room("b", len, |out| out.fill(2.0));
        let mut written = Vec::new();
        cache.fill_together_if_room(&keys, len, |which, outs| {
            written = which.to_vec();
            for (&k, out) in which.iter().zip(outs.iter_mut()) {
                out.fill(k as f64);
            }
        });
        assert_eq!(written, [0, 2], "`b` was cached and `d` finds no room");
        assert_eq!(cache.claims().used, 3 * len * 8);
        let found =
            |key: &str| cache.get_filled_if_room(key, len, |_| panic!("{key} is computed again"));
        assert!(found("a").is_some_and(|a| a.iter().all(|&x| x == 0.0)));
        assert!(found("b").is_some_and(|x| x.same(&b.expect("room for b"))));
        assert!(found("c").is_some_and(|c| c.iter().all(|&x| x == 2.0)));
        assert!(cache.get_filled_if_room("d", len, |_| ()).is_none());
    }
}
