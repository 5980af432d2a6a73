//! One account for every asset: shared cash, a position per asset, and the fill rules of
//! vectorbt 1.2's `from_orders`/`from_signals` with `cash_sharing=True`.
//!
//! The rules (`shared/reference/vectorbt.md`, `testdata/golden/portfolio/README.md`): a
//! buy that costs more than the cash left is cut to what the cash pays for, fees
//! included; sizes ignore slippage and fees, so when target weights add up to 1 the last
//! buy of a bar is the one that is cut; values that agree to 1e-9 relative are snapped to
//! each other so a full fill leaves exactly zero cash. The float operations are done in
//! vectorbt's order, because the golden cases compare fills to 1e-9 and cash to the cent
//! over thousands of chained orders.

use super::{Direction, Entry, EntrySize, ExitOf, Intent, PortfolioConfig};
use crate::error::Error;

/// Relative tolerance of vectorbt's `is_close`.
const RTOL: f64 = 1e-9;
/// Absolute tolerance of vectorbt's `is_close`.
const ATOL: f64 = 1e-12;

/// vectorbt's `is_close_nb`: equal, or within `max(RTOL·max(|a|,|b|), ATOL)`; never for
/// NaN or infinities that differ.
pub(crate) fn is_close(a: f64, b: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return false;
    }
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= (RTOL * a.abs().max(b.abs())).max(ATOL)
}

/// `a <= b` or close to it.
fn is_close_or_less(a: f64, b: f64) -> bool {
    a < b || is_close(a, b)
}

/// `a + b`, exactly zero when the two cancel to within the tolerance (vectorbt's `add_nb`).
pub(crate) fn add(a: f64, b: f64) -> f64 {
    if is_close(a, -b) { 0.0 } else { a + b }
}

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// Units bought.
    Buy,
    /// Units sold.
    Sell,
}

impl Side {
    /// `Buy` or `Sell`, as vectorbt and the JSON output write it.
    pub fn name(self) -> &'static str {
        match self {
            Side::Buy => "Buy",
            Side::Sell => "Sell",
        }
    }
}

/// A filled order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fill {
    /// Union bar it filled on.
    pub bar: usize,
    /// Asset (column) index.
    pub asset: usize,
    /// Buy or sell.
    pub side: Side,
    /// Units, > 0.
    pub size: f64,
    /// Fill price, slippage included.
    pub price: f64,
    /// Fees paid (relative and fixed).
    pub fees: f64,
    /// Signed units asked for before the cash limit (`None` for "all the cash").
    pub requested: Option<f64>,
    /// Fewer units were bought than asked because the cash ran short.
    pub partial: bool,
    /// Shared cash just before this order.
    pub cash_before: f64,
    /// The bar's pre-trade portfolio value the order was sized against.
    pub group_value: f64,
    /// The asset's position after the fill.
    pub position_after: f64,
}

/// Why an order did not fill (vectorbt's `Status/Info` pairs, minus "no order").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Rejection {
    /// A buy with no cash left (`Rejected/NoCashLong`).
    NoCash,
    /// A short sale with no free cash left (`Rejected/NoCashShort`).
    NoCashShort,
    /// The cash does not cover the fixed fee, or a sale's proceeds do not cover its fees
    /// (`Rejected/CantCoverFees`).
    CantCoverFees,
    /// Below the minimum size of 1e-8 units (`Rejected/MinSizeNotReached`).
    MinSize,
    /// A sale with nothing held (`Rejected/NoOpenPosition`).
    NoPosition,
    /// A size that rounds to zero (`Ignored/SizeZero`).
    SizeZero,
}

impl Rejection {
    /// True for a refused order, false for one that was ignored because it asked for
    /// nothing (a size that rounds to zero): only refusals are worth a warning.
    pub fn is_refusal(self) -> bool {
        self != Rejection::SizeZero
    }

    /// vectorbt's `Status/Info` label.
    pub fn label(self) -> &'static str {
        match self {
            Rejection::NoCash => "Rejected/NoCashLong",
            Rejection::NoCashShort => "Rejected/NoCashShort",
            Rejection::CantCoverFees => "Rejected/CantCoverFees",
            Rejection::MinSize => "Rejected/MinSizeNotReached",
            Rejection::NoPosition => "Rejected/NoOpenPosition",
            Rejection::SizeZero => "Ignored/SizeZero",
        }
    }
}

