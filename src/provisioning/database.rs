//! Tenant databases on a PostgreSQL server: the template they are cloned from, the clone itself
//! with its ownership marker, and dropping one we can prove is ours. All functions block; run
//! them on a blocking thread. Errors are `anyhow` with context.

use std::collections::HashSet;
use std::sync::Mutex;

use anyhow::{Context, bail};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable, Text};
use uuid::Uuid;

use crate::db::{DbServer, migrate, quote_ident, quote_literal};

/// Advisory-lock key (in the server's `postgres` database, so it is server-wide) that
/// serialises template builds across replicas.
const TEMPLATE_LOCK: i64 = 0x0065_6d61_2d74_706c;

/// Templates this process has seen ready, per server URL.
static READY: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// `ema_tpl_{fingerprint of the tenant migrations}`.
pub fn template_name() -> String {
    format!("ema_tpl_{}", migrate::tenant_migrations_fingerprint())
}

/// Name a clone gets before it is marked and renamed: unique to one tenant row, so a database
/// with this name can only be ours, even when a crash left it unmarked.
pub fn pending_name(marker: Uuid) -> String {
    format!("ema_p_{}", marker.simple())
}

pub fn marker_comment(marker: Uuid) -> String {
    format!("ema-tenant:{marker}")
}

#[derive(QueryableByName)]
struct DbRow {
    #[diesel(sql_type = Nullable<Text>)]
    comment: Option<String>,
}

/// `None` when the database does not exist, else its comment.
pub fn comment_of(conn: &mut PgConnection, dbname: &str) -> QueryResult<Option<Option<String>>> {
    let rows: Vec<DbRow> = diesel::sql_query(
        "SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1",
    )
    .bind::<Text, _>(dbname)
    .load(conn)?;
    Ok(rows.into_iter().next().map(|r| r.comment))
}

/// Makes sure the template of the current tenant migrations exists on `server`, building it
/// under the template lock if needed.
pub fn ensure_template(server: &DbServer) -> anyhow::Result<String> {
    let name = template_name();
    let key = format!("{server:?}/{name}");
    if READY
        .lock()
        .map(|r| r.as_ref().is_some_and(|s| s.contains(&key)))
        .unwrap_or(false)
    {
        return Ok(name);
    }
    let mut conn = server
        .connect_maintenance()
        .context("could not connect to the tenant database server")?;
    diesel::sql_query("SELECT pg_advisory_lock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK)
        .execute(&mut conn)?;
    let built = build_template_locked(server, &mut conn, &name);
    diesel::sql_query("SELECT pg_advisory_unlock($1)")
        .bind::<BigInt, _>(TEMPLATE_LOCK)
        .execute(&mut conn)?;
    built?;
    if let Ok(mut r) = READY.lock() {
        r.get_or_insert_with(HashSet::new).insert(key);
    }
    Ok(name)
}

fn build_template_locked(
    server: &DbServer,
    conn: &mut PgConnection,
    name: &str,
) -> anyhow::Result<()> {
    #[derive(QueryableByName)]
    struct Tpl {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        datistemplate: bool,
    }
    let found: Vec<Tpl> =
        diesel::sql_query("SELECT datistemplate FROM pg_database WHERE datname = $1")
            .bind::<Text, _>(name)
            .load(conn)?;
    if found.first().is_some_and(|t| t.datistemplate) {
        return Ok(());
    }
    let build = format!("{name}_build");
    // Leftovers of a build that crashed, under the same lock: safe to drop.
    diesel::sql_query(format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_ident(&build)
    ))
    .execute(conn)?;
    if !found.is_empty() {
        diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(name)
        ))
        .execute(conn)?;
    }
    diesel::sql_query(format!(
        "CREATE DATABASE {} TEMPLATE template0",
        quote_ident(&build)
    ))
    .execute(conn)
    .context("could not create the template database")?;
    {
        let mut tpl = server
            .connect(&build)
            .context("could not connect to the template being built")?;
        migrate::run_tenant_migrations(&mut tpl)?;
    }
    diesel::sql_query(format!(
        "ALTER DATABASE {} RENAME TO {}",
        quote_ident(&build),
        quote_ident(name)
    ))
    .execute(conn)?;
    // No connections allowed: CREATE DATABASE … TEMPLATE fails while anyone is connected.
    diesel::sql_query(format!(
        "ALTER DATABASE {} WITH IS_TEMPLATE true ALLOW_CONNECTIONS false",
        quote_ident(name)
    ))
    .execute(conn)?;
    tracing::info!(template = name, "built the tenant template database");
    Ok(())
}

/// Outcome of making sure a tenant's database exists.
pub enum CloneOutcome {
    /// Cloned from the current template by this call.
    Created,
    /// Already there from an earlier, interrupted run (and provably ours).
    Ready,
    /// A database with the tenant's name exists and does not carry its marker.
    Foreign,
}

