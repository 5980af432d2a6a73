//! `backtide run`.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use backtide_core::{
    Bars, BrokerConfig, Commission, Params, TimestampNs, Universe, run as run_backtest, stats,
};
use clap::Args;

use crate::table;

/// Where the bars come from (shared by `run` and `sweep`).
#[derive(Debug, Args)]
pub(crate) struct DataArgs {
    /// Data: a CSV or Parquet file, or `sample:GOOG`, `sample:EURUSD`, `sample:BTCUSD`.
    /// Repeat it, or give `SYMBOL=FILE`, a directory, a long file with a `symbol` column or
    /// `sample:STOCKS`, for a portfolio of several assets sharing one account.
    #[arg(long, required = true, value_name = "SPEC")]
    pub(crate) data: Vec<String>,
    /// First timestamp to include (ISO 8601 date or datetime).
    #[arg(long)]
    from: Option<String>,
    /// Last timestamp to include (a date includes that whole day).
    #[arg(long)]
    to: Option<String>,
    /// CSV rows with a missing price (an empty, `null`, `NaN`, `NA` or `N/A` cell): `error`
    /// refuses the file, `drop` leaves the rows out, `ffill` makes each a flat bar at the
    /// previous close. The rows acted on are named. (A missing Volume cell is always read as
    /// no volume for that bar.)
    #[arg(long, value_enum, default_value_t = MissingArg::Error)]
    missing: MissingArg,
    /// Format of a CSV time column that is not ISO 8601 or epoch numbers, strftime-style:
    /// `%m/%d/%Y` (US dates), `%d.%m.%Y %H:%M`, … (naive = UTC).
    #[arg(long, value_name = "FORMAT")]
    date_format: Option<String>,
    /// Sort CSV rows by time instead of refusing rows out of order (duplicate timestamps
    /// are still refused).
    #[arg(long)]
    sort: bool,
    /// Adjust for splits and dividends with the CSV's `Adj Close` column: Open, High, Low
    /// and Close scaled by Adj Close / Close (Close becomes Adj Close), Volume divided by it.
    #[arg(long)]
    adjust: bool,
    /// Which CSV column holds which field, e.g. `time=Date,close=Last` (fields: time, open,
    /// high, low, close, volume, adj_close); unnamed fields are found by their usual names.
    #[arg(long, value_name = "FIELD=COLUMN,...")]
    columns: Option<String>,
    /// Run on coarser bars: 5min, 15min, 1h, 4h (minutes and hours that divide a day), 1d,
    /// 1w or 1mo. Buckets are calendar-aligned in UTC (weeks from Monday, months from the
    /// 1st; with --session-start, from the session's start) and stamped with their start:
    /// Open first, High max, Low min, Close last, Volume summed. Applied after --from/--to;
    /// every asset of a portfolio alike.
    #[arg(long, value_name = "TIMEFRAME")]
    resample: Option<String>,
    /// The time of day the market's trading day starts, in the data's clock (default
    /// 00:00): 09:30 for an exchange's open, 22:00 for FX in UTC. A start from 12:00 on opens
    /// the next day's session (FX's Sunday 22:00 is Monday's). --resample's days are then
    /// sessions, stamped with their start; its hours tile each session from its start
    /// (09:30, 10:30, …); weeks start at Monday's session, months at the session of the
    /// 1st. Also used by tf() in rules and by orders good for the session.
    #[arg(long, value_name = "HH:MM")]
    session_start: Option<String>,
}

/// `--missing`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum MissingArg {
    /// Refuse the file, naming the first missing cell.
    Error,
    /// Leave rows with a missing price out.
    Drop,
    /// Make each a flat bar at the previous row's close.
    Ffill,
}

impl DataArgs {
    /// The data specs as one line (for titles and messages).
    pub(crate) fn label(&self) -> String {
        self.data.join(" + ")
    }

    /// True when the specs name one plain single-asset source (a file, or a single-asset
    /// sample), which the single-asset path reads exactly as before portfolios existed.
    pub(crate) fn is_single(&self) -> bool {
        match self.data.as_slice() {
            [one] => backtide_data::is_single_asset_spec(one),
            _ => false,
        }
    }

