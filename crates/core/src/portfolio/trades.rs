//! Trades of a portfolio, rebuilt from its fills as vectorbt's exit trades
//! (`get_exit_trades_nb`): a position opens with its first fill (a buy opens a long one, a
//! sale a short one); every fill the other way closes part of it as one trade whose entry
//! price is the size-weighted mean of the position's entries and whose entry fees are
//! pro-rated to the size closed. A fill larger than the position reverses it: it closes
//! the trade and opens one the other way with the rest, its fees split by size. What is
//! still held at the end is one open trade, valued at the last close.

use super::Direction;
use super::account::{Fill, Side, is_close};
use super::engine::PortfolioResult;
use crate::universe::Universe;

/// Closed, or still held at the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeStatus {
    /// Closed by a sale.
    Closed,
    /// Still held after the last bar.
    Open,
}

/// One trade of one asset.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AssetTrade {
    /// Asset index.
    pub asset: usize,
    /// Union bar of the position's first fill.
    pub entry_bar: usize,
    /// Union bar of the sale (the last bar for an open trade).
    pub exit_bar: usize,
    /// Units closed (held, for an open trade), > 0 either way.
    pub size: f64,
    /// Size-weighted mean price of the position's entries so far.
    pub entry_price: f64,
    /// Price of the closing fill (the last close for an open trade).
    pub exit_price: f64,
    /// Entry fees pro-rated to `size`.
    pub entry_fees: f64,
    /// Fees of the closing fill, its share of them when it reversed the position (0 for
    /// an open trade).
    pub exit_fees: f64,
    /// Long or short.
    pub direction: Direction,
    /// Closed or open.
    pub status: TradeStatus,
    /// Which position the trade belongs to: positions are numbered from 0 across all
    /// assets in record order (vectorbt's `PositionId`).
    pub position_id: usize,
}

impl AssetTrade {
    /// Profit net of entry and exit fees (a short trade gains when the price falls).
    pub fn pnl(&self) -> f64 {
        let entry = self.size * self.entry_price;
        let exit = self.size * self.exit_price;
        let gain = match self.direction {
            Direction::Long => exit - entry,
            Direction::Short => entry - exit,
        };
        gain - self.entry_fees - self.exit_fees
    }
    /// `pnl / (size · entry price)`.
    pub fn return_frac(&self) -> f64 {
        self.pnl() / (self.size * self.entry_price)
    }
}

/// Every trade, ordered by asset, then time (vectorbt's record order).
pub fn exit_trades(universe: &Universe, result: &PortfolioResult) -> Vec<AssetTrade> {
    let na = universe.n_assets();
    let mut by_asset: Vec<Vec<&Fill>> = vec![Vec::new(); na];
    for f in &result.fills {
        by_asset[f.asset].push(f);
    }
    let last_bar = universe.len().saturating_sub(1);
    let mut out = Vec::new();
    let mut position_id = 0usize;
    for (a, fills) in by_asset.iter().enumerate() {
        // The open position: its direction, entry bar, size, gross value and fees.
        let mut open: Option<Entries> = None;
        for f in fills {
            let Some(e) = open.as_mut() else {
                let direction = match f.side {
                    Side::Buy => Direction::Long,
                    Side::Sell => Direction::Short,
                };
                open = Some(Entries::new(direction, f.bar, f.size, f.price, f.fees));
                continue;
            };
            let adds = matches!(
                (e.direction, f.side),
                (Direction::Long, Side::Buy) | (Direction::Short, Side::Sell)
            );
            if adds {
                e.size += f.size;
                e.gross += f.size * f.price;
                e.fees += f.fees;
                continue;
            }
            let trade = |size: f64, exit_fees: f64, e: &Entries| AssetTrade {
                asset: a,
                entry_bar: e.bar,
                exit_bar: f.bar,
                size,
                entry_price: e.gross / e.size,
                exit_price: f.price,
                entry_fees: size / e.size * e.fees,
                exit_fees,
                direction: e.direction,
                status: TradeStatus::Closed,
                position_id,
            };
            if is_close(f.size, e.size) {
                out.push(trade(e.size, f.fees, e));
                open = None;
                position_id += 1;
            } else if f.size < e.size {
                out.push(trade(f.size, f.fees, e));
                // What is left keeps its share of the entries.
                let left = (e.size - f.size) / e.size;
                e.size *= left;
                e.gross *= left;
                e.fees *= left;
            } else {
                // Reversed: close all, open the rest the other way.
                let exit_fees = e.size / f.size * f.fees;
                out.push(trade(e.size, exit_fees, e));
                position_id += 1;
                let direction = match e.direction {
                    Direction::Long => Direction::Short,
                    Direction::Short => Direction::Long,
                };
                let rest = f.size - e.size;
                *e = Entries::new(direction, f.bar, rest, f.price, f.fees - exit_fees);
            }
        }
        if let Some(e) = open
            && e.size > 0.0
        {
            let closes = universe.assets()[a].bars().close();
            out.push(AssetTrade {
                asset: a,
                entry_bar: e.bar,
                exit_bar: last_bar,
                size: e.size,
                entry_price: e.gross / e.size,
                exit_price: closes[closes.len() - 1],
                entry_fees: e.fees,
                exit_fees: 0.0,
                direction: e.direction,
                status: TradeStatus::Open,
                position_id,
            });
            position_id += 1;
        }
    }
    out
}

/// The entries of an open position.
struct Entries {
    direction: Direction,
    bar: usize,
    size: f64,
    gross: f64,
    fees: f64,
}

impl Entries {
    fn new(direction: Direction, bar: usize, size: f64, price: f64, fees: f64) -> Entries {
        Entries {
            direction,
            bar,
            size,
            gross: size * price,
            fees,
        }
    }
}

/// Units held of each asset after each bar (`[asset][bar]`).
pub fn positions_per_bar(universe: &Universe, result: &PortfolioResult) -> Vec<Vec<f64>> {
    let n = universe.len();
    let mut out = vec![vec![0.0; n]; universe.n_assets()];
    let mut last = vec![(0usize, 0.0f64); universe.n_assets()];
    for f in &result.fills {
        let (from, p) = last[f.asset];
        out[f.asset][from..f.bar].fill(p);
        last[f.asset] = (f.bar, f.position_after);
    }
    for (a, (from, p)) in last.into_iter().enumerate() {
        out[a][from..n].fill(p);
    }
    out
}
