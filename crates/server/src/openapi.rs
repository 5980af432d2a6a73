//! The OpenAPI document, generated from the handlers' annotations, and the docs UI.
//!
//! The document a server serves describes that server: with a token, every protected
//! operation declares the `bearer` requirement and its 401; without one, neither. `?wait=`
//! is bounded by the configured `--max-wait`.

use axum::Router;
use serde_json::json;
use utoipa::openapi::extensions::Extensions;
use utoipa::openapi::header::HeaderBuilder;
use utoipa::openapi::schema::{Object, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Number, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::error::{Detail, MessageBody, ValidationBody};
use crate::routes::*;
use crate::spec::{
    BacktestRequest, BrokerSettings, CallSeqName, DatasetsRef, FillName, GridValues, Member,
    MethodSpec, ObjectiveSpec, ProfileName, StrategyRef, SweepRequest, WalkForwardSpec,
};
use crate::store::{Dataset, JobState, Model, Node};
use crate::{AppState, ServeConfig};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Backtide",
        description = "Backtests and parameter sweeps as durable background jobs. \
            Submit a job (202 with its URL), follow it (`GET /v1/jobs/{id}` or its \
            server-sent `events`), fetch its result. Validation errors are 422 with the \
            JSON path of each bad field, like FastAPI's. With `--token`, every `/v1` route \
            except `/v1/strategies` needs `Authorization: Bearer <token>`.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        upload_dataset, list_datasets, get_dataset, delete_dataset,
        list_strategies,
        upload_model, list_models, get_model,
        submit_backtest, submit_sweep, list_jobs, get_job, cancel_job, job_events,
        job_result, job_trades_csv, job_equity_csv, job_orders_csv, job_parquet, job_report,
        healthz, readyz, metrics, cluster,
    ),
    components(schemas(
        Dataset, Model, StrategyDoc, BacktestRequest, SweepRequest, StrategyRef, BrokerSettings,
        ProfileName, GridValues, ObjectiveSpec, MethodSpec, WalkForwardSpec, JobView, JobList,
        JobState, Detail, ValidationBody, MessageBody, Health, DatasetsRef, Member, CallSeqName,
        FillName, JobEvent, JobProgress, Cluster, Node,
    )),
    tags(
        (name = "datasets", description = "Bars to test on (samples GOOG, EURUSD, BTCUSD are preloaded, and STOCKS: five stocks in one long-format dataset)"),
        (name = "strategies", description = "Built-in strategies and their parameters"),
        (name = "models", description = "ONNX models for the onnx_model strategy"),
        (name = "jobs", description = "Backtests and sweeps as background jobs"),
        (name = "results", description = "What finished jobs produced"),
        (name = "system", description = "Health, readiness, metrics, the cluster's nodes"),
    )
)]
struct ApiDoc;

/// Whether the token middleware guards `path` (`routes::router`'s `protected` routes:
/// every `/v1` route but the strategy list).
fn protected(path: &str) -> bool {
    path.starts_with("/v1/") && path != "/v1/strategies"
}

/// The bodies that name their data once: `dataset` or `datasets`, exactly one of them.
const ONE_DATA_FIELD: [&str; 2] = ["BacktestRequest", "SweepRequest"];

/// The document for a server with a token (`auth`) or without, and this `--max-wait`.
fn document(auth: bool, max_wait_secs: u64) -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    if let Some(components) = doc.components.as_mut() {
        for name in ONE_DATA_FIELD {
            if let Some(RefOr::T(Schema::Object(o))) = components.schemas.get_mut(name) {
                exactly_one_of(o, &["dataset", "datasets"]);
            }
        }
    }
    for (path, item) in doc.paths.paths.iter_mut() {
        let secured = auth && protected(path);
        for op in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ]
        .into_iter()
        .flatten()
        {
            for p in op.parameters.iter_mut().flatten() {
                let Some(RefOr::T(Schema::Object(o))) = p.schema.as_mut() else {
                    continue;
                };
                match p.name.as_str() {
                    "wait" => o.maximum = Some(Number::UInt(max_wait_secs as usize)),
                    // The statistics a sweep's combinations can be sorted by (either
                    // profile's; a sweep accepts its own profile's).
                    "sort" => {
                        o.enum_values = Some(sort_keys().into_iter().map(Into::into).collect())
                    }
                    _ => {}
                }
            }
            if secured {
                op.security = Some(vec![SecurityRequirement::new(
                    "bearer",
                    Vec::<String>::new(),
                )]);
                op.responses
                    .responses
                    .insert("401".into(), RefOr::T(unauthorized()));
            }
        }
    }
    if auth {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
            );
    }
    doc
}

/// Every statistic key of either profile, each once, in table order.
fn sort_keys() -> Vec<&'static str> {
    let mut keys: Vec<&'static str> = backtide_core::Stats::keys().to_vec();
    for k in backtide_core::stats::VbtStats::keys() {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    keys
}

/// The 401 of a protected operation.
fn unauthorized() -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description("Missing or wrong token")
        .header(
            "WWW-Authenticate",
            HeaderBuilder::new()
                .schema(
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .enum_values(Some(["Bearer"])),
                )
                .description(Some("The scheme to authenticate with"))
                .build(),
        )
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("MessageBody")))
                .example(Some(json!({"detail": "not authenticated"})))
                .build(),
        )
        .build()
}

/// Makes an object schema valid only with exactly one of `fields` (JSON Schema's `oneOf`
/// over `required`, which utoipa's object has no field for).
fn exactly_one_of(o: &mut Object, fields: &[&str]) {
    let branches: Vec<_> = fields.iter().map(|f| json!({"required": [f]})).collect();
    o.extensions
        .get_or_insert_with(Extensions::default)
        .insert("oneOf".into(), json!(branches));
}

/// The OpenAPI 3.1 document of a server with a token and the default `--max-wait`.
pub fn openapi() -> utoipa::openapi::OpenApi {
    document(true, ServeConfig::new("data").max_wait_secs)
}

/// The OpenAPI 3.1 document a server with `config` serves: the `bearer` requirement and
/// 401s only when it has a token, `?wait=` up to its `--max-wait`.
pub(crate) fn openapi_for(config: &ServeConfig) -> utoipa::openapi::OpenApi {
    document(config.token.is_some(), config.max_wait_secs)
}

/// `/docs` (Swagger UI, served from the binary: works offline) and `/openapi.json`.
pub(crate) fn docs(config: &ServeConfig) -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", openapi_for(config)))
}
