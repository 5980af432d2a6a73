//! `/v1/datasets`: upload, list, show, delete.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{StatusCode, header};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::datasets::{keep, stage_stream, validate};
use crate::error::{ApiError, ApiQuery, MessageBody, ValidationBody, unreadable};
use crate::store::{Dataset, DeleteOutcome, NameConflict, PutOutcome};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/datasets", post(upload_dataset).get(list_datasets))
        .route("/v1/datasets/{id}", get(get_dataset).delete(delete_dataset))
}

/// Query of an upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct UploadQuery {
    /// Name to list the dataset under (default: the multipart file name; required when the
    /// body is the file itself).
    #[param(min_length = 1, pattern = r"\S")]
    name: Option<String>,
    /// When the name already refers to other content: point it at this upload (the old id
    /// joins the name's `previous` list) instead of answering 409.
    replace: Option<bool>,
}

// Schema-only types: the handler reads the body as it comes.

/// The bytes of a file.
#[derive(ToSchema)]
#[schema(value_type = String, format = Binary)]
#[allow(dead_code)]
pub(crate) struct FileBytes(Vec<u8>);

/// A dataset upload as a multipart form.
#[derive(ToSchema)]
#[allow(dead_code)]
pub(crate) struct DatasetForm {
    /// The CSV or Parquet file; its file name (without extension) names the dataset when
    /// `?name=` does not.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Upload a CSV or Parquet file of bars.
///
/// The body is the file itself with `?name=` required, in any content type (`text/csv`,
/// `application/octet-stream`, `application/vnd.apache.parquet`, …: the format is read
/// from the content, a Parquet file starting with `PAR1`), or a multipart form with the
/// file in field `file`. The file is validated like `backtide run --data` (every bad row
/// is reported with its line, column and rule). The id is the SHA-256 of the content, so
/// uploading the same file again returns the same id. A name already given to other
/// content is a 409 unless `?replace=true` (then the old id is listed under `previous`).
#[utoipa::path(post, path = "/v1/datasets", tag = "datasets", params(UploadQuery),
    request_body(
        description = "The CSV or Parquet file itself (with `?name=`), or a multipart form with the file in field `file`",
        content(
            (inline(FileBytes) = "text/csv",
                example = "Date,Open,High,Low,Close,Volume\n2024-01-02,100,101,99,100.5,1000\n2024-01-03,100.5,102,100,101.5,1200\n"),
            (inline(FileBytes) = "application/octet-stream",
                example = "Date,Open,High,Low,Close,Volume\n2024-01-02,100,101,99,100.5,1000\n"),
            (inline(DatasetForm) = "multipart/form-data",
                example = json!({"file": "Date,Open,High,Low,Close,Volume\n2024-01-02,100,101,99,100.5,1000\n"})),
        )),
    responses(
        (status = 201, description = "Stored (or already stored)", body = Dataset),
        (status = 408, description = "The body stopped arriving", body = MessageBody),
        (status = 409, description = "The name refers to other content (see `replace`)", body = MessageBody),
        (status = 413, description = "Body or bar count over the limit", body = MessageBody),
        (status = 422, description = "Not a valid bar file, a bad form, or no name", body = ValidationBody),
        (status = 507, description = "The data directory's disk is full", body = MessageBody),
    ))]
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
    let dir = state.config.data_dir.clone();
    let (limit, reserve) = (
        state.config.max_body_bytes as u64,
        state.config.min_free_bytes,
    );
    // The declared size, when there is one, is checked against the disk before a byte is
    // written; the staging itself stops at the body limit.
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    if declared > limit {
        return Err(ApiError::TooLarge(format!(
            "the upload is over this server's limit of {limit} bytes"
        )));
    }
    crate::storage::ensure_room(&dir, declared, reserve)?;
    let (staged, file_name) = if multipart {
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
                let staged = stage_stream(&dir, field, limit, &["body", "file"]).await?;
                found = Some((staged, name));
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
        let body = req.into_body().into_data_stream();
        (stage_stream(&dir, body, limit, &["body"]).await?, None)
    };
    let name = super::upload_name(q.name, file_name, "dataset")?;
    let conflict = if q.replace == Some(true) {
        NameConflict::Replace
    } else {
        NameConflict::Refuse
    };
    let taken = |name: &str, old: &str| {
        ApiError::Conflict(format!(
            "dataset name `{name}` refers to other content (id {old}); upload with \
             ?replace=true to point the name at this file (the old id stays listed under \
             `previous`), or choose another name"
        ))
    };
    // Refused before anything is decoded or kept: the staged file goes with `staged`.
    let (key, new_id) = (name.clone(), staged.id().to_string());
    let current = state.db(move |s| s.dataset(&key)).await?;
    if conflict == NameConflict::Refuse
        && let Some(d) = current.filter(|d| d.name == name && d.id != new_id)
    {
        return Err(taken(&name, &d.id));
    }
    let max_bars = state.config.max_bars;
    let (dataset, staged) = tokio::task::spawn_blocking(move || {
        crate::storage::ensure_room(&dir, 0, reserve)?;
        validate(&name, staged, max_bars)
    })
    .await
    .map_err(ApiError::internal)??;
    // Kept and recorded under the datasets lock (see `AppState::dataset_files`).
    let _files = state.dataset_files.lock().await;
    let (dir, kept) = (state.config.data_dir.clone(), dataset.clone());
    tokio::task::spawn_blocking(move || keep(&dir, staged, &kept))
        .await
        .map_err(ApiError::internal)??;
    let (name, id, format) = (
        dataset.name.clone(),
        dataset.id.clone(),
        dataset.format.clone(),
    );
    match state.db(move |s| s.put_dataset(&dataset, conflict)).await? {
        PutOutcome::Stored(stored) => Ok((StatusCode::CREATED, Json(*stored))),
        PutOutcome::NameTaken(old) => {
            // Another upload took the name meanwhile: the file just kept is nobody's.
            let key = id.clone();
            if state.db(move |s| s.dataset(&key)).await?.is_none() {
                crate::datasets::remove_files(&state, &[(id, format)]).await;
            }
            Err(taken(&name, &old))
        }
    }
}

/// List datasets.
#[utoipa::path(get, path = "/v1/datasets", tag = "datasets",
    responses(
        (status = 200, description = "Every dataset, by name", body = Vec<Dataset>),
    ))]
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
    ))]
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
        (status = 507, description = "The data directory's disk is full", body = MessageBody),
    ))]
pub(crate) async fn delete_dataset(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let key = id.clone();
    let _files = state.dataset_files.lock().await;
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
