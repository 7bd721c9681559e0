//! The tenant lifecycle: create (a persisted, resumable state machine), suspend, unsuspend,
//! deletion requests, plan and password changes, and the operator's delete. One lifecycle
//! operation runs per tenant at a time (a lease in the control database). Returns
//! [`ProvisionError`], which the HTTP layers map to problem codes.

pub mod database;
pub mod fault;

use std::sync::LazyLock;
use std::time::Duration;

use anyhow::Context;
use diesel::prelude::*;
use secrecy::SecretString;
use tokio::sync::Semaphore;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::db::schema::tenants;
use crate::domain::{Branding, Plan, Slug};
use crate::state::AppState;
use crate::storage::TenantKeys;
use crate::tenant::repo::{self, InsertConflict, NewTenant};
use crate::tenant::{Step, Tenant, TenantStatus};

/// Attempts before a create is parked as `failed` for support.
pub const MAX_ATTEMPTS: i32 = 5;
/// Concurrent CREATE DATABASE per process: each clone leaves ~370 files for the next checkpoint
/// to sync, so bursts are smoothed rather than run all at once.
static CLONE_PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error("the slug {0:?} is already taken")]
    SlugTaken(String),
    #[error("WHMCS service {service_id} already owns the tenant {existing:?}")]
    ServiceConflict { service_id: i64, existing: String },
    #[error("no such tenant")]
    NotFound,
    #[error("another operation on this tenant is in progress; retry shortly")]
    Busy,
    #[error("the tenant is still being provisioned")]
    NotReady,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl From<diesel::result::Error> for ProvisionError {
    fn from(e: diesel::result::Error) -> Self {
        Self::Unexpected(e.into())
    }
}

impl From<crate::db::PoolError> for ProvisionError {
    fn from(e: crate::db::PoolError) -> Self {
        Self::Unexpected(e.into())
    }
}

/// The tenant's first administrator.
pub struct AdminAccount {
    pub email: String,
    pub password: SecretString,
}

pub struct CreateRequest {
    pub reseller_id: Uuid,
    pub slug: Slug,
    pub name: String,
    pub sandbox: bool,
    pub plan: Plan,
    pub branding: Branding,
    pub whmcs_service_id: Option<i64>,
    pub admin: Option<AdminAccount>,
}

pub enum Created {
    /// Made by this call.
    New(Tenant),
    /// The WHMCS service's tenant already existed (a repeated Create).
    Existing(Tenant),
}

/// Checks a display name: 1-200 printable characters.
pub fn parse_name(name: &str) -> Result<String, ProvisionError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 200 || n.chars().any(char::is_control) {
        return Err(ProvisionError::Invalid(
            "the name must be 1-200 printable characters".into(),
        ));
    }
    Ok(n.to_owned())
}

/// Checks an e-mail address enough to be a login name: one `@`, no spaces, at most 254 bytes.
pub fn parse_email(email: &str) -> Result<String, ProvisionError> {
    let e = email.trim().to_ascii_lowercase();
    let valid = e.len() <= 254
        && e.split('@').count() == 2
        && e.split('@').all(|p| !p.is_empty())
        && e.rsplit('@')
            .next()
            .is_some_and(|d| d.contains('.') || d == "localhost")
        && !e
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == '"');
    if valid {
        Ok(e)
    } else {
        Err(ProvisionError::Invalid(format!(
            "{email:?} is not a valid e-mail address"
        )))
    }
}

