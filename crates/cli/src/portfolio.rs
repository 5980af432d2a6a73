//! `backtide run` on a portfolio: several assets trading from one account.

use std::fmt::Write as _;

use anyhow::{Context as _, Result};
use backtide_core::Params;
use backtide_core::portfolio::{self, CallSeq, FillAt, PortfolioConfig, builtin};
use clap::Args;

use crate::run::{DataArgs, RunArgs, param_pairs, params_line};
use crate::table;

/// Order of execution within a bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum CallSeqArg {
    /// Sales first, then buys from the smallest (vectorbt's `call_seq='auto'`).
    Auto,
    /// Column order (vectorbt's `call_seq='default'`).
    Default,
}

/// When a decision fills.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum FillArg {
    /// At the close of the bar it was made on (vectorbt's default).
    Close,
    /// At the next bar's open (no look-ahead; backtesting.py's timing).
    #[value(name = "next_open")]
    NextOpen,
}

/// Settings that only portfolios have.
#[derive(Debug, Args)]
pub(crate) struct PortfolioArgs {
    /// Portfolios: order of the orders within a bar: `auto` (sales first, then buys from
    /// the smallest, as vectorbt's call_seq='auto') or `default` (column order).
    #[arg(long, value_enum, default_value_t = CallSeqArg::Auto)]
    call_seq: CallSeqArg,
    /// Portfolios: when decisions fill: `close` or `next_open` (default by --profile:
    /// vectorbt fills at the close, backtesting_py at the next open).
    #[arg(long, value_enum)]
    fill: Option<FillArg>,
}

impl PortfolioArgs {
    /// The portfolio settings implied by the broker settings, the profile and these flags.
    pub(crate) fn config(
        &self,
        broker: &backtide_core::BrokerConfig,
        profile: backtide_core::Profile,
    ) -> Result<PortfolioConfig> {
        PortfolioConfig::from_broker(broker, profile, self.fill(), self.call_seq())
            .map_err(crate::run::flag_error)
    }

    fn call_seq(&self) -> CallSeq {
        match self.call_seq {
            CallSeqArg::Auto => CallSeq::Auto,
            CallSeqArg::Default => CallSeq::Default,
        }
    }

    fn fill(&self) -> Option<FillAt> {
        self.fill.map(|f| match f {
            FillArg::Close => FillAt::Close,
            FillArg::NextOpen => FillAt::NextOpen,
        })
    }
}

/// A portfolio run: several assets, or an allocation strategy (meaningful only on a
/// universe, even of one asset).
pub(crate) fn wants_portfolio(data: &DataArgs, strategy: &str) -> bool {
    !data.is_single() || builtin::find(strategy).is_ok_and(|i| !i.is_per_asset())
}

/// The portfolio strategy called `name`, or an error that says why a portfolio was asked
/// for.
pub(crate) fn find(data: &DataArgs, name: &str) -> Result<&'static builtin::PortfolioStrategyInfo> {
    builtin::find(name).with_context(|| format!("--data {} is a portfolio", data.label()))
}

