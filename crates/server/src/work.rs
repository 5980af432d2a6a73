//! Executing one job: the synchronous part a worker thread runs.
//!
//! Results go to `results/<job id>/` through atomic writes; `result.json` is written
//! last-but-one and the `DONE` marker (the result's digest) last, so a job found with a
//! marker after a crash finished and is not run again: its result never changes.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context as _, Result};
use backtide_core::stats::{AlignedBenchmark, BenchmarkStats};
use backtide_core::sweep::overfitting::overfitting_report;
use backtide_core::sweep::{BestOf, ComboResult};
use backtide_core::sweep::{
    SweepControl, run_portfolio_sweep, run_portfolio_walk_forward, run_sweep, run_walk_forward,
};
use backtide_core::{Bars, ParamValue, Params, Universe};
use backtide_data::SweepWriter;

use crate::checkpoint;
use crate::error::ApiError;
use crate::spec::{
    JobSpec, PreparedPortfolio, PreparedSweep, prepare_backtest, prepare_portfolio_backtest,
    prepare_sweep,
};

/// What a job runs on.
pub(crate) enum JobData {
    /// One asset's bars.
    Bars(Arc<Bars>),
    /// A portfolio's universe.
    Universe(Universe),
}

impl JobData {
    fn is_portfolio(&self) -> bool {
        matches!(self, JobData::Universe(_))
    }
}

/// The parameters as a result shows them: a stored model by its id, never the path this
/// server read it from (a client must not learn where the data directory is).
fn shown<'a>(params: &'a Params, model: Option<&str>) -> Cow<'a, Params> {
    match model {
        None => Cow::Borrowed(params),
        Some(id) => Cow::Owned(
            params
                .relabelled("model", ParamValue::Str(id.to_string()))
                .relabelled("features", ParamValue::Str(format!("(model {id})"))),
        ),
    }
}

/// A sweep's combination as its result shows it (see [`shown`]).
fn shown_combo<'a>(c: &'a ComboResult, model: Option<&str>) -> Cow<'a, ComboResult> {
    match shown(&c.params, model) {
        Cow::Borrowed(_) => Cow::Borrowed(c),
        Cow::Owned(params) => Cow::Owned(ComboResult {
            params,
            ..c.clone()
        }),
    }
}

fn params_line(p: &Params) -> String {
    p.values()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Runs a portfolio backtest: its JSON result (as `backtide run --json` prints it) and
/// its HTML report.
fn portfolio_run(
    spec: &JobSpec,
    p: &PreparedPortfolio,
    u: &Universe,
) -> Result<(
    backtide_core::portfolio::PortfolioResult,
    serde_json::Value,
    String,
)> {
    let mut strategy = p.info.build(&p.params)?;
    let res = backtide_core::portfolio::run(u, strategy.as_mut(), &p.cfg)?;
    let json = backtide_data::portfolio_json(
        u,
        &res,
        backtide_data::PortfolioRunInfo {
            profile: p.profile,
            fill: p.cfg.fill,
            call_seq: p.cfg.call_seq,
            strategy: p.info.name,
            params: &p.params,
        },
    );
    let html = backtide_report::portfolio_html(&backtide_report::PortfolioReport {
        title: &format!(
            "{} · {}({})",
            spec.data_label(),
            p.info.name,
            params_line(&p.params)
        ),
        universe: u,
        result: &json,
        benchmark: None,
    });
    Ok((res, json, html))
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Ran to the end.
    Succeeded,
    /// Stopped on request; a sweep's finished combinations were written.
    Cancelled,
    /// Stopped by a shutdown: nothing written, to be run again.
    Interrupted,
}

/// Signals a worker passes to a running job.
pub(crate) struct Signals<'a> {
    /// Set to stop a sweep (cancel or shutdown).
    pub stop: &'a AtomicBool,
    /// Set (with `stop`) when the stop is a shutdown rather than a user's cancel.
    pub shutdown: &'a AtomicBool,
    /// Progress in 0..1.
    pub progress: &'a (dyn Fn(f64) + Sync),
    /// Threads a sweep uses (the node's CPU quota, or its `--threads`).
    pub threads: usize,
}

