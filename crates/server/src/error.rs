//! One error type for every handler, answering in FastAPI's shapes.
//!
//! Validation problems are `422 {"detail": [{"loc", "msg", "type"}]}` with the JSON path of
//! each bad field, so a client written against a FastAPI service reads them unchanged;
//! other client errors are `{"detail": "message"}` like FastAPI's `HTTPException`. A 5xx
//! never shows its cause to the client: the cause is logged with the request's span.

use axum::Json;
use axum::extract::FromRequest;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// One validation problem.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Detail {
    /// Where: `["body", "strategy", "params", "fast"]`, `["query", "wait"]`,
    /// `["body", "datasets", 0]`, …: field names, and indexes into lists.
    #[schema(value_type = Vec<LocSegment>, inline, example = json!(["body", "strategy", "params", "fast"]))]
    pub loc: Vec<serde_json::Value>,
    /// What was expected.
    #[schema(example = "must be < 20 (30 >= 20)")]
    pub msg: String,
    /// A machine-readable kind: `missing`, `json_invalid`, `extra_forbidden`,
    /// `value_error`, `type_error`, `body_unreadable`.
    #[serde(rename = "type")]
    #[schema(example = "value_error")]
    pub kind: String,
}

// Schema-only: `loc` is built as JSON values.
/// One step of a path: a field name, or an index into a list.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub(crate) enum LocSegment {
    /// Where the problem is (`body`, `query`), or a field name.
    Field(String),
    /// An index into a list.
    Index(u64),
}

impl Detail {
    /// A problem at `loc` (strings; numeric path segments are written as numbers).
    pub fn new(loc: &[&str], msg: impl Into<String>, kind: &str) -> Detail {
        Detail {
            loc: loc
                .iter()
                .map(|s| match s.parse::<u64>() {
                    Ok(n) => serde_json::Value::from(n),
                    Err(_) => serde_json::Value::from(*s),
                })
                .collect(),
            msg: msg.into(),
            kind: kind.into(),
        }
    }
}

/// Body of a 422.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ValidationBody {
    /// Every problem found.
    pub detail: Vec<Detail>,
}

/// Body of the other errors.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct MessageBody {
    /// What went wrong.
    #[schema(example = "job not found")]
    pub detail: String,
}

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 422: the request is well-formed HTTP but its content is invalid.
    #[error("invalid request: {0:?}")]
    Invalid(Vec<Detail>),
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: the request conflicts with the resource's state.
    #[error("{0}")]
    Conflict(String),
    /// 401: missing or wrong bearer token.
    #[error("unauthorized")]
    Unauthorized,
    /// 413: the body or the data it describes is over a configured limit.
    #[error("{0}")]
    TooLarge(String),
    /// 408: the client stopped sending its body.
    #[error("{0}")]
    Timeout(String),
    /// 415: a body in a media type this endpoint does not read.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 507: the data directory's disk is full; nothing was written.
    #[error("{0}")]
    InsufficientStorage(String),
    /// 429: the job queue is full; retry after this many seconds.
    #[error("job queue is full")]
    QueueFull {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// 503: shutting down.
    #[error("the server is shutting down")]
    Unavailable,
    /// 500: our fault; logged, not shown.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> ApiError {
        ApiError::internal(e)
    }
}

impl ApiError {
    /// A single 422 problem.
    pub fn invalid(loc: &[&str], msg: impl Into<String>, kind: &str) -> ApiError {
        ApiError::Invalid(vec![Detail::new(loc, msg, kind)])
    }

