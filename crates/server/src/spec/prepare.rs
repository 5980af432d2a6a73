//! Validation of request bodies into engine configuration: strategies and their
//! parameters, broker settings, sweep grids, objectives and walk-forward windows.

use backtide_core::portfolio::PortfolioConfig;
use backtide_core::portfolio::builtin::{self as portfolio_builtin, PortfolioStrategyInfo};
use backtide_core::strategy::ParamKind;
use backtide_core::strategy::builtin::StrategyInfo;
use backtide_core::sweep::{
    Axis, Constraint, Method, Objective, SweepSpec, SweepStrategy, WalkForward,
};
use backtide_core::{BrokerConfig, ParamSpec, Params, Profile};
use serde_json::Value;

use super::body::{BacktestRequest, MethodSpec, StrategyRef, SweepRequest};
use crate::error::{ApiError, Detail, engine_error};

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

/// The strategy a request names, specialised by its parameters (a `rules` strategy gets
/// the `$parameters` its expressions use; their errors point at the expression's field).
fn strategy(s: &StrategyRef) -> Result<&'static StrategyInfo, ApiError> {
    let texts = param_texts(s)?;
    let given: Vec<(&str, &str)> = texts
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    backtide_models::find_strategy(&s.name)
        .and_then(|i| i.specialize(&given))
        .map_err(|e| engine_error(&e, &PARAMS_AT))
}

fn portfolio_strategy(s: &StrategyRef) -> Result<&'static PortfolioStrategyInfo, ApiError> {
    let texts = param_texts(s)?;
    let given: Vec<(&str, &str)> = texts
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    portfolio_builtin::find(&s.name)
        .and_then(|i| i.specialize(&given))
        .map_err(|e| engine_error(&e, &PARAMS_AT))
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
    let info = portfolio_strategy(&r.strategy)?;
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
    let info = strategy(&r.strategy)?;
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
        portfolio_strategy(&r.strategy)?.into()
    } else {
        r.broker.single_asset()?;
        strategy(&r.strategy)?.into()
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
        if spec.kind == ParamKind::File {
            // A file parameter names a stored object that the submission resolves (a
            // model's files); a grid would hand the worker paths of the client's choosing.
            problems.push(Detail::new(
                &at,
                format!(
                    "`{name}` names a stored file and cannot be swept; submit one sweep per \
                     value"
                ),
                "value_error",
            ));
            continue;
        }
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