/// The digest file that marks a finished result.
pub(crate) const DONE: &str = "DONE";

/// Reads the `DONE` marker: the result digest of a job that already finished.
pub(crate) fn finished_digest(dir: &Path) -> Option<String> {
    std::fs::read_to_string(dir.join(DONE))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `text` with this server's data directory taken out of every path in it
/// (`<data dir>/datasets/ab12….csv` reads `datasets/ab12….csv`): a job's error is shown
/// to clients, who must not learn where the server keeps its files.
pub(crate) fn redact(text: &str, data_dir: &Path) -> String {
    let dir = data_dir.to_string_lossy();
    let dir = dir.trim_end_matches(std::path::MAIN_SEPARATOR);
    if dir.is_empty() {
        return text.to_string();
    }
    text.replace(&format!("{dir}{}", std::path::MAIN_SEPARATOR), "")
        .replace(dir, "(data)")
}

/// A backtest's statistics against its benchmark's bars.
fn measure(
    bars: &Bars,
    result: &backtide_core::RunResult,
    benchmark: &Bars,
) -> Result<(AlignedBenchmark, BenchmarkStats)> {
    let aligned = AlignedBenchmark::align(benchmark.time(), benchmark.close(), bars.time())?;
    let stats = BenchmarkStats::compute(bars.time(), &result.equity, result.warmup, &aligned);
    Ok((aligned, stats))
}

fn invalid(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", describe(e))
}

/// An API error as one line (for a job's `error`).
pub(crate) fn describe(e: ApiError) -> String {
    match e {
        ApiError::Invalid(d) => format!(
            "invalid job: {}",
            d.iter()
                .map(|x| {
                    let loc: Vec<String> = x
                        .loc
                        .iter()
                        .map(|v| v.as_str().map_or(v.to_string(), str::to_string))
                        .collect();
                    format!("{}: {}", loc.join("."), x.msg)
                })
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => other.to_string(),
    }
}

/// Runs `spec` on `data`, writing its result files into `dir`; returns how it ended and
/// the digest of `result.json`.
pub(crate) fn execute(
    spec: &JobSpec,
    data: &JobData,
    benchmark: Option<&Bars>,
    dir: &Path,
    max_combinations: usize,
    signals: &Signals<'_>,
    model: Option<&str>,
) -> Result<(Outcome, Option<String>)> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let outcome = match (spec, data) {
        (JobSpec::Backtest(r), JobData::Universe(u)) => {
            let p = prepare_portfolio_backtest(r).map_err(invalid)?;
            let (res, json, html) = portfolio_run(spec, &p, u)?;
            backtide_data::write_portfolio_trades_csv(u, &res, &dir.join("trades.csv"))?;
            backtide_data::write_portfolio_equity_csv(u.time(), &res, &dir.join("equity.csv"))?;
            backtide_data::write_orders_csv(u, &res, &dir.join("orders.csv"))?;
            backtide_data::write_columns(
                u.time(),
                &["equity", "drawdown", "cash"].map(String::from),
                &[
                    res.value.clone(),
                    backtide_core::stats::drawdown(&res.value),
                    res.cash.clone(),
                ],
                &dir.join("result.parquet"),
            )?;
            backtide_data::write_bytes(&dir.join("report.html"), html.as_bytes())?;
            backtide_data::write_bytes(
                &dir.join("result.json"),
                serde_json::to_string(&json)?.as_bytes(),
            )?;
            (signals.progress)(1.0);
            Outcome::Succeeded
        }
        (JobSpec::Backtest(r), JobData::Bars(bars)) => {
            let p = prepare_backtest(r).map_err(invalid)?;
            let mut strategy = p.info.build(&p.params)?;
            let result = backtide_core::run(bars, strategy.as_mut(), &p.cfg)?;
            backtide_data::write_trades_csv(bars, &result.trades, &dir.join("trades.csv"))?;
            backtide_data::write_equity_csv(bars, &result.equity, &dir.join("equity.csv"))?;
            backtide_data::write_equity_parquet(bars, &result.equity, &dir.join("result.parquet"))?;
            let bench = match (benchmark, &r.benchmark) {
                (Some(b), Some(id)) => {
                    let (aligned, stats) = measure(bars, &result, b)?;
                    Some(backtide_data::benchmark_json(id, &aligned, &stats))
                }
                _ => None,
            };
            let extra: Vec<(&str, &serde_json::Value)> =
                bench.iter().map(|b| ("benchmark", b)).collect();
            // Streamed, as `backtide run --json`: the same bytes, never one document.
            let params = shown(&p.params, model);
            backtide_data::write_with(&dir.join("result.json"), |w| {
                backtide_data::write_backtest_doc(
                    w,
                    &backtide_data::BacktestDoc {
                        bars,
                        run: &result,
                        cfg: &p.cfg,
                        profile: p.profile,
                        strategy: p.info.name,
                        params: &params,
                        extra: &extra,
                        ctx: None,
                    },
                )
            })?;
            (signals.progress)(1.0);
            Outcome::Succeeded
        }
        (JobSpec::Sweep(r), data) => {
            let p = prepare_sweep(r, max_combinations, data.is_portfolio()).map_err(invalid)?;
            let progress = |done: usize, total: usize| {
                (signals.progress)(if total == 0 {
                    0.0
                } else {
                    done as f64 / total as f64
                });
            };
            let control = SweepControl {
                threads: signals.threads,
                cancel: Some(signals.stop),
                progress: Some(&progress),
                profile_blocks: p.pbo_blocks,
                skip: 0,
                end: None,
            };
            let stopped = || signals.stop.load(Ordering::Relaxed);
            if let Some(wf) = &p.walk_forward {
                let (mut result, basket);
                let bars = match (data, &p.portfolio) {
                    (JobData::Universe(u), Some(pcfg)) => {
                        result = run_portfolio_walk_forward(
                            u,
                            &p.spec,
                            pcfg,
                            &p.objective,
                            wf,
                            &control,
                        )?;
                        // A portfolio's times and market: its equal-weight basket.
                        basket = backtide_core::portfolio::stats::basket_bars(u, pcfg.cash);
                        &basket
                    }
                    (JobData::Bars(bars), _) => {
                        result =
                            run_walk_forward(bars, &p.spec, &p.cfg, &p.objective, wf, &control)?;
                        bars
                    }
                    (JobData::Universe(_), None) => {
                        anyhow::bail!("a universe job without portfolio settings")
                    }
                };
                if stopped() {
                    // A walk-forward cut short has no meaningful stitched result.
                    return Ok((stop_outcome(signals), None));
                }
                for w in &mut result.windows {
                    if let Cow::Owned(c) = shown_combo(&w.best, model) {
                        w.best = c;
                    }
                }
                let text = serde_json::to_string(&backtide_data::walk_forward_json(bars, &result))?;
                backtide_data::write_bytes(&dir.join("result.json"), text.as_bytes())?;
                Outcome::Succeeded
            } else {
                // Resume from what an interrupted attempt finished (see `checkpoint`).
                let (skip, keep) = checkpoint::resume_point(dir)?;
                let log = Mutex::new(checkpoint::Writer::open(dir, keep)?);
                // The marker goes first: progress a client has seen is never more than a
                // resumed attempt skips (a kill between the two loses no reported work).
                let marked = |done: usize, total: usize| {
                    // A stop may have cut the chunk short: no marker for it.
                    if !stopped()
                        && let Err(e) = log.lock().unwrap_or_else(|p| p.into_inner()).done(done)
                    {
                        tracing::warn!(error = format!("{e:#}"), "writing the sweep checkpoint");
                    }
                    progress(done, total);
                };
                let control = SweepControl {
                    progress: Some(&marked),
                    skip,
                    ..control
                };
                let mut out = SweepOutputs::create(dir, &p, model)?;
                let mut deliver = |c: &ComboResult| out.deliver(c);
                if skip > 0 {
                    tracing::info!(skip, "resuming the sweep after its finished combinations");
                    checkpoint::replay(dir, &p.spec, skip, &mut deliver)?;
                }
                let mut sink = |c: &ComboResult| -> Result<()> {
                    log.lock().unwrap_or_else(|p| p.into_inner()).combo(c)?;
                    deliver(c)
                };
                let outcome = sweep_on(data, &p, &control, &mut sink)?;
                if outcome.cancelled && signals.shutdown.load(Ordering::Relaxed) {
                    // Dropping the writers removes their temporary files; the checkpoint
                    // stays for the next attempt.
                    return Ok((Outcome::Interrupted, None));
                }
                out.finish(signals.threads)?;
                remove_checkpoint(dir);
                if outcome.cancelled {
                    Outcome::Cancelled
                } else {
                    Outcome::Succeeded
                }
            }
        }
    };
    let digest = crate::storage::sha256_file(&dir.join("result.json"))
        .context("reading back result.json")?;
    crate::storage::write_manifest(dir)?;
    if outcome == Outcome::Succeeded {
        backtide_data::write_bytes(&dir.join(DONE), digest.as_bytes())?;
    }
    Ok((outcome, Some(digest)))
}

/// The result files of a sweep (not a walk-forward) being written, in combination order:
/// JSON, CSV and Parquet, the best combination and the overfitting checks' profiles.
struct SweepOutputs<'a> {
    json: SweepWriter,
    csv: SweepWriter,
    parquet: SweepWriter,
    profiles: Vec<backtide_core::sweep::overfitting::ReturnProfile>,
    best: BestOf<'a>,
    model: Option<&'a str>,
}