    /// A 500 from any error, or a 507 when the error is a full disk (a client can retry
    /// that, and should be told so).
    pub fn internal(e: impl Into<anyhow::Error>) -> ApiError {
        let e = e.into();
        if crate::storage::is_disk_full(&e) {
            tracing::error!(error = format!("{e:#}"), "disk full");
            return ApiError::InsufficientStorage(
                "the server's disk is full; nothing was written; retry once space is freed".into(),
            );
        }
        ApiError::Internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let msg = |status: StatusCode, detail: String| {
            (status, Json(MessageBody { detail })).into_response()
        };
        match self {
            ApiError::Invalid(detail) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(ValidationBody { detail }),
            )
                .into_response(),
            ApiError::NotFound(m) => msg(StatusCode::NOT_FOUND, m),
            ApiError::Conflict(m) => msg(StatusCode::CONFLICT, m),
            ApiError::TooLarge(m) => msg(StatusCode::PAYLOAD_TOO_LARGE, m),
            ApiError::Timeout(m) => msg(StatusCode::REQUEST_TIMEOUT, m),
            ApiError::UnsupportedMediaType(m) => msg(StatusCode::UNSUPPORTED_MEDIA_TYPE, m),
            ApiError::InsufficientStorage(m) => msg(StatusCode::INSUFFICIENT_STORAGE, m),
            ApiError::Unauthorized => {
                let mut r = msg(StatusCode::UNAUTHORIZED, "not authenticated".into());
                r.headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
                r
            }
            ApiError::QueueFull { retry_after } => {
                let mut r = msg(
                    StatusCode::TOO_MANY_REQUESTS,
                    "job queue is full; retry later".into(),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
                r
            }
            ApiError::Unavailable => {
                let mut r = msg(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "the server is shutting down".into(),
                );
                r.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(5u64));
                r
            }
            ApiError::Internal(e) => {
                tracing::error!(error = format!("{e:#}"), "internal error");
                msg(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal server error".into(),
                )
            }
        }
    }
}

/// Maps an engine error to the request field it came from. `params_at` is where the
/// strategy's parameters sit in the body (`["body", "strategy", "params"]`).
pub(crate) fn engine_error(e: &backtide_core::Error, params_at: &[&str]) -> ApiError {
    use backtide_core::Error as E;
    match e {
        E::Param { param, message } => {
            let loc: Vec<&str> = match param.as_str() {
                "constraint" | "objective" | "walk_forward" | "threads" => {
                    vec!["body", param.as_str()]
                }
                p => params_at.iter().copied().chain([p]).collect(),
            };
            ApiError::invalid(&loc, message.clone(), "value_error")
        }
        E::UnknownStrategy { .. } => {
            let mut loc = params_at.to_vec();
            loc.pop();
            loc.push("name");
            ApiError::invalid(&loc, e.to_string(), "value_error")
        }
        E::Config { field, message } => {
            ApiError::invalid(&["body", "broker", field], message.clone(), "value_error")
        }
        E::TooFewBars { .. } | E::Bars(_) => {
            ApiError::invalid(&["body", "dataset"], e.to_string(), "value_error")
        }
        other => ApiError::invalid(&["body"], other.to_string(), "value_error"),
    }
}

/// How tower-http's body timeout describes itself (its error type is boxed by the time a
/// rejection carries it, so its text is what is left to recognise it by).
const BODY_TIMEOUT: &str = "data was not received within the designated timeout";

/// A body that could not be read: 413 when it is over the limit, else 422 at `loc` (`kind`
/// says how). Every body extractor's rejection goes through here.
pub(crate) fn unreadable(status: StatusCode, text: String, loc: &[&str], kind: &str) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::TooLarge("request body is over the configured limit".into())
    } else if text.contains(BODY_TIMEOUT) {
        ApiError::Timeout("the request body stopped arriving; send it without pauses".into())
    } else {
        ApiError::invalid(loc, text, kind)
    }
}

