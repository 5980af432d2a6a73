//! `/v1/datasets`: upload, list, show, delete.

use axum::body::Bytes;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::AppState;
use crate::datasets::ingest;
use crate::error::{ApiError, ApiQuery, MessageBody, ValidationBody, unreadable};
use crate::store::{Dataset, DeleteOutcome};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/datasets", post(upload_dataset).get(list_datasets))
        .route("/v1/datasets/{id}", get(get_dataset).delete(delete_dataset))
}

/// Query of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// Name to list the dataset under (default: the multipart file name).
    name: Option<String>,
}

/// Upload a CSV or Parquet file of bars.
///
/// The body is the file itself (any content type) or a multipart form with the file in
/// field `file`. The file is validated like `backtide run --data` (every bad row is
/// reported with its line, column and rule). The id is the SHA-256 of the content, so
/// uploading the same file again returns the same id.
#[utoipa::path(post, path = "/v1/datasets", tag = "datasets", params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "text/csv",
        description = "The CSV or Parquet file (or multipart/form-data with field `file`)",
        example = "Date,Open,High,Low,Close,Volume\n2024-01-02,100,101,99,100.5,1000\n2024-01-03,100.5,102,100,101.5,1200\n"),
    responses(
        (status = 201, description = "Stored (or already stored)", body = Dataset),
        (status = 401, description = "Missing or wrong token", body = MessageBody),
        (status = 413, description = "Body or bar count over the limit", body = MessageBody),
        (status = 422, description = "Not a valid bar file", body = ValidationBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn upload_dataset(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    req: Request,
) -> Result<(StatusCode, Json<Dataset>), ApiError> {
    let multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/form-data"));
    let (bytes, file_name) = if multipart {
        let mut form = Multipart::from_request(req, &state)
            .await
            .map_err(|e| ApiError::invalid(&["body"], e.body_text(), "value_error"))?;
        let mut found = None;
        while let Some(field) = form
            .next_field()
            .await
            .map_err(|e| unreadable(e.status(), e.body_text(), &["body"], "value_error"))?
        {
            if field.name() == Some("file") {
                let name = field.file_name().map(str::to_string);
                let data = field.bytes().await.map_err(|e| {
                    unreadable(e.status(), e.body_text(), &["body", "file"], "value_error")
                })?;
                found = Some((data, name));
                break;
            }
        }
        found.ok_or_else(|| {
            ApiError::invalid(
                &["body", "file"],
                "multipart field `file` is missing",
                "missing",
            )
        })?
    } else {
        let b = Bytes::from_request(req, &state)
            .await
            .map_err(|e| unreadable(e.status(), e.body_text(), &["body"], "value_error"))?;
        (b, None)
    };
    let name = super::upload_name(q.name, file_name, "dataset")?;
    let dir = state.config.data_dir.clone();
    let max_bars = state.config.max_bars;
    let reserve = state.config.min_free_bytes;
    let dataset = tokio::task::spawn_blocking(move || {
        // Staged once, then moved into place: twice the upload at most.
        crate::storage::ensure_room(&dir, 2 * bytes.len() as u64, reserve)?;
        ingest(&dir, &name, &bytes, max_bars)
    })
    .await
    .map_err(ApiError::internal)??;
    let stored = state.db(move |s| s.put_dataset(&dataset)).await?;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// List datasets.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets",
    responses(
        (status = 200, description = "Every dataset, by name", body = Vec<Dataset>),
        (status = 401, description = "Missing or wrong token", body = MessageBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_datasets(
    State(state): State<AppState>,
) -> Result<Json<Vec<Dataset>>, ApiError> {
    Ok(Json(state.db(|s| s.datasets()).await?))
}

/// Show one dataset (by id or name).
#[utoipa::path(get, path = "/v1/datasets/{id}", tag = "datasets",
    params(("id" = String, Path, description = "Dataset id or name", example = "GOOG")),
    responses(
        (status = 200, description = "The dataset", body = Dataset),
        (status = 404, description = "No such dataset", body = MessageBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Dataset>, ApiError> {
    let key = id.clone();
    state
        .db(move |s| s.dataset(&key))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("dataset `{id}` not found")))
}

/// Delete a dataset name, or by id the content and all its names.
///
/// Names are aliases: deleting one never removes what another name refers to. The
/// content's file goes once no name and no queued or running job refers to it (by id,
/// 409 while such jobs use it).
#[utoipa::path(delete, path = "/v1/datasets/{id}", tag = "datasets",
    params(("id" = String, Path, description = "Dataset id or name")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such dataset", body = MessageBody),
        (status = 409, description = "Jobs use it", body = MessageBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn delete_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let key = id.clone();
    match state.db(move |s| s.delete_dataset(&key)).await? {
        DeleteOutcome::Deleted { removed } => {
            crate::datasets::remove_files(&state, &removed).await;
            Ok(StatusCode::NO_CONTENT)
        }
        DeleteOutcome::InUse(n) => Err(ApiError::Conflict(format!(
            "dataset `{id}` is used by {n} queued or running job(s)"
        ))),
        DeleteOutcome::NotFound => Err(ApiError::NotFound(format!("dataset `{id}` not found"))),
    }
}
