//! Result exports: the `--json` contract, trades CSV and equity CSV.
//!
//! The JSON shape is a public contract (the CLI's `--json`, the service's results):
//! statistic keys follow backtesting.py's names mapped to snake case
//! (`shared/reference/backtesting-py.md`), NaN is `null`, timestamps are ISO 8601 and
//! durations are seconds.

use std::io::Write;
use std::path::Path;

use backtide_core::stats::{StatValue, StatsContext, drawdown};
use backtide_core::{
    Bars, BrokerConfig, ClosedTrade, OpenTrade, Params, Profile, RunResult, Stats,
};
use serde_json::{Map, Value, json};

use crate::error::DataError;
use crate::time::format_timestamp;

fn num(x: f64) -> Value {
    serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
}

/// A run's `benchmark` block: what the benchmark was, how its rows met the bars, and the
/// statistics against it (NaN as `null`).
pub fn benchmark_json(
    name: &str,
    aligned: &backtide_core::stats::AlignedBenchmark,
    stats: &backtide_core::stats::BenchmarkStats,
) -> Value {
    let s: Map<String, Value> = stats
        .entries()
        .into_iter()
        .map(|(k, _, v)| (k.to_string(), num(v)))
        .collect();
    json!({
        "name": name,
        "bars": aligned.close().len(),
        "bars_filled": aligned.filled(),
        "stats": s,
    })
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

/// [`profile_stats_json`] with the bar-only context worked out already (from `bars`).
pub fn profile_stats_json_with(
    ctx: &StatsContext,
    bars: &Bars,
    run: &RunResult,
    cfg: &BrokerConfig,
    profile: Profile,
) -> Map<String, Value> {
    match profile {
        Profile::BacktestingPy => stats_json(&backtide_core::stats::compute_with(
            ctx,
            bars,
            &run.trades,
            &run.equity,
            run.warmup,
        )),
        Profile::Vectorbt => vbt_stats_json(&backtide_core::stats::compute_vectorbt_with(
            ctx, bars, run, cfg,
        )),
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
        // One reused row buffer; timestamps without chrono (the same text).
        let mut row = Vec::with_capacity(64);
        for ((&t, &v), d) in bars.time().iter().zip(equity).zip(drawdown(equity)) {
            row.clear();
            crate::time::push_timestamp(&mut row, t);
            write!(row, ",{v},{d}").map_err(&e)?;
            row.push(b'\n');
            w.write_all(&row).map_err(&e)?;
        }
        Ok(())
    })
}

/// Writes the document of [`backtest_json`] to `w` as it goes, byte for byte the same as
/// `serde_json::to_string(&backtest_json(…))`, without building it: the per-bar equity rows
/// (the bulk of a long run) and the trades are written one at a time through a buffer, so
/// memory stays at the result's own columns whatever the run's length.
pub fn write_backtest_json<W: Write>(
    w: W,
    bars: &Bars,
    run: &RunResult,
    cfg: &BrokerConfig,
    profile: Profile,
    strategy: &str,
    params: &Params,
) -> Result<(), DataError> {
    write_backtest_doc(
        w,
        &BacktestDoc {
            bars,
            run,
            cfg,
            profile,
            strategy,
            params,
            extra: &[],
            ctx: None,
        },
    )
}

/// What [`write_backtest_doc`] writes: a backtest and how it was run.
pub struct BacktestDoc<'a> {
    /// The bars it ran on.
    pub bars: &'a Bars,
    /// Its result.
    pub run: &'a RunResult,
    /// The broker settings.
    pub cfg: &'a BrokerConfig,
    /// The statistics' dialect.
    pub profile: Profile,
    /// The strategy's name.
    pub strategy: &'a str,
    /// Its parameters.
    pub params: &'a Params,
    /// More keys after the contract's: `data` (what the data read chose,
    /// [`ReadReport::to_json`](crate::ReadReport::to_json)) and `benchmark`
    /// ([`benchmark_json`]).
    pub extra: &'a [(&'a str, &'a Value)],
    /// The statistics' bar-only part, when the caller worked it out already (on another
    /// core while the engine ran); it must come from `bars`.
    pub ctx: Option<&'a StatsContext>,
}

