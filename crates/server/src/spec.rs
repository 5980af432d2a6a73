//! Request bodies of the job endpoints and their validation into engine configuration.
//!
//! A job is stored as its request body (JSON) and validated twice with the same code: when
//! it is submitted (so a bad request gets its 422 before anything is queued) and when a
//! worker runs it (so a job read back after a restart means exactly what it meant).

use std::collections::BTreeMap;

use backtide_core::portfolio::builtin::{self as portfolio_builtin, PortfolioStrategyInfo};
use backtide_core::portfolio::{CallSeq, FillAt, PortfolioConfig};
use backtide_core::strategy::builtin::StrategyInfo;
use backtide_core::sweep::{
    Axis, Constraint, Method, Objective, SweepSpec, SweepStrategy, WalkForward,
};
use backtide_core::{BrokerConfig, Commission, ParamSpec, Params, Profile};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::error::{ApiError, Detail, engine_error};

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
    fn single_asset(&self) -> Result<(), ApiError> {
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "GOOG")]
    pub dataset: Option<String>,
    /// A universe: a portfolio of these assets trading from one account, with a strategy
    /// of `GET /v1/strategies?universe=true` (allocation strategies, or a signal strategy
    /// applied per asset). Give this or `dataset`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub datasets: Option<DatasetsRef>,
    /// The strategy.
    pub strategy: StrategyRef,
    /// Broker settings.
    #[serde(default)]
    pub broker: BrokerSettings,
    /// Semantics and statistics dialect.
    #[serde(default)]
    pub profile: ProfileName,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "GOOG")]
    pub dataset: Option<String>,
    /// A universe, as in `POST /v1/backtests`: the sweep runs a portfolio strategy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
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

/// A backtest ready to run.
pub(crate) struct PreparedBacktest {
    /// The strategy.
    pub info: &'static StrategyInfo,
    /// Its validated parameters.
    pub params: Params,
    /// Broker configuration.
    pub cfg: BrokerConfig,
    /// Profile.
    pub profile: Profile,
}

/// A portfolio backtest ready to run.
pub(crate) struct PreparedPortfolio {
    /// The strategy.
    pub info: &'static PortfolioStrategyInfo,
    /// Its validated parameters.
    pub params: Params,
    /// Account and fill settings.
    pub cfg: PortfolioConfig,
    /// Profile.
    pub profile: Profile,
}

/// A sweep ready to run.
pub(crate) struct PreparedSweep {
    /// What to sweep.
    pub spec: SweepSpec,
    /// Broker configuration.
    pub cfg: BrokerConfig,
    /// A portfolio sweep's account and fill settings (`None` for one asset).
    pub portfolio: Option<PortfolioConfig>,
    /// Profile.
    pub profile: Profile,
    /// What to optimise.
    pub objective: Objective,
    /// Walk-forward windows, if asked for.
    pub walk_forward: Option<WalkForward>,
    /// Blocks for the overfitting checks.
    pub pbo_blocks: usize,
}

const PARAMS_AT: [&str; 3] = ["body", "strategy", "params"];

fn param_text(name: &str, v: &Value) -> Result<String, ApiError> {
    match v {
        Value::Number(n) => Ok(n.to_string()),
        Value::String(s) => Ok(s.clone()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ApiError::invalid(
            &["body", "strategy", "params", name],
            "expected a number or a string",
            "type_error",
        )),
    }
}

/// The strategy's parameters as `name=value` text, as the CLI's `--param` gives them.
fn param_texts(s: &StrategyRef) -> Result<Vec<(String, String)>, ApiError> {
    s.params
        .iter()
        .map(|(k, v)| Ok((k.clone(), param_text(k, v)?)))
        .collect()
}

fn strategy(name: &str) -> Result<&'static StrategyInfo, ApiError> {
    backtide_models::find_strategy(name).map_err(|e| engine_error(&e, &PARAMS_AT))
}

fn portfolio_strategy(name: &str) -> Result<&'static PortfolioStrategyInfo, ApiError> {
    portfolio_builtin::find(name).map_err(|e| engine_error(&e, &PARAMS_AT))
}

