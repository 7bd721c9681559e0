//! Change notifications: any process caching tenants (the edge's directory) LISTENs on
//! [`CHANNEL`] and forgets what changed. Sent with `pg_notify` inside the changing transaction,
//! so they are delivered exactly when the change commits, to every replica.

use diesel::prelude::*;

/// The channel; the payload is a tenant's slug, or [`ALL`].
pub const CHANNEL: &str = "ema_tenant_changed";
/// Payload meaning "forget everything" (a reseller's domain or default branding changed).
/// Never a slug: slugs have no `*`.
pub const ALL: &str = "*";

fn notify(conn: &mut PgConnection, payload: &str) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_notify($1, $2)")
        .bind::<diesel::sql_types::Text, _>(CHANNEL)
        .bind::<diesel::sql_types::Text, _>(payload)
        .execute(conn)
        .map(|_| ())
}

/// This tenant changed (status, name, branding, plan, existence).
pub fn tenant_changed(conn: &mut PgConnection, slug: &str) -> QueryResult<()> {
    notify(conn, slug)
}

/// Something every tenant's view depends on changed.
pub fn all_changed(conn: &mut PgConnection) -> QueryResult<()> {
    notify(conn, ALL)
}
