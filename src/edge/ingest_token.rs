//! Mail-ingest tokens: per tenant, shown once when issued, stored as a SHA-256 digest (32 random
//! bytes need no slow hash), revocable. Returns `diesel::QueryResult`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::schema::ingest_tokens;

/// Prefix of every ingest token, so a leaked one is recognisable (secret scanners, logs).
pub const PREFIX: &str = "emaing_";
/// Longest bearer value looked at (ours are 50 characters).
pub const MAX_LEN: usize = 200;

/// A token as issued: the plain value exists only here.
pub struct Issued {
    pub id: Uuid,
    pub token: String,
    pub created_at: DateTime<Utc>,
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

pub fn issue(conn: &mut PgConnection, tenant_id: Uuid) -> QueryResult<Issued> {
    let mut buf = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut buf);
    let token = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(buf));
    let (id, created_at) = diesel::insert_into(ingest_tokens::table)
        .values((
            ingest_tokens::tenant_id.eq(tenant_id),
            ingest_tokens::token_hash.eq(digest(&token)),
        ))
        .returning((ingest_tokens::id, ingest_tokens::created_at))
        .get_result(conn)?;
    Ok(Issued {
        id,
        token,
        created_at,
    })
}

/// Revokes one of the tenant's tokens; `false` when the tenant has no such token. Revoking
/// twice is fine.
pub fn revoke(conn: &mut PgConnection, tenant_id: Uuid, id: Uuid) -> QueryResult<bool> {
    let exists = diesel::select(diesel::dsl::exists(
        ingest_tokens::table
            .filter(ingest_tokens::id.eq(id))
            .filter(ingest_tokens::tenant_id.eq(tenant_id)),
    ))
    .get_result::<bool>(conn)?;
    if exists {
        diesel::update(
            ingest_tokens::table
                .filter(ingest_tokens::id.eq(id))
                .filter(ingest_tokens::revoked_at.is_null()),
        )
        .set(ingest_tokens::revoked_at.eq(diesel::dsl::now))
        .execute(conn)?;
    }
    Ok(exists)
}

/// Whether `token` is a live token of this tenant (another tenant's token is not); marks it used.
pub fn authenticate(conn: &mut PgConnection, tenant_id: Uuid, token: &str) -> QueryResult<bool> {
    let n = diesel::update(
        ingest_tokens::table
            .filter(ingest_tokens::token_hash.eq(digest(token)))
            .filter(ingest_tokens::tenant_id.eq(tenant_id))
            .filter(ingest_tokens::revoked_at.is_null()),
    )
    .set(ingest_tokens::last_used_at.eq(diesel::dsl::now))
    .execute(conn)?;
    Ok(n == 1)
}
