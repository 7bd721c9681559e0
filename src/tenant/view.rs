use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Tenant, TenantStatus};
use crate::domain::Branding;

/// A tenant as resellers see it (REST and WHMCS).
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub slug: String,
    pub name: String,
    pub status: TenantStatus,
    /// Where the tenant's users log in.
    pub url: String,
    pub sandbox: bool,
    /// WHMCS service that created the tenant, if any.
    pub service_id: Option<i64>,
    pub plan: String,
    pub max_users: i32,
    pub storage_gb: i32,
    /// All user accounts (cached; see `usage_measured_at`).
    pub users: Option<i64>,
    /// Enabled accounts, administrators included.
    pub active_users: Option<i64>,
    /// Database plus objects, in bytes.
    pub storage_bytes: Option<i64>,
    pub db_bytes: Option<i64>,
    pub s3_bytes: Option<i64>,
    pub usage_measured_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub suspension_reason: Option<String>,
    pub suspension: Option<SuspensionView>,
    pub last_ingest_at: Option<DateTime<Utc>>,
    pub deletion_requested: bool,
    #[schema(value_type = Object)]
    pub branding: serde_json::Value,
}

/// What happened during the current or last suspension.
#[derive(Debug, Serialize, ToSchema)]
pub struct SuspensionView {
    pub since: DateTime<Utc>,
    /// When it ended; absent while suspended.
    pub until: Option<DateTime<Utc>>,
    pub reason: Option<String>,
    /// Messages archived while suspended: proof that nothing was lost.
    pub messages_received: i64,
}

/// Usage and billing figures of one tenant.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsageView {
    pub slug: String,
    pub service_id: Option<i64>,
    pub status: TenantStatus,
    pub sandbox: bool,
    pub users: i64,
    pub active_users: i64,
    pub db_bytes: i64,
    pub s3_bytes: i64,
    pub storage_bytes: i64,
    pub storage_limit_gb: i32,
    pub gb_per_licence: i32,
    /// max(active users, ceil(storage GB / GB per licence)).
    pub licences: i64,
    pub billable: bool,
    /// `suspended`, `sandbox`, `provisioning` or `failed` when not billable.
    pub not_billable_reason: Option<&'static str>,
    pub measured_at: Option<DateTime<Utc>>,
}

impl TenantView {
    pub fn new(t: &Tenant, url: String) -> Self {
        let branding = serde_json::to_value(public_branding(&t.branding())).unwrap_or_default();
        let suspension = t.suspended_at.map(|since| SuspensionView {
            since,
            until: if t.status() == TenantStatus::Suspended {
                None
            } else {
                t.unsuspended_at
            },
            reason: t.suspension_reason.clone(),
            messages_received: t.ingested_during_suspension,
        });
        Self {
            slug: t.slug.clone(),
            name: t.name.clone(),
            status: t.status(),
            url,
            sandbox: t.sandbox,
            service_id: t.whmcs_service_id,
            plan: t.plan_code.clone(),
            max_users: t.max_users,
            storage_gb: t.storage_gb,
            users: t.user_count,
            active_users: t.active_user_count,
            storage_bytes: t.storage_bytes(),
            db_bytes: t.db_bytes,
            s3_bytes: t.s3_bytes,
            usage_measured_at: t.usage_measured_at,
            created_at: t.created_at,
            suspended_at: if t.status() == TenantStatus::Suspended {
                t.suspended_at
            } else {
                None
            },
            suspension_reason: if t.status() == TenantStatus::Suspended {
                t.suspension_reason.clone()
            } else {
                None
            },
            suspension,
            last_ingest_at: t.last_ingest_at,
            deletion_requested: t.deletion_requested_at.is_some(),
            branding,
        }
    }
}

/// Branding as shown to API clients: image keys become flags, not storage paths.
fn public_branding(b: &Branding) -> serde_json::Value {
    serde_json::json!({
        "custom_name": b.custom_name,
        "primary_color": b.primary_color.as_ref().map(|c| c.as_str().to_owned()),
        "logo": b.logo_key.is_some(),
        "favicon": b.favicon_key.is_some(),
    })
}

impl UsageView {
    pub fn new(t: &Tenant) -> Self {
        let active = t.active_user_count.unwrap_or(0);
        let storage = t.storage_bytes().unwrap_or(0);
        let reason = t.not_billable_reason();
        Self {
            slug: t.slug.clone(),
            service_id: t.whmcs_service_id,
            status: t.status(),
            sandbox: t.sandbox,
            users: t.user_count.unwrap_or(0),
            active_users: active,
            db_bytes: t.db_bytes.unwrap_or(0),
            s3_bytes: t.s3_bytes.unwrap_or(0),
            storage_bytes: storage,
            storage_limit_gb: t.storage_gb,
            gb_per_licence: t.gb_per_licence,
            licences: t.plan().licences(active, storage),
            billable: reason.is_none(),
            not_billable_reason: reason,
            measured_at: t.usage_measured_at,
        }
    }
}
