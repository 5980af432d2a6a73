//! Health, readiness and metrics: always open, never behind the token.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;

use crate::AppState;
use crate::error::ApiError;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

/// Health or readiness.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "ok"}))]
pub(crate) struct Health {
    /// `ok`, or why not.
    status: String,
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses((status = 200, description = "Alive", body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// Readiness: the store answers, the data directory's disk has the configured room, and
/// the server is not shutting down.
#[utoipa::path(get, path = "/readyz", tag = "system",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready", body = Health),
    ))]
pub(crate) async fn readyz(State(state): State<AppState>) -> impl IntoResponse {
    let store = state.store.clone();
    let ok = tokio::task::spawn_blocking(move || store.ping())
        .await
        .unwrap_or(false);
    let room = crate::storage::ensure_room(&state.config.data_dir, 0, state.config.min_free_bytes);
    if let (true, Err(e)) = (ok, &room) {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: e.to_string(),
            }),
        );
    }
    if ok && !state.runner.is_closing() {
        (
            StatusCode::OK,
            Json(Health {
                status: "ok".into(),
            }),
        )
    } else {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(Health {
                status: if ok {
                    "shutting down"
                } else {
                    "store unavailable"
                }
                .into(),
            }),
        )
    }
}

/// Prometheus metrics: jobs by state, queue depth, job run times, HTTP latencies.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain",
        example = "backtide_queue_depth 0\n")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let counts = state.db(|s| s.counts()).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&counts),
    ))
}
