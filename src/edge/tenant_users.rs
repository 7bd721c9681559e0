//! The `users` table of a tenant database: login lookups and the administrators' user
//! management. Every function takes a short-lived tenant connection (callers run them on a
//! blocking thread) and returns `diesel::QueryResult`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use serde::Serialize;

/// What a login needs of an enabled user.
#[derive(Debug, QueryableByName)]
pub struct Credentials {
    #[diesel(sql_type = Nullable<Text>)]
    pub password_hash: Option<String>,
    #[diesel(sql_type = Text)]
    pub role: String,
}

/// An enabled user's password hash and role.
pub fn enabled_credentials(
    conn: &mut PgConnection,
    email: &str,
) -> QueryResult<Option<Credentials>> {
    diesel::sql_query("SELECT password_hash, role FROM users WHERE email = $1 AND enabled")
        .bind::<Text, _>(email)
        .get_result(conn)
        .optional()
}

pub fn record_login(conn: &mut PgConnection, email: &str) -> QueryResult<()> {
    diesel::sql_query("UPDATE users SET last_login_at = now() WHERE email = $1")
        .bind::<Text, _>(email)
        .execute(conn)
        .map(|_| ())
}

/// A user as the administrators' API shows it.
#[derive(Debug, Serialize, QueryableByName)]
pub struct UserView {
    #[diesel(sql_type = BigInt)]
    pub id: i64,
    #[diesel(sql_type = Text)]
    pub email: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub display_name: Option<String>,
    #[diesel(sql_type = Text)]
    pub role: String,
    #[diesel(sql_type = Bool)]
    pub enabled: bool,
    #[diesel(sql_type = Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    pub last_login_at: Option<DateTime<Utc>>,
}

const USER_COLUMNS: &str = "id, email, display_name, role, enabled, created_at, last_login_at";

pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<UserView>> {
    diesel::sql_query(format!("SELECT {USER_COLUMNS} FROM users ORDER BY email")).load(conn)
}

pub fn by_id(conn: &mut PgConnection, id: i64) -> QueryResult<Option<UserView>> {
    diesel::sql_query(format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind::<BigInt, _>(id)
        .get_result(conn)
        .optional()
}

pub fn count_enabled(conn: &mut PgConnection) -> QueryResult<i64> {
    #[derive(QueryableByName)]
    struct N {
        #[diesel(sql_type = BigInt)]
        n: i64,
    }
    diesel::sql_query("SELECT count(*) AS n FROM users WHERE enabled")
        .get_result::<N>(conn)
        .map(|r| r.n)
}

/// A new user; `None` when the e-mail address is taken.
pub fn add(
    conn: &mut PgConnection,
    email: &str,
    display_name: Option<&str>,
    password_hash: &str,
    role: &str,
) -> QueryResult<Option<UserView>> {
    diesel::sql_query(format!(
        "INSERT INTO users (email, display_name, password_hash, role) VALUES ($1, $2, $3, $4) \
         ON CONFLICT (email) DO NOTHING RETURNING {USER_COLUMNS}"
    ))
    .bind::<Text, _>(email)
    .bind::<Nullable<Text>, _>(display_name)
    .bind::<Text, _>(password_hash)
    .bind::<Text, _>(role)
    .get_result(conn)
    .optional()
}

pub fn set_enabled(
    conn: &mut PgConnection,
    id: i64,
    enabled: bool,
) -> QueryResult<Option<UserView>> {
    diesel::sql_query(format!(
        "UPDATE users SET enabled = $2, updated_at = now() WHERE id = $1 RETURNING {USER_COLUMNS}"
    ))
    .bind::<BigInt, _>(id)
    .bind::<Bool, _>(enabled)
    .get_result(conn)
    .optional()
}

/// A line in the tenant's own audit log.
pub fn audit(
    conn: &mut PgConnection,
    actor: &str,
    action: &str,
    details: serde_json::Value,
) -> QueryResult<()> {
    diesel::sql_query("INSERT INTO audit_log (actor, action, details) VALUES ($1, $2, $3)")
        .bind::<Text, _>(actor)
        .bind::<Text, _>(action)
        .bind::<diesel::sql_types::Jsonb, _>(details)
        .execute(conn)
        .map(|_| ())
}