/// An order that did not fill.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rejected {
    /// Union bar.
    pub bar: usize,
    /// Asset index.
    pub asset: usize,
    /// Why.
    pub reason: Rejection,
}

/// Cash and positions.
#[derive(Debug, Clone)]
pub(crate) struct Account {
    pub(crate) cash: f64,
    /// Cash not tied up by short positions (vectorbt's `free_cash`): a short sale adds its
    /// proceeds to `cash` but takes twice its value from the free cash.
    pub(crate) free_cash: f64,
    pub(crate) position: Vec<f64>,
    /// Per asset, the value a short position was opened at (vectorbt's `debt`), 0 when
    /// not short.
    pub(crate) debt: Vec<f64>,
}

/// The minimum order size, as vectorbt's default `min_size`.
const MIN_SIZE: f64 = 1e-8;

/// One order and the prices it meets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderAt {
    pub(crate) bar: usize,
    pub(crate) asset: usize,
    pub(crate) intent: Intent,
    /// The fill price before slippage (the bar's close or open, or a stop price).
    pub(crate) price: f64,
    /// The slippage of this fill (the configuration's, or 0 for a stop).
    pub(crate) slippage: f64,
    /// The asset's valuation price (sizes value-based orders).
    pub(crate) val_price: f64,
    /// The bar's pre-trade portfolio value.
    pub(crate) value: f64,
}

/// What one order resolved to.
pub(crate) enum Outcome {
    Filled(Fill),
    Rejected(Rejection),
    /// Nothing to do (a signal that does not act on the position).
    Nothing,
}

/// The directions an order may trade in (vectorbt's order `direction`): a long-only sale
/// never sells more than is held, a short-only buy never buys more than is owed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    LongOnly,
    ShortOnly,
    Both,
}

/// An intent as units, before the cash limit: vectorbt's `(size, percent, direction)`
/// after `signals_to_size_nb` and `execute_order_nb`'s conversions.
#[derive(Debug, Clone, Copy)]
struct Sized {
    /// Signed units; `±inf` with `percent` = "as much as the (free) cash allows".
    units: f64,
    /// The fraction of the cash (buy) or of the most that can be sold (sale) to use.
    percent: Option<f64>,
    way: Way,
}

impl Sized {
    fn new(units: f64, way: Way) -> Sized {
        // An unbounded sale in a direction that may go short means "all the free cash".
        let percent = (units == f64::NEG_INFINITY && way != Way::LongOnly).then_some(1.0);
        Sized {
            units,
            percent,
            way,
        }
    }
}

impl Account {
    pub(crate) fn new(cash: f64, n_assets: usize) -> Account {
        Account {
            cash,
            free_cash: cash,
            position: vec![0.0; n_assets],
            debt: vec![0.0; n_assets],
        }
    }

