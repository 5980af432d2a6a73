//! Result exports: the `--json` contract, trades CSV and equity CSV.
//!
//! The JSON shape is a public contract (the CLI's `--json`, the service's results):
//! statistic keys follow backtesting.py's names mapped to snake case
//! (`shared/reference/backtesting-py.md`), NaN is `null`, timestamps are ISO 8601 and
//! durations are seconds.

use std::io::Write;
use std::path::Path;

use backtide_core::stats::{StatValue, drawdown};
use backtide_core::{
    Bars, BrokerConfig, ClosedTrade, OpenTrade, Params, Profile, RunResult, Stats,
};
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

/// One statistic as JSON: times ISO 8601, durations in seconds, NaN as `null`.
pub fn stat_json(v: StatValue) -> Value {
    match v {
        StatValue::Time(t) => Value::String(format_timestamp(t)),
        StatValue::Num(x) => num(x),
        StatValue::Duration(d) => secs(d),
        StatValue::Count(c) => json!(c),
    }
}

/// The statistics as a JSON object, in backtesting.py's order.
pub fn stats_json(s: &Stats) -> Map<String, Value> {
    s.entries()
        .into_iter()
        .map(|(k, v)| (k.to_string(), stat_json(v)))
        .collect()
}

/// vectorbt-dialect statistics as a JSON object, in vectorbt's order.
pub fn vbt_stats_json(s: &backtide_core::stats::VbtStats) -> Map<String, Value> {
    s.entries()
        .into_iter()
        .map(|(k, v)| (k.to_string(), stat_json(v)))
        .collect()
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

/// The statistics of a run in the profile's dialect, as in `backtest_json`'s `stats`
/// (without building the per-bar parts).
pub fn profile_stats_json(
    bars: &Bars,
    run: &RunResult,
    cfg: &BrokerConfig,
    profile: Profile,
) -> Map<String, Value> {
    match profile {
        Profile::BacktestingPy => stats_json(&backtide_core::stats::compute(bars, run)),
        Profile::Vectorbt => {
            vbt_stats_json(&backtide_core::stats::compute_vectorbt(bars, run, cfg))
        }
    }
}

/// A complete backtest as `backtide run --json` prints it and the service stores it:
/// [`result_json`] with the stats in the profile's dialect, plus `profile` and
/// `strategy` (`{"name", "params"}`) so a result says what produced it.
pub fn backtest_json(
    bars: &Bars,
    run: &RunResult,
    cfg: &BrokerConfig,
    profile: Profile,
    strategy: &str,
    params: &Params,
) -> Value {
    let mut v = result_json(bars, run, &backtide_core::stats::compute(bars, run));
    if profile == Profile::Vectorbt {
        v["stats"] = Value::Object(profile_stats_json(bars, run, cfg, profile));
    }
    v["profile"] = json!(profile.name());
    v["strategy"] = json!({"name": strategy, "params": params});
    v
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

pub(crate) fn csv_quote(s: &str) -> String {
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
