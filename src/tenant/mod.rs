//! Tenants as the control database records them: the row, its status, the views the APIs show,
//! and the queries over it. Queries return `diesel::QueryResult`.

pub mod notify;
pub mod repo;
mod view;

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::tenants;
use crate::domain::{Branding, Plan, Slug};

pub use view::{SuspensionView, TenantView, UsageView};

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum TenantStatus {
    /// Being created; not reachable yet.
    Provisioning,
    Active,
    /// Logins blocked; data kept; mail still archived.
    Suspended,
    /// A create that could not finish and was parked for support.
    Failed,
}

impl TenantStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provisioning => "provisioning",
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Self {
        match s {
            "active" => Self::Active,
            "suspended" => Self::Suspended,
            "failed" => Self::Failed,
            _ => Self::Provisioning,
        }
    }
}

/// Completed provisioning steps, in order; a restart resumes after the last one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    Requested,
    DatabaseCreated,
    Migrated,
    StorageReady,
    Done,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::DatabaseCreated => "database_created",
            Self::Migrated => "migrated",
            Self::StorageReady => "storage_ready",
            Self::Done => "done",
        }
    }
    pub fn parse(s: &str) -> Self {
        match s {
            "database_created" => Self::DatabaseCreated,
            "migrated" => Self::Migrated,
            "storage_ready" => Self::StorageReady,
            "done" => Self::Done,
            _ => Self::Requested,
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = tenants)]
pub struct Tenant {
    pub id: Uuid,
    pub slug: String,
    pub reseller_id: Uuid,
    pub name: String,
    pub status: String,
    pub provisioning_step: String,
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
    pub marker: Uuid,
    pub last_error: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub lease_until: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub suspended_at: Option<DateTime<Utc>>,
    pub unsuspended_at: Option<DateTime<Utc>>,
    pub suspension_reason: Option<String>,
    pub deletion_requested_at: Option<DateTime<Utc>>,
    pub deletion_reason: Option<String>,
    pub user_count: Option<i64>,
    pub active_user_count: Option<i64>,
    pub db_bytes: Option<i64>,
    pub s3_bytes: Option<i64>,
    pub usage_measured_at: Option<DateTime<Utc>>,
    pub last_ingest_at: Option<DateTime<Utc>>,
    pub ingested_during_suspension: i64,
}

impl Tenant {
    pub fn status(&self) -> TenantStatus {
        TenantStatus::parse(&self.status)
    }

    pub fn step(&self) -> Step {
        Step::parse(&self.provisioning_step)
    }

    /// Slugs in the table were parsed on the way in; a bad one would be a corrupted row.
    pub fn slug(&self) -> Slug {
        Slug::parse(&self.slug)
            .unwrap_or_else(|e| panic!("corrupt slug {:?} in the control database: {e}", self.slug))
    }

    pub fn plan(&self) -> Plan {
        Plan {
            code: self.plan_code.clone(),
            max_users: self.max_users,
            storage_gb: self.storage_gb,
            gb_per_licence: self.gb_per_licence,
        }
    }

    pub fn branding(&self) -> Branding {
        serde_json::from_value(self.branding.clone()).unwrap_or_default()
    }

    pub fn storage_bytes(&self) -> Option<i64> {
        match (self.db_bytes, self.s3_bytes) {
            (None, None) => None,
            (d, s) => Some(d.unwrap_or(0) + s.unwrap_or(0)),
        }
    }

    /// Why the tenant is not billed, if it is not.
    pub fn not_billable_reason(&self) -> Option<&'static str> {
        if self.sandbox {
            Some("sandbox")
        } else if self.status() != TenantStatus::Active {
            Some(match self.status() {
                TenantStatus::Suspended => "suspended",
                TenantStatus::Failed => "failed",
                _ => "provisioning",
            })
        } else {
            None
        }
    }
}
