//! The audit trail: every lifecycle change with who did it, when and why. Kept in the control
//! database, and kept when a tenant is deleted.

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::audit_events;

/// Who asked for a change.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A reseller through the REST API (named by reseller; keys are never logged).
    ApiKey { reseller: String },
    /// A WHMCS installation, by the key id it signed with.
    Whmcs { key_id: String },
    /// The operator's CLI.
    Operator,
    /// The daemon itself (reconciler, collector).
    System,
}

impl std::fmt::Display for Actor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ApiKey { reseller } => write!(f, "api_key:{reseller}"),
            Self::Whmcs { key_id } => write!(f, "whmcs:{key_id}"),
            Self::Operator => f.write_str("operator"),
            Self::System => f.write_str("system"),
        }
    }
}

pub struct Event<'a> {
    pub reseller_id: Option<Uuid>,
    pub slug: &'a str,
    pub actor: &'a Actor,
    pub action: &'a str,
    pub reason: Option<&'a str>,
    pub details: serde_json::Value,
}

impl<'a> Event<'a> {
    /// An event about `t`, with no reason and no details yet.
    pub fn tenant(t: &'a crate::tenant::Tenant, actor: &'a Actor, action: &'a str) -> Self {
        Self {
            reseller_id: Some(t.reseller_id),
            slug: &t.slug,
            actor,
            action,
            reason: None,
            details: serde_json::json!({}),
        }
    }

    pub fn reason(mut self, reason: Option<&'a str>) -> Self {
        self.reason = reason;
        self
    }

    pub fn details(mut self, details: serde_json::Value) -> Self {
        self.details = details;
        self
    }
}

pub fn record(conn: &mut PgConnection, e: Event<'_>) -> QueryResult<()> {
    diesel::insert_into(audit_events::table)
        .values((
            audit_events::reseller_id.eq(e.reseller_id),
            audit_events::tenant_slug.eq(e.slug),
            audit_events::actor.eq(e.actor.to_string()),
            audit_events::action.eq(e.action),
            audit_events::reason.eq(e.reason),
            audit_events::details.eq(e.details),
        ))
        .execute(conn)
        .map(|_| ())
}

/// A recorded event, for the CLI and tests.
#[derive(Debug, Queryable, serde::Serialize)]
pub struct Recorded {
    pub id: i64,
    pub at: chrono::DateTime<chrono::Utc>,
    pub reseller_id: Option<Uuid>,
    pub tenant_slug: Option<String>,
    pub actor: String,
    pub action: String,
    pub reason: Option<String>,
    pub details: serde_json::Value,
}

pub fn for_tenant(conn: &mut PgConnection, slug: &str) -> QueryResult<Vec<Recorded>> {
    audit_events::table
        .filter(audit_events::tenant_slug.eq(slug))
        .order(audit_events::id.asc())
        .load(conn)
}
