//! `/v1/backtests`, `/v1/sweeps` and `/v1/jobs`: submit, follow, cancel, fetch results.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ApiJson, ApiQuery, MessageBody, ValidationBody};
use crate::spec::{
    BacktestRequest, JobSpec, Member, Resolved, SweepRequest, check_data_fields, is_allocation,
    prepare_backtest, prepare_portfolio_backtest, prepare_sweep, resolve_data,
};
use crate::store::{CancelOutcome, JobRow, JobState};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/backtests", post(submit_backtest))
        .route("/v1/sweeps", post(submit_sweep))
        .route("/v1/jobs", get(list_jobs))
        .route("/v1/jobs/{id}", get(get_job))
        .route("/v1/jobs/{id}/cancel", post(cancel_job))
        .route("/v1/jobs/{id}/events", get(job_events))
        .route("/v1/jobs/{id}/result", get(job_result))
        .route("/v1/jobs/{id}/trades.csv", get(job_trades_csv))
        .route("/v1/jobs/{id}/equity.csv", get(job_equity_csv))
        .route("/v1/jobs/{id}/orders.csv", get(job_orders_csv))
        .route("/v1/jobs/{id}/result.parquet", get(job_parquet))
        .route("/v1/jobs/{id}/report.html", get(job_report))
}

/// A job's status.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "3f2b8c1e9a7d4e0f8b6a5c4d3e2f1a0b", "kind": "backtest", "state": "succeeded",
    "progress": 1.0, "dataset": "6f1c…", "created_at": "2026-11-24T12:00:00.000Z",
    "started_at": "2026-11-24T12:00:00.010Z", "finished_at": "2026-11-24T12:00:00.020Z",
    "error": null, "attempts": 1, "url": "/v1/jobs/3f2b8c1e9a7d4e0f8b6a5c4d3e2f1a0b",
    "result_url": "/v1/jobs/3f2b8c1e9a7d4e0f8b6a5c4d3e2f1a0b/result"
}))]
pub(crate) struct JobView {
    /// Job id.
    id: String,
    /// `backtest` or `sweep`.
    kind: String,
    /// Where it is.
    state: JobState,
    /// 0..1 (sweeps report per combination).
    progress: f64,
    /// Dataset id (a portfolio's: its first asset's; see `universe`).
    dataset: String,
    /// A portfolio job's assets: symbol and dataset id each, in column order (absent for
    /// one asset).
    #[serde(skip_serializing_if = "Option::is_none")]
    universe: Option<Vec<Member>>,
    /// When it was accepted.
    created_at: String,
    /// When a worker last started it.
    started_at: Option<String>,
    /// When it ended.
    finished_at: Option<String>,
    /// Why it failed.
    error: Option<String>,
    /// Times a worker started it (more than 1 after a restart interrupted it).
    attempts: u32,
    /// This job.
    url: String,
    /// Its result, once there is one.
    result_url: Option<String>,
    /// The result inline (`?wait=` answered in time).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    result: Option<Value>,
}

impl JobView {
    fn new(row: JobRow, live_progress: Option<f64>) -> JobView {
        let url = format!("/v1/jobs/{}", row.id);
        let has_result = row.has_result();
        JobView {
            result_url: has_result.then(|| format!("{url}/result")),
            url,
            id: row.id,
            kind: row.kind,
            state: row.state,
            progress: if row.state == JobState::Running {
                live_progress.unwrap_or(row.progress)
            } else {
                row.progress
            },
            dataset: row.dataset,
            universe: row
                .universe
                .as_deref()
                .and_then(|u| serde_json::from_str(u).ok()),
            created_at: row.created_at,
            started_at: row.started_at,
            finished_at: row.finished_at,
            error: row.error,
            attempts: row.attempts,
            result: None,
        }
    }
}

/// A page of jobs.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"jobs": [], "total": 0, "limit": 50, "offset": 0}))]
pub(crate) struct JobList {
    /// Newest first.
    jobs: Vec<JobView>,
    /// Jobs matching the filter.
    total: u64,
    /// Page size used.
    limit: usize,
    /// Offset used.
    offset: usize,
}

/// `?wait=` on submission.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WaitQuery {
    /// Seconds to wait for the job to finish; when it does, the answer is 200 with the
    /// result inline, else 202 as without `wait`. At most the server's `--max-wait` (60 s
    /// by default).
    #[param(minimum = 0)]
    wait: Option<f64>,
}

