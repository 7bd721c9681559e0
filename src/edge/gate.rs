//! `GET /_ema/gate`: the reverse proxy's `auth_request` check. 204 with the user in
//! `X-Ema-User`/`X-Ema-Role`/`X-Ema-Tenant` when the session is valid, 401 without one, 403
//! while the tenant is suspended (whatever the cookie). Reads the status fresh every time.

use actix_web::http::header::{CACHE_CONTROL, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::login::session_token;
use super::session::{self, Access};
use super::{TenantHost, suspended_problem};
use crate::http::ApiError;
use crate::state::AppState;

pub async fn check_gate(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantHost,
) -> Result<HttpResponse, ApiError> {
    let (id, token) = (tenant.id, session_token(&req));
    let access = state
        .db
        .run(move |conn| session::check(conn, id, token.as_deref()).map_err(ApiError::from))
        .await?;
    match access {
        Access::Granted(s) => {
            let mut res = HttpResponse::NoContent();
            res.insert_header((CACHE_CONTROL, "no-store"));
            for (name, value) in [
                ("x-ema-user", s.email.as_str()),
                ("x-ema-role", s.role.as_str()),
                ("x-ema-tenant", tenant.slug.as_str()),
            ] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    res.insert_header((name, v));
                }
            }
            Ok(res.finish())
        }
        Access::Anonymous => Err(ApiError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            "unauthorized",
            "No valid session: sign in at /.",
        )),
        Access::Suspended => Err(suspended_problem()),
        Access::Unavailable => Err(ApiError::not_found("No tenant lives at this address.")),
    }
}
