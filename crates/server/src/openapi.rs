//! The OpenAPI document, generated from the handlers' annotations, and the docs UI.

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::AppState;
use crate::error::{Detail, MessageBody, ValidationBody};
use crate::routes::*;
use crate::spec::{
    BacktestRequest, BrokerSettings, CallSeqName, DatasetsRef, FillName, GridValues, Member,
    MethodSpec, ObjectiveSpec, ProfileName, StrategyRef, SweepRequest, WalkForwardSpec,
};
use crate::store::{Dataset, JobState, Model};

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

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
        healthz, readyz, metrics,
    ),
    components(schemas(
        Dataset, Model, StrategyDoc, BacktestRequest, SweepRequest, StrategyRef, BrokerSettings,
        ProfileName, GridValues, ObjectiveSpec, MethodSpec, WalkForwardSpec, JobView, JobList,
        JobState, Detail, ValidationBody, MessageBody, Health, DatasetsRef, Member, CallSeqName,
        FillName,
    )),
    modifiers(&Bearer),
    tags(
        (name = "datasets", description = "Bars to test on (samples GOOG, EURUSD, BTCUSD are preloaded, and STOCKS: five stocks in one long-format dataset)"),
        (name = "strategies", description = "Built-in strategies and their parameters"),
        (name = "models", description = "ONNX models for the onnx_model strategy"),
        (name = "jobs", description = "Backtests and sweeps as background jobs"),
        (name = "results", description = "What finished jobs produced"),
        (name = "system", description = "Health, readiness, metrics"),
    )
)]
struct ApiDoc;

/// The OpenAPI 3.1 document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// `/docs` (Swagger UI, served from the binary: works offline) and `/openapi.json`.
pub(crate) fn docs() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/openapi.json", openapi()))
}
