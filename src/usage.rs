//! The usage collector: users and active users from each tenant database, storage from the
//! database size and the tenant's prefix, cached on the tenant row so that lists and usage
//! endpoints never fan out. Bounded: at most `usage.concurrency` tenants measured at once,
//! each over one short-lived connection. Errors are `anyhow`.

use anyhow::Context;
use diesel::prelude::*;
use futures_util::StreamExt;
use std::collections::HashMap;
use uuid::Uuid;

use crate::db::schema::tenants;
use crate::provisioning::database;
use crate::state::AppState;
use crate::tenant::TenantStatus;

/// One tenant's measured figures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Measurement {
    pub users: i64,
    pub active_users: i64,
    pub db_bytes: i64,
    pub s3_bytes: i64,
}

/// Counts a tenant's users: all accounts, and enabled ones (administrators included).
pub fn count_users(server: &crate::db::DbServer, dbname: &str) -> anyhow::Result<(i64, i64)> {
    #[derive(QueryableByName)]
    struct Counts {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        users: i64,
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        active: i64,
    }
    let mut conn = server
        .connect(dbname)
        .with_context(|| format!("could not connect to {dbname}"))?;
    let c: Counts = diesel::sql_query(
        "SELECT count(*) AS users, count(*) FILTER (WHERE enabled) AS active FROM users",
    )
    .get_result(&mut conn)?;
    Ok((c.users, c.active))
}

/// Measures every provisioned tenant once; returns how many were updated.
pub async fn collect_once(state: &AppState) -> anyhow::Result<usize> {
    let targets: Vec<(Uuid, String, String)> = state
        .db
        .run(|conn| {
            tenants::table
                .filter(tenants::status.eq_any([
                    TenantStatus::Active.as_str(),
                    TenantStatus::Suspended.as_str(),
                ]))
                .select((tenants::id, tenants::slug, tenants::db_name))
                .load(conn)
        })
        .await?;
    let server = state.db.server().clone();
    let sizes: HashMap<String, i64> = tokio::task::spawn_blocking(move || -> anyhow::Result<_> {
        let mut conn = server.connect_maintenance()?;
        Ok(database::database_sizes(&mut conn)?.into_iter().collect())
    })
    .await??;
    let sizes = std::sync::Arc::new(sizes);
    let concurrency = state.settings.usage.concurrency;
    let results = futures_util::stream::iter(targets)
        .map(|(id, slug, dbname)| {
            let state = state.clone();
            let sizes = sizes.clone();
            async move {
                let m = measure(&state, &slug, &dbname, &sizes).await;
                (id, slug, m)
            }
        })
        .buffer_unordered(concurrency);
    futures_util::pin_mut!(results);
    let mut updated = 0;
    while let Some((id, slug, m)) = results.next().await {
        match m {
            Ok(m) => {
                state.db.run(move |conn| store(conn, id, m)).await?;
                updated += 1;
            }
            Err(e) => tracing::warn!(%slug, error = %format!("{e:#}"), "usage measurement failed"),
        }
    }
    Ok(updated)
}

async fn measure(
    state: &AppState,
    slug: &str,
    dbname: &str,
    sizes: &HashMap<String, i64>,
) -> anyhow::Result<Measurement> {
    let server = state.db.server().clone();
    let name = dbname.to_owned();
    let (users, active_users) =
        tokio::task::spawn_blocking(move || count_users(&server, &name)).await??;
    let prefix = format!("ema-t-{slug}/");
    let s3 = state.bucket.prefix_usage(&prefix).await?;
    Ok(Measurement {
        users,
        active_users,
        db_bytes: sizes.get(dbname).copied().unwrap_or(0),
        s3_bytes: s3.bytes,
    })
}

fn store(conn: &mut PgConnection, id: Uuid, m: Measurement) -> QueryResult<usize> {
    diesel::update(tenants::table.find(id))
        .set((
            tenants::user_count.eq(m.users),
            tenants::active_user_count.eq(m.active_users),
            tenants::db_bytes.eq(m.db_bytes),
            tenants::s3_bytes.eq(m.s3_bytes),
            tenants::usage_measured_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
}