/// Creates `final_name` as a marked clone of the template, resuming from any point a crash
/// may have left: pending clone unmarked, marked, or already renamed.
pub fn clone_marked(
    server: &DbServer,
    final_name: &str,
    marker: Uuid,
) -> anyhow::Result<CloneOutcome> {
    let template = ensure_template(server)?;
    let mut conn = server
        .connect_maintenance()
        .context("could not connect to the tenant database server")?;
    let expected = marker_comment(marker);
    match comment_of(&mut conn, final_name)? {
        Some(Some(c)) if c == expected => return Ok(CloneOutcome::Ready),
        Some(_) => return Ok(CloneOutcome::Foreign),
        None => {}
    }
    let pending = pending_name(marker);
    let mut created = false;
    if comment_of(&mut conn, &pending)?.is_none() {
        created = true;
        diesel::sql_query(format!(
            "CREATE DATABASE {} TEMPLATE {}",
            quote_ident(&pending),
            quote_ident(&template)
        ))
        .execute(&mut conn)
        .with_context(|| format!("could not create database {pending}"))?;
        super::fault::point("db_cloned");
    }
    // Marked and renamed in one transaction: the final name never exists without the marker.
    let renamed = conn.transaction::<_, diesel::result::Error, _>(|conn| {
        diesel::sql_query(format!(
            "COMMENT ON DATABASE {} IS {}",
            quote_ident(&pending),
            quote_literal(&expected)
        ))
        .execute(conn)?;
        super::fault::point("db_marked");
        diesel::sql_query(format!(
            "ALTER DATABASE {} RENAME TO {}",
            quote_ident(&pending),
            quote_ident(final_name)
        ))
        .execute(conn)
    });
    match renamed {
        Ok(_) if created => Ok(CloneOutcome::Created),
        Ok(_) => Ok(CloneOutcome::Ready),
        Err(e) if e.to_string().contains("already exists") => Ok(CloneOutcome::Foreign),
        Err(e) => Err(e).with_context(|| format!("could not rename {pending} to {final_name}")),
    }
}

/// Drops the tenant's database (and a pending clone) only where the marker proves they are
/// ours; returns which were dropped. `FORCE` ends sessions still connected.
pub fn drop_if_ours(
    server: &DbServer,
    final_name: &str,
    marker: Uuid,
) -> anyhow::Result<Vec<String>> {
    let mut conn = server.connect_maintenance()?;
    let expected = marker_comment(marker);
    let mut dropped = Vec::new();
    let pending = pending_name(marker);
    if comment_of(&mut conn, &pending)?.is_some() {
        diesel::sql_query(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote_ident(&pending)
        ))
        .execute(&mut conn)?;
        dropped.push(pending);
    }
    match comment_of(&mut conn, final_name)? {
        Some(Some(c)) if c == expected => {
            diesel::sql_query(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                quote_ident(final_name)
            ))
            .execute(&mut conn)?;
            dropped.push(final_name.to_owned());
        }
        Some(_) => bail!(
            "database {final_name} exists but does not carry this tenant's marker; refusing to drop it"
        ),
        None => {}
    }
    Ok(dropped)
}

/// Sizes of every tenant database on the server in one query (it stats files; it does not
/// connect to the databases).
pub fn database_sizes(conn: &mut PgConnection) -> QueryResult<Vec<(String, i64)>> {
    #[derive(QueryableByName)]
    struct Size {
        #[diesel(sql_type = Text)]
        datname: String,
        #[diesel(sql_type = BigInt)]
        bytes: i64,
    }
    let rows: Vec<Size> = diesel::sql_query(
        r"SELECT datname::text AS datname, pg_database_size(oid) AS bytes FROM pg_database WHERE datname LIKE 'ema\_t\_%'",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.datname, r.bytes)).collect())
}

/// Every database whose name looks like ours, with its comment, for drift checks.
pub fn our_databases(conn: &mut PgConnection) -> QueryResult<Vec<(String, Option<String>)>> {
    #[derive(QueryableByName)]
    struct Row {
        #[diesel(sql_type = Text)]
        datname: String,
        #[diesel(sql_type = Nullable<Text>)]
        comment: Option<String>,
    }
    let rows: Vec<Row> = diesel::sql_query(
        r"SELECT datname::text AS datname, shobj_description(oid, 'pg_database') AS comment FROM pg_database
          WHERE datname LIKE 'ema\_t\_%' OR datname LIKE 'ema\_p\_%' OR datname LIKE 'ema\_tpl\_%' ORDER BY datname",
    )
    .load(conn)?;
    Ok(rows.into_iter().map(|r| (r.datname, r.comment)).collect())
}