/// The largest `offset` of any page: SQLite's own bound (an offset past it would wrap to
/// the first page).
const MAX_OFFSET: usize = i64::MAX as usize;

/// Filter and page of `GET /v1/jobs`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListQuery {
    /// Only jobs in this state.
    state: Option<JobState>,
    /// Page size (1 to 1000, default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// Jobs to skip.
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    offset: Option<usize>,
}

/// Which way `sort` orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum SortOrder {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// Paging of `GET /v1/jobs/{id}/result`.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ResultQuery {
    /// First trade and order (backtests) or combination (sweeps) to return.
    #[param(minimum = 0, maximum = 18446744073709551615_u64)]
    offset: Option<usize>,
    /// How many trades and orders, or combinations (default 100, at most 10000).
    #[param(minimum = 0, maximum = 10000)]
    limit: Option<usize>,
    /// Equity points after downsampling (default 2000, at most 100000; 0 for every bar, for
    /// a result of at most 100000 bars). Each bucket keeps its minimum and maximum, so
    /// drawdowns survive.
    #[param(minimum = 0, maximum = 100000)]
    points: Option<usize>,
    /// A sweep's combinations ordered by this statistic (a key of its `stats`, e.g.
    /// `sharpe_ratio`) instead of the grid's order; undefined values come last.
    #[param(min_length = 1)]
    sort: Option<String>,
    /// With `sort`: `desc` (largest first, the default) or `asc`.
    #[param(inline)]
    order: Option<SortOrder>,
}

fn accepted(view: JobView) -> Response {
    let location = view.url.clone();
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(view),
    )
        .into_response()
}