pub(crate) fn run(a: &RunArgs) -> Result<()> {
    let given = param_pairs(&a.params)?;
    let info = find(&a.data, &a.strategy)?.specialize(&given)?;
    let profile = a.broker.profile.core();
    let pairs = profile.param_defaults(&info.params, given);
    let params = Params::from_pairs(&info.params, pairs)?;
    let mut strategy = info.build(&params)?;
    let cfg = a
        .portfolio
        .config(&a.broker.config(a.data.session()?)?, profile)?;
    let u = a.data.load_universe()?;
    let res = portfolio::run(&u, strategy.as_mut(), &cfg)?;
    // Against a benchmark from the first bar (a portfolio has no warm-up of its own).
    let benchmark = match &a.benchmark {
        Some(spec) => {
            let aligned = a.data.load_benchmark(spec, u.time())?;
            let s =
                backtide_core::stats::BenchmarkStats::compute(u.time(), &res.value, 0, &aligned);
            Some((spec.as_str(), aligned, s))
        }
        None => None,
    };

    if let Some(path) = &a.trades_csv {
        backtide_data::write_portfolio_trades_csv(&u, &res, path)?;
    }
    if let Some(path) = &a.equity_csv {
        backtide_data::write_portfolio_equity_csv(u.time(), &res, path)?;
    }
    if let Some(path) = &a.equity_parquet {
        let names = ["equity", "drawdown", "cash"].map(String::from);
        let columns = [
            res.value.clone(),
            backtide_core::stats::drawdown(&res.value),
            res.cash.clone(),
        ];
        backtide_data::write_columns(u.time(), &names, &columns, path)?;
    }
    let run_info = backtide_data::PortfolioRunInfo {
        profile,
        fill: cfg.fill,
        call_seq: cfg.call_seq,
        strategy: info.name,
        params: &params,
    };
    if let Some(path) = &a.report {
        let mut json = backtide_data::portfolio_json(&u, &res, run_info);
        if let Some((name, aligned, s)) = &benchmark {
            json["benchmark"] = backtide_data::benchmark_json(name, aligned, s);
        }
        let html = backtide_report::portfolio_html(&backtide_report::PortfolioReport {
            title: &format!(
                "{} · {}({})",
                a.data.label(),
                info.name,
                params_line(&params)
            ),
            universe: &u,
            result: &json,
            benchmark: benchmark.as_ref().map(|(name, aligned, s)| {
                backtide_report::ReportBenchmark {
                    name,
                    close: aligned.close(),
                    stats: s,
                }
            }),
        });
        backtide_data::write_bytes(path, html.as_bytes())?;
    }
    if a.json {
        // Streamed: the positions of every asset at every bar are never one document.
        let mut out = crate::bulk_stdout()?;
        let bench = benchmark
            .as_ref()
            .map(|(name, aligned, s)| backtide_data::benchmark_json(name, aligned, s));
        let extra: Vec<(&str, &serde_json::Value)> =
            bench.iter().map(|b| ("benchmark", b)).collect();
        backtide_data::write_portfolio_json_with(&mut out, &u, &res, run_info, &extra)?;
        std::io::Write::write_all(&mut out, b"\n")?;
        return Ok(());
    }
    let trades = portfolio::exit_trades(&u, &res);
    match a.broker.profile {
        crate::run::Profile::Vectorbt => {
            print!(
                "{}",
                table::vbt_stats_table(&portfolio::stats::vectorbt(&u, &res, &trades))
            );
            if let Some((name, aligned, s)) = &benchmark {
                print!("{}", table::benchmark_table(name, aligned, s, 30));
            }
        }
        crate::run::Profile::BacktestingPy => {
            print!(
                "{}",
                table::stats_table(&portfolio::stats::backtesting_py(&u, &res, &trades))
            );
            if let Some((name, aligned, s)) = &benchmark {
                print!("{}", table::benchmark_table(name, aligned, s, 26));
            }
        }
    }
    println!("{:<26}{}({})", "_strategy", info.name, params_line(&params));
    println!(
        "{:<26}{} assets, {} bars, fill {}, call sequence {}",
        "_universe",
        u.n_assets(),
        u.len(),
        cfg.fill.name(),
        cfg.call_seq.name()
    );
    println!();
    print!(
        "{}",
        asset_table(&portfolio::stats::per_asset(&u, &res, &trades))
    );
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    let refused: Vec<_> = res
        .rejected
        .iter()
        .filter(|r| r.reason.is_refusal())
        .collect();
    for r in &refused {
        *counts.entry(r.reason.label()).or_default() += 1;
    }
    if !counts.is_empty() {
        let list: Vec<String> = counts.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        eprintln!(
            "warning: {} orders not filled ({}); --json lists each",
            refused.len(),
            list.join(", ")
        );
    }
    Ok(())
}

fn asset_table(rows: &[portfolio::stats::AssetSummary]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<10}{:>8}{:>8}{:>14}{:>16}{:>16}{:>16}",
        "symbol", "trades", "orders", "exposure [%]", "P/L [$]", "contrib. [%]", "weight [%]"
    );
    for r in rows {
        let _ = writeln!(
            out,
            "{:<10}{:>8}{:>8}{:>14.2}{:>16.2}{:>16.2}{:>16.2}",
            r.symbol,
            r.trades,
            r.orders,
            r.exposure_pct,
            r.pnl,
            r.contribution_pct,
            r.final_weight_pct
        );
    }
    out
}