/// True for an allocation strategy (`equal_weight`, …): it runs on a universe, of one
/// asset if the request names one dataset.
pub(crate) fn is_allocation(name: &str) -> bool {
    portfolio_builtin::find(name).is_ok_and(|i| !i.is_per_asset())
}

/// The strategy's parameters with the profile's defaults, validated against `specs`.
fn validated_params(
    specs: &[ParamSpec],
    s: &StrategyRef,
    profile: Profile,
) -> Result<Params, ApiError> {
    let texts = param_texts(s)?;
    let pairs = profile.param_defaults(
        specs,
        texts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    );
    Params::from_pairs(specs, pairs).map_err(|e| engine_error(&e, &PARAMS_AT))
}

/// Validates a portfolio backtest request (everything but its universe).
pub(crate) fn prepare_portfolio_backtest(
    r: &BacktestRequest,
) -> Result<PreparedPortfolio, ApiError> {
    let info = portfolio_strategy(&r.strategy.name)?;
    let profile = Profile::from(r.profile);
    let params = validated_params(&info.params, &r.strategy, profile)?;
    // Building checks cross-parameter rules such as fast < slow.
    info.build(&params)
        .map_err(|e| engine_error(&e, &PARAMS_AT))?;
    let cfg = r.broker.portfolio_config(profile)?;
    Ok(PreparedPortfolio {
        info,
        params,
        cfg,
        profile,
    })
}

/// Validates a backtest request (everything but the dataset, which the caller resolves).
pub(crate) fn prepare_backtest(r: &BacktestRequest) -> Result<PreparedBacktest, ApiError> {
    r.broker.single_asset()?;
    let info = strategy(&r.strategy.name)?;
    let profile = Profile::from(r.profile);
    let texts = param_texts(&r.strategy)?;
    let pairs = profile.strategy_defaults(
        info,
        texts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    );
    let params =
        Params::from_pairs(info.params, pairs).map_err(|e| engine_error(&e, &PARAMS_AT))?;
    // Building checks cross-parameter rules such as fast < slow.
    info.build(&params)
        .map_err(|e| engine_error(&e, &PARAMS_AT))?;
    let cfg = r.broker.config(profile)?;
    Ok(PreparedBacktest {
        info,
        params,
        cfg,
        profile,
    })
}

