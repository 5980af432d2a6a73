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

use super::{EntrySize, Intent, PortfolioConfig};

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
    pub(crate) position: Vec<f64>,
}

/// The minimum order size, as vectorbt's default `min_size`.
const MIN_SIZE: f64 = 1e-8;

/// One order and the prices it meets.
#[derive(Debug, Clone, Copy)]
pub(crate) struct OrderAt {
    pub(crate) bar: usize,
    pub(crate) asset: usize,
    pub(crate) intent: Intent,
    /// The fill price before slippage (the bar's close or open).
    pub(crate) price: f64,
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

impl Account {
    pub(crate) fn new(cash: f64, n_assets: usize) -> Account {
        Account {
            cash,
            position: vec![0.0; n_assets],
        }
    }

    /// The signed units an intent asks for, before any cash limit: vectorbt's conversion
    /// of size types into an amount (`w·V`, then `/ val_price`, then `− position`). `None`
    /// when the intent does not act on the current position; `+inf` means "all the cash".
    pub(crate) fn requested(
        &self,
        asset: usize,
        intent: Intent,
        val_price: f64,
        value: f64,
    ) -> Option<f64> {
        let pos = self.position[asset];
        Some(match intent {
            Intent::TargetPercent(w) => {
                let mut d = w * value;
                d /= val_price;
                d - pos
            }
            Intent::TargetValue(v) => v / val_price - pos,
            Intent::TargetUnits(u) => u - pos,
            Intent::Units(u) => u,
            Intent::Value(v) => v / val_price,
            Intent::Close => -pos,
            Intent::Enter(size) => {
                if pos != 0.0 {
                    return None;
                }
                size.units(val_price)
            }
            Intent::Exit => {
                if pos <= 0.0 {
                    return None;
                }
                -pos
            }
        })
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
            Intent::Enter(size) if pos == 0.0 => size.estimate(val_price, self.cash),
            Intent::Exit if pos > 0.0 => -pos * val_price,
            Intent::Enter(_) | Intent::Exit => 0.0,
        }
    }