/// The most bars a job's data can have on its timeline: a dataset's own count, or for a
/// universe the count of all its datasets' bars (the union timeline is at most that long).
/// Enough to refuse, before accepting, windows that no bar count could fit.
fn bars_at_most(data: &Resolved, store: &dyn crate::store::Store) -> Result<usize, ApiError> {
    match data {
        Resolved::Single(d) => Ok(d.rows as usize),
        Resolved::Universe(members) => {
            let mut ids: Vec<&str> = members.iter().map(|m| m.dataset.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let mut n = 0usize;
            for id in ids {
                let rows = store
                    .dataset(id)
                    .map_err(ApiError::internal)?
                    .map_or(0, |d| d.rows as usize);
                n = n.saturating_add(rows);
            }
            Ok(n)
        }
    }
}

async fn submit(
    state: AppState,
    mut spec: JobSpec,
    wait: Option<f64>,
) -> Result<Response, ApiError> {
    let max_wait = state.config.max_wait_secs as f64;
    let wait = match wait {
        Some(w) if !(0.0..=max_wait).contains(&w) || w.is_nan() => {
            return Err(ApiError::invalid(
                &["query", "wait"],
                format!("must be between 0 and {max_wait} seconds"),
                "value_error",
            ));
        }
        other => other.unwrap_or(0.0),
    };
    // Validate everything before accepting: a bad request never becomes a failed job.
    check_data_fields(&spec)?;
    let max_combos = state.config.max_combinations;
    let mut checked = spec.clone();
    let (store, data_dir) = (state.store.clone(), state.config.data_dir.clone());
    let runner = state.runner.clone();
    let (resolved, benchmark) = tokio::task::spawn_blocking(move || {
        crate::spec::resolve_model(checked.strategy_mut(), &*store, &data_dir)?;
        // The data decides between one asset and a portfolio; its own errors come after
        // the strategy's and the broker's, as they always have.
        let allocation = is_allocation(&checked.strategy().name);
        let resolved = resolve_data(&checked, &*store, allocation);
        let portfolio = match &resolved {
            Ok(Some(Resolved::Universe(_))) => true,
            Ok(Some(Resolved::Single(_))) => false,
            _ => checked.datasets().is_some() || allocation,
        };
        match (&checked, portfolio) {
            (JobSpec::Backtest(r), false) => prepare_backtest(r).map(drop),
            (JobSpec::Backtest(r), true) => prepare_portfolio_backtest(r).map(drop),
            (JobSpec::Sweep(r), portfolio) => {
                let p = prepare_sweep(r, max_combos, portfolio)?;
                match (&p.walk_forward, &resolved) {
                    (Some(wf), Ok(Some(data))) => wf
                        .check(bars_at_most(data, &*store)?)
                        .map_err(|e| crate::error::engine_error(&e, &[])),
                    _ => Ok(()),
                }
            }
        }?;
        // A benchmark is checked against the data it measures (and named by content id).
        let benchmark = match (&checked, &resolved) {
            (JobSpec::Backtest(r), Ok(Some(data))) => match &r.benchmark {
                Some(key) => Some(crate::spec::resolve_benchmark(
                    key,
                    data,
                    &*store,
                    |id, f| runner.bars(id, f),
                )?),
                None => None,
            },
            _ => None,
        };
        resolved.map(|r| (r, benchmark))
    })
    .await
    .map_err(ApiError::internal)??;
    if let (JobSpec::Backtest(r), Some(id)) = (&mut spec, benchmark) {
        r.benchmark = Some(id);
    }
    let (dataset_id, universe) = match resolved {
        Some(Resolved::Single(d)) => (d.id, None),
        Some(Resolved::Universe(members)) => (
            members
                .first()
                .map(|m| m.dataset.clone())
                .unwrap_or_default(),
            Some(serde_json::to_string(&members).map_err(ApiError::internal)?),
        ),
        None => {
            return Err(ApiError::invalid(
                &["body", "dataset"],
                format!(
                    "dataset `{}` not found (see GET /v1/datasets)",
                    spec.dataset().unwrap_or_default()
                ),
                "value_error",
            ));
        }
    };
    if state.runner.is_closing() {
        return Err(ApiError::Unavailable);
    }
    crate::storage::ensure_room(&state.config.data_dir, 0, state.config.min_free_bytes)?;
    let id = uuid::Uuid::new_v4().simple().to_string();
    let text = serde_json::to_string(&spec).map_err(ApiError::internal)?;
    let kind = spec.kind();
    // Register before committing, so a watcher sees the job from its first state.
    let mut rx = state.runner.register(&id);
    let (jid, limit) = (id.clone(), state.config.queue_limit);
    let committed = state
        .db(move |s| s.submit(&jid, kind, &text, &dataset_id, universe.as_deref(), limit))
        .await;
    match committed {
        Ok(true) => {}
        Ok(false) => {
            state.runner.forget(&id);
            return Err(ApiError::QueueFull { retry_after: 1 });
        }
        Err(e) => {
            state.runner.forget(&id);
            return Err(e);
        }
    }
    state.runner.notify();
    tracing::info!(job = %id, kind, "accepted");
    if wait > 0.0 {
        let deadline = tokio::time::sleep(Duration::from_secs_f64(wait));
        tokio::pin!(deadline);
        loop {
            if rx.borrow().state.is_terminal() {
                break;
            }
            tokio::select! {
                changed = rx.changed() => if changed.is_err() { break },
                () = &mut deadline => break,
            }
        }
    }
    let jid = id.clone();
    let row = state
        .db(move |s| s.job(&jid))
        .await?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("job {id} vanished")))?;
    let live = state.runner.progress(&id);
    let mut view = JobView::new(row, live);
    if wait > 0.0 && view.state.is_terminal() {
        if view.result_url.is_some() {
            view.result = Some(
                read_result(&state, &view.id, &ResultQuery::default(), &view.kind, None).await?,
            );
        }
        return Ok((StatusCode::OK, Json(view)).into_response());
    }
    Ok(accepted(view))
}

