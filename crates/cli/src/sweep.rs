//! `backtide sweep`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Result, bail};
use backtide_core::sweep::overfitting::overfitting_report;
use backtide_core::sweep::{
    Axis, ComboResult, Constraint, Method, Objective, SweepControl, SweepSpec, SweepStrategy,
    WalkForward, WalkForwardResult, run_portfolio_sweep, run_portfolio_walk_forward, run_sweep,
    run_walk_forward,
};
use backtide_data::SweepWriter;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};

use crate::run::{BrokerArgs, DataArgs, param_pairs};

/// Search method.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub(crate) enum MethodArg {
    /// Every combination.
    Grid,
    /// A seeded random sample of `--samples` combinations.
    Random,
}

/// Arguments of `backtide sweep`.
#[derive(Debug, Args)]
pub(crate) struct SweepArgs {
    #[command(flatten)]
    data: DataArgs,
    /// Strategy name (see `backtide strategies`).
    #[arg(long)]
    strategy: String,
    /// Swept parameter: `name=start:stop:step` (stop included) or `name=v1,v2,…` (repeatable).
    #[arg(long = "grid", value_name = "NAME=VALUES", required = true)]
    grid: Vec<String>,
    /// Fixed strategy parameter `name=value` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    params: Vec<String>,
    /// Condition on parameters, e.g. "fast < slow" (comparisons joined by `and`).
    #[arg(long)]
    constraint: Option<String>,
    /// Statistic to maximise (a `--json` stats key of the profile's dialect, e.g.
    /// sharpe_ratio, equity_final, sqn). Default: `sqn` (backtesting.py's `optimize`
    /// default), or `sharpe_ratio` with `--profile vectorbt`.
    #[arg(long, conflicts_with = "minimize")]
    maximize: Option<String>,
    /// Statistic to minimise instead.
    #[arg(long)]
    minimize: Option<String>,
    /// grid (every combination) or random (a seeded sample).
    #[arg(long, value_enum, default_value_t = MethodArg::Grid)]
    method: MethodArg,
    /// Combinations drawn by `--method random`.
    #[arg(long, default_value_t = 100)]
    samples: usize,
    /// Seed of `--method random`.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// How many of the best combinations to print.
    #[arg(long, default_value_t = 10)]
    top: usize,
    /// Write every combination to this file (.csv, .json or .parquet).
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Walk-forward validation `train=N,test=M[,anchored]` (bars): optimise on each training
    /// window, trade the winner on the next test window, report both and the stitched
    /// out-of-sample result. `--out` must then be a .json file.
    #[arg(long, value_name = "train=N,test=M[,anchored]")]
    walk_forward: Option<String>,
    /// Blocks for the overfitting checks (PSR/DSR of the best combination and PBO by
    /// combinatorially symmetric cross-validation); even, 2 to 24; 0 turns them off.
    #[arg(long, default_value_t = 16)]
    pbo_blocks: usize,
    /// Write an interactive HTML report (heat-map, distribution, best combinations,
    /// walk-forward windows, overfitting checks) here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// Worker threads (default: one per core).
    #[arg(long, default_value_t = 0)]
    threads: usize,
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    portfolio: crate::portfolio::PortfolioArgs,
}

/// `fast, slow, …`: the names of a strategy's parameters.
fn param_names(params: &[backtide_core::ParamSpec]) -> String {
    params.iter().map(|p| p.name).collect::<Vec<_>>().join(", ")
}