impl<'a> SweepOutputs<'a> {
    fn create(dir: &Path, p: &'a PreparedSweep, model: Option<&'a str>) -> Result<Self> {
        let params = p.spec.strategy.params();
        let dialect = p.profile.dialect();
        Ok(SweepOutputs {
            json: SweepWriter::create(&dir.join("result.json"), params, dialect)?,
            csv: SweepWriter::create(&dir.join("result.csv"), params, dialect)?,
            parquet: SweepWriter::create(&dir.join("result.parquet"), params, dialect)?,
            profiles: Vec::new(),
            best: BestOf::new(&p.objective),
            model,
        })
    }

    fn deliver(&mut self, c: &ComboResult) -> Result<()> {
        self.best.offer(c);
        let c = &*shown_combo(c, self.model);
        self.json.write(c)?;
        self.csv.write(c)?;
        self.parquet.write(c)?;
        if let Some(pr) = &c.profile {
            self.profiles.push(pr.clone());
        }
        Ok(())
    }

    /// Writes the best combination and the overfitting checks (on `threads` cores).
    fn finish(self, threads: usize) -> Result<()> {
        let best = self.best.into_best();
        let best = best.as_ref().map(|b| shown_combo(b, self.model));
        let best = best.as_deref();
        let report = best
            .and_then(|b| b.profile.as_ref())
            .map(|bp| overfitting_report(&self.profiles, bp, threads));
        self.csv.finish(best, report.as_ref())?;
        self.parquet.finish(best, report.as_ref())?;
        self.json.finish(best, report.as_ref())?;
        Ok(())
    }
}