    /// The CSV reading options of the flags.
    pub(crate) fn read_options(&self) -> Result<backtide_data::ReadOptions> {
        Ok(backtide_data::ReadOptions {
            missing: match self.missing {
                MissingArg::Error => backtide_data::MissingPolicy::Error,
                MissingArg::Drop => backtide_data::MissingPolicy::Drop,
                MissingArg::Ffill => backtide_data::MissingPolicy::Ffill,
            },
            date_format: self.date_format.clone(),
            sort: self.sort,
            adjust: self.adjust,
            columns: match &self.columns {
                Some(c) => backtide_data::ColumnMap::parse(c)?,
                None => backtide_data::ColumnMap::default(),
            },
            ..backtide_data::ReadOptions::default()
        })
    }

    /// Loads and slices the universe; the reads' notices go to stderr.
    pub(crate) fn load_universe(&self) -> Result<Universe> {
        let timeframe = self.timeframe()?;
        let (u, reports) = backtide_data::load_universe_with(&self.data, &self.read_options()?)?;
        for r in &reports {
            print_notices(r);
        }
        let (from, to) = (
            bound(&self.from, "--from", false)?,
            bound(&self.to, "--to", true)?,
        );
        let u = if from.is_none() && to.is_none() {
            u
        } else {
            let out_of_range = self.out_of_range(u.time());
            u.slice_time(from, to)
                .ok_or_else(|| anyhow::anyhow!("{}: {out_of_range}", self.label()))?
        };
        let Some(tf) = timeframe else {
            return Ok(u);
        };
        let session = self.session()?;
        let mut assets = Vec::with_capacity(u.n_assets());
        for a in u.assets() {
            let bars = tf
                .resample_in(session, a.bars())
                .with_context(|| format!("--resample, asset {}", a.symbol()))?;
            assets.push((a.symbol().to_string(), a.symbol().to_string(), bars));
        }
        Ok(Universe::try_new(assets)?)
    }

    /// The `--resample` timeframe, if given.
    pub(crate) fn timeframe(&self) -> Result<Option<backtide_core::timeframe::Timeframe>> {
        self.resample
            .as_deref()
            .map(|t| t.parse().with_context(|| format!("--resample {t}")))
            .transpose()
    }

    /// The `--session-start` session (midnight without one).
    pub(crate) fn session(&self) -> Result<backtide_core::timeframe::Session> {
        Ok(match self.session_start.as_deref() {
            Some(t) => t.parse().with_context(|| format!("--session-start {t}"))?,
            None => backtide_core::timeframe::Session::default(),
        })
    }

    /// `bars` at the `--resample` timeframe (as they are without one); the `data` object of
    /// `--json` says what was done.
    fn resampled(&self, bars: Bars, report: &mut backtide_data::ReadReport) -> Result<Bars> {
        let session = self.session()?;
        if self.session_start.is_some() {
            report.session_start = Some(session.to_string());
        }
        let Some(tf) = self.timeframe()? else {
            return Ok(bars);
        };
        let out = tf.resample_in(session, &bars).context("--resample")?;
        let rule = self.resample.as_deref().unwrap_or_default();
        if out.len() == bars.len() {
            let note = format!(
                "--resample {rule}: every bar is already in a bucket of its own (the data is {rule} or coarser); nothing changed"
            );
            eprintln!("note: {note}");
            report.notices.push(note);
        }
        report.resampled = Some((rule.to_string(), bars.len(), out.len()));
        Ok(out)
    }

    /// Loads and slices the bars of a single asset; the read's notices go to stderr.
    pub(crate) fn load(&self) -> Result<Bars> {
        self.load_reported().map(|(bars, _)| bars)
    }

    /// [`DataArgs::load`], with what the read chose and did (`data` in `--json`).
    pub(crate) fn load_reported(&self) -> Result<(Bars, backtide_data::ReadReport)> {
        let [data] = self.data.as_slice() else {
            bail!(
                "this command takes one --data, got {} ({}); portfolios of several assets run with `backtide run`",
                self.data.len(),
                self.label()
            );
        };
        let (mut bars, report) = backtide_data::load_with(data, &self.read_options()?)?;
        print_notices(&report);
        let (from, to) = (
            bound(&self.from, "--from", false)?,
            bound(&self.to, "--to", true)?,
        );
        if from.is_some() || to.is_some() {
            let sliced = bars.slice_time(from, to);
            if sliced.is_empty() {
                bail!("{data}: {}", self.out_of_range(bars.time()));
            }
            bars = sliced;
        }
        let mut report = report;
        let bars = self.resampled(bars, &mut report)?;
        Ok((bars, report))
    }
}

