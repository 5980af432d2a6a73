//! `/v1/strategies`: the built-in strategies and their parameters as JSON Schema.

use crate::error::ApiQuery;
use axum::routing::get;
use axum::{Json, Router};
use backtide_core::strategy::builtin::STRATEGIES;
use backtide_core::strategy::{DefaultValue, ParamKind};
use backtide_models::MODEL_STRATEGIES;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/v1/strategies", get(list_strategies))
}

/// A strategy and the JSON Schema of its `params`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "name": "sma_cross",
    "about": "Long when the fast SMA crosses above the slow one, short when below",
    "params": {"type": "object", "additionalProperties": false, "properties": {
        "fast": {"type": "integer", "minimum": 1, "maximum": 10000, "default": 10, "description": "fast SMA period"}
    }}
}))]
pub(crate) struct StrategyDoc {
    /// Name to use in requests.
    name: &'static str,
    /// What it does.
    about: String,
    /// JSON Schema of `strategy.params`: each parameter's type, bounds and default.
    #[schema(value_type = Object)]
    params: Value,
}

fn schema_of(spec: &backtide_core::ParamSpec) -> Value {
    let mut s = Map::new();
    match spec.kind {
        ParamKind::Int { min, max } => {
            s.insert("type".into(), json!("integer"));
            s.insert("minimum".into(), json!(min));
            s.insert("maximum".into(), json!(max));
        }
        ParamKind::Float { min, max } => {
            s.insert("type".into(), json!("number"));
            s.insert("minimum".into(), json!(min));
            s.insert("maximum".into(), json!(max));
        }
        ParamKind::Choice(words) => {
            s.insert("type".into(), json!("string"));
            s.insert("enum".into(), json!(words));
        }
        ParamKind::Text | ParamKind::File | ParamKind::Expr => {
            s.insert("type".into(), json!("string"));
            s.insert("minLength".into(), json!(1));
        }
    }
    match spec.default {
        Some(DefaultValue::Int(v)) => {
            s.insert("default".into(), json!(v));
        }
        Some(DefaultValue::Float(v)) => {
            s.insert("default".into(), json!(v));
        }
        Some(DefaultValue::Str(v)) => {
            s.insert("default".into(), json!(v));
        }
        None => {
            s.insert("nullable".into(), json!(true));
        }
    }
    s.insert("description".into(), json!(spec.doc));
    Value::Object(s)
}

fn doc(name: &'static str, about: String, params: &[backtide_core::ParamSpec]) -> StrategyDoc {
    let props: Map<String, Value> = params
        .iter()
        .map(|p| (p.name.to_string(), schema_of(p)))
        .collect();
    StrategyDoc {
        name,
        about,
        params: json!({
            "type": "object",
            "additionalProperties": false,
            "properties": props,
        }),
    }
}

/// Which strategies to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct StrategiesQuery {
    /// `true`: the portfolio strategies, which jobs on a universe (`datasets`, or a
    /// long-format dataset) use: the allocation strategies (`equal_weight`,
    /// `momentum_rotation`, `inverse_volatility`) and each signal strategy applied per
    /// asset. Default: the single-asset strategies.
    universe: Option<bool>,
}

/// The built-in strategies with their parameters' types, bounds and defaults. For
/// `onnx_model`, `model` is the id or name of a model uploaded with `POST /v1/models`, and
/// `features` comes with it (not given in requests).
#[utoipa::path(get, path = "/v1/strategies", tag = "strategies", params(StrategiesQuery),
    responses(
        (status = 200, description = "Every built-in strategy", body = Vec<StrategyDoc>),
        (status = 422, description = "Bad query (`universe` is `true` or `false`)", body = crate::error::ValidationBody),
    ))]
pub(crate) async fn list_strategies(
    ApiQuery(q): ApiQuery<StrategiesQuery>,
) -> Result<Json<Vec<StrategyDoc>>, crate::error::ApiError> {
    if q.universe == Some(true) {
        return Ok(Json(
            backtide_core::portfolio::builtin::strategies()
                .iter()
                .map(|info| doc(info.name, info.about.clone(), &info.params))
                .collect(),
        ));
    }
    Ok(Json(
        STRATEGIES
            .iter()
            .chain(MODEL_STRATEGIES.iter().copied())
            .map(|info| doc(info.name, info.about.to_string(), info.params))
            .collect(),
    ))
}