/// Runs a prepared sweep (not a walk-forward) on a job's data: a single-asset sweep on
/// bars, or a portfolio sweep on a universe.
fn sweep_on(
    data: &JobData,
    p: &PreparedSweep,
    control: &SweepControl<'_>,
    sink: &mut dyn FnMut(&ComboResult) -> Result<()>,
) -> Result<backtide_core::sweep::SweepOutcome> {
    Ok(match (data, &p.portfolio) {
        (JobData::Universe(u), Some(pcfg)) => {
            run_portfolio_sweep::<anyhow::Error>(u, &p.spec, pcfg, &p.objective, control, sink)?
        }
        (JobData::Bars(bars), None) => {
            run_sweep::<anyhow::Error>(bars, &p.spec, &p.cfg, &p.objective, control, sink)?
        }
        _ => anyhow::bail!("a portfolio sweep needs a universe"),
    })
}

/// Combinations per shard at least: below this a shard's start-up (loading the data,
/// the indicator cache) outweighs what spreading the work gains.
const MIN_SHARD: u64 = 128;
/// Most shards a sweep is split into.
const MAX_SHARDS: u64 = 32;

/// How a sweep job is split across the nodes of a cluster: contiguous ranges of its
/// combination order, or `None` when it is not split (a backtest, a walk-forward, or a
/// sweep too small to gain from it).
pub(crate) fn shard_plan(
    spec: &JobSpec,
    data: &JobData,
    max_combinations: usize,
) -> Result<Option<Vec<(u64, u64)>>> {
    let JobSpec::Sweep(r) = spec else {
        return Ok(None);
    };
    let p = prepare_sweep(r, max_combinations, data.is_portfolio()).map_err(invalid)?;
    if p.walk_forward.is_some() {
        return Ok(None);
    }
    let total = p.spec.count()? as u64;
    let size = total.div_ceil(MAX_SHARDS).max(MIN_SHARD);
    if total < 2 * MIN_SHARD {
        return Ok(None);
    }
    let ranges = (0..total.div_ceil(size))
        .map(|i| (i * size, ((i + 1) * size).min(total)))
        .collect();
    Ok(Some(ranges))
}

