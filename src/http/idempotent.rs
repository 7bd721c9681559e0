//! Runs a handler under the `Idempotency-Key` rules of [`crate::idempotency`], storing its
//! rendered answer and replaying it for repeats.

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, ResponseError};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::ApiError;
use crate::idempotency::{self, Begin, IdempotencyKey, StoredResponse};
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";

/// The request's `Idempotency-Key`, if any; more than one, or a malformed one, is an error.
pub fn key_of(req: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let mut values = req.headers().get_all(HEADER);
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(ApiError::bad_request(
            "Send at most one Idempotency-Key header.",
        ));
    }
    let s = first
        .to_str()
        .map_err(|_| ApiError::bad_request("The Idempotency-Key is not ASCII."))?;
    IdempotencyKey::parse(s)
        .map(Some)
        .map_err(|e| ApiError::bad_request(e.to_string()))
}

/// What makes two requests "the same": method, path and query, body.
pub fn fingerprint(req: &HttpRequest, body: &[u8]) -> Vec<u8> {
    let mut h = Sha256::new();
    h.update(req.method().as_str().as_bytes());
    h.update([0]);
    h.update(req.uri().to_string().as_bytes());
    h.update([0]);
    h.update(body);
    h.finalize().to_vec()
}

async fn render(result: Result<HttpResponse, ApiError>) -> StoredResponse {
    let res = match result {
        Ok(r) => r,
        Err(e) => e.error_response(),
    };
    let status = res.status().as_u16();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let body = actix_web::body::to_bytes(res.into_body())
        .await
        .map(|b| b.to_vec())
        .unwrap_or_default();
    StoredResponse {
        status,
        content_type,
        body,
    }
}

fn respond(stored: &StoredResponse, replayed: bool) -> HttpResponse {
    let mut b = HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
    b.insert_header((CONTENT_TYPE, stored.content_type.clone()));
    if replayed {
        b.insert_header(("idempotent-replayed", "true"));
    }
    b.body(stored.body.clone())
}

/// Runs `work` once per key; without a key it just runs.
pub async fn run<Fut>(
    state: &AppState,
    reseller_id: Uuid,
    key: Option<IdempotencyKey>,
    fingerprint: Vec<u8>,
    work: Fut,
) -> Result<HttpResponse, ApiError>
where
    Fut: std::future::Future<Output = Result<HttpResponse, ApiError>>,
{
    let Some(key) = key else { return work.await };
    let k = key.clone();
    let fp = fingerprint.clone();
    let begun = state
        .db
        .run(move |conn| idempotency::begin(conn, reseller_id, &k, &fp))
        .await?;
    match begun {
        Begin::Replay(stored) => Ok(respond(&stored, true)),
        Begin::InProgress => Err(ApiError::new(
            StatusCode::CONFLICT,
            "request_in_progress",
            "A request with this Idempotency-Key is still being processed; retry shortly.",
        )),
        Begin::Mismatch => Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "This Idempotency-Key was already used with a different request.",
        )),
        Begin::Proceed => {
            let stored = render(work.await).await;
            let to_store = stored.clone();
            let finished = state
                .db
                .run(move |conn| idempotency::finish(conn, reseller_id, &key, &to_store))
                .await;
            if let Err(e) = finished {
                tracing::warn!(error = %e, "could not store the idempotent answer");
            }
            Ok(respond(&stored, false))
        }
    }
}