/// Run one backtest in the background.
///
/// Validated at once (422 with the path of each bad field); committed to the store before
/// the 202, so it survives a crash. With `?wait=SECONDS` a backtest that finishes in time
/// answers 200 with its result inline.
///
/// A portfolio (several assets trading from one account, as `backtide run` with several
/// `--data`) runs when the request gives `datasets`, names a long-format dataset (such as
/// `STOCKS`), or uses an allocation strategy (`equal_weight`, `momentum_rotation`,
/// `inverse_volatility`: one dataset is then a universe of one). Its strategy is one of
/// `GET /v1/strategies?universe=true`; its result is `backtide run --json`'s for a
/// portfolio.
#[utoipa::path(post, path = "/v1/backtests", tag = "jobs", params(WaitQuery),
    request_body(content = BacktestRequest, examples(
        ("one_asset" = (summary = "sma_cross on the GOOG sample", value = json!({
            "dataset": "GOOG",
            "strategy": {"name": "sma_cross", "params": {"fast": 10, "slow": 20}},
            "broker": {"commission": 0.002, "exclusive_orders": true},
            "profile": "backtesting_py"
        }))),
        ("portfolio" = (summary = "equal weight over the five STOCKS, monthly, as vectorbt", value = json!({
            "dataset": "STOCKS",
            "strategy": {"name": "equal_weight", "params": {"rebalance": "monthly"}},
            "broker": {"cash": 100000, "commission": 0.001, "slippage": 0.0005,
                       "call_seq": "auto", "fill": "close"},
            "profile": "vectorbt"
        }))),
        ("symbols" = (summary = "two uploads named by symbol", value = json!({
            "datasets": {"AAPL": "aapl", "MSFT": "msft"},
            "strategy": {"name": "momentum_rotation", "params": {"lookback": 63, "top": 1}},
            "profile": "vectorbt"
        }))),
    )),
    responses(
        (status = 202, description = "Accepted; follow `url`", body = JobView),
        (status = 200, description = "Finished within `wait`; result inline", body = JobView),
        (status = 408, description = "The body stopped arriving", body = MessageBody),
        (status = 413, description = "Body over the limit", body = MessageBody),
        (status = 415, description = "The body is not sent as JSON", body = MessageBody),
        (status = 422, description = "Invalid request", body = ValidationBody),
        (status = 429, description = "Queue full", body = MessageBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "The server is shutting down", body = MessageBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 507, description = "The data directory's disk is full", body = MessageBody),
    ))]
pub(crate) async fn submit_backtest(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<WaitQuery>,
    ApiJson(req): ApiJson<BacktestRequest>,
) -> Result<Response, ApiError> {
    submit(state, JobSpec::Backtest(req), q.wait).await
}

/// Run a parameter sweep (or a walk-forward) in the background on all cores.
///
/// A universe (as for `POST /v1/backtests`) sweeps a portfolio strategy (no walk-forward
/// yet).
#[utoipa::path(post, path = "/v1/sweeps", tag = "jobs", params(WaitQuery),
    request_body(content = SweepRequest, examples(
        ("one_asset" = (summary = "sma_cross on the GOOG sample", value = json!({
            "dataset": "GOOG",
            "strategy": {"name": "sma_cross"},
            "grid": {"fast": "5:50:5", "slow": "10:100:10"},
            "constraint": "fast < slow",
            "objective": {"key": "sharpe_ratio", "maximize": true}
        }))),
        ("portfolio" = (summary = "momentum rotation over the five STOCKS", value = json!({
            "datasets": ["STOCKS"],
            "strategy": {"name": "momentum_rotation"},
            "grid": {"lookback": [63, 126], "top": [1, 2]},
            "objective": {"key": "sharpe_ratio"},
            "profile": "vectorbt"
        }))),
    )),
    responses(
        (status = 202, description = "Accepted; follow `url` or its events", body = JobView),
        (status = 200, description = "Finished within `wait`; result inline", body = JobView),
        (status = 408, description = "The body stopped arriving", body = MessageBody),
        (status = 413, description = "Body over the limit", body = MessageBody),
        (status = 415, description = "The body is not sent as JSON", body = MessageBody),
        (status = 422, description = "Invalid request, or more combinations than allowed", body = ValidationBody),
        (status = 429, description = "Queue full", body = MessageBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 503, description = "The server is shutting down", body = MessageBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before retrying"))),
        (status = 507, description = "The data directory's disk is full", body = MessageBody),
    ))]
pub(crate) async fn submit_sweep(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<WaitQuery>,
    ApiJson(req): ApiJson<SweepRequest>,
) -> Result<Response, ApiError> {
    submit(state, JobSpec::Sweep(req), q.wait).await
}

