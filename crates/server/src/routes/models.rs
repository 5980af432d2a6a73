//! `/v1/models`: upload ONNX models with their feature spec; list and show them.

use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::error::{ApiError, ApiQuery, MessageBody, ValidationBody, unreadable};
use crate::spec::model_dir;
use crate::store::{Model, now_iso};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/models", post(upload_model).get(list_models))
        .route("/v1/models/{id}", get(get_model))
}

/// Query of a model upload.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ModelQuery {
    /// Name to use the model by (default: the model file's name).
    #[param(min_length = 1, pattern = r"\S")]
    name: Option<String>,
}

// Schema-only: the handler reads the parts as they come.
/// A model upload.
#[derive(ToSchema)]
#[schema(example = json!({"model": "<the .onnx file>", "features": "{\"features\": [{\"kind\": \"return\", \"lag\": 1}]}"}))]
#[allow(dead_code)]
pub(crate) struct ModelForm {
    /// The ONNX model; its file name (without extension) names the model when `?name=`
    /// does not.
    #[schema(value_type = String, format = Binary)]
    model: Vec<u8>,
    /// The feature spec, as `backtide features --spec` takes it.
    #[schema(content_media_type = "application/json")]
    features: String,
}

fn bad(field: &str, msg: impl Into<String>) -> ApiError {
    ApiError::invalid(&["body", field], msg, "value_error")
}

/// Checks an upload and stores it: the spec must parse, the model must load, take as many
/// features per row as the spec gives, give one value per row, and run (a trial batch
/// catches unsupported operators now rather than in a job).
fn store_model(
    state: &AppState,
    name: &str,
    model: &[u8],
    spec_text: &str,
) -> Result<Model, ApiError> {
    let spec = backtide_models::FeatureSpec::parse(spec_text, std::path::Path::new("features"))
        .map_err(|e| bad("features", e.to_string()))?;
    let mut h = Sha256::new();
    h.update(model);
    h.update(spec_text.as_bytes());
    let id: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let root = state.config.data_dir.join("models");
    std::fs::create_dir_all(&root).map_err(ApiError::internal)?;
    let tmp = root.join(format!(".upload-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&tmp).map_err(ApiError::internal)?;
    let checked = (|| {
        backtide_data::write_bytes(&tmp.join("model.onnx"), model).map_err(ApiError::internal)?;
        backtide_data::write_bytes(&tmp.join("features.json"), spec_text.as_bytes())
            .map_err(ApiError::internal)?;
        let m = backtide_models::OnnxModel::load(&tmp.join("model.onnx")).map_err(|e| {
            bad(
                "model",
                e.to_string().replace(&*tmp.to_string_lossy(), name),
            )
        })?;
        let width = spec.width();
        m.predict(vec![0.0; 2 * width], 2, width).map_err(|e| {
            bad(
                "model",
                e.to_string().replace(&*tmp.to_string_lossy(), name),
            )
        })?;
        Ok(width)
    })();
    let width = match checked {
        Ok(w) => w,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    let dir = model_dir(&state.config.data_dir, &id);
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&tmp);
    } else {
        std::fs::rename(&tmp, &dir).map_err(ApiError::internal)?;
    }
    state
        .store
        .put_model(&Model {
            id,
            name: name.to_string(),
            width: width as u64,
            inputs: spec.input_names(),
            bytes: model.len() as u64,
            created_at: now_iso(),
        })
        .map_err(ApiError::internal)
}

/// Upload an ONNX model with the feature spec it was trained on.
///
/// Multipart form: field `model` (the .onnx file) and field `features` (the spec JSON, as
/// `backtide features --spec` takes it). The model must take one float input `[rows,
/// features]` as wide as the spec's inputs and give one value per row. Backtests and
/// sweeps then use it with `{"strategy": {"name": "onnx_model", "params": {"model": ID}}}`.
#[utoipa::path(post, path = "/v1/models", tag = "models", params(ModelQuery),
    request_body(content = inline(ModelForm), content_type = "multipart/form-data",
        description = "fields `model` (.onnx file) and `features` (feature spec JSON)"),
    responses(
        (status = 201, description = "Stored", body = Model),
        (status = 408, description = "The body stopped arriving", body = MessageBody),
        (status = 413, description = "Body over the limit", body = MessageBody),
        (status = 422, description = "Invalid model or spec, not a multipart form, or no name (the reason names the problem)", body = ValidationBody),
        (status = 507, description = "The data directory's disk is full", body = MessageBody),
    ))]
pub(crate) async fn upload_model(
    State(state): State<AppState>,
    ApiQuery(q): ApiQuery<ModelQuery>,
    req: Request,
) -> Result<(StatusCode, Json<Model>), ApiError> {
    let mut form = Multipart::from_request(req, &state).await.map_err(|e| {
        ApiError::invalid(
            &["body"],
            format!("expected multipart/form-data: {}", e.body_text()),
            "value_error",
        )
    })?;
    let (mut model, mut spec, mut file_name) = (None, None, None);
    loop {
        let field = form
            .next_field()
            .await
            .map_err(|e| unreadable(e.status(), e.body_text(), &["body"], "value_error"))?;
        let Some(field) = field else { break };
        let name = field.name().unwrap_or("").to_string();
        if name == "model" {
            file_name = field.file_name().map(str::to_string);
        }
        let bytes = field
            .bytes()
            .await
            .map_err(|e| unreadable(e.status(), e.body_text(), &["body", &name], "value_error"))?;
        match name.as_str() {
            "model" => model = Some(bytes),
            "features" => spec = Some(bytes),
            _ => {}
        }
    }
    let model = model.ok_or_else(|| {
        ApiError::invalid(
            &["body", "model"],
            "multipart field `model` (the .onnx file) is missing",
            "missing",
        )
    })?;
    let spec = spec.ok_or_else(|| {
        ApiError::invalid(
            &["body", "features"],
            "multipart field `features` (the feature spec JSON) is missing",
            "missing",
        )
    })?;
    let spec = String::from_utf8(spec.to_vec()).map_err(|_| bad("features", "not UTF-8 text"))?;
    let name = super::upload_name(q.name, file_name, "model")?;
    let st = state.clone();
    let stored = tokio::task::spawn_blocking(move || {
        let need = (model.len() + spec.len()) as u64;
        crate::storage::ensure_room(&st.config.data_dir, need, st.config.min_free_bytes)?;
        store_model(&st, &name, &model, &spec)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok((StatusCode::CREATED, Json(stored)))
}

/// List uploaded models.
#[utoipa::path(get, path = "/v1/models", tag = "models",
    responses(
        (status = 200, description = "Every model, by name", body = Vec<Model>),
    ))]
pub(crate) async fn list_models(
    State(state): State<AppState>,
) -> Result<Json<Vec<Model>>, ApiError> {
    Ok(Json(state.db(|s| s.models()).await?))
}

/// Show one model (by id or name).
#[utoipa::path(get, path = "/v1/models/{id}", tag = "models",
    params(("id" = String, Path, description = "Model id or name")),
    responses(
        (status = 200, description = "The model", body = Model),
        (status = 404, description = "No such model", body = MessageBody),
    ))]
pub(crate) async fn get_model(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Model>, ApiError> {
    let key = id.clone();
    state
        .db(move |s| s.model(&key))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("model `{id}` not found")))
}
