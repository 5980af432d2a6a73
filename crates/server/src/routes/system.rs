//! Health, readiness and metrics (always open, never behind the token), and the cluster
//! view (behind it).

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

/// Routes behind the token (they name hosts and processes).
pub(super) fn protected_router() -> Router<AppState> {
    Router::new().route("/v1/cluster", get(cluster))
}

/// The nodes sharing this store.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "store": "postgres", "this_node": "api-0-41-8c1f2a9e",
    "nodes": [{"id": "worker-1-7-03bd77c1", "role": "worker", "host": "worker-1", "pid": 7,
               "threads": 2, "started_at": "2026-12-05T09:00:00.000Z", "seen_ms_ago": 4210,
               "running": 1, "jobs_claimed": 12, "lease_renewals": 96, "leases_lost": 0}],
    "expired_leases": 0
}))]
pub(crate) struct Cluster {
    /// `sqlite` (one process) or `postgres` (shared by every node listed).
    store: &'static str,
    /// The node that answered.
    this_node: String,
    /// Nodes heard from within three lease renewals, by id.
    nodes: Vec<crate::store::Node>,
    /// Running jobs whose holder stopped renewing: they go back to the queue on the next
    /// claim.
    expired_leases: u64,
}

/// The live nodes (API replicas and workers) sharing this store, with each one's counters:
/// jobs claimed, lease renewals, leases lost.
#[utoipa::path(get, path = "/v1/cluster", tag = "system",
    responses((status = 200, description = "Live nodes", body = Cluster)))]
pub(crate) async fn cluster(State(state): State<AppState>) -> Result<Json<Cluster>, ApiError> {
    let within = state
        .runner
        .lease_ttl()
        .max(std::time::Duration::from_secs(1));
    let (nodes, expired_leases) = state
        .db(move |s| Ok((s.nodes(within)?, s.expired_leases()?)))
        .await?;
    Ok(Json(Cluster {
        store: if state.store.is_shared() {
            "postgres"
        } else {
            "sqlite"
        },
        this_node: state.runner.node_id().to_string(),
        nodes,
        expired_leases,
    }))
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

/// Prometheus metrics: jobs by state, queue depth, job run times, HTTP latencies, and this
/// node's claims, lease renewals and lost leases.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain",
        example = "backtide_queue_depth 0\n")))]
pub(crate) async fn metrics(State(state): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let counts = state.db(|s| s.counts()).await?;
    let mut text = state.metrics.render(&counts);
    state.runner.render_node_metrics(&mut text);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text))
}
