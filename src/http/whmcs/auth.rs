//! Verification of a WHMCS-channel request, in the order of `docs/signing.md` §5: body size,
//! headers, key, timestamp window, body hash, MAC, then the nonce (recorded only after a valid
//! MAC). Every refusal is the same 401 to the caller; the reason goes to the log with the key id,
//! never the secret or the signature. Returns [`AuthError`], which becomes an [`ApiError`].

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_LENGTH;
use actix_web::{HttpRequest, web};
use bytes::{Bytes, BytesMut};
use diesel::prelude::*;
use futures_util::StreamExt;
use uuid::Uuid;

use crate::db::schema::request_nonces;
use crate::http::ApiError;
use crate::signing::{self, MAX_BODY_BYTES, SignedHeaders, SigningError};
use crate::state::AppState;

/// The reseller behind a verified request, and the key it signed with.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key_id: String,
    pub reseller_id: Uuid,
    pub reseller_name: String,
    pub base_domain: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Signing failures: the caller only ever learns "unauthorized".
    #[error("{reason}")]
    Refused {
        key_id: Option<String>,
        reason: SigningError,
    },
    #[error(transparent)]
    Pool(#[from] crate::db::PoolError),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Refused { key_id, reason } => {
                tracing::warn!(key_id = key_id.as_deref().unwrap_or("-"), %reason, "WHMCS request refused");
                ApiError::new(
                    StatusCode::UNAUTHORIZED,
                    "unauthorized",
                    "The request signature could not be verified.",
                )
            }
            AuthError::Pool(e) => e.into(),
            AuthError::Db(e) => e.into(),
        }
    }
}

fn payload_too_large() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("The request body is larger than {MAX_BODY_BYTES} bytes."),
    )
}

/// Reads the body, refusing more than [`MAX_BODY_BYTES`]: from `Content-Length` before reading,
/// and while reading when there is none (chunked), so memory stays bounded.
pub async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Bytes, ApiError> {
    if let Some(len) = req.headers().get(CONTENT_LENGTH) {
        let len: u64 = len
            .to_str()
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| ApiError::bad_request("The Content-Length header is not a number."))?;
        if len > MAX_BODY_BYTES as u64 {
            return Err(payload_too_large());
        }
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(format!("The request body could not be read: {e}"))
        })?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(payload_too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Verifies the request and returns its caller and `Idempotency-Key`.
pub async fn authenticate(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
) -> Result<(Caller, Option<String>), AuthError> {
    let headers =
        SignedHeaders::parse(|name| req.headers().get_all(name).map(|v| v.as_bytes()).collect())
            .map_err(|reason| AuthError::Refused {
                key_id: req
                    .headers()
                    .get(signing::KEY_ID_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .filter(|k| signing::is_key_id(k))
                    .map(str::to_owned),
                reason,
            })?;
    let refused = |reason| AuthError::Refused {
        key_id: Some(headers.key_id.clone()),
        reason,
    };

    let key_id = headers.key_id.clone();
    let found = state
        .db
        .run(move |conn| -> Result<_, AuthError> {
            let Some(key) = crate::reseller::whmcs_key(conn, &key_id)? else {
                return Ok(None);
            };
            let reseller = crate::reseller::find_by_id(conn, key.reseller_id)?;
            Ok(Some((key, reseller)))
        })
        .await?;
    let (key, reseller) = found.ok_or_else(|| refused(SigningError::UnknownKey))?;

    signing::verify(
        &key.secret,
        &headers,
        req.method().as_str(),
        req.uri().path(),
        req.uri().query().unwrap_or(""),
        body,
        chrono::Utc::now().timestamp(),
    )
    .map_err(refused)?;

    let (key_id, nonce) = (headers.key_id.clone(), headers.nonce.clone());
    let expires_at =
        chrono::DateTime::from_timestamp(headers.unix_time() + signing::NONCE_TTL_SECS, 0)
            .unwrap_or_else(chrono::Utc::now);
    let fresh = state
        .db
        .run(move |conn| {
            diesel::insert_into(request_nonces::table)
                .values((
                    request_nonces::key_id.eq(&key_id),
                    request_nonces::nonce.eq(&nonce),
                    request_nonces::expires_at.eq(expires_at),
                ))
                .on_conflict_do_nothing()
                .execute(conn)
        })
        .await?;
    if fresh == 0 {
        return Err(refused(SigningError::Replay));
    }

    Ok((
        Caller {
            key_id: headers.key_id.clone(),
            reseller_id: reseller.id,
            reseller_name: reseller.name,
            base_domain: reseller.base_domain,
        },
        headers.idempotency_key.clone(),
    ))
}