/// The folder of a shard's part of a split sweep's result.
pub(crate) fn shard_dir(dir: &Path, index: u32) -> std::path::PathBuf {
    dir.join("shards").join(index.to_string())
}

/// Runs combinations `start..end` of a split sweep, recording them in the shard's
/// checkpoint in `dir` (resuming from it). True when all of them finished; false when a
/// stop cut it short (what finished stays for the next attempt).
pub(crate) fn run_shard(
    spec: &JobSpec,
    data: &JobData,
    dir: &Path,
    (start, end): (u64, u64),
    max_combinations: usize,
    signals: &Signals<'_>,
) -> Result<bool> {
    let JobSpec::Sweep(r) = spec else {
        anyhow::bail!("only a sweep is split into shards");
    };
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let p = prepare_sweep(r, max_combinations, data.is_portfolio()).map_err(invalid)?;
    let (start, end) = (start as usize, end as usize);
    let (next, keep) = checkpoint::resume_point(dir)?;
    let skip = next.max(start);
    if skip >= end {
        return Ok(true);
    }
    let stopped = || signals.stop.load(Ordering::Relaxed);
    let log = Mutex::new(checkpoint::Writer::open(dir, keep)?);
    // The marker first, as in a whole sweep: reported progress is always checkpointed.
    let marked = |done: usize, total: usize| {
        if !stopped()
            && let Err(e) = log.lock().unwrap_or_else(|p| p.into_inner()).done(done)
        {
            tracing::warn!(error = format!("{e:#}"), "writing the shard's checkpoint");
        }
        (signals.progress)(if total == 0 {
            0.0
        } else {
            done as f64 / total as f64
        });
    };
    let control = SweepControl {
        threads: signals.threads,
        cancel: Some(signals.stop),
        progress: Some(&marked),
        profile_blocks: p.pbo_blocks,
        skip,
        end: Some(end),
    };
    let mut sink =
        |c: &ComboResult| -> Result<()> { log.lock().unwrap_or_else(|p| p.into_inner()).combo(c) };
    let outcome = sweep_on(data, &p, &control, &mut sink)?;
    if outcome.cancelled {
        return Ok(false);
    }
    log.lock().unwrap_or_else(|p| p.into_inner()).done(end)?;
    Ok(true)
}

/// Writes a split sweep's result from its shards' parts, in combination order: the same
/// files, bytes and digest as the sweep run whole on one node.
pub(crate) fn merge_shards(
    spec: &JobSpec,
    data: &JobData,
    dir: &Path,
    shards: &[(u32, u64, u64)],
    max_combinations: usize,
    model: Option<&str>,
) -> Result<(Outcome, Option<String>)> {
    let JobSpec::Sweep(r) = spec else {
        anyhow::bail!("only a sweep is split into shards");
    };
    let p = prepare_sweep(r, max_combinations, data.is_portfolio()).map_err(invalid)?;
    let mut out = SweepOutputs::create(dir, &p, model)?;
    for &(index, start, end) in shards {
        let part = shard_dir(dir, index);
        let (next, _) = checkpoint::resume_point(&part)?;
        anyhow::ensure!(
            next >= end as usize,
            "shard {index} (combinations {start}..{end}) holds only up to {next}"
        );
        checkpoint::replay(&part, &p.spec, end as usize, &mut |c| out.deliver(c))?;
    }
    out.finish(crate::container::ContainerLimits::detect().threads())?;
    let digest = crate::storage::sha256_file(&dir.join("result.json"))
        .context("reading back result.json")?;
    crate::storage::write_manifest(dir)?;
    backtide_data::write_bytes(&dir.join(DONE), digest.as_bytes())?;
    let _ = std::fs::remove_dir_all(dir.join("shards"));
    Ok((Outcome::Succeeded, Some(digest)))
}

