//! The HTTP routes, one module per resource, merged by [`router`].

mod datasets;
mod jobs;
mod models;
mod strategies;
mod system;

use std::time::Instant;

use axum::Router;
use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::{HeaderName, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};

use crate::AppState;
use crate::error::ApiError;

pub(crate) use datasets::__path_upload_dataset;
pub(crate) use datasets::{__path_delete_dataset, __path_get_dataset, __path_list_datasets};
pub(crate) use jobs::{
    __path_cancel_job, __path_get_job, __path_job_equity_csv, __path_job_events,
    __path_job_orders_csv, __path_job_parquet, __path_job_report, __path_job_result,
    __path_job_trades_csv, __path_list_jobs, __path_submit_backtest, __path_submit_sweep,
};
pub(crate) use jobs::{JobEvent, JobList, JobProgress, JobView};
pub(crate) use models::{__path_get_model, __path_list_models, __path_upload_model};
pub(crate) use strategies::{__path_list_strategies, StrategyDoc};
pub(crate) use system::{
    __path_cluster, __path_healthz, __path_metrics, __path_readyz, Cluster, Health,
};

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Every route with its middleware. Writes and job reads sit behind the bearer token when
/// one is configured; health, metrics, docs and the strategy list stay open.
pub(crate) fn router(state: AppState) -> Router {
    let protected = Router::new()
        .merge(datasets::router())
        .merge(jobs::router())
        .merge(models::router())
        .merge(system::protected_router())
        .route_layer(middleware::from_fn_with_state(state.clone(), require_token));
    let open = Router::new()
        .merge(strategies::router())
        .merge(system::router())
        .merge(crate::openapi::docs(&state.config));
    let router = Router::new()
        .merge(protected)
        .merge(open)
        .fallback(|| async { ApiError::NotFound("no such route".into()) });
    // Around every route, so a browser's preflight is answered before the token check,
    // which it cannot pass (a preflight carries no credentials).
    let router = if state.config.cors_origins.is_empty() {
        router
    } else {
        router.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(state.config.cors_origins.clone())
                .allow_methods([
                    axum::http::Method::GET,
                    axum::http::Method::POST,
                    axum::http::Method::DELETE,
                ])
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
                .expose_headers([header::LOCATION, REQUEST_ID])
                .max_age(std::time::Duration::from_secs(600)),
        )
    };
    router
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .layer(DefaultBodyLimit::max(state.config.max_body_bytes))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            state.config.read_timeout,
        ))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request| {
                let id = req
                    .headers()
                    .get(&REQUEST_ID)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("-");
                tracing::info_span!("request", method = %req.method(), uri = %req.uri(), request_id = %id)
            })
            // One line per request at info: status and latency, inside the request's span.
            .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

/// The name an upload is stored under: `?name=`, else the uploaded file's name without its
/// extension.
fn upload_name(
    given: Option<String>,
    file_name: Option<String>,
    what: &str,
) -> Result<String, ApiError> {
    given
        .or_else(|| file_name.map(|f| f.rsplit_once('.').map_or(f.clone(), |(s, _)| s.to_string())))
        .filter(|n| !n.trim().is_empty())
        .ok_or_else(|| {
            ApiError::invalid(
                &["query", "name"],
                format!("give the {what} a name: ?name=NAME"),
                "missing",
            )
        })
}

/// Records each request's latency by route template and status.
async fn observe(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    // Labels come from closed sets (made-up methods and unknown paths fold into one
    // series each), so no client can grow the metrics without bound.
    let method = match req.method().as_str() {
        m @ ("GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS") => m.to_string(),
        _ => "other".to_string(),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched".to_string(), |p| p.as_str().to_string());
    let response = next.run(req).await;
    state.metrics.http(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Checks `Authorization: Bearer <token>` in constant time (both sides are hashed first,
/// so not even the token's length leaks).
async fn require_token(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let Some(expected) = state.config.token.as_ref().map(crate::Token::as_str) else {
        return next.run(req).await;
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.as_bytes());
    if bool::from(a.ct_eq(&b)) && !given.is_empty() {
        next.run(req).await
    } else {
        ApiError::Unauthorized.into_response()
    }
}
