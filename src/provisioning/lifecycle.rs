//! Changes to an existing tenant: suspend, unsuspend, deletion requests (WHMCS Terminate), plan
//! and administrator-password changes. Each runs in a transaction holding the tenant's row lock
//! and refuses while a provisioning run holds its lease.

use anyhow::Context;
use diesel::prelude::*;
use secrecy::SecretString;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::db::schema::tenants;
use crate::domain::Plan;
use crate::state::AppState;
use crate::tenant::repo::{self};
use crate::tenant::{Tenant, TenantStatus};

use super::ProvisionError;

/// Runs `f` on the tenant inside a transaction holding its row lock, unless a provisioning
/// run holds the lease.
async fn with_tenant<T, F>(state: &AppState, id: Uuid, f: F) -> Result<T, ProvisionError>
where
    F: FnOnce(&mut PgConnection, Tenant) -> Result<T, ProvisionError> + Send + 'static,
    T: Send + 'static,
{
    state
        .db
        .run(move |conn| {
            conn.transaction(|conn| {
                let t: Tenant = tenants::table
                    .find(id)
                    .select(Tenant::as_select())
                    .for_update()
                    .first(conn)
                    .optional()?
                    .ok_or(ProvisionError::NotFound)?;
                if t.lease_until.is_some_and(|l| l > chrono::Utc::now()) {
                    return Err(ProvisionError::Busy);
                }
                f(conn, t)
            })
        })
        .await
}

/// Blocks logins; keeps every byte and keeps archiving mail. Idempotent.
pub async fn suspend(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    reason: Option<String>,
) -> Result<Tenant, ProvisionError> {
    let actor = actor.clone();
    with_tenant(state, id, move |conn, t| {
        match t.status() {
            TenantStatus::Suspended => return Ok(t),
            TenantStatus::Active => {}
            _ => return Err(ProvisionError::NotReady),
        }
        diesel::update(tenants::table.find(id))
            .set((
                tenants::status.eq(TenantStatus::Suspended.as_str()),
                tenants::suspended_at.eq(diesel::dsl::now),
                tenants::unsuspended_at.eq(None::<chrono::DateTime<chrono::Utc>>),
                tenants::suspension_reason.eq(&reason),
                tenants::ingested_during_suspension.eq(0),
                tenants::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        // Logins end with the suspension; every replica's edge cache forgets the tenant at commit.
        crate::edge::session::end_all_of_tenant(conn, id)?;
        crate::tenant::notify::tenant_changed(conn, &t.slug)?;
        audit::record(
            conn,
            audit::Event::tenant(&t, &actor, "tenant.suspended").reason(reason.as_deref()),
        )?;
        Ok(repo::by_id(conn, id)?)
    })
    .await
}

/// Restores access at once. Idempotent.
pub async fn unsuspend(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
) -> Result<Tenant, ProvisionError> {
    let actor = actor.clone();
    with_tenant(state, id, move |conn, t| {
        match t.status() {
            TenantStatus::Active => return Ok(t),
            TenantStatus::Suspended => {}
            _ => return Err(ProvisionError::NotReady),
        }
        if t.deletion_requested_at.is_some() {
            // Unsuspending withdraws the deletion request: the customer came back.
            audit::record(conn, audit::Event::tenant(&t, &actor, "tenant.deletion_withdrawn"))?;
        }
        diesel::update(tenants::table.find(id))
            .set((
                tenants::status.eq(TenantStatus::Active.as_str()),
                tenants::unsuspended_at.eq(diesel::dsl::now),
                tenants::deletion_requested_at.eq(None::<chrono::DateTime<chrono::Utc>>),
                tenants::deletion_reason.eq(None::<String>),
                tenants::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        crate::tenant::notify::tenant_changed(conn, &t.slug)?;
        audit::record(conn, audit::Event::tenant(&t, &actor, "tenant.unsuspended").details(serde_json::json!({"messages_received_while_suspended": t.ingested_during_suspension})))?;
        Ok(repo::by_id(conn, id)?)
    })
    .await
}

/// WHMCS Terminate: suspends and records a deletion request for support. Deletes nothing.
pub async fn request_deletion(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    reason: Option<String>,
) -> Result<Tenant, ProvisionError> {
    let t = suspend(
        state,
        actor,
        id,
        Some(
            reason
                .clone()
                .unwrap_or_else(|| "terminated in WHMCS".into()),
        ),
    )
    .await?;
    if t.deletion_requested_at.is_some() {
        return Ok(t);
    }
    let actor = actor.clone();
    with_tenant(state, id, move |conn, t| {
        diesel::update(tenants::table.find(id))
            .set((
                tenants::deletion_requested_at.eq(diesel::dsl::now),
                tenants::deletion_reason.eq(&reason),
                tenants::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        audit::record(
            conn,
            audit::Event::tenant(&t, &actor, "tenant.deletion_requested").reason(reason.as_deref()),
        )?;
        Ok(repo::by_id(conn, id)?)
    })
    .await
}

pub async fn change_plan(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    plan: Plan,
) -> Result<Tenant, ProvisionError> {
    let actor = actor.clone();
    with_tenant(state, id, move |conn, t| {
        if t.plan() == plan {
            return Ok(t);
        }
        diesel::update(tenants::table.find(id))
            .set((
                tenants::plan_code.eq(&plan.code),
                tenants::max_users.eq(plan.max_users),
                tenants::storage_gb.eq(plan.storage_gb),
                tenants::gb_per_licence.eq(plan.gb_per_licence),
                tenants::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)?;
        crate::tenant::notify::tenant_changed(conn, &t.slug)?;
        audit::record(
            conn,
            audit::Event::tenant(&t, &actor, "tenant.plan_changed")
                .details(serde_json::json!({"from": t.plan(), "to": plan})),
        )?;
        Ok(repo::by_id(conn, id)?)
    })
    .await
}

/// Sets the password of the tenant's first administrator (the WHMCS service's login).
pub async fn change_admin_password(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    password: SecretString,
) -> Result<(), ProvisionError> {
    crate::password::check_policy(&password).map_err(|e| ProvisionError::Invalid(e.to_string()))?;
    let t = state.db.run(move |conn| repo::by_id(conn, id)).await?;
    if matches!(
        t.status(),
        TenantStatus::Provisioning | TenantStatus::Failed
    ) {
        return Err(ProvisionError::NotReady);
    }
    let email = t.admin_email.clone().ok_or_else(|| {
        ProvisionError::Refused("this tenant has no administrator created at provisioning".into())
    })?;
    let server = state.db.server().clone();
    let dbname = t.db_name.clone();
    let updated = tokio::task::spawn_blocking(move || -> anyhow::Result<usize> {
        let hash = crate::password::hash(&password)?;
        let mut conn = server.connect(&dbname)?;
        Ok(diesel::sql_query(
            "UPDATE users SET password_hash = $1, updated_at = now() WHERE email = $2",
        )
        .bind::<diesel::sql_types::Text, _>(hash)
        .bind::<diesel::sql_types::Text, _>(email)
        .execute(&mut conn)?)
    })
    .await
    .context("password task")??;
    if updated == 0 {
        return Err(ProvisionError::Refused(
            "the tenant's administrator account no longer exists".into(),
        ));
    }
    let actor = actor.clone();
    state
        .db
        .run(move |conn| {
            audit::record(
                conn,
                audit::Event::tenant(&t, &actor, "tenant.admin_password_changed"),
            )
        })
        .await?;
    Ok(())
}