    /// The units an intent asks for, before any cash limit: vectorbt's conversion of size
    /// types into an amount (`w·V`, then `/ val_price`, then `− position`), and of signals
    /// into orders. `None` when the intent does not act on the current position.
    fn sized(
        &self,
        asset: usize,
        intent: Intent,
        val_price: f64,
        value: f64,
    ) -> Result<Option<Sized>, Error> {
        let pos = self.position[asset];
        // Orders that are not signals never sell short.
        let plain = |d: f64| Sized::new(d, if d > 0.0 { Way::Both } else { Way::LongOnly });
        Ok(Some(match intent {
            Intent::TargetPercent(w) => {
                let mut d = w * value;
                d /= val_price;
                plain(d - pos)
            }
            Intent::TargetValue(v) => plain(v / val_price - pos),
            Intent::TargetUnits(u) => plain(u - pos),
            Intent::Units(u) => plain(u),
            Intent::Value(v) => plain(v / val_price),
            Intent::Close => plain(-pos),
            Intent::Enter(Entry {
                direction, size, ..
            }) => {
                let sign = match direction {
                    Direction::Long => 1.0,
                    Direction::Short => -1.0,
                };
                if pos * sign > 0.0 {
                    return Ok(None);
                }
                let percent = match size {
                    EntrySize::Percent(f) => Some(f),
                    _ => None,
                };
                if pos == 0.0 {
                    let s = Sized::new(sign * size.units(val_price), Way::Both);
                    return Ok(Some(Sized {
                        percent: percent.or(s.percent),
                        ..s
                    }));
                }
                if percent.is_some() {
                    return Err(Error::Order(
                        "an entry sized as a percent of cash cannot reverse a position \
                         (vectorbt raises here too); size it in units or value"
                            .into(),
                    ));
                }
                Sized::new(sign * (pos.abs() + size.units(val_price)), Way::Both)
            }
            Intent::Exit(of) => match (of, pos) {
                (ExitOf::Long | ExitOf::Any, p) if p > 0.0 => Sized::new(-p, Way::LongOnly),
                (ExitOf::Short | ExitOf::Any, p) if p < 0.0 => Sized::new(-p, Way::ShortOnly),
                _ => return Ok(None),
            },
        }))
    }

    /// The value estimate vectorbt's `call_seq='auto'` sorts orders by (sells first, then
    /// buys from the smallest); NaN when unknown.
    pub(crate) fn estimate(&self, asset: usize, intent: Intent, val_price: f64, value: f64) -> f64 {
        let pos = self.position[asset];
        match intent {
            Intent::TargetPercent(w) => w * value - pos * val_price,
            Intent::TargetValue(v) => v - pos * val_price,
            Intent::TargetUnits(u) => (u - pos) * val_price,
            Intent::Units(u) => u * val_price,
            Intent::Value(v) => v,
            Intent::Close => -pos * val_price,
            Intent::Enter(e) => {
                let sign = match e.direction {
                    Direction::Long => 1.0,
                    Direction::Short => -1.0,
                };
                if pos * sign > 0.0 {
                    0.0
                } else if pos == 0.0 {
                    match e.size {
                        EntrySize::Percent(p) if sign > 0.0 => p * self.cash,
                        // vectorbt's bound on a short sale: twice the long value plus
                        // the free cash.
                        EntrySize::Percent(p) => -p * self.free_cash.max(0.0),
                        s => sign * s.estimate(val_price, self.cash),
                    }
                } else {
                    let extra = match e.size {
                        EntrySize::Value(v) => v / val_price,
                        s => s.units(val_price),
                    };
                    sign * (pos.abs() + extra) * val_price
                }
            }
            Intent::Exit(ExitOf::Long | ExitOf::Any) if pos > 0.0 => -pos * val_price,
            Intent::Exit(ExitOf::Short | ExitOf::Any) if pos < 0.0 => -pos * val_price,
            Intent::Exit(_) => 0.0,
        }
    }

    /// Executes one order at its price, sized against the pre-trade portfolio value. The
    /// caller has checked that the asset has a price on this bar. An error only for an
    /// order vectorbt refuses to simulate.
    pub(crate) fn execute(
        &mut self,
        cfg: &PortfolioConfig,
        order: OrderAt,
    ) -> Result<Outcome, Error> {
        let OrderAt {
            bar,
            asset,
            intent,
            price,
            slippage,
            val_price,
            value,
        } = order;
        let Some(sized) = self.sized(asset, intent, val_price, value)? else {
            return Ok(Outcome::Nothing);
        };
        let d = sized.units;
        if d.is_nan() {
            return Ok(Outcome::Nothing);
        }
        // vectorbt's numerical clean-up before every order.
        for x in [&mut self.free_cash, &mut self.debt[asset]] {
            if is_close(*x, 0.0) {
                *x = 0.0;
            }
        }
        let cash_before = self.cash;
        let fill = |side, size, price, fees, partial, position_after| Fill {
            bar,
            asset,
            side,
            size,
            price,
            fees,
            requested: d.is_finite().then_some(d),
            partial,
            cash_before,
            group_value: value,
            position_after,
        };
        Ok(if d > 0.0 {
            match self.buy(cfg, asset, sized, price * (1.0 + slippage)) {
                Ok((size, p, fees, partial)) => Outcome::Filled(fill(
                    Side::Buy,
                    size,
                    p,
                    fees,
                    partial,
                    self.position[asset],
                )),
                Err(r) => Outcome::Rejected(r),
            }
        } else {
            match self.sell(cfg, asset, sized, price * (1.0 - slippage)) {
                Ok((size, p, fees)) => {
                    Outcome::Filled(fill(Side::Sell, size, p, fees, false, self.position[asset]))
                }
                Err(r) => Outcome::Rejected(r),
            }
        })
    }