    /// Executes one order at its price (the bar's close or open), sized against the
    /// pre-trade portfolio value. The caller has checked that the asset has a price on
    /// this bar.
    pub(crate) fn execute(&mut self, cfg: &PortfolioConfig, order: OrderAt) -> Outcome {
        let OrderAt {
            bar,
            asset,
            intent,
            price,
            val_price,
            value,
        } = order;
        let Some(d) = self.requested(asset, intent, val_price, value) else {
            return Outcome::Nothing;
        };
        if d.is_nan() {
            return Outcome::Nothing;
        }
        let cash_before = self.cash;
        let pos = self.position[asset];
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
        if d > 0.0 {
            if self.cash <= ATOL {
                return Outcome::Rejected(Rejection::NoCash);
            }
            // vectorbt's `size_type='percent'`: all the cash it may use, fees included.
            let percent = match intent {
                Intent::Enter(EntrySize::Percent(f)) => Some(f),
                _ => None,
            };
            let cash_limit = percent.map_or(self.cash, |f| self.cash.min(f * self.cash));
            let p = price * (1.0 + cfg.slippage);
            let want = cfg.granular(d);
            let req_cash = want * p;
            let req_fees = req_cash * cfg.fees + cfg.fixed_fees;
            let adj_req_cash = req_cash + req_fees;
            let (size, fees, cash, partial) =
                if d.is_finite() && is_close_or_less(adj_req_cash, cash_limit) {
                    (want, req_fees, add(self.cash, -adj_req_cash), false)
                } else {
                    if is_close_or_less(cash_limit, cfg.fixed_fees) {
                        return Outcome::Rejected(Rejection::CantCoverFees);
                    }
                    let max_req_cash = (cash_limit - cfg.fixed_fees) / (1.0 + cfg.fees);
                    let size = max_req_cash / p;
                    if cfg.size_granularity.is_some() {
                        // Whole multiples only: buy what the rounded size costs.
                        let size = cfg.granular(size);
                        let req_cash = size * p;
                        let fees = req_cash * cfg.fees + cfg.fixed_fees;
                        (
                            size,
                            fees,
                            add(self.cash, -(req_cash + fees)),
                            d.is_finite(),
                        )
                    } else {
                        let left = if percent.is_some() {
                            add(self.cash, -cash_limit)
                        } else {
                            0.0
                        };
                        (size, cash_limit - max_req_cash, left, d.is_finite())
                    }
                };
            if is_close(d, 0.0) || size == 0.0 {
                return Outcome::Rejected(Rejection::SizeZero);
            }
            if size < MIN_SIZE {
                return Outcome::Rejected(Rejection::MinSize);
            }
            self.cash = cash;
            self.position[asset] = add(pos, size);
            Outcome::Filled(fill(
                Side::Buy,
                size,
                p,
                fees,
                partial,
                self.position[asset],
            ))
        } else {
            // Long-only: never sell more than is held (target weights ≥ 0 never ask for
            // more, even in floating point).
            if pos <= 0.0 {
                return Outcome::Rejected(if is_close(d, 0.0) {
                    Rejection::SizeZero
                } else {
                    Rejection::NoPosition
                });
            }
            let size = cfg.granular((-d).min(pos));
            if is_close(size, 0.0) {
                return Outcome::Rejected(Rejection::SizeZero);
            }
            if size < MIN_SIZE {
                return Outcome::Rejected(Rejection::MinSize);
            }
            let p = price * (1.0 - cfg.slippage);
            let acq_cash = size * p;
            let fees = acq_cash * cfg.fees + cfg.fixed_fees;
            let final_acq_cash = acq_cash - fees;
            if final_acq_cash < 0.0 {
                return Outcome::Rejected(Rejection::CantCoverFees);
            }
            self.cash = add(self.cash, final_acq_cash);
            self.position[asset] = add(pos, -size);
            Outcome::Filled(fill(Side::Sell, size, p, fees, false, self.position[asset]))
        }
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
            val_price: price,
            value,
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
        let f = filled(a.execute(&cfg(0.1, 1.0), at(0, Intent::Units(99.0), 10.0, 1000.0)));
        assert!(f.partial);
        assert_eq!(f.size, (999.0 / 1.1) / 10.0);
        assert_eq!(f.fees, 1000.0 - 999.0 / 1.1);
        assert_eq!(a.cash, 0.0);
        // Nothing left: the next buy is refused.
        let o = a.execute(&cfg(0.1, 1.0), at(0, Intent::Units(1.0), 10.0, 1000.0));
        assert!(matches!(o, Outcome::Rejected(Rejection::NoCash)));
    }

    #[test]
    fn target_percent_sizes_against_the_pre_trade_value_and_sells_to_zero() {
        let mut a = Account::new(1000.0, 2);
        let c = cfg(0.0, 0.0);
        filled(a.execute(&c, at(0, Intent::TargetPercent(0.5), 10.0, 1000.0)));
        assert_eq!(a.position[0], 50.0);
        assert_eq!(a.cash, 500.0);
        let f = filled(a.execute(&c, at(1, Intent::TargetPercent(0.0), 12.0, 1100.0)));
        assert_eq!(
            (f.side, f.size, a.position[0], a.cash),
            (Side::Sell, 50.0, 0.0, 1100.0)
        );
        // Signals act only on the position they expect.
        assert!(matches!(
            a.execute(&c, at(2, Intent::Exit, 12.0, 1100.0)),
            Outcome::Nothing
        ));
        filled(a.execute(
            &c,
            at(2, Intent::Enter(EntrySize::Value(120.0)), 12.0, 1100.0),
        ));
        assert!(matches!(
            a.execute(&c, at(3, Intent::Enter(EntrySize::AllCash), 12.0, 1100.0)),
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
        let f = filled(a.execute(&c, at(0, Intent::TargetPercent(1.0), 30.0, 1000.0)));
        // 33.33 asked, 33 would cost 990 + 19.8 > 1000: the cash buys 32.68, rounded to 32.
        assert_eq!(f.size, 32.0);
        assert!(a.cash > 0.0);
    }
}
