//! Trades of a portfolio, rebuilt from its fills as vectorbt's exit trades: a position
//! opens with its first buy; every sale closes part of it as one trade whose entry price
//! is the size-weighted mean of the position's buys and whose entry fees are pro-rated to
//! the size closed. What is still held at the end is one open trade, valued at the last
//! close.

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
    /// Union bar of the position's first buy.
    pub entry_bar: usize,
    /// Union bar of the sale (the last bar for an open trade).
    pub exit_bar: usize,
    /// Units closed (held, for an open trade).
    pub size: f64,
    /// Size-weighted mean price of the position's buys so far.
    pub entry_price: f64,
    /// Sale price (the last close for an open trade).
    pub exit_price: f64,
    /// Entry fees pro-rated to `size`.
    pub entry_fees: f64,
    /// Fees of the sale (0 for an open trade).
    pub exit_fees: f64,
    /// Closed or open.
    pub status: TradeStatus,
    /// Which position the trade belongs to: positions are numbered from 0 across all
    /// assets in record order (vectorbt's `PositionId`).
    pub position_id: usize,
}

impl AssetTrade {
    /// Profit net of entry and exit fees.
    pub fn pnl(&self) -> f64 {
        let entry = self.size * self.entry_price;
        let exit = self.size * self.exit_price;
        exit - entry - self.entry_fees - self.exit_fees
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
        let mut open: Option<(usize, f64, f64, f64)> = None; // entry bar, size, gross, fees
        for f in fills {
            match (f.side, open.as_mut()) {
                (Side::Buy, None) => open = Some((f.bar, f.size, f.size * f.price, f.fees)),
                (Side::Buy, Some((_, size, gross, fees))) => {
                    *size += f.size;
                    *gross += f.size * f.price;
                    *fees += f.fees;
                }
                (Side::Sell, Some((entry_bar, size, gross, fees))) => {
                    let closes_all = is_close(f.size, *size);
                    let exit_size = if closes_all { *size } else { f.size.min(*size) };
                    let entry_price = *gross / *size;
                    let entry_fees = exit_size / *size * *fees;
                    out.push(AssetTrade {
                        asset: a,
                        entry_bar: *entry_bar,
                        exit_bar: f.bar,
                        size: exit_size,
                        entry_price,
                        exit_price: f.price,
                        entry_fees,
                        exit_fees: f.fees,
                        status: TradeStatus::Closed,
                        position_id,
                    });
                    if closes_all {
                        open = None;
                        position_id += 1;
                    } else {
                        *size -= exit_size;
                        *gross -= exit_size * entry_price;
                        *fees -= entry_fees;
                    }
                }
                // Sales never exceed the position, so a sale always has one to close.
                (Side::Sell, None) => {}
            }
        }
        if let Some((entry_bar, size, gross, fees)) = open {
            let closes = universe.assets()[a].bars().close();
            out.push(AssetTrade {
                asset: a,
                entry_bar,
                exit_bar: last_bar,
                size,
                entry_price: gross / size,
                exit_price: closes[closes.len() - 1],
                entry_fees: fees,
                exit_fees: 0.0,
                status: TradeStatus::Open,
                position_id,
            });
            position_id += 1;
        }
    }
    out
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