/// Validates a sweep request; `max_combinations` bounds the work one request may ask for.
/// A `portfolio` sweep runs a portfolio strategy over a universe.
pub(crate) fn prepare_sweep(
    r: &SweepRequest,
    max_combinations: usize,
    portfolio: bool,
) -> Result<PreparedSweep, ApiError> {
    let info: SweepStrategy = if portfolio {
        portfolio_strategy(&r.strategy.name)?.into()
    } else {
        r.broker.single_asset()?;
        strategy(&r.strategy.name)?.into()
    };
    let params = info.params();
    let profile = Profile::from(r.profile);
    let mut problems: Vec<Detail> = Vec::new();
    if r.grid.is_empty() {
        problems.push(Detail::new(
            &["body", "grid"],
            "give at least one swept parameter, e.g. {\"fast\": \"5:50:5\"}",
            "value_error",
        ));
    }
    let mut axes = Vec::new();
    for (name, values) in &r.grid {
        let at = ["body", "grid", name.as_str()];
        let Some(spec) = params.iter().find(|p| p.name == name) else {
            problems.push(Detail::new(
                &at,
                format!("`{name}` is not a parameter of {}", info.name()),
                "value_error",
            ));
            continue;
        };
        let text = match values {
            Value::String(s) => s.clone(),
            Value::Array(items) if !items.is_empty() => {
                match items
                    .iter()
                    .map(|v| param_text(name, v))
                    .collect::<Result<Vec<_>, _>>()
                {
                    Ok(t) => t.join(","),
                    Err(_) => {
                        problems.push(Detail::new(
                            &at,
                            "expected numbers or strings",
                            "type_error",
                        ));
                        continue;
                    }
                }
            }
            _ => {
                problems.push(Detail::new(
                    &at,
                    "expected \"start:stop:step\", \"v1,v2,…\" or a non-empty list",
                    "type_error",
                ));
                continue;
            }
        };
        match Axis::parse(spec, &text) {
            Ok(a) => axes.push(a),
            Err(e) => problems.push(Detail::new(&at, error_message(&e), "value_error")),
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }
    let texts = param_texts(&r.strategy)?;
    let fixed: Vec<(String, String)> = profile
        .param_defaults(
            params,
            texts
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        )
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Params::from_pairs(params, fixed.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| engine_error(&e, &PARAMS_AT))?;
    let constraint = r
        .constraint
        .as_deref()
        .map(|c| Constraint::parse(c, params))
        .transpose()
        .map_err(|e| {
            ApiError::invalid(&["body", "constraint"], error_message(&e), "value_error")
        })?;
    let objective = match &r.objective {
        Some(o) => Objective::in_dialect(profile.dialect(), &o.key, o.maximize),
        None => Objective::in_dialect(profile.dialect(), profile.default_objective(), true),
    }
    .map_err(|e| {
        ApiError::invalid(
            &["body", "objective", "key"],
            error_message(&e),
            "value_error",
        )
    })?;
    let method = match r.method {
        MethodSpec::Grid => Method::Grid,
        MethodSpec::Random { samples, seed } => {
            if samples == 0 {
                return Err(ApiError::invalid(
                    &["body", "method", "samples"],
                    "must be at least 1",
                    "value_error",
                ));
            }
            Method::Random { samples, seed }
        }
    };
    backtide_core::sweep::overfitting::check_blocks(r.pbo_blocks)
        .map_err(|m| ApiError::invalid(&["body", "pbo_blocks"], m, "value_error"))?;
    let walk_forward = match &r.walk_forward {
        None => None,
        Some(w) => {
            let text = format!(
                "train={},test={}{}",
                w.train,
                w.test,
                if w.anchored { ",anchored" } else { "" }
            );
            Some(WalkForward::parse(&text).map_err(|e| {
                ApiError::invalid(&["body", "walk_forward"], error_message(&e), "value_error")
            })?)
        }
    };
    let cfg = r.broker.config(profile)?;
    let portfolio = portfolio
        .then(|| r.broker.portfolio_config(profile))
        .transpose()?;
    let spec = SweepSpec {
        strategy: info,
        fixed,
        axes,
        constraint,
        method,
    };
    // Bound the grid before walking it, then count what the constraint admits.
    let grid_points = spec
        .axes
        .iter()
        .try_fold(1usize, |acc, a| acc.checked_mul(a.values.len()));
    let too_many = |n: String| {
        ApiError::invalid(
            &["body", "grid"],
            format!("{n} combinations; this server runs at most {max_combinations} per sweep"),
            "too_many_combinations",
        )
    };
    match grid_points {
        None => return Err(too_many("more than 2^64".into())),
        Some(n) if n > max_combinations.saturating_mul(64) => {
            return Err(too_many(format!("a grid of {n}")));
        }
        _ => {}
    }
    let stream = spec.stream().map_err(|e| engine_error(&e, &PARAMS_AT))?;
    let combinations = match stream.known_len() {
        Some(n) => n,
        None => stream.count(),
    };
    if combinations > max_combinations {
        return Err(too_many(combinations.to_string()));
    }
    if combinations == 0 {
        return Err(ApiError::invalid(
            &["body", "constraint"],
            "no combination meets the constraint",
            "value_error",
        ));
    }
    Ok(PreparedSweep {
        spec,
        cfg,
        portfolio,
        profile,
        objective,
        walk_forward,
        pbo_blocks: r.pbo_blocks,
    })
}

fn error_message(e: &backtide_core::Error) -> String {
    match e {
        backtide_core::Error::Param { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// Where uploaded models live: `models/<id>/model.onnx` and `features.json`.
pub(crate) fn model_dir(data_dir: &std::path::Path, id: &str) -> std::path::PathBuf {
    data_dir.join("models").join(id)
}

/// For `onnx_model`: replaces the `model` parameter (an uploaded model's id or name) by
/// the stored file and sets `features` to the model's own spec, so a request can only use
/// models uploaded to this server, never a path of its choosing. Returns the model's id.
pub(crate) fn resolve_model(
    strategy: &mut StrategyRef,
    store: &crate::store::Store,
    data_dir: &std::path::Path,
) -> Result<Option<String>, ApiError> {
    if strategy.name != backtide_models::ONNX_MODEL.name {
        return Ok(None);
    }
    if strategy.params.contains_key("features") {
        return Err(ApiError::invalid(
            &["body", "strategy", "params", "features"],
            "comes with the uploaded model; do not give it",
            "extra_forbidden",
        ));
    }
    let Some(key) = strategy.params.get("model").and_then(Value::as_str) else {
        return Err(ApiError::invalid(
            &["body", "strategy", "params", "model"],
            "required: the id or name of a model uploaded with POST /v1/models",
            "missing",
        ));
    };
    let model = store
        .model(key)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::invalid(
                &["body", "strategy", "params", "model"],
                format!("no uploaded model `{key}` (see GET /v1/models)"),
                "value_error",
            )
        })?;
    let dir = model_dir(data_dir, &model.id);
    let text = |p: std::path::PathBuf| Value::String(p.to_string_lossy().into_owned());
    strategy
        .params
        .insert("model".into(), text(dir.join("model.onnx")));
    strategy
        .params
        .insert("features".into(), text(dir.join("features.json")));
    Ok(Some(model.id))
}

impl JobSpec {
    /// The strategy of the request.
    pub(crate) fn strategy_mut(&mut self) -> &mut StrategyRef {
        match self {
            JobSpec::Backtest(r) => &mut r.strategy,
            JobSpec::Sweep(r) => &mut r.strategy,
        }
    }
}

/// A job's data, resolved against the store when it is submitted.
pub(crate) enum Resolved {
    /// One asset.
    Single(crate::store::Dataset),
    /// A portfolio's assets, in column order.
    Universe(Vec<Member>),
}

/// Refuses a request that gives both `dataset` and `datasets`, or neither.
pub(crate) fn check_data_fields(spec: &JobSpec) -> Result<(), ApiError> {
    match (spec.dataset(), spec.datasets()) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            &["body", "datasets"],
            "give either `dataset` (one dataset) or `datasets` (a universe), not both",
            "value_error",
        )),
        (None, None) => Err(ApiError::invalid(
            &["body", "dataset"],
            "give `dataset` (a dataset id or name) or `datasets` (a universe: a list of \
             datasets, or symbol → dataset)",
            "missing",
        )),
        _ => Ok(()),
    }
}