/// [`write_backtest_json`] with the extra keys and context of `doc`; without extra keys the
/// bytes are [`write_backtest_json`]'s.
pub fn write_backtest_doc<W: Write>(w: W, doc: &BacktestDoc<'_>) -> Result<(), DataError> {
    let BacktestDoc {
        bars,
        run,
        cfg,
        profile,
        strategy,
        params,
        extra,
        ctx,
    } = *doc;
    let mut w = std::io::BufWriter::with_capacity(1 << 16, w);
    let e = |source| DataError::Io {
        path: "<output>".into(),
        source,
    };
    let js = |e: serde_json::Error| DataError::Io {
        path: "<output>".into(),
        source: e.into(),
    };
    let time = bars.time();
    // Three parts format at once: the closed trades (on a thread of their own, into one
    // buffer), the equity rows (blocks on every core, a bounded queue ahead of the writer)
    // and the statistics (here); they are written in the document's order. A block of 4,096
    // rows is about 0.4 MB, so the buffers in flight stay in the caches and their pages are
    // few: 32,768-row blocks (4 MB each, ten or so in flight) cost 6,000 more page faults and
    // 20 MB more peak memory for the same bytes.
    const BLOCK: usize = 1 << 12;
    let n = run.equity.len().min(time.len());
    // Drawdown is worked out per row as `stats::drawdown` does (the same operations, the
    // same bits) from the running peak at each block's start, never as a whole column.
    let peaks: Vec<f64> = run.equity[..n]
        .chunks(BLOCK)
        .scan(f64::NEG_INFINITY, |peak, block| {
            let at_start = *peak;
            *peak = block.iter().fold(*peak, |p, &e| p.max(e));
            Some(at_start)
        })
        .collect();
    // A written block's buffer goes back to `pool` for a later block: no fresh pages for
    // each block.
    let pool = std::sync::Mutex::new(Vec::<Vec<u8>>::new());
    let rows = |r: std::ops::Range<usize>| {
        // A row is at most about 110 bytes (a 19-byte time, two 17-digit numbers).
        let mut out = pool
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pop()
            .unwrap_or_default();
        out.clear();
        out.reserve(r.len() * 120);
        let mut f = JsonFloat::default();
        let mut stamp = crate::time::TimestampWriter::default();
        let mut peak = peaks[r.start / BLOCK];
        for i in r {
            if i > 0 {
                out.push(b',');
            }
            let e = run.equity[i];
            peak = peak.max(e);
            out.extend_from_slice(b"{\"time\":\"");
            stamp.push(&mut out, time[i]);
            out.extend_from_slice(b"\",\"equity\":");
            f.push(&mut out, e);
            out.extend_from_slice(b",\"drawdown\":");
            f.push(&mut out, 1.0 - e / peak);
            out.push(b'}');
        }
        out
    };
    let threads = std::thread::available_parallelism()
        .map_or(1, |t| t.get())
        .clamp(1, 8);
    std::thread::scope(|scope| -> Result<(), DataError> {
        let trades = scope.spawn(|| trades_text(bars, &run.trades));
        // Worker `j` formats blocks j, j + threads, … into a queue of its own, and the
        // writer takes block k from queue k % threads: the blocks stay in order, and no
        // worker waits for another. The queues let the workers run ahead while the
        // statistics and trades are written (a bounded amount: QUEUED blocks each).
        const QUEUED: usize = 8;
        let blocks = n.div_ceil(BLOCK);
        let rows = &rows;
        let queues: Vec<std::sync::mpsc::Receiver<Vec<u8>>> = (0..threads)
            .map(|j| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(QUEUED);
                scope.spawn(move || {
                    for k in (j..blocks).step_by(threads) {
                        let from = k * BLOCK;
                        // The writer stopped (an I/O error): nothing more to do.
                        if tx.send(rows(from..(from + BLOCK).min(n))).is_err() {
                            return;
                        }
                    }
                });
                rx
            })
            .collect();
        w.write_all(b"{\"stats\":").map_err(e)?;
        let stats = match ctx {
            Some(ctx) => profile_stats_json_with(ctx, bars, run, cfg, profile),
            None => profile_stats_json(bars, run, cfg, profile),
        };
        serde_json::to_writer(&mut w, &stats).map_err(js)?;
        w.write_all(b",\"trades\":[").map_err(e)?;
        let trades = trades
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
            .map_err(js)?;
        w.write_all(&trades).map_err(e)?;
        drop(trades);
        w.write_all(b"],\"open_trades\":[").map_err(e)?;
        for (i, t) in run.open_trades.iter().enumerate() {
            if i > 0 {
                w.write_all(b",").map_err(e)?;
            }
            serde_json::to_writer(&mut w, &open_trade_json(bars, t)).map_err(js)?;
        }
        w.write_all(b"],\"equity\":[").map_err(e)?;
        for k in 0..blocks {
            let Ok(b) = queues[k % threads].recv() else {
                // A worker panicked: its panic is raised when the scope ends.
                break;
            };
            w.write_all(&b).map_err(e)?;
            pool.lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .push(b);
        }
        Ok(())
    })?;
    w.write_all(b"],\"warnings\":").map_err(e)?;
    serde_json::to_writer(&mut w, &run.warnings).map_err(js)?;
    w.write_all(b",\"profile\":").map_err(e)?;
    serde_json::to_writer(&mut w, profile.name()).map_err(js)?;
    w.write_all(b",\"strategy\":").map_err(e)?;
    serde_json::to_writer(&mut w, &json!({"name": strategy, "params": params})).map_err(js)?;
    for (k, v) in extra {
        w.write_all(b",").map_err(e)?;
        serde_json::to_writer(&mut w, k).map_err(js)?;
        w.write_all(b":").map_err(e)?;
        serde_json::to_writer(&mut w, v).map_err(js)?;
    }
    w.write_all(b"}").map_err(e)?;
    w.flush().map_err(e)
}