/// List jobs, newest first.
#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", params(ListQuery),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
        (status = 422, description = "Bad filter", body = ValidationBody),
    ))]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ListQuery>,
) -> Result<Json<JobList>, ApiError> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid(
            &["query", "limit"],
            "must be from 1 to 1000",
            "value_error",
        ));
    }
    let offset = q.offset.unwrap_or(0);
    if offset > MAX_OFFSET {
        return Err(ApiError::invalid(
            &["query", "offset"],
            format!("must be at most {MAX_OFFSET}"),
            "value_error",
        ));
    }
    let filter = q.state;
    let (rows, total) = state.db(move |s| s.jobs(filter, limit, offset)).await?;
    let jobs = rows
        .into_iter()
        .map(|r| {
            let live = state.runner.progress(&r.id);
            JobView::new(r, live)
        })
        .collect();
    Ok(Json(JobList {
        jobs,
        total,
        limit,
        offset,
    }))
}

async fn job_row(state: &AppState, id: &str) -> Result<JobRow, ApiError> {
    let key = id.to_string();
    state
        .db(move |s| s.job(&key))
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("job `{id}` not found")))
}

/// A job's state and progress.
#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job", body = MessageBody),
    ))]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<JobView>, ApiError> {
    let row = job_row(&state, &id).await?;
    Ok(Json(JobView::new(row, state.runner.progress(&id))))
}

/// Cancel a job: a queued one at once; a running sweep stops within a second and keeps
/// the combinations that finished (a running backtest is short and finishes).
#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "Cancelled (it was queued)", body = JobView),
        (status = 202, description = "Stop requested (it is running)", body = JobView),
        (status = 404, description = "No such job", body = MessageBody),
        (status = 409, description = "Already finished", body = MessageBody),
        (status = 507, description = "The data directory's disk is full", body = MessageBody),
    ))]
pub(crate) async fn cancel_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let key = id.clone();
    let status = match state.db(move |s| s.cancel(&key)).await? {
        CancelOutcome::NotFound => return Err(ApiError::NotFound(format!("job `{id}` not found"))),
        CancelOutcome::AlreadyFinished(s) => {
            return Err(ApiError::Conflict(format!(
                "job `{id}` already {}",
                s.as_str()
            )));
        }
        CancelOutcome::Cancelled => {
            state.runner.ended(&id, JobState::Cancelled);
            StatusCode::OK
        }
        CancelOutcome::Requested => {
            state.runner.cancel(&id);
            StatusCode::ACCEPTED
        }
    };
    let row = job_row(&state, &id).await?;
    Ok((status, Json(JobView::new(row, state.runner.progress(&id)))).into_response())
}

/// The `data` of a `progress` event.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"state": "running", "progress": 0.25}))]
pub(crate) struct JobProgress {
    /// Where the job is (`queued` or `running`).
    state: JobState,
    /// 0..1.
    progress: f64,
}

/// One server-sent event of `GET /v1/jobs/{id}/events`, as a client parses it: its name
/// and its `data`, JSON text (a [`JobProgress`] for `progress`, the [`JobView`] for `end`).
pub(crate) struct JobEvent;

impl utoipa::PartialSchema for JobEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{ObjectBuilder, Type};
        let data = json!({"oneOf": [
            {"$ref": "#/components/schemas/JobProgress"},
            {"$ref": "#/components/schemas/JobView"},
            {"type": "null"},
        ]});
        ObjectBuilder::new()
            .description(Some(
                "One event: `progress` while the job is queued or running, then `end` \
                 (the job; `null` if it could not be read) and the stream closes",
            ))
            .property(
                "event",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["progress", "end"])),
            )
            .required("event")
            .property(
                "data",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .description(Some("JSON: a `JobProgress`, or for `end` the `JobView`"))
                    .content_media_type("application/json")
                    .extensions(Some([("contentSchema", data)].into_iter().collect())),
            )
            .required("data")
            .examples([json!({
                "event": "progress",
                "data": "{\"state\":\"running\",\"progress\":0.25}"
            })])
            .into()
    }
}

impl ToSchema for JobEvent {}

/// Server-sent events: `progress` events (`{"state", "progress"}`) while the job is queued
/// or running, then one `end` event with the job and the stream closes.
#[utoipa::path(get, path = "/v1/jobs/{id}/events", tag = "jobs",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "A stream of events (`event: progress` or `end`, `data:` JSON)", body = JobEvent, content_type = "text/event-stream"),
        (status = 404, description = "No such job", body = MessageBody),
    ))]