/// Whether `symbol` can name an asset (`backtide_core::Universe`'s rule).
fn valid_symbol(symbol: &str) -> bool {
    !symbol.is_empty() && !symbol.contains([',', '=', '\n', '\r'])
}

/// Resolves the request's data to content ids. A single `dataset` that is not found is
/// `Ok(None)`: the caller reports it after the rest of the request, as it always has. A
/// single dataset becomes a universe when it is long-format, or when `allocation` (the
/// strategy is an allocation strategy).
pub(crate) fn resolve_data(
    spec: &JobSpec,
    store: &crate::store::Store,
    allocation: bool,
) -> Result<Option<Resolved>, ApiError> {
    let not_found = |key: &str| format!("dataset `{key}` not found (see GET /v1/datasets)");
    if let Some(key) = spec.dataset() {
        let Some(d) = store.dataset(key).map_err(ApiError::internal)? else {
            return Ok(None);
        };
        let members: Vec<Member> = match &d.symbols {
            Some(symbols) => symbols
                .iter()
                .map(|s| Member {
                    symbol: s.clone(),
                    dataset: d.id.clone(),
                })
                .collect(),
            None if allocation => {
                if !valid_symbol(&d.name) {
                    return Err(ApiError::invalid(
                        &["body", "dataset"],
                        format!(
                            "`{}` cannot name an asset (a symbol is non-empty text without \
                             commas, `=` or line breaks); use `datasets` with a symbol",
                            d.name
                        ),
                        "value_error",
                    ));
                }
                vec![Member {
                    symbol: d.name.clone(),
                    dataset: d.id.clone(),
                }]
            }
            None => return Ok(Some(Resolved::Single(d))),
        };
        return Ok(Some(Resolved::Universe(members)));
    }
    let Some(datasets) = spec.datasets() else {
        return Ok(None);
    };
    // (where in the body, the entry's member(s)) for every entry, then one pass for
    // duplicate symbols.
    let mut problems: Vec<Detail> = Vec::new();
    let mut found: Vec<(Value, Vec<Member>)> = Vec::new();
    // A list entry is at its index, a map entry at its symbol (kept as text even when it
    // looks like a number).
    let at = |entry: &Value, msg: String, kind: &str| Detail {
        loc: vec!["body".into(), "datasets".into(), entry.clone()],
        msg,
        kind: kind.into(),
    };
    let lookup = |key: &Value, entry: &Value, problems: &mut Vec<Detail>| {
        let Some(key) = key.as_str() else {
            problems.push(at(
                entry,
                "expected a dataset id or name".into(),
                "type_error",
            ));
            return Ok(None);
        };
        let d = store.dataset(key).map_err(ApiError::internal)?;
        if d.is_none() {
            problems.push(at(entry, not_found(key), "value_error"));
        }
        Ok::<_, ApiError>(d)
    };
    match datasets {
        DatasetsRef::List(list) => {
            for (i, key) in list.iter().enumerate() {
                let entry = Value::from(i);
                let Some(d) = lookup(key, &entry, &mut problems)? else {
                    continue;
                };
                let members = match &d.symbols {
                    Some(symbols) => symbols
                        .iter()
                        .map(|s| Member {
                            symbol: s.clone(),
                            dataset: d.id.clone(),
                        })
                        .collect(),
                    None if !valid_symbol(&d.name) => {
                        problems.push(at(
                            &entry,
                            format!(
                                "`{}` cannot name an asset (a symbol is non-empty text without \
                                 commas, `=` or line breaks); give `datasets` as \
                                 {{\"SYMBOL\": \"{}\"}}",
                                d.name, d.id
                            ),
                            "value_error",
                        ));
                        continue;
                    }
                    None => vec![Member {
                        symbol: d.name.clone(),
                        dataset: d.id.clone(),
                    }],
                };
                found.push((entry, members));
            }
        }
        DatasetsRef::Map(map) => {
            for (symbol, key) in map {
                let entry = Value::from(symbol.as_str());
                if !valid_symbol(symbol) {
                    problems.push(at(
                        &entry,
                        "a symbol must be non-empty text without commas, `=` or line breaks".into(),
                        "value_error",
                    ));
                    continue;
                }
                let Some(d) = lookup(key, &entry, &mut problems)? else {
                    continue;
                };
                if let Some(symbols) = &d.symbols
                    && !symbols.contains(symbol)
                {
                    problems.push(at(
                        &entry,
                        format!(
                            "dataset `{}` is long-format and has no symbol `{symbol}` (it holds {})",
                            key.as_str().unwrap_or_default(),
                            symbols.join(", ")
                        ),
                        "value_error",
                    ));
                    continue;
                }
                found.push((
                    entry,
                    vec![Member {
                        symbol: symbol.clone(),
                        dataset: d.id.clone(),
                    }],
                ));
            }
        }
    }
    if found.is_empty() && problems.is_empty() {
        problems.push(Detail::new(
            &["body", "datasets"],
            "give at least one dataset",
            "value_error",
        ));
    }
    let mut members: Vec<Member> = Vec::new();
    for (entry, ms) in found {
        for m in ms {
            if members.iter().any(|x| x.symbol == m.symbol) {
                problems.push(at(
                    &entry,
                    format!(
                        "symbol `{}` appears twice in the universe (give `datasets` as \
                         {{SYMBOL: dataset}} to name the assets)",
                        m.symbol
                    ),
                    "value_error",
                ));
            } else {
                members.push(m);
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }
    Ok(Some(Resolved::Universe(members)))
}