impl DataArgs {
    /// `no bars between --from A and --to B: the data runs from X to Y`, with the flags
    /// as given.
    fn out_of_range(&self, time: &[TimestampNs]) -> String {
        let range = [("--from", &self.from), ("--to", &self.to)]
            .iter()
            .filter_map(|(flag, v)| v.as_ref().map(|v| format!("{flag} {v}")))
            .collect::<Vec<_>>()
            .join(" and ");
        let within = match (time.first(), time.last()) {
            (Some(&a), Some(&b)) => format!(
                "the data runs from {} to {}",
                crate::messages::when(a),
                crate::messages::when(b)
            ),
            _ => "the data has no bars".into(),
        };
        let what = if self.from.is_some() && self.to.is_some() {
            format!("no bars between {range}")
        } else if self.from.is_some() {
            format!("no bars from {range}")
        } else {
            format!("no bars up to {range}")
        };
        format!("{what}: {within}")
    }
}

impl DataArgs {
    /// Reads `--intrabar` finer bars (with the data's reading flags but `--columns`) and
    /// groups them by the bar of `bars` each falls in, checking that they make up each bar;
    /// with `--from` or `--to`, the finer bars outside the run's bars are left out first.
    /// Also returns `data.intrabar` of `--json`.
    pub(crate) fn load_intrabar(
        &self,
        spec: &str,
        bars: &Bars,
    ) -> Result<(backtide_core::Intrabar, serde_json::Value)> {
        let opts = backtide_data::ReadOptions {
            columns: backtide_data::ColumnMap::default(),
            ..self.read_options()?
        };
        let flag = format!("--intrabar {spec}");
        let (mut fine, report) = backtide_data::load_with(spec, &opts).context(flag.clone())?;
        print_notices(&report);
        let read = fine.len();
        if self.from.is_some() || self.to.is_some() {
            let to = bound(&self.to, "--to", true)?;
            fine = fine.slice_time(bars.time().first().copied(), to);
        }
        let used = fine.len();
        let grouped = backtide_core::Intrabar::try_new(bars, fine).context(flag)?;
        let json = serde_json::json!({
            "source": spec,
            "bars_read": read,
            "bars": used,
            "bars_covered": grouped.covered(),
        });
        Ok((grouped, json))
    }

    /// Reads a `--benchmark` (with the data's reading flags, but not `--columns`, which
    /// names the data file's columns) and aligns it to the bars at `time`.
    pub(crate) fn load_benchmark(
        &self,
        spec: &str,
        time: &[TimestampNs],
    ) -> Result<stats::AlignedBenchmark> {
        let opts = backtide_data::ReadOptions {
            columns: backtide_data::ColumnMap::default(),
            ..self.read_options()?
        };
        let (bench, report) = backtide_data::load_with(spec, &opts).context("--benchmark")?;
        print_notices(&report);
        stats::AlignedBenchmark::align(bench.time(), bench.close(), time)
            .with_context(|| format!("--benchmark {spec}"))
    }
}

/// A read's notices, one `note:` line each on stderr.
fn print_notices(report: &backtide_data::ReadReport) {
    for n in &report.notices {
        eprintln!("note: {n}");
    }
}

/// Which tool's semantics and statistics to reproduce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Profile {
    /// backtesting.py 0.6.6.
    #[value(name = "backtesting_py")]
    BacktestingPy,
    /// vectorbt 1.2 `Portfolio.from_signals`.
    #[value(name = "vectorbt")]
    Vectorbt,
}

impl Profile {
    /// The engine's profile.
    pub(crate) fn core(self) -> backtide_core::Profile {
        match self {
            Profile::BacktestingPy => backtide_core::Profile::BacktestingPy,
            Profile::Vectorbt => backtide_core::Profile::Vectorbt,
        }
    }
}