pub(crate) async fn job_events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let row = job_row(&state, &id).await?;
    let rx = if row.state.is_terminal() {
        None
    } else {
        Some(
            state
                .runner
                .watch(&id)
                .unwrap_or_else(|| state.runner.register(&id)),
        )
    };
    struct Follow {
        state: AppState,
        id: String,
        rx: Option<tokio::sync::watch::Receiver<crate::runner::Live>>,
        first: bool,
        done: bool,
    }
    let follow = Follow {
        state,
        id,
        rx,
        first: true,
        done: false,
    };
    let stream = futures_util::stream::unfold(follow, |mut f| async move {
        if f.done {
            return None;
        }
        if let Some(rx) = f.rx.as_mut() {
            if f.first {
                f.first = false;
                let live = *rx.borrow_and_update();
                if !live.state.is_terminal() {
                    let ev = Event::default().event("progress").data(
                        json!(JobProgress {
                            state: live.state,
                            progress: live.progress
                        })
                        .to_string(),
                    );
                    return Some((Ok(ev), f));
                }
            }
            loop {
                // Re-read the store now and then: it is the truth if the in-memory
                // channel missed the end (a race with a worker that just finished).
                match tokio::time::timeout(Duration::from_secs(1), rx.changed()).await {
                    Ok(Ok(())) => {
                        let live = *rx.borrow_and_update();
                        if live.state.is_terminal() {
                            break;
                        }
                        let ev = Event::default().event("progress").data(
                            json!(JobProgress {
                                state: live.state,
                                progress: live.progress
                            })
                            .to_string(),
                        );
                        return Some((Ok(ev), f));
                    }
                    Ok(Err(_)) => break,
                    Err(_) => {
                        let key = f.id.clone();
                        let row = f.state.db(move |s| s.job(&key)).await.ok().flatten();
                        if row.is_none_or(|r| r.state.is_terminal()) {
                            break;
                        }
                    }
                }
            }
        }
        f.done = true;
        let key = f.id.clone();
        let row = f.state.db(move |s| s.job(&key)).await.ok().flatten();
        let data = row.map_or(Value::Null, |r| json!(JobView::new(r, None)));
        Some((Ok(Event::default().event("end").data(data.to_string())), f))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

async fn read_result(
    state: &AppState,
    id: &str,
    q: &ResultQuery,
    kind: &str,
    sort: Option<(&str, bool)>,
) -> Result<Value, ApiError> {
    let path = state.runner.result_dir(id).join("result.json");
    let limit = q.limit.unwrap_or(100);
    if limit > 10_000 {
        return Err(ApiError::invalid(
            &["query", "limit"],
            "must be at most 10000",
            "value_error",
        ));
    }
    let points = q.points.unwrap_or(2_000);
    if points > crate::paging::MAX_POINTS {
        return Err(ApiError::invalid(
            &["query", "points"],
            format!("must be at most {}", crate::paging::MAX_POINTS),
            "value_error",
        ));
    }
    let kind = kind.to_string();
    let sort = sort.map(|(k, d)| (k.to_string(), d));
    let offset = q.offset.unwrap_or(0);
    tokio::task::spawn_blocking(move || {
        let page = crate::paging::Page {
            offset,
            limit,
            points,
            sort: sort.as_ref().map(|(k, d)| (k.as_str(), *d)),
        };
        crate::paging::read_page(&path, &kind, page)
    })
    .await
    .map_err(ApiError::internal)?
}

/// A job with a result, whose files `names` are intact: a damaged one sends the job back
/// to the queue (or to `failed` if its inputs are gone) and answers 409 saying so, never
/// a 500 beside a `succeeded` state.
async fn finished(state: &AppState, id: &str, names: &[&'static str]) -> Result<JobRow, ApiError> {
    let row = job_row(state, id).await?;
    if !row.has_result() {
        return Err(ApiError::Conflict(format!(
            "job `{id}` is {} and has no result{}",
            row.state.as_str(),
            if row.state.is_terminal() { "" } else { " yet" }
        )));
    }
    let runner = state.runner.clone();
    let names = names.to_vec();
    tokio::task::spawn_blocking(move || {
        let dir = runner.result_dir(&row.id);
        let digest = row.result_digest.as_deref();
        let damaged = names
            .iter()
            .find_map(|n| runner.checked.check(&dir, n, digest).err());
        match damaged {
            None => Ok(row),
            Some(why) => Err(ApiError::Conflict(
                runner
                    .result_damaged(&row, &why)
                    .map_err(ApiError::internal)?,
            )),
        }
    })
    .await
    .map_err(ApiError::internal)?
}

/// The result: for a backtest `stats` (the profile's dialect, as `backtide run --json`),
/// a page of `trades`, `open_trades` and downsampled `equity`; a portfolio backtest adds a
/// page of `orders` (the same `offset` and `limit`), `positions` (units per symbol, kept at
/// the same bars as `equity`), `assets` and `universe`; for a sweep a page of `combos`,
/// `best` and `overfitting`; for a walk-forward its windows and stitched result.
#[utoipa::path(get, path = "/v1/jobs/{id}/result", tag = "results",
    params(("id" = String, Path, description = "Job id"), ResultQuery),
    responses(
        (status = 200, description = "The result", body = Object,
            example = json!({"kind": "backtest", "stats": {"return_pct": 462.6, "num_trades": 93}, "trades": [], "trades_total": 93, "equity": [], "equity_total": 2148})),
        (status = 404, description = "No such job", body = MessageBody),
        (status = 409, description = "No result yet", body = MessageBody),
        (status = 422, description = "Bad paging", body = ValidationBody),
    ))]
pub(crate) async fn job_result(
    State(state): State<AppState>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ResultQuery>,
) -> Result<Json<Value>, ApiError> {
    let row = finished(&state, &id, &["result.json"]).await?;
    let sort = sort_of(&row, &q)?;
    let sort = sort.as_ref().map(|(k, d)| (k.as_str(), *d));
    Ok(Json(read_result(&state, &id, &q, &row.kind, sort).await?))
}

/// `sort` and `order` checked against the job: only a sweep's combinations are sorted,
/// by a statistic of its profile's dialect (the known keys are listed when it is not).
fn sort_of(row: &JobRow, q: &ResultQuery) -> Result<Option<(String, bool)>, ApiError> {
    let Some(key) = &q.sort else {
        if q.order.is_some() {
            return Err(ApiError::invalid(
                &["query", "order"],
                "order applies with sort=<statistic>",
                "value_error",
            ));
        }
        return Ok(None);
    };
    let spec: JobSpec = serde_json::from_str(&row.spec).map_err(ApiError::internal)?;
    let r = match &spec {
        JobSpec::Sweep(r) if r.walk_forward.is_none() => r,
        _ => {
            return Err(ApiError::invalid(
                &["query", "sort"],
                "sort orders a sweep's combinations; this result has none",
                "value_error",
            ));
        }
    };
    let dialect = backtide_core::Profile::from(r.profile).dialect();
    let objective =
        backtide_core::sweep::Objective::in_dialect(dialect, key, true).map_err(|e| {
            let msg = match e {
                backtide_core::Error::Param { message, .. } => message,
                other => other.to_string(),
            };
            ApiError::invalid(&["query", "sort"], msg, "value_error")
        })?;
    Ok(Some((
        objective.key.to_string(),
        q.order != Some(SortOrder::Asc),
    )))
}

async fn file(
    state: &AppState,
    id: &str,
    name: &'static str,
    content_type: &'static str,
) -> Result<Response, ApiError> {
    let row = finished(state, id, &[name]).await?;
    let path = state.runner.result_dir(id).join(name);
    match tokio::fs::read(&path).await {
        Ok(bytes) => Ok((
            [
                (header::CONTENT_TYPE, content_type.to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{id}-{name}\""),
                ),
            ],
            Body::from(bytes),
        )
            .into_response()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(ApiError::NotFound(format!(
            "a {} job has no {name}",
            row.kind
        ))),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// Closed trades of a backtest as CSV (a portfolio's with `symbol` first).
#[utoipa::path(get, path = "/v1/jobs/{id}/trades.csv", tag = "results",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "CSV, one row per closed trade", body = String, content_type = "text/csv",
            example = "entry_bar,exit_bar,entry_time,exit_time,size,entry_price,exit_price,sl,tp,pnl,return,commission,duration_s,tag\n"),
        (status = 404, description = "No such job, or not a backtest", body = MessageBody),
        (status = 409, description = "No result yet", body = MessageBody),
    ))]