/// Records the tenant and runs provisioning to the end. A repeated create for the same WHMCS
/// service returns the tenant it made (resuming it if unfinished).
#[tracing::instrument(skip_all, fields(slug = %req.slug))]
pub async fn create(
    state: &AppState,
    actor: &Actor,
    req: CreateRequest,
) -> Result<Created, ProvisionError> {
    let admin = match req.admin {
        Some(a) => {
            crate::password::check_policy(&a.password)
                .map_err(|e| ProvisionError::Invalid(format!("admin password: {e}")))?;
            let email = parse_email(&a.email)?;
            let pw = a.password;
            let hash = tokio::task::spawn_blocking(move || crate::password::hash(&pw))
                .await
                .context("hashing")??;
            Some((email, hash))
        }
        None => None,
    };
    let new = NewTenant::new(
        &req.slug,
        req.reseller_id,
        req.name,
        req.sandbox,
        &req.plan,
        &req.branding,
        req.whmcs_service_id,
        admin,
    );
    let actor_s = actor.clone();
    let service_id = req.whmcs_service_id;
    let reseller_id = req.reseller_id;
    let inserted = state
        .db
        .run(move |conn| -> Result<_, ProvisionError> {
            if let Some(sid) = service_id
                && let Some(existing) = repo::by_service(conn, reseller_id, sid)?
            {
                return Ok(Err(existing));
            }
            conn.transaction(|conn| match repo::insert(conn, &new)? {
                Ok(t) => {
                    audit::record(conn, audit::Event {
                        reseller_id: Some(t.reseller_id),
                        slug: &t.slug,
                        actor: &actor_s,
                        action: "tenant.create_requested",
                        reason: None,
                        details: serde_json::json!({"plan": t.plan_code, "sandbox": t.sandbox, "whmcs_service_id": t.whmcs_service_id}),
                    })?;
                    Ok(Ok(t))
                }
                Err(InsertConflict::SlugTaken) => Err(ProvisionError::SlugTaken(new.slug.clone())),
                Err(InsertConflict::ServiceTaken) => {
                    // Lost a race with a concurrent create for the same service.
                    let existing = repo::by_service(conn, reseller_id, service_id.unwrap_or_default())?;
                    Err(ProvisionError::ServiceConflict {
                        service_id: service_id.unwrap_or_default(),
                        existing: existing.map(|t| t.slug).unwrap_or_default(),
                    })
                }
            })
        })
        .await?;
    match inserted {
        Ok(t) => Ok(Created::New(provision(state, t.id).await?)),
        Err(existing) => {
            if existing.slug != req.slug.as_str() {
                return Err(ProvisionError::ServiceConflict {
                    service_id: service_id.unwrap_or_default(),
                    existing: existing.slug,
                });
            }
            let t = if existing.status() == TenantStatus::Provisioning
                || existing.status() == TenantStatus::Failed
            {
                // A retry of an unfinished create: give it a fresh set of attempts.
                let id = existing.id;
                state
                    .db
                    .run(move |conn| {
                        diesel::update(tenants::table.find(id))
                            .set((
                                tenants::status.eq(TenantStatus::Provisioning.as_str()),
                                tenants::attempts.eq(0),
                                tenants::next_attempt_at.eq(None::<chrono::DateTime<chrono::Utc>>),
                            ))
                            .execute(conn)
                    })
                    .await?;
                provision(state, id).await?
            } else {
                existing
            };
            Ok(Created::Existing(t))
        }
    }
}

/// Runs the remaining provisioning steps of a tenant under its lease. On failure the error is
/// recorded with a retry time (or the tenant parked as `failed` after [`MAX_ATTEMPTS`]); the
/// tenant never looks active unless every step completed.
pub async fn provision(state: &AppState, id: Uuid) -> Result<Tenant, ProvisionError> {
    let lease = lease_secs(state);
    let (claimed, tenant) = state
        .db
        .run(move |conn| -> diesel::QueryResult<_> {
            Ok((repo::claim_lease(conn, id, lease)?, repo::by_id(conn, id)?))
        })
        .await?;
    if !claimed || tenant.status() != TenantStatus::Provisioning {
        return Ok(tenant);
    }
    let outcome = run_steps(state, &tenant).await;
    let result = state
        .db
        .run(move |conn| -> Result<Tenant, ProvisionError> {
            match &outcome {
                Ok(()) => {}
                Err(e) => record_failure(conn, id, &format!("{e:#}"))?,
            }
            repo::release_lease(conn, id)?;
            Ok(repo::by_id(conn, id)?)
        })
        .await?;
    Ok(result)
}

