//! Queries over `tenants`. The unique index on `slug` is what makes 20 concurrent creates of one
//! slug end in exactly one row.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use super::{Step, Tenant, TenantStatus};
use crate::db::schema::tenants;
use crate::domain::{Branding, Plan, Slug};

#[derive(Debug, Insertable)]
#[diesel(table_name = tenants)]
pub struct NewTenant {
    pub slug: String,
    pub reseller_id: Uuid,
    pub name: String,
    pub status: String,
    pub sandbox: bool,
    pub plan_code: String,
    pub max_users: i32,
    pub storage_gb: i32,
    pub gb_per_licence: i32,
    pub branding: serde_json::Value,
    pub whmcs_service_id: Option<i64>,
    pub admin_email: Option<String>,
    pub admin_password_hash: Option<String>,
    pub db_name: String,
}

impl NewTenant {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        slug: &Slug,
        reseller_id: Uuid,
        name: String,
        sandbox: bool,
        plan: &Plan,
        branding: &Branding,
        whmcs_service_id: Option<i64>,
        admin: Option<(String, String)>,
    ) -> Self {
        let (admin_email, admin_password_hash) = match admin {
            Some((e, h)) => (Some(e), Some(h)),
            None => (None, None),
        };
        Self {
            slug: slug.to_string(),
            reseller_id,
            name,
            status: TenantStatus::Provisioning.as_str().into(),
            sandbox,
            plan_code: plan.code.clone(),
            max_users: plan.max_users,
            storage_gb: plan.storage_gb,
            gb_per_licence: plan.gb_per_licence,
            branding: serde_json::to_value(branding).unwrap_or_default(),
            whmcs_service_id,
            admin_email,
            admin_password_hash,
            db_name: slug.database_name(),
        }
    }
}

/// Why an insert was refused.
#[derive(Debug)]
pub enum InsertConflict {
    /// The slug belongs to a tenant already (any reseller's).
    SlugTaken,
    /// This reseller's WHMCS service already owns a tenant.
    ServiceTaken,
}

pub fn insert(
    conn: &mut PgConnection,
    new: &NewTenant,
) -> QueryResult<Result<Tenant, InsertConflict>> {
    match diesel::insert_into(tenants::table)
        .values(new)
        .returning(Tenant::as_returning())
        .get_result(conn)
    {
        Ok(t) => Ok(Ok(t)),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            info,
        )) => {
            let constraint = info.constraint_name().unwrap_or_default();
            if constraint.contains("whmcs_service") {
                Ok(Err(InsertConflict::ServiceTaken))
            } else {
                Ok(Err(InsertConflict::SlugTaken))
            }
        }
        Err(e) => Err(e),
    }
}

pub fn by_id(conn: &mut PgConnection, id: Uuid) -> QueryResult<Tenant> {
    tenants::table
        .find(id)
        .select(Tenant::as_select())
        .first(conn)
}

pub fn by_slug(conn: &mut PgConnection, slug: &str) -> QueryResult<Option<Tenant>> {
    tenants::table
        .filter(tenants::slug.eq(slug))
        .select(Tenant::as_select())
        .first(conn)
        .optional()
}

/// The reseller's tenant with this slug; another reseller's tenant is "not found".
pub fn owned(
    conn: &mut PgConnection,
    reseller_id: Uuid,
    slug: &str,
) -> QueryResult<Option<Tenant>> {
    tenants::table
        .filter(tenants::slug.eq(slug))
        .filter(tenants::reseller_id.eq(reseller_id))
        .select(Tenant::as_select())
        .first(conn)
        .optional()
}

pub fn by_service(
    conn: &mut PgConnection,
    reseller_id: Uuid,
    service_id: i64,
) -> QueryResult<Option<Tenant>> {
    tenants::table
        .filter(tenants::reseller_id.eq(reseller_id))
        .filter(tenants::whmcs_service_id.eq(service_id))
        .select(Tenant::as_select())
        .first(conn)
        .optional()
}