/// Broker settings (shared by `run` and `sweep`).
#[derive(Debug, Args)]
pub(crate) struct BrokerArgs {
    /// Semantics and statistics dialect: `backtesting_py` (fills at the next open, whole
    /// units, backtesting.py's statistics) or `vectorbt` (fills at the signal bar's close,
    /// fractional sizes, vectorbt's `stats()`).
    #[arg(long, value_enum, default_value_t = Profile::BacktestingPy)]
    pub(crate) profile: Profile,
    /// Starting cash.
    #[arg(long, default_value_t = 10_000.0)]
    cash: f64,
    /// Relative commission per fill (0.002 = 0.2 %).
    #[arg(long, default_value_t = 0.0)]
    commission: f64,
    /// Fixed commission per fill, added to the relative one.
    #[arg(long, default_value_t = 0.0)]
    commission_fixed: f64,
    /// Relative bid-ask spread applied to entries.
    #[arg(long, default_value_t = 0.0)]
    spread: f64,
    /// Relative slippage on every fill, entries and exits (vectorbt's `slippage`).
    #[arg(long, default_value_t = 0.0)]
    slippage: f64,
    /// Margin requirement in (0, 1]; leverage = 1 / margin.
    #[arg(long, default_value_t = 1.0)]
    margin: f64,
    /// Fill market orders at the signal bar's close instead of the next open.
    #[arg(long)]
    trade_on_close: bool,
    /// Allow long and short trades at the same time (no FIFO netting).
    #[arg(long)]
    hedging: bool,
    /// Each new order closes open trades and cancels pending entries first.
    #[arg(long)]
    exclusive_orders: bool,
    /// Close open trades on the last bar so they count in the statistics.
    #[arg(long)]
    finalize_trades: bool,
    /// Trade in multiples of this fraction of a unit (e.g. 1e-6, 1e-8 for satoshis).
    #[arg(long)]
    fractional_unit: Option<f64>,
}

impl BrokerArgs {
    /// The validated broker configuration, the market's sessions starting at `session`
    /// (`--session-start`, a data flag: [`DataArgs::session`]).
    pub(crate) fn config(
        &self,
        session: backtide_core::timeframe::Session,
    ) -> Result<BrokerConfig> {
        let commission = Commission::from_parts(self.commission, self.commission_fixed);
        let cfg = BrokerConfig {
            cash: self.cash,
            commission,
            spread: self.spread,
            slippage: self.slippage,
            margin: self.margin,
            trade_on_close: self.trade_on_close,
            hedging: self.hedging,
            exclusive_orders: self.exclusive_orders,
            finalize_trades: self.finalize_trades,
            fractional_unit: self.fractional_unit,
            session,
            ..BrokerConfig::default()
        };
        if self.profile == Profile::Vectorbt && self.trade_on_close {
            // Name the flag, not the engine's field.
            bail!(
                "--trade-on-close is backtesting.py's; the vectorbt profile already fills at the signal bar's close"
            );
        }
        self.profile.core().configure(cfg).map_err(|e| match e {
            // The flag as typed, with the value given.
            backtide_core::Error::Config { field, message } => {
                let given = match field {
                    "cash" => format!("--cash {}", self.cash),
                    "spread" => format!("--spread {}", self.spread),
                    "slippage" => format!("--slippage {}", self.slippage),
                    "margin" => format!("--margin {}", self.margin),
                    "commission" if self.commission_fixed != 0.0 => format!(
                        "--commission {} --commission-fixed {}",
                        self.commission, self.commission_fixed
                    ),
                    "commission" => format!("--commission {}", self.commission),
                    "fractional_unit" => match self.fractional_unit {
                        Some(u) => format!("--fractional-unit {u}"),
                        None => "--fractional-unit".into(),
                    },
                    other => format!("--{}", other.replace('_', "-")),
                };
                anyhow::anyhow!("{given}: {message}")
            }
            e => e.into(),
        })
    }
}

/// An engine error with a broker or portfolio setting named as its flag
/// (`fractional_unit` → `--fractional-unit`).
pub(crate) fn flag_error(e: backtide_core::Error) -> anyhow::Error {
    match e {
        backtide_core::Error::Config { field, message } => {
            anyhow::anyhow!("--{}: {message}", field.replace('_', "-"))
        }
        e => e.into(),
    }
}

/// Splits `--param name=value` arguments.
pub(crate) fn param_pairs(raw: &[String]) -> Result<Vec<(&str, &str)>> {
    raw.iter()
        .map(|p| match p.split_once('=') {
            Some((k, v)) => Ok((k.trim(), v)),
            None => bail!("--param `{p}`: expected NAME=VALUE"),
        })
        .collect()
}