    /// vectorbt's `buy_nb` (without `lock_cash`): buys `sized.units` at `p` (slippage
    /// included), or what the cash pays for, fees included. Returns size, price, fees and
    /// whether the order was cut.
    fn buy(
        &mut self,
        cfg: &PortfolioConfig,
        asset: usize,
        sized: Sized,
        p: f64,
    ) -> Result<(f64, f64, f64, bool), Rejection> {
        let pos = self.position[asset];
        let d = match sized.way {
            Way::ShortOnly => {
                if pos == 0.0 {
                    return Err(Rejection::NoPosition);
                }
                (-pos).min(sized.units)
            }
            Way::LongOnly | Way::Both => {
                if self.cash <= ATOL {
                    return Err(Rejection::NoCash);
                }
                sized.units
            }
        };
        // vectorbt's `size_type='percent'`: all the cash it may use, fees included.
        let cash_limit = sized
            .percent
            .map_or(self.cash, |f| self.cash.min(f * self.cash));
        let want = cfg.granular(d);
        let req_cash = want * p;
        let req_fees = req_cash * cfg.fees + cfg.fixed_fees;
        let adj_req_cash = req_cash + req_fees;
        let (size, fees, spent, partial) =
            if d.is_finite() && is_close_or_less(adj_req_cash, cash_limit) {
                (want, req_fees, adj_req_cash, false)
            } else {
                if is_close_or_less(cash_limit, cfg.fixed_fees) {
                    return Err(Rejection::CantCoverFees);
                }
                let max_req_cash = (cash_limit - cfg.fixed_fees) / (1.0 + cfg.fees);
                let size = max_req_cash / p;
                if cfg.size_granularity.is_some() {
                    // Whole multiples only: buy what the rounded size costs.
                    let size = cfg.granular(size);
                    let req_cash = size * p;
                    let fees = req_cash * cfg.fees + cfg.fixed_fees;
                    (size, fees, req_cash + fees, d.is_finite())
                } else {
                    (size, cash_limit - max_req_cash, cash_limit, d.is_finite())
                }
            };
        if is_close(d, 0.0) || size == 0.0 {
            return Err(Rejection::SizeZero);
        }
        if size < MIN_SIZE {
            return Err(Rejection::MinSize);
        }
        self.cash = add(self.cash, -spent);
        let after = add(pos, size);
        if pos < 0.0 {
            // Covering returns the cash the short tied up.
            let short_size = if after < 0.0 { size } else { -pos };
            let avg_entry_price = self.debt[asset] / -pos;
            let debt_diff = short_size * avg_entry_price;
            self.debt[asset] = add(self.debt[asset], -debt_diff);
            self.free_cash = add(self.free_cash + 2.0 * debt_diff, -spent);
        } else {
            self.free_cash = add(self.free_cash, -spent);
        }
        self.position[asset] = after;
        Ok((size, p, fees, partial))
    }

