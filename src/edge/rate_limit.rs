//! Failed-login limits, kept in the control database so that every replica counts the same
//! failures: per account (tenant + e-mail) and per client address. While a limit is reached,
//! even the right password is refused, so guessing gains nothing. Returns `diesel::QueryResult`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::login_failures;

/// Failures of one account within [`WINDOW_MINUTES`] before it is locked.
pub const MAX_PER_ACCOUNT: i64 = 5;
/// Failures from one client address within [`WINDOW_MINUTES`] (any account, any tenant).
pub const MAX_PER_CLIENT: i64 = 30;
/// The sliding window failures are counted over.
pub const WINDOW_MINUTES: i64 = 15;

fn window_start() -> DateTime<Utc> {
    Utc::now() - chrono::Duration::minutes(WINDOW_MINUTES)
}

/// Seconds until another attempt is allowed, when a limit is reached.
pub fn retry_after(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    email: &str,
    client_ip: &str,
) -> QueryResult<Option<i64>> {
    let since = window_start();
    let account: Vec<DateTime<Utc>> = login_failures::table
        .filter(login_failures::tenant_id.eq(tenant_id))
        .filter(login_failures::email.eq(email))
        .filter(login_failures::at.gt(since))
        .order(login_failures::at.desc())
        .limit(MAX_PER_ACCOUNT)
        .select(login_failures::at)
        .load(conn)?;
    let client: Vec<DateTime<Utc>> = login_failures::table
        .filter(login_failures::client_ip.eq(client_ip))
        .filter(login_failures::at.gt(since))
        .order(login_failures::at.desc())
        .limit(MAX_PER_CLIENT)
        .select(login_failures::at)
        .load(conn)?;
    // The oldest failure that keeps the limit reached leaves the window at `at + WINDOW`.
    let unlock = |times: &[DateTime<Utc>], max: i64| {
        (times.len() as i64 >= max)
            .then(|| times.last().copied())
            .flatten()
            .map(|oldest| oldest + chrono::Duration::minutes(WINDOW_MINUTES))
    };
    let until = [
        unlock(&account, MAX_PER_ACCOUNT),
        unlock(&client, MAX_PER_CLIENT),
    ]
    .into_iter()
    .flatten()
    .max();
    Ok(until.map(|u| (u - Utc::now()).num_seconds().max(1)))
}

pub fn record_failure(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    email: &str,
    client_ip: &str,
) -> QueryResult<()> {
    diesel::delete(login_failures::table.filter(login_failures::at.le(window_start())))
        .execute(conn)?;
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::tenant_id.eq(tenant_id),
            login_failures::email.eq(email),
            login_failures::client_ip.eq(client_ip),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A successful login forgets the account's failures.
pub fn clear(conn: &mut PgConnection, tenant_id: Uuid, email: &str) -> QueryResult<()> {
    diesel::delete(
        login_failures::table
            .filter(login_failures::tenant_id.eq(tenant_id))
            .filter(login_failures::email.eq(email)),
    )
    .execute(conn)
    .map(|_| ())
}