pub(crate) async fn job_trades_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    file(&state, &id, "trades.csv", "text/csv").await
}

/// A portfolio backtest's orders (fills) as CSV.
#[utoipa::path(get, path = "/v1/jobs/{id}/orders.csv", tag = "results",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "CSV, one row per fill", body = String, content_type = "text/csv",
            example = "bar,time,symbol,side,size,price,fees\n0,2000-03-01T00:00:00,AAPL,buy,5361.02,4.1887,22.46\n"),
        (status = 404, description = "No such job, or not a portfolio backtest", body = MessageBody),
        (status = 409, description = "No result yet", body = MessageBody),
    ))]
pub(crate) async fn job_orders_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    file(&state, &id, "orders.csv", "text/csv").await
}

/// Per-bar equity and drawdown of a backtest as CSV (a portfolio's with `cash` last).
#[utoipa::path(get, path = "/v1/jobs/{id}/equity.csv", tag = "results",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "CSV, one row per bar", body = String, content_type = "text/csv",
            example = "time,equity,drawdown\n2004-08-19T00:00:00,10000,0\n"),
        (status = 404, description = "No such job, or not a backtest", body = MessageBody),
        (status = 409, description = "No result yet", body = MessageBody),
    ))]
pub(crate) async fn job_equity_csv(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    file(&state, &id, "equity.csv", "text/csv").await
}

