//! One-time single sign-on tokens: the WHMCS channel issues them (`sso`), the tenant edge
//! consumes them at `{tenant_url}/_ema/sso/{token}`. A token is 32 random bytes (base64url),
//! valid for [`TOKEN_TTL_SECS`], usable once; only its SHA-256 is stored. Queries return
//! `diesel::QueryResult`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::schema::sso_tokens;

/// How long an issued login link works: long enough for a browser redirect, short enough that
/// a link copied from a log or history is useless.
pub const TOKEN_TTL_SECS: i64 = 120;
/// Path prefix of the login link on the tenant's host.
pub const PATH_PREFIX: &str = "/_ema/sso/";
/// Length of a token as issued (43 base64url characters); anything else is not ours.
const TOKEN_LEN: usize = 43;

fn hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Issues a token for the tenant; returns it (shown once) and its expiry.
pub fn issue(conn: &mut PgConnection, tenant_id: Uuid) -> QueryResult<(String, DateTime<Utc>)> {
    let mut raw = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut raw);
    let token = URL_SAFE_NO_PAD.encode(raw);
    let expires_at = Utc::now() + chrono::Duration::seconds(TOKEN_TTL_SECS);
    diesel::insert_into(sso_tokens::table)
        .values((
            sso_tokens::token_hash.eq(hash(&token)),
            sso_tokens::tenant_id.eq(tenant_id),
            sso_tokens::expires_at.eq(expires_at),
        ))
        .execute(conn)?;
    Ok((token, expires_at))
}

/// Marks the token used and returns its tenant's id, atomically: of two concurrent calls with
/// one token only one gets the tenant. `None` for an unknown, used or expired token.
pub fn consume_sso_token(conn: &mut PgConnection, token: &str) -> QueryResult<Option<Uuid>> {
    if token.len() != TOKEN_LEN {
        return Ok(None);
    }
    diesel::update(
        sso_tokens::table
            .filter(sso_tokens::token_hash.eq(hash(token)))
            .filter(sso_tokens::used_at.is_null())
            .filter(sso_tokens::expires_at.gt(diesel::dsl::now)),
    )
    .set(sso_tokens::used_at.eq(diesel::dsl::now))
    .returning(sso_tokens::tenant_id)
    .get_result(conn)
    .optional()
}

/// Removes tokens that expired more than a day ago (used or not); returns how many.
pub fn prune(conn: &mut PgConnection) -> QueryResult<usize> {
    let cutoff = Utc::now() - chrono::Duration::days(1);
    diesel::delete(sso_tokens::table.filter(sso_tokens::expires_at.lt(cutoff))).execute(conn)
}
