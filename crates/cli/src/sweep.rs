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
    /// Run only shard I of N of the combinations (0-based; contiguous in the sweep's order)
    /// and write them with what a merge needs to `--out FILE.parquet`; `backtide
    /// sweep-merge` joins the shards into the unsharded result. `auto/N` takes I from
    /// JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs) or SLURM_ARRAY_TASK_ID (minus
    /// SLURM_ARRAY_TASK_MIN; Slurm arrays).
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
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

/// A sweep's definition, from its arguments alone (no data read).
struct Plan {
    spec: SweepSpec,
    objective: Objective,
    dialect: backtide_core::sweep::Dialect,
    profile: backtide_core::Profile,
    portfolio: bool,
}

fn plan(a: &SweepArgs) -> Result<Plan> {
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
    Ok(Plan {
        spec,
        objective,
        dialect,
        profile,
        portfolio,
    })
}

pub(crate) fn sweep(a: SweepArgs) -> Result<()> {
    let Plan {
        spec,
        objective,
        dialect,
        profile,
        portfolio,
    } = plan(&a)?;
    let info = &spec.strategy;
    let shard = a.shard.as_deref().map(Shard::parse).transpose()?;
    if shard.is_some() {
        if a.walk_forward.is_some() || a.report.is_some() {
            bail!(
                "--shard runs part of a plain sweep: walk-forward and --report belong to the merged result (backtide sweep-merge … --report FILE)"
            );
        }
        if a.out.is_none() {
            bail!("--shard needs --out FILE.parquet (the shard's file for backtide sweep-merge)");
        }
    }
    let cfg = a.broker.config(a.data.session()?)?;
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
    let total = spec.count()?;
    let range = shard.map(|s| s.range(total));
    let control = SweepControl {
        // 0: as many as the container allows (its cgroup CPU quota), not the host's cores.
        threads: if a.threads == 0 {
            backtide_server::container::ContainerLimits::detect().threads()
        } else {
            a.threads
        },
        cancel: Some(&cancel),
        progress: Some(&progress),
        profile_blocks: a.pbo_blocks,
        skip: range.as_ref().map_or(0, |r| r.start),
        end: range.as_ref().map(|r| r.end),
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

    if let (Some(shard), Some(range), Some(out)) = (shard, &range, &a.out) {
        let bars = match &data {
            Data::Bars(b) => (b.len(), b.time().first().copied(), b.time().last().copied()),
            Data::Universe(u, _) => (u.len(), u.time().first().copied(), u.time().last().copied()),
        };
        let description = serde_json::json!({
            "format": 1,
            "args": shard_args(),
            "shard": shard.index,
            "shards": shard.count,
            "start": range.start,
            "end": range.end,
            "total": total,
            "data": {"bars": bars.0, "first": bars.1, "last": bars.2},
        });
        let mut writer =
            SweepWriter::create_shard(out, info.params(), dialect, description.to_string())?;
        let outcome = match &data {
            Data::Bars(bars) => run_sweep(bars, &spec, &cfg, &objective, &control, &mut |r| {
                writer.write(r)
            })?,
            Data::Universe(u, pcfg) => {
                run_portfolio_sweep(u, &spec, pcfg, &objective, &control, &mut |r| {
                    writer.write(r)
                })?
            }
        };
        if let Some(pb) = &bar {
            pb.finish_and_clear();
        }
        writer.finish_shard(
            serde_json::json!({
                "completed": outcome.completed,
                "failed": outcome.failed.0,
                "first_error": outcome.failed.1,
                "cancelled": outcome.cancelled,
            })
            .to_string(),
        )?;
        println!(
            "shard {}/{}: combinations {}..{} of {}: {} done, {} failed{} -> {}",
            shard.index,
            shard.count,
            range.start,
            range.end,
            total,
            outcome.completed,
            outcome.failed.0,
            if outcome.cancelled {
                " (cancelled)"
            } else {
                ""
            },
            out.display()
        );
        if outcome.cancelled {
            bail!(
                "cancelled: this shard is incomplete and sweep-merge will refuse it; run it again"
            );
        }
        return Ok(());
    }

    let mut collect = Collect::new(&a, info.params(), dialect)?;
    let outcome = match &data {
        Data::Bars(bars) => run_sweep(bars, &spec, &cfg, &objective, &control, &mut |r| {
            collect.add(r, &objective)
        })?,
        Data::Universe(u, pcfg) => {
            run_portfolio_sweep(u, &spec, pcfg, &objective, &control, &mut |r| {
                collect.add(r, &objective)
            })?
        }
    };
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    collect.finish(&a, &spec, &objective, dialect, &outcome, control.threads)
}

/// Everything a sweep's outputs need, gathered as combinations arrive in order: the
/// `--out` file, the `--top` table, the return profiles of the overfitting checks and the
/// report's rows. A sweep and a merge of its shards feed it alike.
struct Collect {
    writer: Option<SweepWriter>,
    top: Vec<(f64, ComboResult)>,
    top_n: usize,
    profiles: Vec<backtide_core::sweep::overfitting::ReturnProfile>,
    report_rows: Option<Vec<serde_json::Value>>,
    dialect: backtide_core::sweep::Dialect,
}

impl Collect {
    fn new(
        a: &SweepArgs,
        params: &[backtide_core::ParamSpec],
        dialect: backtide_core::sweep::Dialect,
    ) -> Result<Collect> {
        Ok(Collect {
            writer: a
                .out
                .as_deref()
                .map(|p| SweepWriter::create(p, params, dialect))
                .transpose()?,
            top: Vec::new(),
            top_n: a.top,
            profiles: Vec::new(),
            report_rows: a.report.is_some().then(Vec::new),
            dialect,
        })
    }

    fn add(&mut self, r: &ComboResult, objective: &Objective) -> Result<()> {
        if let Some(w) = self.writer.as_mut() {
            w.write(r)?;
        }
        if let Some(p) = &r.profile {
            self.profiles.push(p.clone());
        }
        if let Some(rows) = self.report_rows.as_mut()
            && rows.len() < MAX_REPORT_ROWS
        {
            rows.push(backtide_data::combo_json_in(r, self.dialect));
        }
        let v = objective.value_of(r);
        if self.top_n > 0 && !v.is_nan() {
            let pos = self
                .top
                .iter()
                .position(|(t, _)| objective.better(v, *t))
                .unwrap_or(self.top.len());
            if pos < self.top_n {
                self.top.insert(pos, (v, r.clone()));
                self.top.truncate(self.top_n);
            }
        }
        Ok(())
    }

    fn finish(
        self,
        a: &SweepArgs,
        spec: &SweepSpec,
        objective: &Objective,
        dialect: backtide_core::sweep::Dialect,
        outcome: &backtide_core::sweep::SweepOutcome,
        threads: usize,
    ) -> Result<()> {
        let Collect {
            writer,
            top,
            profiles,
            report_rows,
            ..
        } = self;
        let report = outcome
            .best
            .as_ref()
            .and_then(|b| b.profile.as_ref())
            .map(|bp| overfitting_report(&profiles, bp, threads));
        if let Some(w) = writer {
            w.finish(outcome.best.as_ref(), report.as_ref())?;
        }
        if let (Some(path), Some(rows)) = (&a.report, &report_rows) {
            let best = outcome
                .best
                .as_ref()
                .map(|b| backtide_data::combo_json_in(b, dialect));
            let over = report.as_ref().map(backtide_data::overfitting_json);
            write_sweep_report(
                path,
                spec,
                objective,
                rows,
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

/// `--shard I/N`: which part of the combinations this process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Shard {
    index: usize,
    count: usize,
}

impl Shard {
    /// `I/N` (0 ≤ I < N), or `auto/N` with I from the scheduler's environment.
    fn parse(text: &str) -> Result<Shard> {
        let bad = |why: String| anyhow::anyhow!("--shard {text}: {why}");
        let Some((i, n)) = text.split_once('/') else {
            return Err(bad("expected I/N (e.g. 0/8) or auto/N".into()));
        };
        let count: usize = n
            .trim()
            .parse()
            .ok()
            .filter(|&n| n >= 1)
            .ok_or_else(|| bad(format!("N must be a whole number >= 1, got `{n}`")))?;
        let index = if i.trim() == "auto" {
            scheduler_index().map_err(bad)?
        } else {
            i.trim()
                .parse()
                .map_err(|_| bad(format!("I must be a whole number, got `{i}`")))?
        };
        if index >= count {
            return Err(bad(format!("I must be below N ({index} >= {count})")));
        }
        Ok(Shard { index, count })
    }

    /// Its combinations: the `index`-th of `count` near-equal contiguous parts of `total`.
    fn range(self, total: usize) -> std::ops::Range<usize> {
        let at = |k: usize| (total as u128 * k as u128 / self.count as u128) as usize;
        at(self.index)..at(self.index + 1)
    }
}

/// The shard index a batch scheduler gives: Kubernetes Indexed Jobs set
/// JOB_COMPLETION_INDEX (0-based); Slurm arrays SLURM_ARRAY_TASK_ID, counted from
/// SLURM_ARRAY_TASK_MIN.
fn scheduler_index() -> Result<usize, String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    let num = |k: &str, v: String| {
        v.trim()
            .parse::<usize>()
            .map_err(|_| format!("{k}={v} is not a whole number"))
    };
    if let Some(v) = var("JOB_COMPLETION_INDEX") {
        return num("JOB_COMPLETION_INDEX", v);
    }
    if let Some(v) = var("SLURM_ARRAY_TASK_ID") {
        let id = num("SLURM_ARRAY_TASK_ID", v)?;
        let min = match var("SLURM_ARRAY_TASK_MIN") {
            Some(m) => num("SLURM_ARRAY_TASK_MIN", m)?,
            None => 0,
        };
        return id.checked_sub(min).ok_or_else(|| {
            format!("SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}")
        });
    }
    Err("auto needs JOB_COMPLETION_INDEX (Kubernetes) or SLURM_ARRAY_TASK_ID (Slurm) in the environment".into())
}

/// This process's `backtide sweep` arguments without `--shard` and `--out` (what every
/// shard of one sweep has in common): a shard file records them so the merge rebuilds the
/// same sweep.
fn shard_args() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip_while(|a| a != "sweep").skip(1);
    while let Some(a) = args.next() {
        if a == "--shard" || a == "--out" {
            args.next();
        } else if !(a.starts_with("--shard=") || a.starts_with("--out=")) {
            out.push(a);
        }
    }
    out
}

/// Arguments of `backtide sweep-merge`.
#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// The shard files (`backtide sweep --shard I/N --out FILE.parquet`), every shard of one
    /// sweep, in any order.
    #[arg(required = true, value_name = "SHARD")]
    parts: Vec<PathBuf>,
    /// Write every combination here (.csv, .json or .parquet), as `backtide sweep --out`.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Write the sweep's HTML report here.
    #[arg(long, value_name = "FILE")]
    report: Option<PathBuf>,
    /// How many of the best combinations to print.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

/// `backtide sweep`'s arguments on their own, to rebuild a sweep from a shard's record.
#[derive(Debug, clap::Parser)]
struct SweepOnly {
    #[command(flatten)]
    args: SweepArgs,
}

/// `backtide sweep-merge`: the shards of one sweep joined into the unsharded result —
/// every combination in order, the best, the overfitting checks — as `backtide sweep`
/// would have written and printed it.
pub(crate) fn merge(m: MergeArgs) -> Result<()> {
    use clap::Parser as _;
    let mut shards = Vec::with_capacity(m.parts.len());
    for p in &m.parts {
        let file = backtide_data::read_shard(p)?;
        let d: serde_json::Value = serde_json::from_str(&file.description)
            .map_err(|e| anyhow::anyhow!("{}: damaged shard description: {e}", p.display()))?;
        let outcome: serde_json::Value = match &file.outcome {
            Some(o) => serde_json::from_str(o)
                .map_err(|e| anyhow::anyhow!("{}: damaged shard outcome: {e}", p.display()))?,
            None => bail!("{}: the shard did not finish", p.display()),
        };
        if outcome["cancelled"] == true {
            bail!(
                "{}: shard {} was cancelled before its end; run it again",
                p.display(),
                d["shard"]
            );
        }
        shards.push((p.clone(), d, outcome, file.records));
    }
    let first = shards[0].1.clone();
    let same = |d: &serde_json::Value| {
        ["format", "args", "shards", "total", "data"]
            .iter()
            .find(|k| d[**k] != first[**k])
    };
    for (p, d, _, _) in &shards {
        if let Some(k) = same(d) {
            bail!(
                "{}: not a shard of the same sweep as {} (its `{k}` differs: {} vs {})",
                p.display(),
                shards[0].0.display(),
                d[*k],
                first[*k]
            );
        }
    }
    shards.sort_by_key(|(_, d, _, _)| d["shard"].as_u64());
    let n = first["shards"].as_u64().unwrap_or(0) as usize;
    let total = first["total"].as_u64().unwrap_or(0) as usize;
    let have: Vec<u64> = shards
        .iter()
        .filter_map(|s| s.1["shard"].as_u64())
        .collect();
    let missing: Vec<String> = (0..n as u64)
        .filter(|i| !have.contains(i))
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        bail!(
            "shard(s) {} of {n} missing: give every shard of the sweep",
            missing.join(", ")
        );
    }
    if have.len() != n {
        bail!(
            "a shard is given twice ({} files for {n} shards)",
            have.len()
        );
    }
    let mut args: Vec<String> = first["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for (flag, v) in [("--out", &m.out), ("--report", &m.report)] {
        if let Some(v) = v {
            args.extend([flag.to_string(), v.display().to_string()]);
        }
    }
    args.extend(["--top".to_string(), m.top.to_string()]);
    let a = SweepOnly::try_parse_from(std::iter::once("backtide sweep".to_string()).chain(args))
        .map_err(|e| anyhow::anyhow!("the shards' sweep arguments do not parse: {e}"))?
        .args;
    let Plan {
        spec,
        objective,
        dialect,
        ..
    } = plan(&a)?;
    let mut collect = Collect::new(&a, spec.strategy.params(), dialect)?;
    let mut best = backtide_core::sweep::BestOf::new(&objective);
    let mut order = spec.stream()?.enumerate();
    let (mut completed, mut failed, mut first_error) = (0usize, 0usize, None::<String>);
    for (p, _, outcome, records) in &shards {
        failed += outcome["failed"].as_u64().unwrap_or(0) as usize;
        if first_error.is_none() {
            first_error = outcome["first_error"].as_str().map(str::to_string);
        }
        for rec in records {
            let index = rec.index as usize;
            let values = order
                .by_ref()
                .find(|(i, _)| *i == index)
                .map(|(_, v)| v)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{}: combination {index} is not in the sweep's order (or out of order)",
                        p.display()
                    )
                })?;
            let r = ComboResult {
                index,
                params: spec.params_for(&values)?,
                values,
                stats: rec.stats.clone(),
                vbt: rec.vbt.clone(),
                profile: rec.profile.clone(),
            };
            best.offer(&r);
            collect.add(&r, &objective)?;
            completed += 1;
        }
    }
    let outcome = backtide_core::sweep::SweepOutcome {
        total,
        completed,
        failed: (failed, first_error),
        cancelled: false,
        best: best.into_best(),
    };
    let threads = backtide_server::container::ContainerLimits::detect().threads();
    collect.finish(&a, &spec, &objective, dialect, &outcome, threads)
}