    /// vectorbt's `sell_nb` (without `lock_cash`): sells `-sized.units` at `p`; a long-only
    /// sale at most what is held, an unbounded short sale what the free cash covers.
    /// Returns size, price and fees.
    fn sell(
        &mut self,
        cfg: &PortfolioConfig,
        asset: usize,
        sized: Sized,
        p: f64,
    ) -> Result<(f64, f64, f64), Rejection> {
        let pos = self.position[asset];
        let units = -sized.units;
        let mut size_limit = match sized.way {
            Way::LongOnly => {
                // Never sell more than is held (target weights ≥ 0 never ask for more,
                // even in floating point).
                if pos <= 0.0 {
                    return Err(if is_close(units, 0.0) {
                        Rejection::SizeZero
                    } else {
                        Rejection::NoPosition
                    });
                }
                units.min(pos)
            }
            Way::ShortOnly | Way::Both if units.is_infinite() && sized.percent.is_some() => {
                let long_size = pos.max(0.0);
                let long_cash = long_size * p * (1.0 - cfg.fees);
                let total_free_cash = add(self.free_cash, long_cash);
                if total_free_cash <= 0.0 {
                    if pos <= 0.0 {
                        return Err(Rejection::NoCashShort);
                    }
                    long_size
                } else {
                    let max_short_size =
                        add(total_free_cash, -cfg.fixed_fees) / (p * (1.0 + cfg.fees));
                    let limit = add(long_size, max_short_size);
                    if limit <= 0.0 {
                        return Err(Rejection::CantCoverFees);
                    }
                    limit
                }
            }
            Way::ShortOnly | Way::Both => units,
        };
        if let Some(f) = sized.percent {
            size_limit *= f;
        }
        let size = cfg.granular(size_limit);
        if is_close(size, 0.0) {
            return Err(Rejection::SizeZero);
        }
        if size < MIN_SIZE {
            return Err(Rejection::MinSize);
        }
        let acq_cash = size * p;
        let fees = acq_cash * cfg.fees + cfg.fixed_fees;
        let final_acq_cash = acq_cash - fees;
        if final_acq_cash < 0.0 {
            return Err(Rejection::CantCoverFees);
        }
        self.cash = add(self.cash, final_acq_cash);
        let after = add(pos, -size);
        if after < 0.0 {
            // A short sale: its proceeds are owed, so they and as much again are not free.
            let short_size = if pos < 0.0 { size } else { -after };
            let short_value = short_size * p;
            self.debt[asset] += short_value;
            self.free_cash = add(self.free_cash, add(final_acq_cash, -2.0 * short_value));
        } else {
            self.free_cash += final_acq_cash;
        }
        self.position[asset] = after;
        Ok((size, p, fees))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::EntrySize;

    fn cfg(fees: f64, fixed: f64) -> PortfolioConfig {
        PortfolioConfig {
            fees,
            fixed_fees: fixed,
            ..PortfolioConfig::default()
        }
    }

    fn at(bar: usize, intent: Intent, price: f64, value: f64) -> OrderAt {
        OrderAt {
            bar,
            asset: 0,
            intent,
            price,
            slippage: 0.0,
            val_price: price,
            value,
        }
    }

    impl Account {
        fn exec(&mut self, cfg: &PortfolioConfig, order: OrderAt) -> Outcome {
            self.execute(cfg, order).expect("a valid order")
        }
    }

    fn filled(o: Outcome) -> Fill {
        match o {
            Outcome::Filled(f) => f,
            Outcome::Rejected(r) => panic!("rejected: {r:?}"),
            Outcome::Nothing => panic!("no order"),
        }
    }

    #[test]
    fn a_buy_beyond_the_cash_is_cut_to_what_the_cash_pays_fees_included() {
        // 1000 cash, 10 % fees, 1 fixed: 99 units asked at 10 cost 1090 > 1000, so it buys
        // (1000 − 1) / 1.1 = 908.18… worth, 90.818… units, and spends everything.
        let mut a = Account::new(1000.0, 1);
        let f = filled(a.exec(&cfg(0.1, 1.0), at(0, Intent::Units(99.0), 10.0, 1000.0)));
        assert!(f.partial);
        assert_eq!(f.size, (999.0 / 1.1) / 10.0);
        assert_eq!(f.fees, 1000.0 - 999.0 / 1.1);
        assert_eq!(a.cash, 0.0);
        // Nothing left: the next buy is refused.
        let o = a.exec(&cfg(0.1, 1.0), at(0, Intent::Units(1.0), 10.0, 1000.0));
        assert!(matches!(o, Outcome::Rejected(Rejection::NoCash)));
    }

    #[test]
    fn target_percent_sizes_against_the_pre_trade_value_and_sells_to_zero() {
        let mut a = Account::new(1000.0, 2);
        let c = cfg(0.0, 0.0);
        filled(a.exec(&c, at(0, Intent::TargetPercent(0.5), 10.0, 1000.0)));
        assert_eq!(a.position[0], 50.0);
        assert_eq!(a.cash, 500.0);
        let f = filled(a.exec(&c, at(1, Intent::TargetPercent(0.0), 12.0, 1100.0)));
        assert_eq!(
            (f.side, f.size, a.position[0], a.cash),
            (Side::Sell, 50.0, 0.0, 1100.0)
        );
        // Signals act only on the position they expect.
        assert!(matches!(
            a.exec(&c, at(2, Intent::Exit(ExitOf::Long), 12.0, 1100.0)),
            Outcome::Nothing
        ));
        filled(a.exec(
            &c,
            at(
                2,
                Intent::Enter(Entry::long(EntrySize::Value(120.0))),
                12.0,
                1100.0,
            ),
        ));
        assert!(matches!(
            a.exec(
                &c,
                at(
                    3,
                    Intent::Enter(Entry::long(EntrySize::AllCash)),
                    12.0,
                    1100.0
                )
            ),
            Outcome::Nothing
        ));
    }

    #[test]
    fn whole_units_round_down() {
        let mut a = Account::new(1000.0, 1);
        let c = PortfolioConfig {
            size_granularity: Some(1.0),
            ..cfg(0.02, 0.0)
        };
        let f = filled(a.exec(&c, at(0, Intent::TargetPercent(1.0), 30.0, 1000.0)));
        // 33.33 asked, 33 would cost 990 + 19.8 > 1000: the cash buys 32.68, rounded to 32.
        assert_eq!(f.size, 32.0);
        assert!(a.cash > 0.0);
    }

    #[test]
    fn a_short_sale_owes_its_proceeds_and_a_reversal_covers_first() {
        let c = cfg(0.0, 0.0);
        let mut a = Account::new(1000.0, 1);
        // All the free cash: 1000 / 10 = 100 units short; the cash holds the proceeds,
        // the free cash is what is not owed twice over.
        let short = Intent::Enter(Entry::short(EntrySize::AllCash));
        let f = filled(a.exec(&c, at(0, short, 10.0, 1000.0)));
        assert_eq!((f.side, f.size), (Side::Sell, 100.0));
        assert_eq!(
            (a.position[0], a.cash, a.free_cash, a.debt[0]),
            (-100.0, 2000.0, 0.0, 1000.0)
        );
        // Already short: another short entry does nothing.
        assert!(matches!(
            a.exec(&c, at(1, short, 9.0, 1100.0)),
            Outcome::Nothing
        ));
        // A long entry of 10 units buys back the 100 owed and 10 more.
        let long = Intent::Enter(Entry::long(EntrySize::Units(10.0)));
        let f = filled(a.exec(&c, at(1, long, 8.0, 1200.0)));
        assert_eq!((f.side, f.size), (Side::Buy, 110.0));
        assert_eq!(
            (a.position[0], a.cash, a.free_cash, a.debt[0]),
            (10.0, 1120.0, 1120.0, 0.0)
        );
        // A short exit when long does nothing; an exit of either side sells.
        assert!(matches!(
            a.exec(&c, at(2, Intent::Exit(ExitOf::Short), 8.0, 1200.0)),
            Outcome::Nothing
        ));
        let f = filled(a.exec(&c, at(2, Intent::Exit(ExitOf::Any), 8.0, 1200.0)));
        assert_eq!((f.side, f.size, a.position[0]), (Side::Sell, 10.0, 0.0));
    }

    #[test]
    fn a_percent_entry_cannot_reverse_a_position() {
        let c = cfg(0.0, 0.0);
        let mut a = Account::new(1000.0, 1);
        filled(a.exec(
            &c,
            at(
                0,
                Intent::Enter(Entry::short(EntrySize::Units(5.0))),
                10.0,
                1000.0,
            ),
        ));
        let long = Intent::Enter(Entry::long(EntrySize::Percent(0.5)));
        assert!(a.execute(&c, at(1, long, 10.0, 1000.0)).is_err());
    }
}