/// Arguments of `backtide run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    #[command(flatten)]
    pub(crate) data: DataArgs,
    /// Strategy name (see `backtide strategies`).
    #[arg(long)]
    pub(crate) strategy: String,
    /// Strategy parameter `name=value` (repeatable).
    #[arg(long = "param", value_name = "NAME=VALUE")]
    pub(crate) params: Vec<String>,
    #[command(flatten)]
    pub(crate) broker: BrokerArgs,
    #[command(flatten)]
    pub(crate) portfolio: crate::portfolio::PortfolioArgs,
    /// Print the result as JSON (`stats`, `trades`, `open_trades`, `equity`, `warnings`,
    /// `data`: what the data read chose; portfolios add `orders`, `positions`, `assets`, `universe`).
    #[arg(long)]
    pub(crate) json: bool,
    /// Write closed trades to this CSV file (portfolios: with a `symbol` column).
    #[arg(long, value_name = "FILE")]
    pub(crate) trades_csv: Option<PathBuf>,
    /// Write per-bar equity and drawdown to this CSV file (portfolios: and cash).
    #[arg(long, value_name = "FILE")]
    pub(crate) equity_csv: Option<PathBuf>,
    /// Write per-bar equity and drawdown to this Parquet file (portfolios: and cash).
    #[arg(long, value_name = "FILE")]
    pub(crate) equity_parquet: Option<PathBuf>,
    /// Write an interactive HTML report (one self-contained file) here.
    #[arg(long, value_name = "FILE")]
    pub(crate) report: Option<PathBuf>,
    /// A benchmark to measure the run against instead of the asset's own buy-and-hold: a
    /// CSV or Parquet file (its Close column; a close-only file will do) or `sample:NAME`.
    /// Adds alpha, beta, correlation, active return, tracking error and information ratio
    /// (`benchmark` in --json), and the benchmark's line in --report. Each bar takes the
    /// benchmark's last close at or before it; the benchmark must cover the run.
    #[arg(long, value_name = "FILE|sample:NAME")]
    pub(crate) benchmark: Option<String>,
    /// Fill stop, limit and SL/TP orders against these finer bars (a CSV or Parquet file,
    /// e.g. minutes inside daily --data) instead of each bar's OHLC: a bar's finer bars
    /// (stamped from its time to the next bar's; the last bar takes the rest) are gone
    /// through in time order, so the price reached first fills first. Market orders,
    /// equity and the strategy stay per bar; a bar without finer bars fills by its OHLC.
    /// Each bar's finer bars must give its Open (first), High (highest), Low (lowest) and
    /// Close (last) within a relative 1e-9. Read with the data's flags but --columns, and
    /// cut to the run's bars when --from or --to is given. One asset only (`data.intrabar`
    /// in --json).
    #[arg(long, value_name = "FILE")]
    pub(crate) intrabar: Option<String>,
    /// Print how long each phase took on stderr: load (read + validate), run (indicators
    /// + engine), output (statistics + printing or writing).
    #[arg(long)]
    pub(crate) timings: bool,
}

fn bound(raw: &Option<String>, flag: &str, end_of_day: bool) -> Result<Option<TimestampNs>> {
    let Some(s) = raw else { return Ok(None) };
    let t = backtide_data::parse_timestamp(s)
        .with_context(|| format!("{flag} `{s}`: expected an ISO 8601 date or datetime"))?;
    let date_only = s.trim().len() == 10;
    Ok(Some(if end_of_day && date_only {
        t + 86_400_000_000_000 - 1
    } else {
        t
    }))
}

