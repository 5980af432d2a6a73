//! Result exports: the `--json` contract, trades CSV and equity CSV.
//!
//! The JSON shape is a public contract (the CLI's `--json`, the service's results):
//! statistic keys follow backtesting.py's names mapped to snake case
//! (`shared/reference/backtesting-py.md`), NaN is `null`, timestamps are ISO 8601 and
//! durations are seconds.

use std::io::Write;
use std::path::Path;

use backtide_core::{Bars, ClosedTrade, OpenTrade, RunResult, Stats, stats::drawdown};
use serde_json::{Map, Value, json};

use crate::error::DataError;
use crate::time::format_timestamp;

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

fn secs(ns: Option<i64>) -> Value {
    ns.map_or(Value::Null, |v| num(v as f64 / 1e9))
}

fn opt(x: Option<f64>) -> Value {
    x.map_or(Value::Null, num)
}

/// The statistics as a JSON object, in backtesting.py's order.
pub fn stats_json(s: &Stats) -> Map<String, Value> {
    let mut m = Map::new();
    let mut put = |k: &str, v: Value| {
        m.insert(k.to_string(), v);
    };
    put("start", Value::String(format_timestamp(s.start)));
    put("end", Value::String(format_timestamp(s.end)));
    put("duration_s", num(s.duration as f64 / 1e9));
    put("exposure_time_pct", num(s.exposure_time_pct));
    put("equity_final", num(s.equity_final));
    put("equity_peak", num(s.equity_peak));
    put("commissions", num(s.commissions));
    put("return_pct", num(s.return_pct));
    put("buy_and_hold_return_pct", num(s.buy_and_hold_return_pct));
    put("return_ann_pct", num(s.return_ann_pct));
    put("volatility_ann_pct", num(s.volatility_ann_pct));
    put("cagr_pct", num(s.cagr_pct));
    put("sharpe_ratio", num(s.sharpe_ratio));
    put("sortino_ratio", num(s.sortino_ratio));
    put("calmar_ratio", num(s.calmar_ratio));
    put("alpha_pct", num(s.alpha_pct));
    put("beta", num(s.beta));
    put("max_drawdown_pct", num(s.max_drawdown_pct));
    put("avg_drawdown_pct", num(s.avg_drawdown_pct));
    put("max_drawdown_duration_s", secs(s.max_drawdown_duration));
    put("avg_drawdown_duration_s", secs(s.avg_drawdown_duration));
    put("num_trades", json!(s.num_trades));
    put("win_rate_pct", num(s.win_rate_pct));
    put("best_trade_pct", num(s.best_trade_pct));
    put("worst_trade_pct", num(s.worst_trade_pct));
    put("avg_trade_pct", num(s.avg_trade_pct));
    put("max_trade_duration_s", secs(s.max_trade_duration));
    put("avg_trade_duration_s", secs(s.avg_trade_duration));
    put("profit_factor", num(s.profit_factor));
    put("expectancy_pct", num(s.expectancy_pct));
    put("sqn", num(s.sqn));
    put("kelly_criterion", num(s.kelly_criterion));
    m
}

/// One closed trade as JSON.
pub fn trade_json(bars: &Bars, t: &ClosedTrade) -> Value {
    let time = bars.time();
    json!({
        "entry_bar": t.entry_bar,
        "exit_bar": t.exit_bar,
        "entry_time": format_timestamp(time[t.entry_bar]),
        "exit_time": format_timestamp(time[t.exit_bar]),
        "size": num(t.size),
        "entry_price": num(t.entry_price),
        "exit_price": num(t.exit_price),
        "sl": opt(t.sl),
        "tp": opt(t.tp),
        "pnl": num(t.pnl()),
        "return": num(t.return_frac()),
        "commission": num(t.commission),
        "duration_s": num((time[t.exit_bar] - time[t.entry_bar]) as f64 / 1e9),
        "tag": t.tag,
    })
}

fn open_trade_json(bars: &Bars, t: &OpenTrade) -> Value {
    json!({
        "entry_bar": t.entry_bar,
        "entry_time": format_timestamp(bars.time()[t.entry_bar]),
        "size": num(t.size),
        "entry_price": num(t.entry_price),
        "sl": opt(t.sl),
        "tp": opt(t.tp),
        "tag": t.tag,
    })
}

/// The whole result: `{"stats", "trades", "open_trades", "equity", "warnings"}`; equity
/// rows are `{"time", "equity", "drawdown"}` with the drawdown as a fraction below the peak.
pub fn result_json(bars: &Bars, run: &RunResult, stats: &Stats) -> Value {
    let dd = drawdown(&run.equity);
    let equity: Vec<Value> = bars
        .time()
        .iter()
        .zip(&run.equity)
        .zip(&dd)
        .map(|((&t, &e), &d)| json!({"time": format_timestamp(t), "equity": num(e), "drawdown": num(d)}))
        .collect();
    json!({
        "stats": stats_json(stats),
        "trades": run.trades.iter().map(|t| trade_json(bars, t)).collect::<Vec<_>>(),
        "open_trades": run.open_trades.iter().map(|t| open_trade_json(bars, t)).collect::<Vec<_>>(),
        "equity": equity,
        "warnings": run.warnings,
    })
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> DataError + '_ {
    move |source| DataError::Io {
        path: path.into(),
        source,
    }
}

fn cell(x: Option<f64>) -> String {
    x.map_or(String::new(), |v| {
        if v.is_nan() {
            String::new()
        } else {
            format!("{v}")
        }
    })
}

/// Writes closed trades as CSV (atomically), columns as the JSON trade fields.
pub fn write_trades_csv(bars: &Bars, trades: &[ClosedTrade], path: &Path) -> Result<(), DataError> {
    crate::atomic::write_with(path, |w| {
        let e = io(path);
        writeln!(w, "entry_bar,exit_bar,entry_time,exit_time,size,entry_price,exit_price,sl,tp,pnl,return,commission,duration_s,tag").map_err(&e)?;
        let time = bars.time();
        for t in trades {
            writeln!(
                w,
                "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                t.entry_bar,
                t.exit_bar,
                format_timestamp(time[t.entry_bar]),
                format_timestamp(time[t.exit_bar]),
                t.size,
                t.entry_price,
                t.exit_price,
                cell(t.sl),
                cell(t.tp),
                t.pnl(),
                t.return_frac(),
                t.commission,
                (time[t.exit_bar] - time[t.entry_bar]) as f64 / 1e9,
                t.tag.as_deref().map(csv_quote).unwrap_or_default()
            )
            .map_err(&e)?;
        }
        Ok(())
    })
}

fn csv_quote(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Writes per-bar equity and drawdown (fraction) as CSV (atomically).
pub fn write_equity_csv(bars: &Bars, equity: &[f64], path: &Path) -> Result<(), DataError> {
    crate::atomic::write_with(path, |w| {
        let e = io(path);
        writeln!(w, "time,equity,drawdown").map_err(&e)?;
        for ((&t, &v), d) in bars.time().iter().zip(equity).zip(drawdown(equity)) {
            writeln!(w, "{},{},{}", format_timestamp(t), v, d).map_err(&e)?;
        }
        Ok(())
    })
}