/// The statistic `--maximize`/`--minimize` names: a `--json` stats key of the dialect, or
/// its label in the statistics table (`Sharpe Ratio`, `Return [%]`; any case).
fn objective(
    dialect: backtide_core::sweep::Dialect,
    flag: &str,
    name: &str,
    maximize: bool,
) -> Result<Objective> {
    use backtide_report::labels::{BACKTESTING_PY, VECTORBT};
    let table: &[(&str, &str)] = match dialect {
        backtide_core::sweep::Dialect::Vectorbt => &VECTORBT,
        backtide_core::sweep::Dialect::BacktestingPy => &BACKTESTING_PY,
    };
    let wanted = name.trim();
    let key = table
        .iter()
        .find(|(k, l)| {
            *k == wanted || l.eq_ignore_ascii_case(wanted) || k.eq_ignore_ascii_case(wanted)
        })
        .map(|(k, _)| *k);
    // A statistic of the other profile's table.
    let (other, profile) = match dialect {
        backtide_core::sweep::Dialect::Vectorbt => (&BACKTESTING_PY[..], "backtesting_py"),
        backtide_core::sweep::Dialect::BacktestingPy => (&VECTORBT[..], "vectorbt"),
    };
    let elsewhere = if other
        .iter()
        .any(|(k, l)| k.eq_ignore_ascii_case(wanted) || l.eq_ignore_ascii_case(wanted))
    {
        format!(" (a statistic of --profile {profile})")
    } else {
        String::new()
    };
    match key.map(|k| Objective::in_dialect(dialect, k, maximize)) {
        Some(Ok(o)) => Ok(o),
        _ => bail!(
            "{flag}: unknown statistic `{name}`{elsewhere}; give a key or the table's label: {}",
            table
                .iter()
                .map(|(k, l)| format!("{k} ({l})"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// What a sweep runs on.
enum Data {
    /// One asset's bars.
    Bars(backtide_core::Bars),
    /// A universe, with the portfolio settings.
    Universe(
        backtide_core::Universe,
        backtide_core::portfolio::PortfolioConfig,
    ),
}

pub(crate) fn sweep(a: SweepArgs) -> Result<()> {
    let portfolio = crate::portfolio::wants_portfolio(&a.data, &a.strategy);
    let info: SweepStrategy = if portfolio {
        crate::portfolio::find(&a.data, &a.strategy)?
            .specialize(&param_pairs(&a.params)?)?
            .into()
    } else {
        backtide_models::find_strategy(&a.strategy)?
            .specialize(&param_pairs(&a.params)?)?
            .into()
    };
    let mut axes = Vec::new();
    for g in &a.grid {
        let Some((name, values)) = g.split_once('=') else {
            bail!("--grid `{g}`: expected NAME=start:stop:step or NAME=v1,v2,…");
        };
        let name = name.trim();
        let Some(spec) = info.params().iter().find(|p| p.name == name) else {
            bail!(
                "--grid `{g}`: `{name}` is not a parameter of {} (known: {})",
                info.name(),
                param_names(info.params())
            );
        };
        axes.push(Axis::parse(spec, values)?);
    }
    let profile = a.broker.profile.core();
    let fixed = profile
        .param_defaults(info.params(), param_pairs(&a.params)?)
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let constraint = a
        .constraint
        .as_deref()
        .map(|c| {
            Constraint::parse(c, info.params()).map_err(|e| match e {
                // Name the flag, and the parameters a name could have been.
                backtide_core::Error::Param { message, .. } => anyhow::anyhow!(
                    "--constraint {message} (parameters of {}: {})",
                    info.name(),
                    param_names(info.params())
                ),
                e => e.into(),
            })
        })
        .transpose()?;
    let method = match a.method {
        MethodArg::Grid => Method::Grid,
        MethodArg::Random => Method::Random {
            samples: a.samples,
            seed: a.seed,
        },
    };
    let dialect = profile.dialect();
    let objective = match (&a.minimize, &a.maximize) {
        (Some(k), _) => objective(dialect, "--minimize", k, false)?,
        (None, Some(k)) => objective(dialect, "--maximize", k, true)?,
        (None, None) => Objective::in_dialect(dialect, profile.default_objective(), true)?,
    };
    if let Err(m) = backtide_core::sweep::overfitting::check_blocks(a.pbo_blocks) {
        bail!("--pbo-blocks {}: {m}", a.pbo_blocks);
    }
    let spec = SweepSpec {
        strategy: info,
        fixed,
        axes,
        constraint,
        method,
    };
    let cfg = a.broker.config()?;
    let data = if portfolio {
        let pcfg = a.portfolio.config(&cfg, profile)?;
        Data::Universe(a.data.load_universe()?, pcfg)
    } else {
        Data::Bars(a.data.load()?)
    };

    let cancel = Arc::new(AtomicBool::new(false));
    {
        let c = cancel.clone();
        // Ctrl-C: finish the running combinations, keep what finished, write the output.
        let _ = ctrlc::set_handler(move || c.store(true, Ordering::Relaxed));
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let pb = ProgressBar::new(0);
        pb.set_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} combinations  {per_sec}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        pb
    });
    let progress = |done: usize, total: usize| {
        if let Some(pb) = &bar {
            pb.set_length(total as u64);
            pb.set_position(done as u64);
        }
    };
    let control = SweepControl {
        threads: a.threads,
        cancel: Some(&cancel),
        progress: Some(&progress),
        profile_blocks: a.pbo_blocks,
        skip: 0,
    };

    if let Some(wf) = &a.walk_forward {
        let wf = WalkForward::parse(wf)?;
        let (result, basket);
        let bars = match &data {
            Data::Bars(bars) => {
                result = run_walk_forward(bars, &spec, &cfg, &objective, &wf, &control);
                bars
            }
            Data::Universe(u, pcfg) => {
                result = run_portfolio_walk_forward(u, &spec, pcfg, &objective, &wf, &control);
                // Times and "the market" of a portfolio: its equal-weight basket.
                basket = backtide_core::portfolio::stats::basket_bars(u, pcfg.cash);
                &basket
            }
        };
        if let Some(pb) = &bar {
            pb.finish_and_clear();
        }
        let result = result?;
        if let Some(path) = &a.report {
            let wf = backtide_data::walk_forward_json(bars, &result);
            write_sweep_report(
                path,
                &spec,
                &objective,
                &[],
                None,
                None,
                Some(&wf["walk_forward"]),
            )?;
        }
        return report_walk_forward(bars, &spec, &objective, &result, a.out.as_deref());
    }

    let mut writer = a
        .out
        .as_deref()
        .map(|p| SweepWriter::create(p, info.params(), dialect))
        .transpose()?;
    let mut top: Vec<(f64, ComboResult)> = Vec::new();
    let mut profiles = Vec::new();
    let mut report_rows = Vec::new();
    let mut sink = |r: &ComboResult| -> Result<()> {
        if let Some(w) = writer.as_mut() {
            w.write(r)?;
        }
        if let Some(p) = &r.profile {
            profiles.push(p.clone());
        }
        if a.report.is_some() && report_rows.len() < MAX_REPORT_ROWS {
            report_rows.push(backtide_data::combo_json_in(r, dialect));
        }
        let v = objective.value_of(r);
        if a.top > 0 && !v.is_nan() {
            let pos = top
                .iter()
                .position(|(t, _)| objective.better(v, *t))
                .unwrap_or(top.len());
            if pos < a.top {
                top.insert(pos, (v, r.clone()));
                top.truncate(a.top);
            }
        }
        Ok(())
    };
    let outcome = match &data {
        Data::Bars(bars) => run_sweep(bars, &spec, &cfg, &objective, &control, &mut sink)?,
        Data::Universe(u, pcfg) => {
            run_portfolio_sweep(u, &spec, pcfg, &objective, &control, &mut sink)?
        }
    };
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let report = outcome
        .best
        .as_ref()
        .and_then(|b| b.profile.as_ref())
        .map(|bp| overfitting_report(&profiles, bp));
    if let Some(w) = writer {
        w.finish(outcome.best.as_ref(), report.as_ref())?;
    }
    if let Some(path) = &a.report {
        let best = outcome
            .best
            .as_ref()
            .map(|b| backtide_data::combo_json_in(b, dialect));
        let over = report.as_ref().map(backtide_data::overfitting_json);
        write_sweep_report(
            path,
            &spec,
            &objective,
            &report_rows,
            best.as_ref(),
            over.as_ref(),
            None,
        )?;
    }

    println!(
        "{} of {} combinations{}; {} by {} {}",
        outcome.completed,
        outcome.total,
        if outcome.cancelled {
            " (cancelled)"
        } else {
            ""
        },
        if objective.maximize { "best" } else { "lowest" },
        objective.key,
        if objective.maximize { "(max)" } else { "(min)" }
    );
    if outcome.failed.0 > 0 {
        eprintln!(
            "warning: {} combination(s) failed, first: {}",
            outcome.failed.0,
            outcome.failed.1.as_deref().unwrap_or("?")
        );
    }
    let names: Vec<&str> = spec.axes.iter().map(|a| a.name.as_str()).collect();
    println!(
        "{:>4}  {}  {:>14}  {:>10}  {:>10}  {:>8}",
        "rank",
        names
            .iter()
            .map(|n| format!("{n:>10}"))
            .collect::<Vec<_>>()
            .join(" "),
        objective.key,
        "return_pct",
        "max_dd_pct",
        "trades"
    );
    for (k, (v, r)) in top.iter().enumerate() {
        println!(
            "{:>4}  {}  {:>14.6}  {:>10.3}  {:>10.3}  {:>8}",
            k + 1,
            r.values
                .iter()
                .map(|x| format!("{:>10}", x.to_string()))
                .collect::<Vec<_>>()
                .join(" "),
            v,
            r.stats.return_pct,
            r.stats.max_drawdown_pct,
            r.stats.num_trades
        );
    }
    if let Some(r) = &report {
        println!(
            "overfitting: {} trials; best per-bar Sharpe {:.5} over {} returns; PSR(0) {:.4}; \
             DSR {:.4} (SR0 {:.5}); PBO {}",
            r.trials,
            r.sharpe,
            r.returns,
            r.psr,
            r.dsr,
            r.expected_max_sharpe,
            r.pbo.map_or("n/a".to_string(), |p| format!(
                "{p:.3} ({} blocks)",
                r.blocks
            ))
        );
    }
    if outcome.cancelled {
        bail!(
            "cancelled after {} of {} combinations (finished ones were kept)",
            outcome.completed,
            outcome.total
        );
    }
    Ok(())
}

/// Combinations a sweep report carries (its table, heat-map and histogram); beyond, the
/// report says how many it shows. About 0.5 KB each in memory while the sweep runs.
const MAX_REPORT_ROWS: usize = 200_000;

fn write_sweep_report(
    path: &std::path::Path,
    spec: &SweepSpec,
    objective: &Objective,
    combos: &[serde_json::Value],
    best: Option<&serde_json::Value>,
    overfitting: Option<&serde_json::Value>,
    walk_forward: Option<&serde_json::Value>,
) -> Result<()> {
    let axes: Vec<String> = spec.axes.iter().map(|a| a.name.clone()).collect();
    let html = backtide_report::sweep_html(&backtide_report::SweepReport {
        title: &format!(
            "{} of {}",
            if walk_forward.is_some() {
                "Walk-forward"
            } else {
                "Sweep"
            },
            spec.strategy.name()
        ),
        axes: &axes,
        objective: objective.key,
        maximize: objective.maximize,
        combos,
        best,
        overfitting,
        walk_forward,
    });
    backtide_data::write_bytes(path, html.as_bytes())?;
    Ok(())
}

fn report_walk_forward(
    bars: &backtide_core::Bars,
    spec: &SweepSpec,
    objective: &Objective,
    r: &WalkForwardResult,
    out: Option<&std::path::Path>,
) -> Result<()> {
    if let Some(path) = out {
        if !path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("json"))
        {
            bail!(
                "{}: walk-forward results are written as JSON (use a .json file)",
                path.display()
            );
        }
        let text = serde_json::to_string(&backtide_data::walk_forward_json(bars, r))?;
        backtide_data::write_bytes(path, text.as_bytes())?;
    }
    let day = |i: usize| backtide_data::format_timestamp(bars.time()[i])[..10].to_string();
    let names: Vec<&str> = spec.axes.iter().map(|a| a.name.as_str()).collect();
    println!(
        "walk-forward: {} windows, objective {}",
        r.windows.len(),
        objective.key
    );
    println!(
        "{:>3}  {:<21}  {:<21}  {}  {:>12}  {:>12}  {:>10}",
        "#",
        "train",
        "test",
        names
            .iter()
            .map(|n| format!("{n:>8}"))
            .collect::<Vec<_>>()
            .join(" "),
        "in-sample",
        "out-sample",
        "oos_ret_%"
    );
    for (k, w) in r.windows.iter().enumerate() {
        println!(
            "{:>3}  {} {}  {} {}  {}  {:>12.4}  {:>12.4}  {:>10.3}",
            k + 1,
            day(w.train.start),
            day(w.train.end - 1),
            day(w.test.start),
            day(w.test.end - 1),
            w.best
                .values
                .iter()
                .map(|v| format!("{:>8}", v.to_string()))
                .collect::<Vec<_>>()
                .join(" "),
            objective.value(&w.best.stats),
            objective.value(&w.oos),
            w.oos.return_pct
        );
    }
    let s = &r.oos_stats;
    println!(
        "stitched out-of-sample: return {:.3} %, {} {:.4}, max drawdown {:.3} %, {} trades",
        s.return_pct,
        objective.key,
        objective.value(s),
        s.max_drawdown_pct,
        s.num_trades
    );
    Ok(())
}
