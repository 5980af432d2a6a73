//! The request bodies of the job endpoints, as they are deserialised, stored and
//! documented in the OpenAPI schema.

use std::collections::BTreeMap;

use backtide_core::portfolio::{CallSeq, FillAt, PortfolioConfig};
use backtide_core::{BrokerConfig, Commission, Profile};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, engine_error};

/// Which tool's semantics to reproduce.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProfileName {
    /// backtesting.py 0.6.6: fills at the next open, whole units, its statistics.
    #[default]
    BacktestingPy,
    /// vectorbt 1.2 `Portfolio.from_signals`: fills at the signal bar's close, fractional
    /// sizes, its `stats()`.
    Vectorbt,
}

impl From<ProfileName> for Profile {
    fn from(p: ProfileName) -> Profile {
        match p {
            ProfileName::BacktestingPy => Profile::BacktestingPy,
            ProfileName::Vectorbt => Profile::Vectorbt,
        }
    }
}

/// A strategy and its parameters.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "sma_cross", "params": {"fast": 10, "slow": 20}}))]
pub struct StrategyRef {
    /// A name from `GET /v1/strategies`.
    pub name: String,
    /// Parameter values (numbers, or strings for choices); missing ones take defaults.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub params: BTreeMap<String, Value>,
}

/// Order of a portfolio's orders within a bar (the CLI's `--call-seq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallSeqName {
    /// Sales first, then buys from the smallest (vectorbt's `call_seq='auto'`).
    Auto,
    /// Column order: the universe's order (vectorbt's `call_seq='default'`).
    Default,
}

impl From<CallSeqName> for CallSeq {
    fn from(c: CallSeqName) -> CallSeq {
        match c {
            CallSeqName::Auto => CallSeq::Auto,
            CallSeqName::Default => CallSeq::Default,
        }
    }
}

/// When a portfolio's decisions fill (the CLI's `--fill`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FillName {
    /// At the close of the bar the decision was made on (vectorbt's default).
    Close,
    /// At the next bar's open (backtesting.py's timing).
    NextOpen,
}

impl From<FillName> for FillAt {
    fn from(f: FillName) -> FillAt {
        match f {
            FillName::Close => FillAt::Close,
            FillName::NextOpen => FillAt::NextOpen,
        }
    }
}

/// Broker settings: the CLI's options in snake case, with the same defaults. A portfolio
/// (a universe, a long-format dataset or an allocation strategy) reads `cash`,
/// `commission`, `commission_fixed`, `slippage`, `spread` and `fractional_unit` as the CLI
/// does, refuses `margin` ≠ 1, `hedging`, `exclusive_orders` and `trade_on_close`, and
/// adds `call_seq` and `fill`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerSettings {
    /// Starting cash.
    #[schema(example = 10000.0)]
    pub cash: f64,
    /// Relative commission per fill (0.002 = 0.2 %).
    #[schema(example = 0.002)]
    pub commission: f64,
    /// Fixed commission per fill, added to the relative one.
    pub commission_fixed: f64,
    /// Relative bid-ask spread applied to entries.
    pub spread: f64,
    /// Relative slippage on every fill (vectorbt's `slippage`).
    pub slippage: f64,
    /// Margin requirement in (0, 1]; leverage = 1 / margin.
    #[schema(example = 1.0)]
    pub margin: f64,
    /// Fill market orders at the signal bar's close instead of the next open.
    pub trade_on_close: bool,
    /// Allow long and short trades at the same time.
    pub hedging: bool,
    /// Each new order closes open trades first.
    #[schema(example = true)]
    pub exclusive_orders: bool,
    /// Close open trades on the last bar so they count in the statistics.
    pub finalize_trades: bool,
    /// Trade in multiples of this fraction of a unit.
    pub fractional_unit: Option<f64>,
    /// Portfolios only: order of a bar's orders, `auto` (default: sales first, then the
    /// smallest buys) or `default` (the universe's order).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "auto")]
    pub call_seq: Option<CallSeqName>,
    /// Portfolios only: when decisions fill, `close` or `next_open` (default by `profile`:
    /// `vectorbt` fills at the close, `backtesting_py` at the next open).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "close")]
    pub fill: Option<FillName>,
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            cash: 10_000.0,
            commission: 0.0,
            commission_fixed: 0.0,
            spread: 0.0,
            slippage: 0.0,
            margin: 1.0,
            trade_on_close: false,
            hedging: false,
            exclusive_orders: false,
            finalize_trades: false,
            fractional_unit: None,
            call_seq: None,
            fill: None,
        }
    }
}