/// Removes a sweep's checkpoint once it is no longer needed (the sweep ended for good).
pub(crate) fn remove_checkpoint(dir: &Path) {
    let _ = std::fs::remove_file(dir.join(checkpoint::CHECKPOINT));
}

fn stop_outcome(signals: &Signals<'_>) -> Outcome {
    if signals.shutdown.load(Ordering::Relaxed) {
        Outcome::Interrupted
    } else {
        Outcome::Cancelled
    }
}

/// The HTML report of a finished job, made on first request and kept beside the result
/// (results never change, so neither does the report). A backtest is re-run to draw it
/// (deterministic: the same trades as its result); a sweep is drawn from its result. A
/// portfolio backtest wrote its report with its result. `data` loads the job's data when
/// the report must be drawn.
pub(crate) fn report_html(
    spec: &JobSpec,
    data: impl FnOnce() -> Result<(JobData, Option<Arc<Bars>>)>,
    dir: &Path,
    max_combinations: usize,
    model: Option<&str>,
) -> Result<Vec<u8>> {
    let path = dir.join("report.html");
    if let Ok(bytes) = std::fs::read(&path) {
        return Ok(bytes);
    }
    let (data, benchmark) = data()?;
    let html = match (spec, &data) {
        (JobSpec::Backtest(r), JobData::Universe(u)) => {
            let p = prepare_portfolio_backtest(r).map_err(invalid)?;
            portfolio_run(spec, &p, u)?.2
        }
        (JobSpec::Backtest(r), JobData::Bars(bars)) => {
            let p = prepare_backtest(r).map_err(invalid)?;
            let mut strategy = p.info.build(&p.params)?;
            let result = backtide_core::run(bars, strategy.as_mut(), &p.cfg)?;
            let stats = backtide_data::profile_stats_json(bars, &result, &p.cfg, p.profile);
            let measured = match (&benchmark, &r.benchmark) {
                (Some(b), Some(id)) => Some((id.as_str(), measure(bars, &result, b)?)),
                _ => None,
            };
            let params: Vec<String> = shown(&p.params, model)
                .values()
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            backtide_report::backtest_html(&backtide_report::BacktestReport {
                title: &format!(
                    "{} · {}({})",
                    spec.data_label(),
                    p.info.name,
                    params.join(",")
                ),
                bars,
                run: &result,
                stats: &stats,
                cash: p.cfg.cash,
                benchmark: measured.as_ref().map(|(name, (aligned, stats))| {
                    backtide_report::ReportBenchmark {
                        name,
                        close: aligned.close(),
                        stats,
                    }
                }),
            })
        }
        (JobSpec::Sweep(r), data) => {
            let p = prepare_sweep(r, max_combinations, data.is_portfolio()).map_err(invalid)?;
            let v: serde_json::Value = serde_json::from_slice(
                &std::fs::read(dir.join("result.json")).context("reading result.json")?,
            )?;
            let axes: Vec<String> = p.spec.axes.iter().map(|a| a.name.clone()).collect();
            let combos = v["combos"].as_array().cloned().unwrap_or_default();
            let wf = v.get("walk_forward");
            backtide_report::sweep_html(&backtide_report::SweepReport {
                title: &format!(
                    "{} of {} on {}",
                    if wf.is_some() {
                        "Walk-forward"
                    } else {
                        "Sweep"
                    },
                    p.spec.strategy.name(),
                    spec.data_label()
                ),
                axes: &axes,
                objective: p.objective.key,
                maximize: p.objective.maximize,
                combos: &combos,
                best: v.get("best").filter(|b| !b.is_null()),
                overfitting: v.get("overfitting").filter(|b| !b.is_null()),
                walk_forward: wf,
            })
        }
    };
    backtide_data::write_bytes(&path, html.as_bytes())?;
    Ok(html.into_bytes())
}