pub(crate) fn run(a: RunArgs) -> Result<()> {
    if crate::portfolio::wants_portfolio(&a.data, &a.strategy) {
        if a.intrabar.is_some() {
            bail!(
                "--intrabar works on one asset; --data {} is a portfolio",
                a.data.label()
            );
        }
        return crate::portfolio::run(&a);
    }
    let given = param_pairs(&a.params)?;
    let info = backtide_models::find_strategy(&a.strategy)?.specialize(&given)?;
    let pairs = a.broker.profile.core().strategy_defaults(info, given);
    let params = Params::from_pairs(info.params, pairs)?;
    let mut strategy = info.build(&params)?;
    let cfg = a.broker.config(a.data.session()?)?;
    let mut clock = crate::timings::Timings::start(a.timings);
    let (bars, read) = a.data.load_reported()?;
    let intrabar = match &a.intrabar {
        Some(spec) => Some(a.data.load_intrabar(spec, &bars)?),
        None => None,
    };
    clock.lap("load");
    // The statistics' bar-only part (calendar buckets, the market's log returns) is
    // worked out on another core while the engine runs.
    let (result, ctx) = std::thread::scope(|scope| {
        let ctx = scope.spawn(|| stats::StatsContext::lean(&bars));
        let result = match &intrabar {
            Some((fine, _)) => backtide_core::run_intrabar(&bars, fine, strategy.as_mut(), &cfg),
            None => run_backtest(&bars, strategy.as_mut(), &cfg),
        };
        (
            result,
            ctx.join().unwrap_or_else(|p| std::panic::resume_unwind(p)),
        )
    });
    let result = result?;
    clock.lap("run");
    let benchmark = match &a.benchmark {
        Some(spec) => {
            let aligned = a.data.load_benchmark(spec, bars.time())?;
            let s = stats::BenchmarkStats::compute(
                bars.time(),
                &result.equity,
                result.warmup,
                &aligned,
            );
            Some((spec.as_str(), aligned, s))
        }
        None => None,
    };

    if let Some(path) = &a.trades_csv {
        backtide_data::write_trades_csv(&bars, &result.trades, path)?;
    }
    if let Some(path) = &a.equity_parquet {
        backtide_data::write_equity_parquet(&bars, &result.equity, path)?;
    }
    if let Some(path) = &a.equity_csv {
        backtide_data::write_equity_csv(&bars, &result.equity, path)?;
    }
    if let Some(path) = &a.report {
        let stats = backtide_data::profile_stats_json_with(
            &ctx,
            &bars,
            &result,
            &cfg,
            a.broker.profile.core(),
        );
        let html = backtide_report::backtest_html(&backtide_report::BacktestReport {
            title: &format!(
                "{} · {}({})",
                a.data.label(),
                info.name,
                params_line(&params)
            ),
            bars: &bars,
            run: &result,
            stats: &stats,
            cash: cfg.cash,
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
        // Streamed: a million-bar result is never held as one document.
        let mut out = crate::bulk_stdout()?;
        let mut data = read.to_json();
        if let (Some((_, json)), Some(m)) = (&intrabar, data.as_object_mut()) {
            m.insert("intrabar".into(), json.clone());
        }
        let bench = benchmark
            .as_ref()
            .map(|(name, aligned, s)| backtide_data::benchmark_json(name, aligned, s));
        let mut extra = vec![("data", &data)];
        if let Some(b) = &bench {
            extra.push(("benchmark", b));
        }
        backtide_data::write_backtest_doc(
            &mut out,
            &backtide_data::BacktestDoc {
                bars: &bars,
                run: &result,
                cfg: &cfg,
                profile: a.broker.profile.core(),
                strategy: info.name,
                params: &params,
                extra: &extra,
                ctx: Some(&ctx),
            },
        )?;
        std::io::Write::write_all(&mut out, b"\n")?;
    } else if a.broker.profile == Profile::Vectorbt {
        print!(
            "{}",
            table::vbt_stats_table(&stats::compute_vectorbt(&bars, &result, &cfg))
        );
        if let Some((name, aligned, s)) = &benchmark {
            print!("{}", table::benchmark_table(name, aligned, s, 30));
        }
        println!("{:<30}{}({})", "_strategy", info.name, params_line(&params));
        crate::messages::print(&bars, &result, &cfg, &params);
    } else {
        print!(
            "{}",
            table::stats_table(&stats::compute_with(
                &ctx,
                &bars,
                &result.trades,
                &result.equity,
                result.warmup
            ))
        );
        if let Some((name, aligned, s)) = &benchmark {
            print!("{}", table::benchmark_table(name, aligned, s, 26));
        }
        println!("{:<26}{}({})", "_strategy", info.name, params_line(&params));
        crate::messages::print(&bars, &result, &cfg, &params);
    }
    clock.lap("output");
    clock.finish();
    Ok(())
}

pub(crate) fn params_line(p: &Params) -> String {
    p.values()
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}
