//! Runs: a built-in (or `rules`) strategy, a Python strategy, a sweep; the strategy list.

use std::sync::atomic::{AtomicBool, Ordering};

use backtide_core::stats::StatsContext;
use backtide_core::strategy::builtin::{self, StrategyInfo};
use backtide_core::sweep::{
    Axis, ComboResult, Constraint, Method, Objective, SweepControl, SweepSpec, WalkForward,
    overfitting, run_sweep as core_sweep, run_walk_forward,
};
use backtide_core::{Error, ParamValue, Params, Profile, run};
use pyo3::exceptions::{PyKeyboardInterrupt, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

use crate::bars::PyBars;
use crate::bridge::Bridge;
use crate::{config, result};

/// An engine error as a Python `ValueError` (its text names the parameter or field).
pub(crate) fn value_error(e: Error) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn empty<'py>(py: Python<'py>, kw: Option<&Bound<'py, PyDict>>) -> Bound<'py, PyDict> {
    kw.cloned().unwrap_or_else(|| PyDict::new(py))
}

/// The strategy called `name`, specialised by `given` (`rules`' `$parameters`).
fn strategy(name: &str, given: &[(&str, &str)]) -> PyResult<&'static StrategyInfo> {
    builtin::find(name)
        .and_then(|i| i.specialize(given))
        .map_err(value_error)
}

/// A built-in strategy (or `rules`) called `name` with `params` (`name=value` text) run
/// on `bars` with the broker arguments, without the GIL. The statistics' bar-only part is
/// worked out on another core while the engine runs, as the CLI does.
fn run_named(
    py: Python<'_>,
    bars: &PyBars,
    name: &str,
    params: &[(String, String)],
    broker: Option<&Bound<'_, PyDict>>,
) -> PyResult<Named> {
    let (cfg, profile) = config::broker(&empty(py, broker))?;
    let given: Vec<(&str, &str)> = params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let info = strategy(name, &given)?;
    let pairs = profile.strategy_defaults(info, given);
    let params = Params::from_pairs(info.params, pairs).map_err(value_error)?;
    // The signal form: the same trades as the per-bar one (property-tested), faster.
    let mut s = info.build_signals(&params).map_err(value_error)?;
    let bars = bars.bars.clone();
    let (res, ctx) = py.detach(|| {
        std::thread::scope(|scope| {
            let ctx = scope.spawn(|| StatsContext::lean(&bars));
            let res = run(&bars, s.as_mut(), &cfg);
            (
                res,
                ctx.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
            )
        })
    });
    let res = res.map_err(value_error)?;
    Ok(Named {
        bars,
        res,
        ctx,
        cfg,
        profile,
    })
}

/// A run of a named strategy, with what its statistics need.
struct Named {
    bars: std::sync::Arc<backtide_core::Bars>,
    res: backtide_core::RunResult,
    ctx: StatsContext,
    cfg: backtide_core::BrokerConfig,
    profile: Profile,
}

/// Runs a built-in strategy (or `rules`) with `params` (`name=value` text) on `bars`,
/// without the GIL.
#[pyfunction]
#[pyo3(signature = (bars, name, params, **broker))]
pub(crate) fn run_builtin<'py>(
    py: Python<'py>,
    bars: &PyBars,
    name: &str,
    params: Vec<(String, String)>,
    broker: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let run = run_named(py, bars, name, &params, broker)?;
    let d = result::run_dict(py, &run.bars, run.res, Some(&run.ctx))?;
    d.set_item("profile", run.profile.name())?;
    Ok(d)
}

/// Runs a `backtide.Strategy` instance bar by bar through the broker. A Python exception
/// in `init` or `next` is re-raised as it was (traceback included). With `report_title`,
/// the result also carries the run's HTML report (`html`).
#[pyfunction]
#[pyo3(signature = (bars, strategy, report_title=None, **broker))]
pub(crate) fn run_python<'py>(
    py: Python<'py>,
    bars: &PyBars,
    strategy: Bound<'py, PyAny>,
    report_title: Option<&str>,
    broker: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (cfg, profile) = config::broker(&empty(py, broker))?;
    let mut bridge = Bridge::new(strategy.unbind());
    let res = run(&bars.bars, &mut bridge, &cfg);
    if let Some(e) = bridge.take_error() {
        return Err(e);
    }
    let res = res.map_err(value_error)?;
    let html = report_title.map(|title| {
        let stats = backtide_data::profile_stats_json(&bars.bars, &res, &cfg, profile);
        backtide_report::backtest_html(&backtide_report::BacktestReport {
            title,
            bars: &bars.bars,
            run: &res,
            stats: &stats,
            cash: cfg.cash,
            benchmark: None,
        })
    });
    let d = result::run_dict(py, &bars.bars, res, None)?;
    if let Some(h) = html {
        d.set_item("html", h)?;
    }
    Ok(d)
}