fn record_failure(conn: &mut PgConnection, id: Uuid, error: &str) -> QueryResult<()> {
    let t = repo::by_id(conn, id)?;
    let attempts = t.attempts + 1;
    tracing::warn!(slug = %t.slug, attempts, error, "provisioning step failed");
    let parked = attempts >= MAX_ATTEMPTS
        || error.contains("not carry this tenant's marker")
        || error.starts_with("parked:");
    let backoff = chrono::Duration::seconds(5 * 4_i64.pow(attempts.clamp(0, 4) as u32));
    diesel::update(tenants::table.find(id))
        .set((
            tenants::attempts.eq(attempts),
            tenants::last_error.eq(error.chars().take(1000).collect::<String>()),
            tenants::next_attempt_at.eq(chrono::Utc::now() + backoff),
            tenants::status.eq(if parked {
                TenantStatus::Failed.as_str()
            } else {
                TenantStatus::Provisioning.as_str()
            }),
            tenants::updated_at.eq(diesel::dsl::now),
        ))
        .execute(conn)?;
    if parked {
        audit::record(
            conn,
            audit::Event {
                reseller_id: Some(t.reseller_id),
                slug: &t.slug,
                actor: &Actor::System,
                action: "tenant.create_failed",
                reason: Some(error),
                details: serde_json::json!({"attempts": attempts, "step": t.provisioning_step}),
            },
        )?;
    }
    Ok(())
}

async fn run_steps(state: &AppState, t: &Tenant) -> anyhow::Result<()> {
    let slug = t.slug();
    let mut step = t.step();
    let id = t.id;
    // Whether this run cloned the database from the current template just now.
    let mut fresh_clone = false;
    while step < Step::Done {
        let next = match step {
            Step::Requested => {
                let _permit = CLONE_PERMITS
                    .acquire()
                    .await
                    .context("clone permits closed")?;
                let server = state.db.server().clone();
                let (name, marker) = (t.db_name.clone(), t.marker);
                let outcome = tokio::task::spawn_blocking(move || {
                    database::clone_marked(&server, &name, marker)
                })
                .await??;
                fresh_clone = matches!(outcome, database::CloneOutcome::Created);
                if let database::CloneOutcome::Foreign = outcome {
                    anyhow::bail!(
                        "parked: a database named {} exists and is not this tenant's; support must resolve it",
                        t.db_name
                    );
                }
                Step::DatabaseCreated
            }
            Step::DatabaseCreated => {
                let server = state.db.server().clone();
                let (name, admin) = (
                    t.db_name.clone(),
                    t.admin_email.clone().zip(t.admin_password_hash.clone()),
                );
                // A fresh clone of the current template has exactly the embedded migrations
                // (the template's name is their fingerprint, and it was migrated when built):
                // only a resumed clone, or an administrator to add, needs a connection.
                if !fresh_clone || admin.is_some() {
                    tokio::task::spawn_blocking(move || migrate_tenant(&server, &name, admin))
                        .await??;
                }
                Step::Migrated
            }
            Step::Migrated => {
                ensure_marker_object(state, t, &slug).await?;
                Step::StorageReady
            }
            Step::StorageReady | Step::Done => Step::Done,
        };
        let actor = Actor::System;
        state
            .db
            .run(move |conn| -> anyhow::Result<()> {
                if next == Step::Done {
                    conn.transaction(|conn| {
                        let t = repo::by_id(conn, id)?;
                        diesel::update(tenants::table.find(id))
                            .set((
                                tenants::provisioning_step.eq(Step::Done.as_str()),
                                tenants::status.eq(TenantStatus::Active.as_str()),
                                tenants::admin_password_hash.eq(None::<String>),
                                tenants::last_error.eq(None::<String>),
                                tenants::next_attempt_at.eq(None::<chrono::DateTime<chrono::Utc>>),
                                tenants::updated_at.eq(diesel::dsl::now),
                            ))
                            .execute(conn)?;
                        audit::record(conn, audit::Event {
                            reseller_id: Some(t.reseller_id),
                            slug: &t.slug,
                            actor: &actor,
                            action: "tenant.created",
                            reason: None,
                            details: serde_json::json!({"database": t.db_name, "prefix": t.slug().s3_prefix(), "attempts": t.attempts + 1}),
                        })
                    })?;
                } else {
                    repo::set_step(conn, id, next)?;
                }
                Ok(())
            })
            .await?;
        fault::point(next.as_str());
        step = next;
    }
    Ok(())
}

