//! The tenant lifecycle: create (a persisted, resumable state machine), suspend, unsuspend,
//! deletion requests, plan and password changes, and the operator's delete. One lifecycle
//! operation runs per tenant at a time (a lease in the control database). Returns
//! [`ProvisionError`], which the HTTP layers map to problem codes.

mod create;
pub mod database;
pub mod fault;
mod lifecycle;
mod removal;

use crate::state::AppState;

pub use create::{
    AdminAccount, CreateRequest, Created, MAX_ATTEMPTS, RECONCILE_EVERY, create, provision,
    reconcile_once,
};
pub use lifecycle::{change_admin_password, change_plan, request_deletion, suspend, unsuspend};
pub use removal::delete;

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

fn lease_secs(state: &AppState) -> i64 {
    state.settings.provisioning.lease.as_secs() as i64
}
