//! The WHMCS channel under `/whmcs/v1/{action}` (`docs/whmcs-channel.md`): every request is
//! authenticated by [`auth::authenticate`] (signature, key, window, nonce; `docs/signing.md`)
//! before anything else looks at it, including the routing of unknown actions and methods, so
//! nothing but a verified request reaches an action. Handlers return [`ApiError`].

mod actions;
pub mod auth;

use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::http::{ApiError, idempotent};
use crate::idempotency::IdempotencyKey;
use crate::state::AppState;

pub use auth::Caller;

/// Where the channel lives; the path is part of every signature.
pub const PREFIX: &str = "/whmcs/v1";

pub fn configure(cfg: &mut web::ServiceConfig) {
    // One handler for every method and path under the prefix: a request for a wrong method,
    // a trailing slash or an unknown action is verified first, so an unsigned probe always
    // gets the same 401 and a signature can never be moved to another route.
    cfg.service(
        web::scope(PREFIX)
            .route("/{action}", web::route().to(handle))
            .default_service(web::to(handle)),
    );
}

/// The actions of the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    TestConnection,
    CreateAccount,
    GetAccount,
    SuspendAccount,
    UnsuspendAccount,
    TerminateAccount,
    ChangePackage,
    ChangePassword,
    Sso,
    Usage,
    ListAccounts,
}

impl Action {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "test_connection" => Self::TestConnection,
            "create_account" => Self::CreateAccount,
            "get_account" => Self::GetAccount,
            "suspend_account" => Self::SuspendAccount,
            "unsuspend_account" => Self::UnsuspendAccount,
            "terminate_account" => Self::TerminateAccount,
            "change_package" => Self::ChangePackage,
            "change_password" => Self::ChangePassword,
            "sso" => Self::Sso,
            "usage" => Self::Usage,
            "list_accounts" => Self::ListAccounts,
            _ => return None,
        })
    }

    /// Actions that change a tenant run under the `Idempotency-Key`. Reads need no key, and
    /// `sso` must not store its answer: that would keep a usable login token in the database.
    fn changes_state(self) -> bool {
        matches!(
            self,
            Self::CreateAccount
                | Self::SuspendAccount
                | Self::UnsuspendAccount
                | Self::TerminateAccount
                | Self::ChangePackage
                | Self::ChangePassword
        )
    }
}

async fn handle(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = auth::read_body(&req, payload).await?;
    let (caller, idempotency_key) = auth::authenticate(&state, &req, &body).await?;
    let action = req
        .match_info()
        .get("action")
        .and_then(Action::parse)
        .ok_or_else(|| ApiError::not_found("No such WHMCS action."))?;
    if req.method() != Method::POST {
        return Err(ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "WHMCS actions are called with POST.",
        ));
    }
    tracing::info!(key_id = %caller.key_id, ?action, "WHMCS request");
    let work = actions::run(&state, &caller, action, &body);
    if !action.changes_state() {
        return work.await;
    }
    let key = idempotency_key
        .as_deref()
        .map(IdempotencyKey::parse)
        .transpose()
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let fingerprint = idempotent::fingerprint(&req, &body);
    idempotent::run(&state, caller.reseller_id, key, fingerprint, work).await
}