/// The closed trades as `--json` writes them (the fields of [`trade_json`], in its order,
/// written directly), comma-separated.
fn trades_text(bars: &Bars, trades: &[ClosedTrade]) -> Result<Vec<u8>, serde_json::Error> {
    let mut row = Vec::with_capacity(trades.len() * 300);
    let mut f = JsonFloat::default();
    let mut int = itoa::Buffer::new();
    // Exit times ascend (trades are in closing order) and entry times nearly do: each
    // keeps its own day cached.
    let mut entry_stamp = crate::time::TimestampWriter::default();
    let mut exit_stamp = crate::time::TimestampWriter::default();
    let time = bars.time();
    for (i, t) in trades.iter().enumerate() {
        if i > 0 {
            row.push(b',');
        }
        row.extend_from_slice(b"{\"entry_bar\":");
        row.extend_from_slice(int.format(t.entry_bar).as_bytes());
        row.extend_from_slice(b",\"exit_bar\":");
        row.extend_from_slice(int.format(t.exit_bar).as_bytes());
        row.extend_from_slice(b",\"entry_time\":\"");
        entry_stamp.push(&mut row, time[t.entry_bar]);
        row.extend_from_slice(b"\",\"exit_time\":\"");
        exit_stamp.push(&mut row, time[t.exit_bar]);
        row.extend_from_slice(b"\",\"size\":");
        f.push(&mut row, t.size);
        row.extend_from_slice(b",\"entry_price\":");
        f.push(&mut row, t.entry_price);
        row.extend_from_slice(b",\"exit_price\":");
        f.push(&mut row, t.exit_price);
        row.extend_from_slice(b",\"sl\":");
        f.push(&mut row, t.sl.unwrap_or(f64::NAN));
        row.extend_from_slice(b",\"tp\":");
        f.push(&mut row, t.tp.unwrap_or(f64::NAN));
        row.extend_from_slice(b",\"pnl\":");
        f.push(&mut row, t.pnl());
        row.extend_from_slice(b",\"return\":");
        f.push(&mut row, t.return_frac());
        row.extend_from_slice(b",\"commission\":");
        f.push(&mut row, t.commission);
        row.extend_from_slice(b",\"duration_s\":");
        f.push(
            &mut row,
            (time[t.exit_bar] - time[t.entry_bar]) as f64 / 1e9,
        );
        row.extend_from_slice(b",\"tag\":");
        match &t.tag {
            Some(tag) => serde_json::to_writer(&mut row, tag)?,
            None => row.extend_from_slice(b"null"),
        }
        row.push(b'}');
    }
    Ok(row)
}

/// Floats as the JSON contract has always written them (ryu's shortest text, as serde_json
/// did), `null` for NaN and infinities (which `num` maps to `null` in the document form).
///
/// The digits come from zmij, twice as fast as ryu here and the same shortest digits; it
/// writes a positive exponent as `e+16` where ryu wrote `e16`, so the `+` is taken out.
#[derive(Default)]
pub(crate) struct JsonFloat(zmij::Buffer);