/// A strategy's name, description and `(param, kind, default, doc)` rows.
type StrategyRow = (
    &'static str,
    &'static str,
    Vec<(String, String, String, String)>,
);

/// Every strategy: `(name, about, [(param, kind, default, doc)])`.
#[pyfunction]
pub(crate) fn strategies() -> Vec<StrategyRow> {
    builtin::STRATEGIES
        .iter()
        .map(|s| {
            let params = s
                .params
                .iter()
                .map(|p| {
                    (
                        p.name.to_string(),
                        p.describe_kind(),
                        p.default_value().map_or(String::new(), |v| v.to_string()),
                        p.doc.to_string(),
                    )
                })
                .collect();
            (s.name, s.about, params)
        })
        .collect()
}

/// A sweep of a built-in strategy (or `rules`) over `grid` (`[(name, "start:stop:step"
/// or "v1,v2")]`), on `threads` cores (0 = all) without the GIL. Returns the
/// combinations as columns (parameters, then statistics), the best one's index, and
/// the overfitting checks. `progress(done, total)` is called between chunks; Ctrl-C
/// stops the sweep and raises `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (bars, name, fixed, grid, constraint=None, maximize="sqn", minimize=false, method="grid", samples=0, seed=0, threads=0, pbo_blocks=16, progress=None, walk_forward=None, **broker))]
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_sweep<'py>(
    py: Python<'py>,
    bars: &PyBars,
    name: &str,
    fixed: Vec<(String, String)>,
    grid: Vec<(String, String)>,
    constraint: Option<&str>,
    maximize: &str,
    minimize: bool,
    method: &str,
    samples: usize,
    seed: u64,
    threads: usize,
    pbo_blocks: usize,
    progress: Option<Bound<'py, PyAny>>,
    walk_forward: Option<&str>,
    broker: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyDict>> {
    let (cfg, profile) = config::broker(&empty(py, broker))?;
    let walk_forward = walk_forward
        .map(WalkForward::parse)
        .transpose()
        .map_err(value_error)?;
    let given: Vec<(&str, &str)> = fixed
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let info = strategy(name, &given)?;
    let mut axes = Vec::new();
    for (k, text) in &grid {
        let spec = info
            .params
            .iter()
            .find(|p| p.name == k.as_str())
            .ok_or_else(|| {
                PyValueError::new_err(format!("grid: `{k}` is not a parameter of {}", info.name))
            })?;
        axes.push(Axis::parse(spec, text).map_err(value_error)?);
    }
    let fixed: Vec<(String, String)> = profile
        .strategy_defaults(info, given)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let constraint = constraint
        .map(|c| Constraint::parse(c, info.params))
        .transpose()
        .map_err(value_error)?;
    let method = match method {
        "grid" => Method::Grid,
        "random" => Method::Random { samples, seed },
        other => {
            return Err(PyValueError::new_err(format!(
                "method: expected 'grid' or 'random', got {other:?}"
            )));
        }
    };
    let objective = Objective::new(maximize, !minimize).map_err(value_error)?;
    overfitting::check_blocks(pbo_blocks)
        .map_err(|m| PyValueError::new_err(format!("pbo_blocks: {m}")))?;
    let spec = SweepSpec {
        strategy: info.into(),
        fixed,
        axes,
        constraint,
        method,
    };
    let cancel = AtomicBool::new(false);
    let interrupted = AtomicBool::new(false);
    let progress_py = progress.map(Bound::unbind);
    let on_progress = |done: usize, total: usize| {
        Python::attach(|py| {
            if py.check_signals().is_err() {
                interrupted.store(true, Ordering::Relaxed);
                cancel.store(true, Ordering::Relaxed);
                return;
            }
            if let Some(f) = &progress_py
                && f.call1(py, (done, total)).is_err()
            {
                cancel.store(true, Ordering::Relaxed);
            }
        });
    };
    let control = SweepControl {
        threads,
        cancel: Some(&cancel),
        progress: Some(&on_progress),
        profile_blocks: pbo_blocks,
        skip: 0,
        end: None,
    };
    let bars = bars.bars.clone();
    if let Some(wf) = walk_forward {
        let res = py.detach(|| run_walk_forward(&bars, &spec, &cfg, &objective, &wf, &control));
        if interrupted.load(Ordering::Relaxed) {
            return Err(PyKeyboardInterrupt::new_err("walk-forward interrupted"));
        }
        return walk_forward_dict(py, &spec, res.map_err(value_error)?);
    }
    let (rows, outcome) = py.detach(|| {
        let mut rows: Vec<ComboResult> = Vec::new();
        let out = core_sweep::<Error>(&bars, &spec, &cfg, &objective, &control, &mut |r| {
            rows.push(r.clone());
            Ok(())
        });
        (rows, out)
    });
    if interrupted.load(Ordering::Relaxed) {
        return Err(PyKeyboardInterrupt::new_err("sweep interrupted"));
    }
    let outcome = outcome.map_err(value_error)?;
    let d = PyDict::new(py);
    let params = PyDict::new(py);
    for (k, a) in spec.axes.iter().enumerate() {
        let col = PyList::empty(py);
        for r in &rows {
            match &r.values[k] {
                ParamValue::Int(v) => col.append(v)?,
                ParamValue::Float(v) => col.append(v)?,
                ParamValue::Str(v) => col.append(v)?,
            }
        }
        params.set_item(&a.name, col)?;
    }
    d.set_item("params", params)?;
    let stats = PyList::empty(py);
    for r in &rows {
        stats.append(result::stats_list(py, &r.stats)?)?;
    }
    d.set_item("stats", stats)?;
    d.set_item("total", outcome.total)?;
    d.set_item("completed", outcome.completed)?;
    d.set_item("cancelled", outcome.cancelled)?;
    d.set_item("best", outcome.best.as_ref().map(|b| b.index))?;
    let profiles: Vec<_> = rows.iter().filter_map(|r| r.profile.clone()).collect();
    let report = outcome
        .best
        .as_ref()
        .and_then(|b| b.profile.as_ref())
        .map(|bp| overfitting::overfitting_report(&profiles, bp, threads));
    d.set_item(
        "overfitting",
        report.map(|r| backtide_data::overfitting_json(&r).to_string()),
    )?;
    d.set_item("profile", profile.name())?;
    Ok(d)
}

