//! Portfolio results as JSON and CSV: the single-asset `--json` contract extended, not
//! forked. The same keys (`stats`, `trades`, `open_trades`, `equity`, `warnings`,
//! `profile`, `strategy`) mean the same things; trades gain `symbol`, and a portfolio adds
//! `orders`, `positions`, `assets` and `universe`.

use std::io::Write;
use std::path::Path;

use backtide_core::portfolio::{
    self, AssetTrade, CallSeq, FillAt, PortfolioResult, TradeStatus, stats::AssetSummary,
};
use backtide_core::stats::drawdown;
use backtide_core::{Params, Profile, TimestampNs, Universe};
use serde_json::{Map, Value, json};

use crate::error::DataError;
use crate::export::{stats_json, vbt_stats_json};
use crate::time::format_timestamp;

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// How a portfolio run was set up, for its result to say what produced it.
#[derive(Debug, Clone, Copy)]
pub struct PortfolioRunInfo<'a> {
    /// Semantics profile.
    pub profile: Profile,
    /// Fill timing.
    pub fill: FillAt,
    /// Call sequence.
    pub call_seq: CallSeq,
    /// Strategy name.
    pub strategy: &'a str,
    /// Its parameters.
    pub params: &'a Params,
}

/// The statistics of a portfolio run in the profile's dialect.
pub fn portfolio_stats_json(
    u: &Universe,
    res: &PortfolioResult,
    trades: &[AssetTrade],
    profile: Profile,
) -> Map<String, Value> {
    match profile {
        Profile::BacktestingPy => stats_json(&portfolio::stats::backtesting_py(u, res, trades)),
        Profile::Vectorbt => vbt_stats_json(&portfolio::stats::vectorbt(u, res, trades)),
    }
}

fn closed_trade_json(u: &Universe, t: &AssetTrade) -> Value {
    let time = u.time();
    json!({
        "symbol": u.assets()[t.asset].symbol(),
        "entry_bar": t.entry_bar,
        "exit_bar": t.exit_bar,
        "entry_time": format_timestamp(time[t.entry_bar]),
        "exit_time": format_timestamp(time[t.exit_bar]),
        "size": num(t.size),
        "entry_price": num(t.entry_price),
        "exit_price": num(t.exit_price),
        "sl": Value::Null,
        "tp": Value::Null,
        "pnl": num(t.pnl()),
        "return": num(t.return_frac()),
        "commission": num(t.entry_fees + t.exit_fees),
        "entry_fees": num(t.entry_fees),
        "exit_fees": num(t.exit_fees),
        "duration_s": num((time[t.exit_bar] - time[t.entry_bar]) as f64 / 1e9),
        "tag": Value::Null,
    })
}

fn open_trade_json(u: &Universe, t: &AssetTrade) -> Value {
    json!({
        "symbol": u.assets()[t.asset].symbol(),
        "entry_bar": t.entry_bar,
        "entry_time": format_timestamp(u.time()[t.entry_bar]),
        "size": num(t.size),
        "entry_price": num(t.entry_price),
        "sl": Value::Null,
        "tp": Value::Null,
        "tag": Value::Null,
        "entry_fees": num(t.entry_fees),
        "last_price": num(t.exit_price),
        "pnl": num(t.pnl()),
    })
}

/// One row of the per-asset table.
pub fn asset_summary_json(a: &AssetSummary) -> Value {
    json!({
        "symbol": a.symbol,
        "trades": a.trades,
        "orders": a.orders,
        "exposure_pct": num(a.exposure_pct),
        "pnl": num(a.pnl),
        "contribution_pct": num(a.contribution_pct),
        "final_weight_pct": num(a.final_weight_pct),
    })
}