/// A JSON body extractor whose rejections use [`ApiError`]'s shapes: a syntax error names
/// the line and column, a type error the JSON path (`["body", "broker", "cash"]`).
pub(crate) struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, ApiError> {
        let json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .is_some_and(|v| v == "application/json" || v.ends_with("+json"));
        if !json {
            return Err(ApiError::UnsupportedMediaType(
                "send the body as JSON with `content-type: application/json`".into(),
            ));
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| unreadable(e.status(), e.body_text(), &["body"], "body_unreadable"))?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parses a JSON body, reporting problems FastAPI-style. The body is one JSON value and
/// nothing after it but white space (a request with trailing bytes was not meant as sent).
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize::<_, T>(&mut *de) {
        Ok(v) => match de.end() {
            Ok(()) => Ok(v),
            Err(e) => Err(ApiError::invalid(
                &["body"],
                format!("JSON decode error: {e} (the body must be one JSON value)"),
                "json_invalid",
            )),
        },
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                return Err(ApiError::invalid(
                    &["body"],
                    format!("JSON decode error: {inner}"),
                    "json_invalid",
                ));
            }
            let mut loc: Vec<String> = vec!["body".into()];
            loc.extend(
                path.split('.')
                    .filter(|s| !s.is_empty() && *s != "?")
                    .map(|s| s.trim_matches(|c| c == '[' || c == ']').to_string()),
            );
            let text = inner.to_string();
            let (kind, field) = if let Some(f) = between(&text, "missing field `", "`") {
                ("missing", Some(f))
            } else if let Some(f) = between(&text, "unknown field `", "`") {
                ("extra_forbidden", Some(f))
            } else {
                ("value_error", None)
            };
            if let Some(f) = field
                && loc.last().map(String::as_str) != Some(f)
            {
                loc.push(f.to_string());
            }
            // serde appends " at line L column C"; the path already says where.
            let msg = text
                .rsplit_once(" at line ")
                .map_or(text.as_str(), |(m, _)| m)
                .to_string();
            let loc: Vec<&str> = loc.iter().map(String::as_str).collect();
            Err(ApiError::invalid(&loc, msg, kind))
        }
    }
}

/// A query-string extractor whose rejections are 422s in the body errors' shape, at
/// `["query", field]` (axum's own answers `400 text/plain`).
pub(crate) struct ApiQuery<T>(pub T);

impl<S, T> axum::extract::FromRequestParts<S> for ApiQuery<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// Parses a query string, naming the field that is wrong.
pub(crate) fn parse_query<T: serde::de::DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
    serde_path_to_error::deserialize::<_, T>(de).map_err(|err| {
        let path = err.path().to_string();
        let text = err.into_inner().to_string();
        let field = between(&text, "unknown field `", "`")
            .or_else(|| between(&text, "missing field `", "`"))
            .map(str::to_string)
            .or_else(|| (!path.is_empty() && path != "?").then_some(path));
        let mut loc = vec!["query"];
        if let Some(f) = &field {
            loc.push(f);
        }
        let kind = if text.starts_with("missing field") {
            "missing"
        } else if text.starts_with("unknown field") {
            "extra_forbidden"
        } else {
            "value_error"
        };
        ApiError::invalid(&loc, text, kind)
    })
}

fn between<'a>(s: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(&s[i..j])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        cash: f64,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        dataset: String,
        broker: Inner,
    }

    fn details(e: ApiError) -> Vec<Detail> {
        match e {
            ApiError::Invalid(d) => d,
            other => panic!("expected 422, got {other:?}"),
        }
    }

    #[test]
    fn paths_name_the_bad_field() {
        let d =
            details(parse_json::<Outer>(br#"{"dataset":"x","broker":{"cash":"a"}}"#).unwrap_err());
        assert_eq!(d[0].loc, vec!["body", "broker", "cash"]);
        assert_eq!(d[0].kind, "value_error");
        let d = details(parse_json::<Outer>(br#"{"broker":{"cash":1}}"#).unwrap_err());
        assert_eq!(
            (d[0].loc.clone(), d[0].kind.as_str()),
            (vec!["body".into(), "dataset".into()], "missing")
        );
        let d = details(
            parse_json::<Outer>(br#"{"dataset":"x","broker":{"cash":1,"cahs":2}}"#).unwrap_err(),
        );
        assert_eq!(d[0].loc, vec!["body", "broker", "cahs"]);
        assert_eq!(d[0].kind, "extra_forbidden");
        let d = details(parse_json::<Outer>(b"{\"dataset\":\n").unwrap_err());
        assert_eq!(
            (d[0].loc.clone(), d[0].kind.as_str()),
            (vec![serde_json::Value::from("body")], "json_invalid")
        );
        assert!(d[0].msg.contains("line 2"), "{}", d[0].msg);
    }
}
