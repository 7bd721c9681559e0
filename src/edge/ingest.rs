//! `POST /ingest`: archives one raw RFC 5322 message for the tenant of the host, with that
//! tenant's ingest token. Accepted while the tenant is suspended (suspension blocks people, not
//! mail). The raw bytes go to the tenant's prefix under their SHA-256 (a duplicate lands on the
//! same key and is indexed once), then the tenant database indexes them, then the control row
//! records the ingest. Refusals store nothing.

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Uuid as SqlUuid};
use serde::Serialize;
use uuid::Uuid;

use super::directory;
use super::{TenantHost, ingest_token, mail};
use crate::http::ApiError;
use crate::state::AppState;
use crate::storage::TenantKeys;
use crate::tenant::TenantStatus;

/// Largest message accepted (25 MiB, a common MTA limit).
pub const MAX_MESSAGE_BYTES: usize = 25 * 1024 * 1024;
/// Content types a raw message may be sent as.
const ACCEPTED_TYPES: &[&str] = &["message/rfc822", "application/octet-stream", "text/plain"];

#[derive(Debug, Serialize)]
pub struct IngestReceipt {
    pub sha256: String,
    /// `false` when the same message was archived before (stored once).
    pub stored: bool,
    pub size: i64,
    pub received_while_suspended: bool,
}

fn bearer(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= ingest_token::MAX_LEN)
}

fn bad_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "Missing or invalid ingest token for this tenant.",
    )
}

pub async fn ingest_message(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantHost,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    // Authenticate before reading up to 25 MiB.
    let token = bearer(&req).ok_or_else(bad_token)?;
    let id = tenant.id;
    let known = state
        .db
        .run(move |conn| ingest_token::authenticate(conn, id, &token).map_err(ApiError::from))
        .await?;
    if !known {
        return Err(bad_token());
    }
    if let Some(ct) = req.headers().get(CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("").to_ascii_lowercase();
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !ACCEPTED_TYPES.contains(&essence) {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Send the raw message as message/rfc822.",
            ));
        }
    }
    let raw = super::read_body(&req, payload, MAX_MESSAGE_BYTES).await?;
    let for_parse = raw.clone();
    let parsed = tokio::task::spawn_blocking(move || mail::parse(&for_parse))
        .await
        .context("parse task")?
        .map_err(|e| {
            ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malformed_message",
                format!("The body is not an RFC 5322 message: {e}."),
            )
        })?;
    let key = TenantKeys::new(&tenant.slug).message(&parsed.sha256);
    if !state
        .bucket
        .exists(&key)
        .await
        .map_err(anyhow::Error::from)?
    {
        state
            .bucket
            .put(&key, raw.to_vec(), "message/rfc822")
            .await
            .map_err(anyhow::Error::from)?;
    }
    let status = state
        .db
        .run(move |conn| directory::status_of(conn, id).map_err(ApiError::from))
        .await?;
    let suspended = status == Some(TenantStatus::Suspended);
    let server = state.db.server().clone();
    let dbname = tenant.db_name.clone();
    let (m, k) = (parsed.clone(), key.clone());
    let stored = tokio::task::spawn_blocking(move || -> anyhow::Result<bool> {
        let mut conn = server
            .connect(&dbname)
            .with_context(|| format!("could not connect to {dbname}"))?;
        Ok(mail::index(&mut conn, &m, &k, suspended)?)
    })
    .await
    .context("index task")??;
    let size = parsed.size;
    state
        .db
        .run(move |conn| record_ingest(conn, id, stored, size).map_err(ApiError::from))
        .await?;
    tracing::info!(slug = %tenant.slug, sha256 = %parsed.sha256, stored, suspended, "message ingested");
    Ok(HttpResponse::Accepted().json(IngestReceipt {
        sha256: parsed.sha256,
        stored,
        size,
        received_while_suspended: stored && suspended,
    }))
}

/// Records the ingest on the control row: last ingest time always; for a new message, its bytes
/// and (counted against the status at commit time) the suspension's message count.
fn record_ingest(conn: &mut PgConnection, id: Uuid, new: bool, size: i64) -> QueryResult<()> {
    diesel::sql_query(
        "UPDATE tenants SET last_ingest_at = now(), \
         ingested_during_suspension = ingested_during_suspension + CASE WHEN $2 AND status = 'suspended' THEN 1 ELSE 0 END, \
         s3_bytes = CASE WHEN $2 THEN coalesce(s3_bytes, 0) + $3 ELSE s3_bytes END \
         WHERE id = $1",
    )
    .bind::<SqlUuid, _>(id)
    .bind::<Bool, _>(new)
    .bind::<BigInt, _>(size)
    .execute(conn)
    .map(|_| ())
}