/// A complete portfolio backtest as `backtide run --json` prints it: the single-asset
/// keys plus `orders` (bar, time, symbol, side, size, price, fees), `positions` (units
/// held after each bar, per symbol, aligned with `equity`), `assets` (the per-asset table)
/// and `universe` (symbols, fill timing, call sequence). Equity rows carry `cash` too.
pub fn portfolio_json(u: &Universe, res: &PortfolioResult, run: PortfolioRunInfo<'_>) -> Value {
    let trades = portfolio::exit_trades(u, res);
    let time = u.time();
    let dd = drawdown(&res.value);
    let equity: Vec<Value> = (0..u.len())
        .map(|i| {
            json!({"time": format_timestamp(time[i]), "equity": num(res.value[i]),
                   "drawdown": num(dd[i]), "cash": num(res.cash[i])})
        })
        .collect();
    let orders: Vec<Value> = res
        .fills
        .iter()
        .map(|f| {
            json!({"bar": f.bar, "time": format_timestamp(time[f.bar]),
                   "symbol": u.assets()[f.asset].symbol(), "side": f.side.name(),
                   "size": num(f.size), "price": num(f.price), "fees": num(f.fees)})
        })
        .collect();
    let positions: Map<String, Value> = u
        .symbols()
        .zip(portfolio::positions_per_bar(u, res))
        .map(|(s, p)| {
            (
                s.to_string(),
                Value::Array(p.into_iter().map(num).collect()),
            )
        })
        .collect();
    let warnings: Vec<String> = res
        .rejected
        .iter()
        .filter(|r| r.reason.is_refusal())
        .map(|r| {
            format!(
                "{} {}: order not filled ({})",
                format_timestamp(time[r.bar]),
                u.assets()[r.asset].symbol(),
                r.reason.label()
            )
        })
        .collect();
    json!({
        "stats": portfolio_stats_json(u, res, &trades, run.profile),
        "trades": trades.iter().filter(|t| t.status == TradeStatus::Closed)
            .map(|t| closed_trade_json(u, t)).collect::<Vec<_>>(),
        "open_trades": trades.iter().filter(|t| t.status == TradeStatus::Open)
            .map(|t| open_trade_json(u, t)).collect::<Vec<_>>(),
        "equity": equity,
        "warnings": warnings,
        "orders": orders,
        "positions": positions,
        "assets": portfolio::stats::per_asset(u, res, &trades).iter()
            .map(asset_summary_json).collect::<Vec<_>>(),
        "universe": {
            "symbols": u.symbols().collect::<Vec<_>>(),
            "fill": run.fill.name(),
            "call_seq": run.call_seq.name(),
        },
        "profile": run.profile.name(),
        "strategy": {"name": run.strategy, "params": run.params},
    })
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.into(),
        source,
    }
}

/// Writes a portfolio's closed trades as CSV (atomically): the single-asset columns with
/// `symbol` first.
pub fn write_portfolio_trades_csv(
    u: &Universe,
    res: &PortfolioResult,
    path: &Path,
) -> Result<(), DataError> {
    let trades = portfolio::exit_trades(u, res);
    crate::atomic::write_with(path, |w| {
        let e = io(path);
        writeln!(w, "symbol,entry_bar,exit_bar,entry_time,exit_time,size,entry_price,exit_price,sl,tp,pnl,return,commission,duration_s,tag").map_err(&e)?;
        let time = u.time();
        for t in trades.iter().filter(|t| t.status == TradeStatus::Closed) {
            writeln!(
                w,
                "{},{},{},{},{},{},{},{},,,{},{},{},{},",
                crate::export::csv_quote(u.assets()[t.asset].symbol()),
                t.entry_bar,
                t.exit_bar,
                format_timestamp(time[t.entry_bar]),
                format_timestamp(time[t.exit_bar]),
                t.size,
                t.entry_price,
                t.exit_price,
                t.pnl(),
                t.return_frac(),
                t.entry_fees + t.exit_fees,
                (time[t.exit_bar] - time[t.entry_bar]) as f64 / 1e9,
            )
            .map_err(&e)?;
        }
        Ok(())
    })
}

/// Writes a portfolio's orders as CSV (atomically): `bar,time,symbol,side,size,price,fees`.
pub fn write_orders_csv(u: &Universe, res: &PortfolioResult, path: &Path) -> Result<(), DataError> {
    crate::atomic::write_with(path, |w| {
        let e = io(path);
        writeln!(w, "bar,time,symbol,side,size,price,fees").map_err(&e)?;
        for f in &res.fills {
            writeln!(
                w,
                "{},{},{},{},{},{},{}",
                f.bar,
                format_timestamp(u.time()[f.bar]),
                crate::export::csv_quote(u.assets()[f.asset].symbol()),
                f.side.name(),
                f.size,
                f.price,
                f.fees
            )
            .map_err(&e)?;
        }
        Ok(())
    })
}

