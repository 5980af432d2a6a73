//! A run's results as Python objects: statistics in backtesting.py's order, trades as
//! columns (numpy arrays), the equity curve as an owned numpy buffer.

use backtide_core::stats::{self, StatValue};
use backtide_core::{Bars, RunResult};
use numpy::IntoPyArray;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// Statistics as `[(key, kind, value)]`, kind one of `time` (ns), `duration` (ns or
/// None), `count`, `num`, in backtesting.py's order.
pub(crate) fn stats_list<'py>(py: Python<'py>, s: &stats::Stats) -> PyResult<Bound<'py, PyList>> {
    stats_entries(py, s.entries())
}

/// Any dialect's `(key, value)` entries as `[(key, kind, value)]`.
pub(crate) fn stats_entries<'py>(
    py: Python<'py>,
    entries: impl IntoIterator<Item = (&'static str, StatValue)>,
) -> PyResult<Bound<'py, PyList>> {
    let items: Vec<Bound<'py, PyAny>> = entries
        .into_iter()
        .map(|(k, v)| {
            let (kind, value): (&str, Bound<'py, PyAny>) = match v {
                StatValue::Time(t) => ("time", t.into_pyobject(py)?.into_any()),
                StatValue::Duration(d) => ("duration", d.into_pyobject(py)?.into_any()),
                StatValue::Count(c) => ("count", c.into_pyobject(py)?.into_any()),
                StatValue::Num(x) => ("num", x.into_pyobject(py)?.into_any()),
            };
            (k, kind, value).into_pyobject(py).map(|t| t.into_any())
        })
        .collect::<PyResult<_>>()?;
    PyList::new(py, items)
}

fn opt(v: Option<f64>) -> f64 {
    v.unwrap_or(f64::NAN)
}

/// `{"stats", "trades": {column: array}, "open_trades": {…}, "equity", "warmup",
/// "warnings", "indicators"}`.
///
/// `ctx`, the statistics' bar-only part when the caller worked it out beside the run.
pub(crate) fn run_dict<'py>(
    py: Python<'py>,
    bars: &Bars,
    res: RunResult,
    ctx: Option<&stats::StatsContext>,
) -> PyResult<Bound<'py, PyDict>> {
    // The statistics and the drawdown walk are Rust work: without the GIL, side by side.
    let (st, drawdown) = py.detach(|| {
        std::thread::scope(|scope| {
            // backtesting.py's `DrawdownPct`: 1 − equity / running peak.
            let drawdown = scope.spawn(|| {
                let mut peak = f64::NEG_INFINITY;
                res.equity
                    .iter()
                    .map(|&e| {
                        peak = peak.max(e);
                        1.0 - e / peak
                    })
                    .collect::<Vec<f64>>()
            });
            let st = match ctx {
                Some(ctx) => stats::compute_with(ctx, bars, &res.trades, &res.equity, res.warmup),
                None => stats::compute(bars, &res),
            };
            (
                st,
                drawdown
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            )
        })
    });
    let d = PyDict::new(py);
    d.set_item("stats", stats_list(py, &st)?)?;
    let t = &res.trades;
    let trades = PyDict::new(py);
    let col =
        |f: &dyn Fn(&backtide_core::ClosedTrade) -> f64| t.iter().map(f).collect::<Vec<f64>>();
    trades.set_item("Size", col(&|x| x.size).into_pyarray(py))?;
    trades.set_item(
        "EntryBar",
        t.iter()
            .map(|x| x.entry_bar as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    trades.set_item(
        "ExitBar",
        t.iter()
            .map(|x| x.exit_bar as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    trades.set_item("EntryPrice", col(&|x| x.entry_price).into_pyarray(py))?;
    trades.set_item("ExitPrice", col(&|x| x.exit_price).into_pyarray(py))?;
    trades.set_item("SL", col(&|x| opt(x.sl)).into_pyarray(py))?;
    trades.set_item("TP", col(&|x| opt(x.tp)).into_pyarray(py))?;
    trades.set_item("PnL", col(&|x| x.pnl()).into_pyarray(py))?;
    trades.set_item("Commission", col(&|x| x.commission).into_pyarray(py))?;
    trades.set_item("ReturnPct", col(&|x| x.return_frac()).into_pyarray(py))?;
    trades.set_item("Tag", t.iter().map(|x| x.tag.clone()).collect::<Vec<_>>())?;
    d.set_item("trades", trades)?;
    let o = &res.open_trades;
    let open = PyDict::new(py);
    open.set_item(
        "Size",
        o.iter()
            .map(|x| x.size)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    open.set_item(
        "EntryBar",
        o.iter()
            .map(|x| x.entry_bar as i64)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    open.set_item(
        "EntryPrice",
        o.iter()
            .map(|x| x.entry_price)
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    open.set_item(
        "SL",
        o.iter()
            .map(|x| opt(x.sl))
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    open.set_item(
        "TP",
        o.iter()
            .map(|x| opt(x.tp))
            .collect::<Vec<_>>()
            .into_pyarray(py),
    )?;
    open.set_item("Tag", o.iter().map(|x| x.tag.clone()).collect::<Vec<_>>())?;
    d.set_item("open_trades", open)?;
    d.set_item("warmup", res.warmup)?;
    d.set_item("warnings", res.warnings)?;
    d.set_item("indicators", res.indicator_names)?;
    d.set_item("out_of_money", res.out_of_money)?;
    d.set_item("drawdown", drawdown.into_pyarray(py))?;
    d.set_item("equity", res.equity.into_pyarray(py))?;
    Ok(d)
}