impl BrokerSettings {
    /// The validated engine configuration under `profile`.
    pub fn config(&self, profile: Profile) -> Result<BrokerConfig, ApiError> {
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
            ..BrokerConfig::default()
        };
        profile
            .configure(cfg)
            .map_err(|e| engine_error(&e, &["body", "broker"]))
    }

    /// The validated portfolio configuration under `profile` (as the CLI's
    /// `PortfolioConfig::from_broker` call makes it).
    pub fn portfolio_config(&self, profile: Profile) -> Result<PortfolioConfig, ApiError> {
        let cfg = self.config(profile)?;
        PortfolioConfig::from_broker(
            &cfg,
            profile,
            self.fill.map(FillAt::from),
            self.call_seq.map_or(CallSeq::Auto, CallSeq::from),
        )
        .map_err(|e| engine_error(&e, &["body", "broker"]))
    }

    /// Refuses the portfolio-only settings on a single-asset job.
    pub(super) fn single_asset(&self) -> Result<(), ApiError> {
        let given = [
            ("call_seq", self.call_seq.is_some()),
            ("fill", self.fill.is_some()),
        ];
        match given.iter().find(|(_, g)| *g) {
            Some((field, _)) => Err(ApiError::invalid(
                &["body", "broker", field],
                "applies to portfolios only (`datasets`, a long-format dataset or an \
                 allocation strategy); one asset fills as `profile` and `trade_on_close` say",
                "value_error",
            )),
            None => Ok(()),
        }
    }
}

/// A universe: several assets trading from one account.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DatasetsRef {
    /// Dataset ids or names. A single-asset dataset is one asset named after the dataset
    /// (its name, or the name it was first uploaded under when given by id); a long-format
    /// dataset adds every one of its symbols. Assets keep the list's order.
    #[schema(value_type = Vec<String>, example = json!(["AAPL", "MSFT"]))]
    List(Vec<Value>),
    /// Symbol → dataset id or name, in the given order. The dataset is single-asset, or
    /// long-format and holding that symbol (which is then taken from it).
    #[schema(value_type = BTreeMap<String, String>, example = json!({"AAPL": "aapl-upload", "MSFT": "3b0c…"}))]
    Map(serde_json::Map<String, Value>),
}

/// One asset of a portfolio job, as resolved when it was accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"symbol": "AAPL", "dataset": "6f1c…"}))]
pub struct Member {
    /// The asset's symbol.
    pub symbol: String,
    /// Content id of the dataset holding its bars (for a long-format dataset, the rows of
    /// this symbol).
    pub dataset: String,
}

/// An optional field that, when given, is not `null` (the document says so: the data is
/// named by `dataset` or `datasets`, present and not null).
fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}

/// `POST /v1/backtests`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "dataset": "GOOG",
    "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 20}},
    "broker": {"commission": 0.002, "exclusive_orders": true},
    "profile": "backtesting_py"
}))]
pub struct BacktestRequest {
    /// Dataset id or name (`GET /v1/datasets`): one asset, or a portfolio of every symbol
    /// of a long-format dataset (such as the preloaded `STOCKS`). Give this or `datasets`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false, example = "GOOG")]
    pub dataset: Option<String>,
    /// A universe: a portfolio of these assets trading from one account, with a strategy
    /// of `GET /v1/strategies?universe=true` (allocation strategies, or a signal strategy
    /// applied per asset). Give this or `dataset`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub datasets: Option<DatasetsRef>,
    /// The strategy.
    pub strategy: StrategyRef,
    /// Broker settings.
    #[serde(default)]
    pub broker: BrokerSettings,
    /// Semantics and statistics dialect.
    #[serde(default)]
    pub profile: ProfileName,
    /// A single-asset dataset (id or name) to measure the run against instead of the
    /// asset's own buy-and-hold, as `backtide run --benchmark`: the result gains a
    /// `benchmark` block (alpha, beta, correlation, active return, tracking error,
    /// information ratio) and the report draws its line. Each bar takes the benchmark's
    /// last close at or before it; the benchmark must cover the data. One-asset backtests
    /// only. A name is resolved to its content id when the job is accepted.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false, example = "SPY")]
    pub benchmark: Option<String>,
}

/// One swept parameter: `"start:stop:step"` (stop included), `"5,8,13"`, or a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub(crate) enum GridValues {
    /// A range or comma list as text.
    Text(String),
    /// The values themselves.
    #[schema(value_type = Vec<Object>)]
    List(Vec<Value>),
}

/// What a sweep optimises.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ObjectiveSpec {
    /// A statistic key of the profile's dialect (`sharpe_ratio`, `sqn`, `equity_final`, …).
    #[schema(example = "sharpe_ratio")]
    pub key: String,
    /// Maximise (default) or minimise.
    #[serde(default = "yes")]
    pub maximize: bool,
}

fn yes() -> bool {
    true
}

/// How combinations are chosen.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum MethodSpec {
    /// Every combination that meets the constraint.
    #[default]
    Grid,
    /// A seeded random sample of the combinations.
    Random {
        /// How many to draw.
        samples: usize,
        /// Seed of the draw.
        #[serde(default)]
        seed: u64,
    },
}