/// Writes per-bar value, drawdown and cash as CSV (atomically): the single-asset equity
/// columns plus `cash`.
pub fn write_portfolio_equity_csv(
    time: &[TimestampNs],
    res: &PortfolioResult,
    path: &Path,
) -> Result<(), DataError> {
    crate::atomic::write_with(path, |w| {
        let e = io(path);
        writeln!(w, "time,equity,drawdown,cash").map_err(&e)?;
        for (((&t, &v), d), c) in time
            .iter()
            .zip(&res.value)
            .zip(drawdown(&res.value))
            .zip(&res.cash)
        {
            writeln!(w, "{},{},{},{}", format_timestamp(t), v, d, c).map_err(&e)?;
        }
        Ok(())
    })
}

/// Writes the document of [`portfolio_json`] to `w` as it goes, byte for byte the same as
/// `serde_json::to_string(&portfolio_json(…))`: rows, orders and positions are written one
/// at a time, so memory stays at the result's own columns.
pub fn write_portfolio_json<W: Write>(
    w: W,
    u: &Universe,
    res: &PortfolioResult,
    run: PortfolioRunInfo<'_>,
) -> Result<(), DataError> {
    write_portfolio_json_with(w, u, res, run, &[])
}

/// [`write_portfolio_json`] with more keys after the contract's (`benchmark`,
/// [`benchmark_json`](crate::benchmark_json)).
pub fn write_portfolio_json_with<W: Write>(
    w: W,
    u: &Universe,
    res: &PortfolioResult,
    run: PortfolioRunInfo<'_>,
    extra: &[(&str, &Value)],
) -> Result<(), DataError> {
    let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
    let path = || std::path::PathBuf::from("<output>");
    let e = |source| DataError::Io {
        path: path(),
        source,
    };
    let js = |e: serde_json::Error| DataError::Io {
        path: path(),
        source: e.into(),
    };
    let trades = portfolio::exit_trades(u, res);
    let time = u.time();
    let mut f = crate::export::JsonFloat::default();
    let mut row: Vec<u8> = Vec::with_capacity(256);
    // `[a,b,…]` of `items`, each written by `one`.
    macro_rules! array {
        ($items:expr, |$x:ident| $one:expr) => {{
            w.write_all(b"[").map_err(e)?;
            for (i, $x) in $items.enumerate() {
                if i > 0 {
                    w.write_all(b",").map_err(e)?;
                }
                $one;
            }
            w.write_all(b"]").map_err(e)?;
        }};
    }
    w.write_all(b"{\"stats\":").map_err(e)?;
    serde_json::to_writer(&mut w, &portfolio_stats_json(u, res, &trades, run.profile))
        .map_err(js)?;
    w.write_all(b",\"trades\":").map_err(e)?;
    array!(
        trades.iter().filter(|t| t.status == TradeStatus::Closed),
        |t| { serde_json::to_writer(&mut w, &closed_trade_json(u, t)).map_err(js)? }
    );
    w.write_all(b",\"open_trades\":").map_err(e)?;
    array!(
        trades.iter().filter(|t| t.status == TradeStatus::Open),
        |t| { serde_json::to_writer(&mut w, &open_trade_json(u, t)).map_err(js)? }
    );
    w.write_all(b",\"equity\":").map_err(e)?;
    let dd = drawdown(&res.value);
    array!(0..u.len(), |i| {
        row.clear();
        row.extend_from_slice(b"{\"time\":\"");
        crate::time::push_timestamp(&mut row, time[i]);
        row.extend_from_slice(b"\",\"equity\":");
        f.push(&mut row, res.value[i]);
        row.extend_from_slice(b",\"drawdown\":");
        f.push(&mut row, dd[i]);
        row.extend_from_slice(b",\"cash\":");
        f.push(&mut row, res.cash[i]);
        row.push(b'}');
        w.write_all(&row).map_err(e)?
    });
    w.write_all(b",\"warnings\":").map_err(e)?;
    array!(res.rejected.iter().filter(|r| r.reason.is_refusal()), |r| {
        let text = format!(
            "{} {}: order not filled ({})",
            format_timestamp(time[r.bar]),
            u.assets()[r.asset].symbol(),
            r.reason.label()
        );
        serde_json::to_writer(&mut w, &text).map_err(js)?
    });
    w.write_all(b",\"orders\":").map_err(e)?;
    array!(res.fills.iter(), |o| {
        row.clear();
        row.extend_from_slice(b"{\"bar\":");
        row.extend_from_slice(o.bar.to_string().as_bytes());
        row.extend_from_slice(b",\"time\":\"");
        crate::time::push_timestamp(&mut row, time[o.bar]);
        row.extend_from_slice(b"\",\"symbol\":");
        serde_json::to_writer(&mut row, u.assets()[o.asset].symbol()).map_err(js)?;
        row.extend_from_slice(b",\"side\":\"");
        row.extend_from_slice(o.side.name().as_bytes());
        row.extend_from_slice(b"\",\"size\":");
        f.push(&mut row, o.size);
        row.extend_from_slice(b",\"price\":");
        f.push(&mut row, o.price);
        row.extend_from_slice(b",\"fees\":");
        f.push(&mut row, o.fees);
        row.push(b'}');
        w.write_all(&row).map_err(e)?
    });
    w.write_all(b",\"positions\":{").map_err(e)?;
    for (k, (symbol, held)) in u
        .symbols()
        .zip(portfolio::positions_per_bar(u, res))
        .enumerate()
    {
        if k > 0 {
            w.write_all(b",").map_err(e)?;
        }
        serde_json::to_writer(&mut w, symbol).map_err(js)?;
        w.write_all(b":").map_err(e)?;
        array!(held.iter(), |x| {
            row.clear();
            f.push(&mut row, *x);
            w.write_all(&row).map_err(e)?
        });
    }
    w.write_all(b"},\"assets\":").map_err(e)?;
    let assets: Vec<Value> = portfolio::stats::per_asset(u, res, &trades)
        .iter()
        .map(asset_summary_json)
        .collect();
    serde_json::to_writer(&mut w, &assets).map_err(js)?;
    w.write_all(b",\"universe\":").map_err(e)?;
    let universe = json!({
        "symbols": u.symbols().collect::<Vec<_>>(),
        "fill": run.fill.name(),
        "call_seq": run.call_seq.name(),
    });
    serde_json::to_writer(&mut w, &universe).map_err(js)?;
    w.write_all(b",\"profile\":").map_err(e)?;
    serde_json::to_writer(&mut w, run.profile.name()).map_err(js)?;
    w.write_all(b",\"strategy\":").map_err(e)?;
    serde_json::to_writer(&mut w, &json!({"name": run.strategy, "params": run.params}))
        .map_err(js)?;
    for (k, v) in extra {
        w.write_all(b",").map_err(e)?;
        serde_json::to_writer(&mut w, k).map_err(js)?;
        w.write_all(b":").map_err(e)?;
        serde_json::to_writer(&mut w, v).map_err(js)?;
    }
    w.write_all(b"}").map_err(e)?;
    w.flush().map_err(e)
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtide_core::portfolio::{PortfolioConfig, builtin};

    /// The streamed portfolio `--json` is the document's bytes: fills at the close and at
    /// the next open, whole and fractional units, rejected orders (warnings), open trades.
    #[test]
    fn the_streamed_portfolio_json_is_the_documents_bytes() {
        let u = crate::load_universe(&["sample:STOCKS"]).unwrap();
        type Case = (
            &'static str,
            &'static [(&'static str, &'static str)],
            Profile,
            CallSeq,
        );
        let cases: [Case; 4] = [
            ("equal_weight", &[], Profile::Vectorbt, CallSeq::Auto),
            (
                "momentum_rotation",
                &[("top", "3")],
                Profile::BacktestingPy,
                CallSeq::Auto,
            ),
            (
                "sma_cross",
                &[("fast", "20"), ("slow", "50")],
                Profile::Vectorbt,
                CallSeq::Default,
            ),
            (
                "inverse_volatility",
                &[],
                Profile::BacktestingPy,
                CallSeq::Default,
            ),
        ];
        for (name, pairs, profile, call_seq) in cases {
            let info = builtin::find(name).unwrap();
            let params = Params::from_pairs(&info.params, pairs.iter().copied()).unwrap();
            let broker = profile
                .configure(backtide_core::BrokerConfig {
                    commission: backtide_core::Commission::Relative(0.002),
                    ..backtide_core::BrokerConfig::default()
                })
                .unwrap();
            let cfg = PortfolioConfig::from_broker(&broker, profile, None, call_seq).unwrap();
            let res = portfolio::run(&u, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
            let run = PortfolioRunInfo {
                profile,
                fill: cfg.fill,
                call_seq,
                strategy: name,
                params: &params,
            };
            let want = serde_json::to_string(&portfolio_json(&u, &res, run)).unwrap();
            let mut got = Vec::new();
            write_portfolio_json(&mut got, &u, &res, run).unwrap();
            assert!(got == want.as_bytes(), "{name}: streamed JSON differs");
            if call_seq == CallSeq::Default && name == "sma_cross" {
                assert!(!res.rejected.is_empty(), "the case covers warnings");
            }
        }
    }
}
