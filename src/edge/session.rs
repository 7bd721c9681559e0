//! Login sessions of tenant users, in the control database. The cookie carries 32 random bytes;
//! only their SHA-256 digest is stored. Every check reads the tenant's status in the same query,
//! so a suspension refuses the very next request whatever any cache holds. Returns
//! `diesel::QueryResult`.

use actix_web::cookie::{Cookie, SameSite, time};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use diesel::prelude::*;
use diesel::sql_types::{Bytea, Nullable, Text, Uuid as SqlUuid};
use rand::RngCore;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::schema::edge_sessions;
use crate::tenant::TenantStatus;

/// Name of the session cookie (host-only: each tenant host has its own).
pub const COOKIE: &str = "ema_session";
/// How long a session lasts after login.
pub const LIFETIME_HOURS: i64 = 12;
/// Longest cookie value looked at (ours are 43 characters).
const MAX_TOKEN_LEN: usize = 128;

/// A signed-in user.
#[derive(Debug, Clone)]
pub struct Session {
    pub email: String,
    pub role: String,
}

impl Session {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// What a request's cookie is worth right now.
#[derive(Debug)]
pub enum Access {
    /// The tenant is suspended: nobody gets in, whatever the cookie.
    Suspended,
    /// The tenant is gone or not provisioned.
    Unavailable,
    /// No cookie, or one that names no live session of this tenant.
    Anonymous,
    Granted(Session),
}

/// A fresh session token (shown once, in the cookie).
pub fn new_token() -> String {
    let mut buf = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Checks the tenant's status and the session in one query.
pub fn check(conn: &mut PgConnection, tenant_id: Uuid, token: Option<&str>) -> QueryResult<Access> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        status: String,
        #[diesel(sql_type = Nullable<Text>)]
        user_email: Option<String>,
        #[diesel(sql_type = Nullable<Text>)]
        role: Option<String>,
    }
    let hash = token
        .filter(|t| !t.is_empty() && t.len() <= MAX_TOKEN_LEN)
        .map(digest)
        .unwrap_or_default();
    let row: Option<Row> = diesel::sql_query(
        "SELECT t.status, s.user_email, s.role FROM tenants t \
         LEFT JOIN edge_sessions s ON s.tenant_id = t.id AND s.token_hash = $2 AND s.expires_at > now() \
         WHERE t.id = $1",
    )
    .bind::<SqlUuid, _>(tenant_id)
    .bind::<Bytea, _>(hash)
    .get_result(conn)
    .optional()?;
    let Some(row) = row else {
        return Ok(Access::Unavailable);
    };
    Ok(match TenantStatus::parse(&row.status) {
        TenantStatus::Suspended => Access::Suspended,
        TenantStatus::Active => match (row.user_email, row.role) {
            (Some(email), Some(role)) => Access::Granted(Session { email, role }),
            _ => Access::Anonymous,
        },
        _ => Access::Unavailable,
    })
}

/// Starts a session unless the tenant is not active. `FOR SHARE` waits for a suspension in
/// progress (which holds the row lock) and then sees its result, so no session can slip in
/// between a suspension's deletion of sessions and its commit.
pub fn start(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    email: &str,
    role: &str,
    token: &str,
) -> QueryResult<bool> {
    // Expired sessions of this tenant go as new ones arrive.
    diesel::delete(
        edge_sessions::table
            .filter(edge_sessions::tenant_id.eq(tenant_id))
            .filter(edge_sessions::expires_at.le(diesel::dsl::now)),
    )
    .execute(conn)?;
    let n = diesel::sql_query(format!(
        "INSERT INTO edge_sessions (token_hash, tenant_id, user_email, role, expires_at) \
         SELECT $1, t.id, $2, $3, now() + interval '{LIFETIME_HOURS} hours' FROM tenants t \
         WHERE t.id = $4 AND t.status = 'active' FOR SHARE"
    ))
    .bind::<Bytea, _>(digest(token))
    .bind::<Text, _>(email)
    .bind::<Text, _>(role)
    .bind::<SqlUuid, _>(tenant_id)
    .execute(conn)?;
    Ok(n == 1)
}

pub fn end(conn: &mut PgConnection, tenant_id: Uuid, token: &str) -> QueryResult<usize> {
    diesel::delete(
        edge_sessions::table
            .filter(edge_sessions::tenant_id.eq(tenant_id))
            .filter(edge_sessions::token_hash.eq(digest(token))),
    )
    .execute(conn)
}

/// Ends every session of a tenant (suspension).
pub fn end_all_of_tenant(conn: &mut PgConnection, tenant_id: Uuid) -> QueryResult<usize> {
    diesel::delete(edge_sessions::table.filter(edge_sessions::tenant_id.eq(tenant_id)))
        .execute(conn)
}

/// Ends every session of one user (disabled by an administrator).
pub fn end_all_of_user(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    email: &str,
) -> QueryResult<usize> {
    diesel::delete(
        edge_sessions::table
            .filter(edge_sessions::tenant_id.eq(tenant_id))
            .filter(edge_sessions::user_email.eq(email)),
    )
    .execute(conn)
}

/// The session cookie: host-only, `HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` when the
/// public scheme (`http.public_scheme`) is https.
pub fn cookie(token: &str, secure: bool) -> Cookie<'static> {
    Cookie::build(COOKIE, token.to_owned())
        .path("/")
        .http_only(true)
        .secure(secure)
        .same_site(SameSite::Lax)
        .max_age(time::Duration::hours(LIFETIME_HOURS))
        .finish()
}

/// A cookie that makes the browser forget the session.
pub fn removal(secure: bool) -> Cookie<'static> {
    let mut c = cookie("", secure);
    c.make_removal();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_lax_and_secure_on_https() {
        let c = cookie("tok", true).to_string();
        for part in [
            "ema_session=tok",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
        ] {
            assert!(c.contains(part), "{c}");
        }
        assert!(!cookie("tok", false).to_string().contains("Secure"));
        assert_ne!(new_token(), new_token());
        assert_eq!(new_token().len(), 43);
    }
}