/// Walk-forward validation, in bars.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WalkForwardSpec {
    /// Training window length.
    #[schema(example = 500)]
    pub train: usize,
    /// Test window length (windows advance by this much).
    #[schema(example = 250)]
    pub test: usize,
    /// Expanding training windows from the first bar instead of rolling ones.
    #[serde(default)]
    pub anchored: bool,
}

/// `POST /v1/sweeps`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "dataset": "GOOG",
    "strategy": {"name": "sma_cross"},
    "grid": {"fast": "5:50:5", "slow": "10:100:10"},
    "constraint": "fast < slow",
    "objective": {"key": "sharpe_ratio", "maximize": true}
}))]
pub struct SweepRequest {
    /// Dataset id or name, as in `POST /v1/backtests`. Give this or `datasets`.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false, example = "GOOG")]
    pub dataset: Option<String>,
    /// A universe, as in `POST /v1/backtests`: the sweep runs a portfolio strategy.
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(nullable = false)]
    pub datasets: Option<DatasetsRef>,
    /// The strategy; its `params` are held fixed.
    pub strategy: StrategyRef,
    /// Swept parameters, outermost first.
    #[schema(value_type = std::collections::BTreeMap<String, GridValues>, example = json!({"fast": "5:50:5", "slow": [20, 40, 60]}))]
    pub grid: serde_json::Map<String, Value>,
    /// Conditions on parameters, e.g. `fast < slow` (comparisons joined by `and`).
    #[serde(default)]
    pub constraint: Option<String>,
    /// Statistic to optimise (default: `sqn`, or `sharpe_ratio` under vectorbt).
    #[serde(default)]
    pub objective: Option<ObjectiveSpec>,
    /// Grid (default) or random search.
    #[serde(default)]
    pub method: MethodSpec,
    /// Walk-forward validation instead of one sweep over all bars.
    #[serde(default)]
    pub walk_forward: Option<WalkForwardSpec>,
    /// Blocks for the overfitting checks (even, 2 to 24; 0 turns them off).
    #[serde(default = "default_blocks")]
    pub pbo_blocks: usize,
    /// Broker settings.
    #[serde(default)]
    pub broker: BrokerSettings,
    /// Semantics and statistics dialect.
    #[serde(default)]
    pub profile: ProfileName,
}

fn default_blocks() -> usize {
    16
}

/// A job as stored: its kind and request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", content = "request", rename_all = "snake_case")]
pub enum JobSpec {
    /// One backtest.
    Backtest(BacktestRequest),
    /// A sweep (or a walk-forward).
    Sweep(SweepRequest),
}

impl JobSpec {
    /// `backtest` or `sweep`.
    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Backtest(_) => "backtest",
            JobSpec::Sweep(_) => "sweep",
        }
    }

    /// The single dataset reference (`None` when the request gives `datasets`).
    pub fn dataset(&self) -> Option<&str> {
        match self {
            JobSpec::Backtest(r) => r.dataset.as_deref(),
            JobSpec::Sweep(r) => r.dataset.as_deref(),
        }
    }

    /// A backtest's benchmark (a content id once the job is accepted), if it has one.
    pub fn benchmark(&self) -> Option<&str> {
        match self {
            JobSpec::Backtest(r) => r.benchmark.as_deref(),
            JobSpec::Sweep(_) => None,
        }
    }

    /// The universe reference, if the request gives one.
    pub fn datasets(&self) -> Option<&DatasetsRef> {
        match self {
            JobSpec::Backtest(r) => r.datasets.as_ref(),
            JobSpec::Sweep(r) => r.datasets.as_ref(),
        }
    }

    /// The strategy of the request.
    pub(crate) fn strategy(&self) -> &StrategyRef {
        match self {
            JobSpec::Backtest(r) => &r.strategy,
            JobSpec::Sweep(r) => &r.strategy,
        }
    }

    /// The strategy of the request.
    pub(crate) fn strategy_mut(&mut self) -> &mut StrategyRef {
        match self {
            JobSpec::Backtest(r) => &mut r.strategy,
            JobSpec::Sweep(r) => &mut r.strategy,
        }
    }

    /// What the data was called in the request, for titles: the dataset, or the universe's
    /// entries joined by ` + `.
    pub(crate) fn data_label(&self) -> String {
        if let Some(d) = self.dataset() {
            return d.to_string();
        }
        match self.datasets() {
            Some(DatasetsRef::List(l)) => l
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_string))
                .collect::<Vec<_>>()
                .join(" + "),
            Some(DatasetsRef::Map(m)) => m.keys().cloned().collect::<Vec<_>>().join(" + "),
            None => String::new(),
        }
    }
}
