//! The operator's delete: only for suspended (or parked) tenants, only what the marker proves is
//! ours, and the audit record stays.

use anyhow::Context;
use diesel::prelude::*;

use crate::audit::{self, Actor};
use crate::db::schema::tenants;
use crate::domain::Slug;
use crate::state::AppState;
use crate::tenant::TenantStatus;
use crate::tenant::repo::{self};

use super::{ProvisionError, database, lease_secs};

/// Operator-only: removes a suspended (or failed) tenant's database and prefix, then its row;
/// the audit trail stays. Safe to re-run after a crash at any point.
pub async fn delete(
    state: &AppState,
    slug: &Slug,
    confirm: &str,
) -> Result<Vec<String>, ProvisionError> {
    if confirm != slug.as_str() {
        return Err(ProvisionError::Refused(format!(
            "confirmation {confirm:?} does not match the slug {:?}",
            slug.as_str()
        )));
    }
    let s = slug.to_string();
    let t = state
        .db
        .run(move |conn| repo::by_slug(conn, &s))
        .await?
        .ok_or(ProvisionError::NotFound)?;
    if !matches!(t.status(), TenantStatus::Suspended | TenantStatus::Failed) {
        return Err(ProvisionError::Refused(format!(
            "tenant {} is {}; suspend it first (deletion only acts on suspended tenants)",
            t.slug,
            t.status().as_str()
        )));
    }
    let id = t.id;
    let lease = lease_secs(state);
    if !state
        .db
        .run(move |conn| repo::claim_lease(conn, id, lease))
        .await?
    {
        return Err(ProvisionError::Busy);
    }
    let server = state.db.server().clone();
    let (dbname, marker) = (t.db_name.clone(), t.marker);
    let mut removed =
        tokio::task::spawn_blocking(move || database::drop_if_ours(&server, &dbname, marker))
            .await
            .context("drop task")??;
    let objects = state
        .bucket
        .delete_prefix(&slug.s3_prefix())
        .await
        .map_err(anyhow::Error::from)?;
    removed.push(format!("{objects} objects under {}", slug.s3_prefix()));
    let details =
        serde_json::json!({"removed": removed, "database": t.db_name, "prefix": slug.s3_prefix()});
    state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                audit::record(
                    conn,
                    audit::Event {
                        reseller_id: Some(t.reseller_id),
                        slug: &t.slug,
                        actor: &Actor::Operator,
                        action: "tenant.deleted",
                        reason: t.deletion_reason.as_deref(),
                        details,
                    },
                )?;
                crate::tenant::notify::tenant_changed(conn, &t.slug)?;
                diesel::delete(tenants::table.find(id)).execute(conn)
            })
        })
        .await?;
    Ok(removed)
}
