//! Embedded migrations for the control database and for tenant databases. Control migrations
//! run under a server-wide advisory lock so that replicas starting together do not race
//! (diesel_migrations itself takes no lock).

use anyhow::{Context, anyhow};
use diesel::PgConnection;
use diesel::RunQueryDsl;
use diesel::sql_types::BigInt;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

pub const CONTROL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/control");
pub const TENANT_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/tenant");

/// Advisory-lock key of control migrations (an arbitrary constant, "ema-mig" in ASCII).
const CONTROL_MIGRATION_LOCK: i64 = 0x0065_6d61_2d6d_6967;

/// Applies pending control migrations while holding the migration lock; returns their versions.
pub fn run_control_migrations(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(CONTROL_MIGRATION_LOCK)
        .execute(conn)
        .context("could not take the migration lock")?;
    let result = conn
        .run_pending_migrations(CONTROL_MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| anyhow!("control migrations failed: {e}"));
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(CONTROL_MIGRATION_LOCK)
        .execute(conn);
    let versions = result?;
    unlocked.context("could not release the migration lock")?;
    Ok(versions)
}

/// Applies pending tenant migrations to an open tenant-database connection.
pub fn run_tenant_migrations(conn: &mut PgConnection) -> anyhow::Result<Vec<String>> {
    conn.run_pending_migrations(TENANT_MIGRATIONS)
        .map(|versions| versions.iter().map(ToString::to_string).collect())
        .map_err(|e| anyhow!("tenant migrations failed: {e}"))
}

/// Whether a tenant database still lacks some embedded migration.
pub fn tenant_has_pending(conn: &mut PgConnection) -> anyhow::Result<bool> {
    conn.has_pending_migration(TENANT_MIGRATIONS)
        .map_err(|e| anyhow!("could not read the tenant's migrations: {e}"))
}

/// A fingerprint of the embedded tenant migrations (computed by build.rs from their files),
/// naming the template database: an added or edited migration gives a new template.
pub fn tenant_migrations_fingerprint() -> &'static str {
    env!("EMA_TENANT_MIGRATIONS_HASH")
}