/// One page of a reseller's tenants in slug order after `after`: keyset pagination on the
/// (reseller_id, slug) index, so page cost does not grow with the number of tenants.
pub fn page(
    conn: &mut PgConnection,
    reseller_id: Uuid,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Tenant>> {
    let mut q = tenants::table
        .filter(tenants::reseller_id.eq(reseller_id))
        .select(Tenant::as_select())
        .order(tenants::slug.asc())
        .limit(limit)
        .into_boxed();
    if let Some(a) = after {
        q = q.filter(tenants::slug.gt(a.to_owned()));
    }
    q.load(conn)
}

pub fn all_of_reseller(conn: &mut PgConnection, reseller_id: Uuid) -> QueryResult<Vec<Tenant>> {
    tenants::table
        .filter(tenants::reseller_id.eq(reseller_id))
        .order(tenants::slug.asc())
        .select(Tenant::as_select())
        .load(conn)
}

pub fn all(conn: &mut PgConnection) -> QueryResult<Vec<Tenant>> {
    tenants::table
        .order(tenants::slug.asc())
        .select(Tenant::as_select())
        .load(conn)
}

/// Takes the tenant's lifecycle lease for `secs` unless another operation holds it. The lease
/// (not a session lock) is what spans CREATE DATABASE and S3 calls, which cannot sit inside one
/// transaction; an expired lease is free again, so a crashed holder blocks nobody for long.
pub fn claim_lease(conn: &mut PgConnection, id: Uuid, secs: i64) -> QueryResult<bool> {
    let until: DateTime<Utc> = Utc::now() + chrono::Duration::seconds(secs);
    let n = diesel::update(
        tenants::table.filter(tenants::id.eq(id)).filter(
            tenants::lease_until
                .is_null()
                .or(tenants::lease_until.lt(diesel::dsl::now)),
        ),
    )
    .set(tenants::lease_until.eq(Some(until)))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn release_lease(conn: &mut PgConnection, id: Uuid) -> QueryResult<()> {
    diesel::update(tenants::table.find(id))
        .set(tenants::lease_until.eq(None::<DateTime<Utc>>))
        .execute(conn)
        .map(|_| ())
}

/// Records a completed step without waiting for the WAL flush: every step checks before it
/// acts, so losing this record in a server crash only makes a resume redo a step.
pub fn set_step(conn: &mut PgConnection, id: Uuid, step: Step) -> QueryResult<()> {
    conn.transaction(|conn| {
        relaxed_commit(conn)?;
        diesel::update(tenants::table.find(id))
            .set((
                tenants::provisioning_step.eq(step.as_str()),
                tenants::updated_at.eq(diesel::dsl::now),
            ))
            .execute(conn)
            .map(|_| ())
    })
}

/// `synchronous_commit = off` for the current transaction only.
pub fn relaxed_commit(conn: &mut PgConnection) -> QueryResult<()> {
    diesel::sql_query("SET LOCAL synchronous_commit = off")
        .execute(conn)
        .map(|_| ())
}

/// Unfinished creates whose retry time has come (or that never got one: a crash).
pub fn due_for_retry(conn: &mut PgConnection, limit: i64) -> QueryResult<Vec<Tenant>> {
    tenants::table
        .filter(tenants::status.eq(TenantStatus::Provisioning.as_str()))
        .filter(
            tenants::next_attempt_at
                .is_null()
                .or(tenants::next_attempt_at.le(diesel::dsl::now)),
        )
        .filter(
            tenants::lease_until
                .is_null()
                .or(tenants::lease_until.lt(diesel::dsl::now)),
        )
        .order(tenants::created_at.asc())
        .limit(limit)
        .select(Tenant::as_select())
        .load(conn)
}

/// Changes the display name and/or branding, with an audit event.
pub fn update_profile(
    conn: &mut PgConnection,
    id: Uuid,
    name: Option<String>,
    branding: Option<Branding>,
    actor: &crate::audit::Actor,
) -> QueryResult<Tenant> {
    conn.transaction(|conn| {
        let before = by_id(conn, id)?;
        if let Some(n) = &name {
            diesel::update(tenants::table.find(id))
                .set(tenants::name.eq(n))
                .execute(conn)?;
        }
        if let Some(b) = &branding {
            diesel::update(tenants::table.find(id))
                .set(tenants::branding.eq(serde_json::to_value(b).unwrap_or_default()))
                .execute(conn)?;
        }
        if name.is_some() || branding.is_some() {
            super::notify::tenant_changed(conn, &before.slug)?;
            diesel::update(tenants::table.find(id))
                .set(tenants::updated_at.eq(diesel::dsl::now))
                .execute(conn)?;
            crate::audit::record(
                conn,
                crate::audit::Event {
                    reseller_id: Some(before.reseller_id),
                    slug: &before.slug,
                    actor,
                    action: "tenant.updated",
                    reason: None,
                    details: serde_json::json!({"name": name, "branding": branding.is_some()}),
                },
            )?;
        }
        by_id(conn, id)
    })
}
