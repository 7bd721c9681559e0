//! The tenant edge: what answers on `{slug}.{base domain}`. A branded login page and session
//! (refused while the tenant is suspended), a gate for a reverse proxy's `auth_request`, mail
//! ingest (accepted while suspended), the SSO landing of WHMCS login links, branding images and
//! a small users API for the tenant's administrators.
//!
//! Handlers return [`ApiError`] (problem+json) to API clients and an HTML page to browsers
//! (requests that accept `text/html`); see [`refusal`]. Tenant databases and argon2 run on
//! blocking threads, the control database through [`crate::db::Db::run`].

pub mod directory;
mod gate;
pub mod host;
mod ingest;
pub mod ingest_token;
mod login;
pub mod mail;
pub mod page;
pub mod rate_limit;
pub mod session;
mod sso_landing;
mod tenant_assets;
pub mod tenant_users;
mod users;

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use futures_util::StreamExt;

pub use directory::{Directory, EdgeTenant};
pub use host::{OnApiHost, OnTenantHost, TenantHost};

use crate::http::ApiError;

/// Paths the edge reserves on a tenant host for itself (the archive application gets the rest).
pub const RESERVED_PREFIX: &str = "/_ema/";

/// The routes of a tenant host. Register under a scope guarded by [`OnTenantHost`].
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::get().to(login::show_login))
        .route("/login", web::post().to(login::submit_login))
        .route("/logout", web::post().to(login::logout))
        .route("/ingest", web::post().to(ingest::ingest_message))
        .route("/_ema/gate", web::get().to(gate::check_gate))
        .route("/_ema/sso/{token}", web::get().to(sso_landing::land))
        .route(
            "/_ema/branding/{asset}",
            web::get().to(tenant_assets::branding_image),
        )
        .route("/_ema/users", web::get().to(users::list_users))
        .route("/_ema/users", web::post().to(users::add_user))
        .route("/_ema/users/{id}", web::patch().to(users::update_user));
}

/// Whether the client is a browser that wants a page rather than a problem document.
pub fn wants_html(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// The refusal every login, session and SSO link gets while the tenant is suspended.
pub fn suspended_problem() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "tenant_suspended",
        "This account is suspended: signing in is not possible until it is restored. No data is lost and incoming mail is still archived.",
    )
}

/// An error as the client wants it: the suspended notice or an error page for browsers, a
/// problem document otherwise.
pub fn refusal(req: &HttpRequest, t: &EdgeTenant, e: ApiError) -> HttpResponse {
    use actix_web::ResponseError;
    if !wants_html(req) {
        return e.error_response();
    }
    match &e {
        ApiError::Problem { code, .. } if *code == "tenant_suspended" => page::suspended(t),
        ApiError::Problem { status, detail, .. } => page::error(
            t,
            *status,
            status.canonical_reason().unwrap_or("Error"),
            detail,
        ),
        ApiError::Unexpected(_) => {
            let _ = e.error_response(); // logs the chain
            page::error(
                t,
                StatusCode::INTERNAL_SERVER_ERROR,
                "Something went wrong",
                "An unexpected error occurred. Please try again later.",
            )
        }
    }
}

pub fn too_large(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        "payload_too_large",
        format!("The request body is larger than {limit} bytes."),
    )
}

/// Reads a request body up to `limit` bytes (413 beyond, before reading when the length is
/// announced).
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    let announced = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        return Err(too_large(limit));
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(format!("The request body could not be read: {e}"))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The client's address for rate limiting: the TCP peer. A proxy in front makes every client
/// one address; put the per-client limit in the proxy then (see `docs/edge-nginx.md`).
pub fn client_ip(req: &HttpRequest) -> String {
    req.peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Whether cookies must carry `Secure` (the public scheme is https).
pub fn secure_cookies(state: &crate::state::AppState) -> bool {
    state.settings.http.public_scheme == "https"
}