/// The result as Parquet: per-bar equity of a backtest (a portfolio's with `cash`), one
/// row per combination of a sweep.
#[utoipa::path(get, path = "/v1/jobs/{id}/result.parquet", tag = "results",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "Parquet file", body = inline(super::datasets::FileBytes), content_type = "application/vnd.apache.parquet",
            example = "PAR1 … PAR1 (columns: time, equity, drawdown for a backtest; parameters then statistics for a sweep)"),
        (status = 404, description = "No such job, or a walk-forward (JSON only)", body = MessageBody),
        (status = 409, description = "No result yet", body = MessageBody),
    ))]
pub(crate) async fn job_parquet(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    file(
        &state,
        &id,
        "result.parquet",
        "application/vnd.apache.parquet",
    )
    .await
}

/// An interactive HTML report of the job (one self-contained file that works offline):
/// for a backtest, price with trades, equity, drawdown, position, statistics, trades and
/// monthly returns; for a sweep, the objective's heat-map and distribution, the best
/// combinations, walk-forward windows and overfitting checks.
#[utoipa::path(get, path = "/v1/jobs/{id}/report.html", tag = "results",
    params(("id" = String, Path, description = "Job id")),
    responses(
        (status = 200, description = "HTML page", body = String, content_type = "text/html",
            example = "<!DOCTYPE html><html lang=\"en\">…</html>"),
        (status = 404, description = "No such job", body = MessageBody),
        (status = 409, description = "No result yet", body = MessageBody),
    ))]
pub(crate) async fn job_report(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let row = finished(&state, &id, &["result.json", "report.html"]).await?;
    let mut spec: JobSpec = serde_json::from_str(&row.spec).map_err(ApiError::internal)?;
    let (store, data_dir) = (state.store.clone(), state.config.data_dir.clone());
    let (spec, model) = tokio::task::spawn_blocking(move || {
        crate::spec::resolve_model(spec.strategy_mut(), &*store, &data_dir).map(|m| (spec, m))
    })
    .await
    .map_err(ApiError::internal)??;
    // Every dataset the job ran on must still be there to draw a report that is not kept.
    let used: Vec<String> = match &row.universe {
        Some(u) => serde_json::from_str::<Vec<Member>>(u)
            .map_err(ApiError::internal)?
            .into_iter()
            .map(|m| m.dataset)
            .collect(),
        None => vec![row.dataset.clone()],
    };
    let used = used.into_iter().chain(spec.benchmark().map(str::to_string));
    for ds in used {
        let key = ds.clone();
        if state.db(move |s| s.dataset(&key)).await?.is_none() {
            return Err(ApiError::Conflict(format!(
                "dataset {ds} of job `{id}` was deleted"
            )));
        }
    }
    let runner = state.runner.clone();
    let dir = state.runner.result_dir(&id);
    let max = state.config.max_combinations;
    let html = tokio::task::spawn_blocking(move || -> anyhow::Result<Vec<u8>> {
        let data = || Ok((runner.job_data(&row)?, runner.benchmark_bars(&spec)?));
        crate::work::report_html(&spec, data, &dir, max, model.as_deref())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    Ok((
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        Body::from(html),
    )
        .into_response())
}
