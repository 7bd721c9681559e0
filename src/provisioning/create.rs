//! Creating a tenant: the row, then the resumable steps (clone the template under a marker,
//! check migrations and add the administrator, allocate the prefix), each persisted so that a
//! crash resumes where it stopped; and the reconciler that finishes or parks interrupted creates.

use std::sync::LazyLock;
use std::time::Duration;

use tokio::sync::Semaphore;

use anyhow::Context;
use diesel::prelude::*;
use secrecy::SecretString;
use uuid::Uuid;

use crate::audit::{self, Actor};
use crate::db::schema::tenants;
use crate::domain::{Branding, Plan, Slug};
use crate::state::AppState;
use crate::storage::TenantKeys;
use crate::tenant::repo::{self, InsertConflict, NewTenant};
use crate::tenant::{Step, Tenant, TenantStatus};

use super::{ProvisionError, database, fault, lease_secs, parse_email};

/// Attempts before a create is parked as `failed` for support.
pub const MAX_ATTEMPTS: i32 = 5;
/// Concurrent CREATE DATABASE per process: each clone leaves ~370 files for the next checkpoint
/// to sync, so bursts are smoothed rather than run all at once.
static CLONE_PERMITS: LazyLock<Semaphore> = LazyLock::new(|| Semaphore::new(2));
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
                    audit::record(conn, audit::Event::tenant(&t, &actor_s, "tenant.create_requested").details(serde_json::json!({"plan": t.plan_code, "sandbox": t.sandbox, "whmcs_service_id": t.whmcs_service_id})))?;
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
            // A lost lease (server crash) only frees the tenant early: no durable commit needed.
            conn.transaction(|conn| {
                repo::relaxed_commit(conn)?;
                Ok((repo::claim_lease(conn, id, lease)?, repo::by_id(conn, id)?))
            })
        })
        .await?;
    if !claimed || tenant.status() != TenantStatus::Provisioning {
        return Ok(tenant);
    }
    let error = match run_steps(state, &tenant).await {
        Ok(active) => return Ok(active),
        Err(e) => format!("{e:#}"),
    };
    let result = state
        .db
        .run(move |conn| -> Result<Tenant, ProvisionError> {
            record_failure(conn, id, &error)?;
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

/// Runs the steps after the last completed one; returns the tenant, active.
async fn run_steps(state: &AppState, t: &Tenant) -> anyhow::Result<Tenant> {
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
        if next == Step::Done {
            let (actor, before) = (Actor::System, t.clone());
            // Active, lease released, audited, in one commit. It need not wait for the WAL
            // flush either: were it lost in a server crash, the row would still say
            // `storage_ready` and the reconciler would finish the (idempotent) run again.
            let active = state
                .db
                .run(move |conn| -> anyhow::Result<Tenant> {
                    Ok(conn.transaction(|conn| {
                        repo::relaxed_commit(conn)?;
                        let active = diesel::update(tenants::table.find(id))
                            .set((
                                tenants::provisioning_step.eq(Step::Done.as_str()),
                                tenants::status.eq(TenantStatus::Active.as_str()),
                                tenants::admin_password_hash.eq(None::<String>),
                                tenants::last_error.eq(None::<String>),
                                tenants::next_attempt_at.eq(None::<chrono::DateTime<chrono::Utc>>),
                                tenants::lease_until.eq(None::<chrono::DateTime<chrono::Utc>>),
                                tenants::updated_at.eq(diesel::dsl::now),
                            ))
                            .returning(Tenant::as_returning())
                            .get_result(conn)?;
                        // A host lookup may have cached this tenant while it was provisioning.
                        crate::tenant::notify::tenant_changed(conn, &before.slug)?;
                        audit::record(
                            conn,
                            audit::Event::tenant(&before, &actor, "tenant.created").details(
                                serde_json::json!({
                                    "database": before.db_name,
                                    "prefix": before.slug().s3_prefix(),
                                    "attempts": before.attempts + 1,
                                }),
                            ),
                        )?;
                        Ok::<_, diesel::result::Error>(active)
                    })?)
                })
                .await?;
            return Ok(active);
        }
        state
            .db
            .run(move |conn| repo::set_step(conn, id, next))
            .await?;
        fault::point(next.as_str());
        step = next;
    }
    // Only a tenant already at Done gets here, and `provision` returns those before running.
    Ok(t.clone())
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