impl JsonFloat {
    #[inline]
    pub(crate) fn push(&mut self, out: &mut Vec<u8>, x: f64) {
        if !x.is_finite() {
            out.extend_from_slice(b"null");
            return;
        }
        let s = self.0.format_finite(x).as_bytes();
        // Exponent form starts at 1e16 (below 1, at 1e-5, with a `-`).
        if x.abs() < 1e16 {
            out.extend_from_slice(s);
        } else {
            out.extend(s.iter().filter(|&&b| b != b'+'));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use backtide_core::strategy::builtin::STRATEGIES;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        /// The contract's floats are ryu's text, whatever the value: any bit pattern, and
        /// prices and equities around the exponent thresholds.
        #[test]
        fn json_floats_are_ryus_text(
            bits in proptest::num::u64::ANY,
            near in proptest::sample::select(vec![1e16, 1e-5, 1e15, 1e17, 1e21, 1e-7, 1.0]),
            scale in 0.5f64..2.0,
        ) {
            let mut want = ryu::Buffer::new();
            for x in [f64::from_bits(bits), near * scale, -near * scale, near] {
                let mut got = Vec::new();
                JsonFloat::default().push(&mut got, x);
                let want = if x.is_finite() { want.format_finite(x) } else { "null" };
                proptest::prop_assert_eq!(std::str::from_utf8(&got).unwrap(), want);
            }
        }
    }
    use backtide_core::{Commission, run};

    /// The streamed `--json` is the document's bytes, for every built-in strategy on every
    /// bundled sample, both profiles, with stops, fees and open trades.
    #[test]
    fn the_streamed_json_is_the_documents_bytes() {
        let mut checked = 0;
        for sample in ["GOOG", "EURUSD", "BTCUSD"] {
            let bars = crate::sample(sample).unwrap();
            for info in STRATEGIES {
                for (profile, extra) in [
                    (Profile::BacktestingPy, vec![]),
                    (Profile::Vectorbt, vec![("cross", "stateful")]),
                ] {
                    let mut pairs: Vec<(&str, &str)> = extra
                        .into_iter()
                        .filter(|(k, _)| info.params.iter().any(|p| p.name == *k))
                        .collect();
                    if info.params.iter().any(|p| p.name == "sl_pct") {
                        pairs.push(("sl_pct", "0.03"));
                    }
                    if info.name == "rules" {
                        pairs.extend([
                            ("entry", "close > sma(close, 20)"),
                            ("exit", "close < sma(close, 20)"),
                        ]);
                    }
                    let params = Params::from_pairs(info.params, pairs).unwrap();
                    let cfg = profile
                        .configure(BrokerConfig {
                            commission: Commission::Relative(0.001),
                            ..BrokerConfig::default()
                        })
                        .unwrap();
                    let res = run(&bars, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
                    let want = serde_json::to_string(&backtest_json(
                        &bars, &res, &cfg, profile, info.name, &params,
                    ))
                    .unwrap();
                    let mut got = Vec::new();
                    write_backtest_json(&mut got, &bars, &res, &cfg, profile, info.name, &params)
                        .unwrap();
                    assert!(
                        got == want.as_bytes(),
                        "{sample} {} {profile}: streamed JSON differs",
                        info.name
                    );
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 3 * STRATEGIES.len() * 2);
    }

    /// Sub-second timestamps and runs longer than one formatting block keep the bytes.
    #[test]
    fn long_runs_and_fractional_times_keep_the_bytes() {
        // Fractional seconds, then whole minutes (the cached-date path) across many days.
        for (start, step) in [
            (1_600_000_000_123_456_789i64, 250_000_000i64),
            (1_600_000_000_000_000_000, 60_000_000_000),
        ] {
            long_run_keeps_the_bytes(start, step);
        }
    }

    fn long_run_keeps_the_bytes(start: i64, step: i64) {
        let n = 100_000;
        let close: Vec<f64> = (0..n)
            .map(|i| 100.0 + 10.0 * (i as f64 / 300.0).sin())
            .collect();
        let time: Vec<i64> = (0..n as i64).map(|i| start + i * step).collect();
        let bars = Bars::try_new(
            time,
            close.clone(),
            close.iter().map(|c| c + 0.5).collect(),
            close.iter().map(|c| c - 0.5).collect(),
            close,
            vec![f64::NAN; n],
        )
        .unwrap();
        let info = backtide_core::strategy::builtin::find("sma_cross").unwrap();
        let params = Params::from_pairs(info.params, [("tp_pct", "0.01")]).unwrap();
        let cfg = BrokerConfig::default();
        let res = run(&bars, info.build(&params).unwrap().as_mut(), &cfg).unwrap();
        let want = serde_json::to_string(&backtest_json(
            &bars,
            &res,
            &cfg,
            Profile::BacktestingPy,
            info.name,
            &params,
        ))
        .unwrap();
        let mut got = Vec::new();
        write_backtest_json(
            &mut got,
            &bars,
            &res,
            &cfg,
            Profile::BacktestingPy,
            info.name,
            &params,
        )
        .unwrap();
        assert!(got == want.as_bytes());
    }
}