/// Applies any migration the clone lacks (none when the template is current) and creates the
/// first administrator.
fn migrate_tenant(
    server: &crate::db::DbServer,
    dbname: &str,
    admin: Option<(String, String)>,
) -> anyhow::Result<()> {
    let mut conn = server
        .connect(dbname)
        .with_context(|| format!("could not connect to {dbname}"))?;
    if crate::db::migrate::tenant_has_pending(&mut conn)? {
        crate::db::migrate::run_tenant_migrations(&mut conn)?;
    }
    if let Some((email, hash)) = admin {
        diesel::sql_query(
            "INSERT INTO users (email, password_hash, role) VALUES ($1, $2, 'admin') ON CONFLICT (email) DO NOTHING",
        )
        .bind::<diesel::sql_types::Text, _>(email)
        .bind::<diesel::sql_types::Text, _>(hash)
        .execute(&mut conn)?;
    }
    Ok(())
}

/// The metadata object that allocates the tenant's prefix; an existing one must be ours.
async fn ensure_marker_object(state: &AppState, t: &Tenant, slug: &Slug) -> anyhow::Result<()> {
    let keys = TenantKeys::new(slug);
    if let Some((bytes, _)) = state.bucket.get(&keys.marker()).await? {
        let existing: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if existing.get("marker").and_then(|m| m.as_str()) == Some(t.marker.to_string().as_str()) {
            return Ok(());
        }
        anyhow::bail!(
            "parked: the prefix {} already holds another tenant's marker; support must resolve it",
            slug.s3_prefix()
        );
    }
    let body = serde_json::json!({
        "tenant_id": t.id,
        "slug": t.slug,
        "reseller_id": t.reseller_id,
        "marker": t.marker,
        "database": t.db_name,
        "created_at": t.created_at,
    });
    state
        .bucket
        .put(
            &keys.marker(),
            serde_json::to_vec_pretty(&body)?,
            "application/json",
        )
        .await?;
    Ok(())
}

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
        crate::edge::directory::notify_changed(conn, &t.slug)?;
        audit::record(
            conn,
            audit::Event {
                reseller_id: Some(t.reseller_id),
                slug: &t.slug,
                actor: &actor,
                action: "tenant.suspended",
                reason: reason.as_deref(),
                details: serde_json::json!({}),
            },
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
            audit::record(conn, audit::Event {
                reseller_id: Some(t.reseller_id),
                slug: &t.slug,
                actor: &actor,
                action: "tenant.deletion_withdrawn",
                reason: None,
                details: serde_json::json!({}),
            })?;
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
        crate::edge::directory::notify_changed(conn, &t.slug)?;
        audit::record(conn, audit::Event {
            reseller_id: Some(t.reseller_id),
            slug: &t.slug,
            actor: &actor,
            action: "tenant.unsuspended",
            reason: None,
            details: serde_json::json!({"messages_received_while_suspended": t.ingested_during_suspension}),
        })?;
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
            audit::Event {
                reseller_id: Some(t.reseller_id),
                slug: &t.slug,
                actor: &actor,
                action: "tenant.deletion_requested",
                reason: reason.as_deref(),
                details: serde_json::json!({}),
            },
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
        audit::record(
            conn,
            audit::Event {
                reseller_id: Some(t.reseller_id),
                slug: &t.slug,
                actor: &actor,
                action: "tenant.plan_changed",
                reason: None,
                details: serde_json::json!({"from": t.plan(), "to": plan}),
            },
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
                audit::Event {
                    reseller_id: Some(t.reseller_id),
                    slug: &t.slug,
                    actor: &actor,
                    action: "tenant.admin_password_changed",
                    reason: None,
                    details: serde_json::json!({}),
                },
            )
        })
        .await?;
    Ok(())
}

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
                diesel::delete(tenants::table.find(id)).execute(conn)
            })
        })
        .await?;
    Ok(removed)
}

fn lease_secs(state: &AppState) -> i64 {
    state.settings.provisioning.lease.as_secs() as i64
}

/// Finishes or parks interrupted creates; called by the background reconciler.
pub async fn reconcile_once(state: &AppState) -> anyhow::Result<usize> {
    let due = state.db.run(|conn| repo::due_for_retry(conn, 20)).await?;
    let n = due.len();
    for t in due {
        if let Err(e) = provision(state, t.id).await {
            tracing::warn!(slug = %t.slug, error = %e, "reconcile failed");
        }
    }
    Ok(n)
}

/// Interval between reconciler passes.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(5);
