//! The HTTP layer's one error type, [`ApiError`], rendered as `application/problem+json`
//! (RFC 9457) with a stable `code`. Unexpected errors become an opaque 500; their chain goes to
//! the log only.

use actix_web::http::StatusCode;
use actix_web::http::header::ContentType;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";
/// Base of the `type` URI of every problem.
pub const PROBLEM_TYPE_BASE: &str = "https://ema-bridge.dev/problems/";

#[derive(thiserror::Error)]
pub enum ApiError {
    #[error("{detail}")]
    Problem {
        status: StatusCode,
        code: &'static str,
        detail: String,
    },
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Problem {
                status,
                code,
                detail,
            } => write!(f, "{status} {code}: {detail}"),
            Self::Unexpected(e) => write!(f, "{e:?}"),
        }
    }
}

/// The body of every error response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_uri: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code, e.g. `slug_taken`.
    pub code: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self::Problem {
            status,
            code,
            detail: detail.into(),
        }
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Missing or invalid credentials.",
        )
    }
    pub fn validation(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
            detail,
        )
    }
    pub fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", detail)
    }
    pub fn code(&self) -> &'static str {
        match self {
            Self::Problem { code, .. } => code,
            Self::Unexpected(_) => "internal_error",
        }
    }
}

fn title_of(code: &str) -> String {
    let mut t = code.replace('_', " ");
    if let Some(first) = t.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    t
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::Problem { status, .. } => *status,
            Self::Unexpected(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let (code, detail) = match self {
            Self::Problem { code, detail, .. } => (*code, detail.clone()),
            Self::Unexpected(e) => {
                tracing::error!(error = ?e, "unexpected error");
                (
                    "internal_error",
                    "An unexpected error occurred. Quote the request id to support.".to_owned(),
                )
            }
        };
        let status = self.status_code();
        let body = Problem {
            type_uri: format!("{PROBLEM_TYPE_BASE}{code}"),
            title: title_of(code),
            status: status.as_u16(),
            detail,
            code: code.to_owned(),
        };
        let mut res = HttpResponse::build(status);
        res.insert_header(ContentType(
            PROBLEM_CONTENT_TYPE.parse().expect("static media type"),
        ));
        if status == StatusCode::UNAUTHORIZED {
            res.insert_header(("www-authenticate", "Bearer"));
        }
        res.body(serde_json::to_vec(&body).unwrap_or_default())
    }
}

/// Turns extractor failures (bad JSON, bad query) into problems instead of actix's plain text.
pub fn json_config(limit: usize) -> actix_web::web::JsonConfig {
    actix_web::web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |err, _req| {
            use actix_web::error::JsonPayloadError as J;
            let e = match &err {
                J::OverflowKnownLength { .. } | J::Overflow { .. } => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    format!("The request body is larger than {limit} bytes."),
                ),
                J::ContentType => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "unsupported_media_type",
                    "Send the body as application/json.",
                ),
                J::Deserialize(d) => {
                    ApiError::validation(format!("The request body is not valid: {d}"))
                }
                _ => ApiError::bad_request(format!("The request body could not be read: {err}")),
            };
            e.into()
        })
}

pub fn query_config() -> actix_web::web::QueryConfig {
    actix_web::web::QueryConfig::default().error_handler(|err, _req| {
        ApiError::validation(format!("Invalid query parameters: {err}")).into()
    })
}

pub fn path_config() -> actix_web::web::PathConfig {
    actix_web::web::PathConfig::default()
        .error_handler(|err, _req| ApiError::not_found(format!("No such resource ({err}).")).into())
}

/// The answer for routes that do not exist.
pub async fn no_route() -> Result<actix_web::HttpResponse, ApiError> {
    Err(ApiError::not_found("No such endpoint."))
}

impl From<crate::db::PoolError> for ApiError {
    fn from(e: crate::db::PoolError) -> Self {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", {
            tracing::error!(error = %e, "database unavailable");
            "The service is temporarily unavailable; retry shortly."
        })
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::Unexpected(anyhow::Error::new(e))
    }
}
