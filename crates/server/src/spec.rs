//! Request bodies of the job endpoints and their validation into engine configuration.
//!
//! A job is stored as its request body (JSON) and validated twice with the same code: when
//! it is submitted (so a bad request gets its 422 before anything is queued) and when a
//! worker runs it (so a job read back after a restart means exactly what it meant).

use std::collections::BTreeMap;

use backtide_core::strategy::builtin::StrategyInfo;
use backtide_core::sweep::{Axis, Constraint, Method, Objective, SweepSpec, WalkForward};
use backtide_core::{BrokerConfig, Commission, Params, Profile};
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

/// Broker settings: the CLI's options in snake case, with the same defaults.
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
    /// Dataset id or name (`GET /v1/datasets`).
    pub dataset: String,
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
    /// Dataset id or name.
    pub dataset: String,
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

    /// The dataset reference.
    pub fn dataset(&self) -> &str {
        match self {
            JobSpec::Backtest(r) => &r.dataset,
            JobSpec::Sweep(r) => &r.dataset,
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

/// A sweep ready to run.
pub(crate) struct PreparedSweep {
    /// What to sweep.
    pub spec: SweepSpec,
    /// Broker configuration.
    pub cfg: BrokerConfig,
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

/// Validates a backtest request (everything but the dataset, which the caller resolves).
pub(crate) fn prepare_backtest(r: &BacktestRequest) -> Result<PreparedBacktest, ApiError> {
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
pub(crate) fn prepare_sweep(
    r: &SweepRequest,
    max_combinations: usize,
) -> Result<PreparedSweep, ApiError> {
    let info = strategy(&r.strategy.name)?;
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
        let Some(spec) = info.params.iter().find(|p| p.name == name) else {
            problems.push(Detail::new(
                &at,
                format!("`{name}` is not a parameter of {}", info.name),
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
        .strategy_defaults(
            info,
            texts
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect(),
        )
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Params::from_pairs(
        info.params,
        fixed.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    )
    .map_err(|e| engine_error(&e, &PARAMS_AT))?;
    let constraint = r
        .constraint
        .as_deref()
        .map(|c| Constraint::parse(c, info.params))
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
    let spec = SweepSpec {
        strategy: info.into(),
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