/// Each window's ranges (bar indices), best parameters (in axis order) and out-of-sample
/// statistics, and the stitched out-of-sample equity and statistics.
fn walk_forward_dict<'py>(
    py: Python<'py>,
    spec: &SweepSpec,
    r: backtide_core::sweep::WalkForwardResult,
) -> PyResult<Bound<'py, PyDict>> {
    let windows = PyList::empty(py);
    for w in &r.windows {
        let d = PyDict::new(py);
        d.set_item("train", (w.train.start, w.train.end))?;
        d.set_item("test", (w.test.start, w.test.end))?;
        let best = PyDict::new(py);
        for (a, v) in spec.axes.iter().zip(&w.best.values) {
            match v {
                ParamValue::Int(x) => best.set_item(&a.name, x)?,
                ParamValue::Float(x) => best.set_item(&a.name, x)?,
                ParamValue::Str(x) => best.set_item(&a.name, x)?,
            }
        }
        d.set_item("best", best)?;
        d.set_item("in_sample", result::stats_list(py, &w.best.stats)?)?;
        d.set_item("oos", result::stats_list(py, &w.oos)?)?;
        windows.append(d)?;
    }
    let d = PyDict::new(py);
    d.set_item("windows", windows)?;
    d.set_item("oos_range", (r.oos_range.start, r.oos_range.end))?;
    d.set_item("oos_stats", result::stats_list(py, &r.oos_stats)?)?;
    d.set_item(
        "oos_equity",
        numpy::IntoPyArray::into_pyarray(r.oos_equity, py),
    )?;
    Ok(d)
}

/// The HTML report of a run (the CLI's `--report`), as text.
#[pyfunction]
#[pyo3(signature = (bars, name, params, title, **broker))]
pub(crate) fn report_html<'py>(
    py: Python<'py>,
    bars: &PyBars,
    name: &str,
    params: Vec<(String, String)>,
    title: &str,
    broker: Option<&Bound<'py, PyDict>>,
) -> PyResult<String> {
    let Named {
        bars,
        res,
        ctx,
        cfg,
        profile,
    } = run_named(py, bars, name, &params, broker)?;
    let stats = backtide_data::profile_stats_json_with(&ctx, &bars, &res, &cfg, profile);
    Ok(backtide_report::backtest_html(
        &backtide_report::BacktestReport {
            title,
            bars: &bars,
            run: &res,
            stats: &stats,
            cash: cfg.cash,
            benchmark: None,
        },
    ))
}
