//! `GET /_ema/sso/{token}`: where the one-time links the WHMCS `sso` action issues land. The
//! token is consumed first (a link works once, whatever happens next), must belong to this
//! host's tenant, and logs the tenant's administrator (the one created at provisioning) in.
//! Refused with `tenant_suspended` while the tenant is suspended.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;

use super::directory::{self, EdgeTenant};
use super::{TenantHost, refusal, session, suspended_problem, tenant_users};
use crate::http::ApiError;
use crate::state::AppState;
use crate::tenant::TenantStatus;

pub async fn land(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantHost,
    token: web::Path<String>,
) -> HttpResponse {
    match sign_in(&state, &tenant, token.into_inner()).await {
        Ok(session_token) => HttpResponse::SeeOther()
            .insert_header((LOCATION, "/"))
            .insert_header(("referrer-policy", "no-referrer"))
            .cookie(session::cookie(
                &session_token,
                super::secure_cookies(&state),
            ))
            .finish(),
        Err(e) => refusal(&req, &tenant, e),
    }
}

async fn sign_in(state: &AppState, tenant: &EdgeTenant, token: String) -> Result<String, ApiError> {
    let id = tenant.id;
    let (owner, status) = state
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let owner = crate::sso::consume_sso_token(conn, &token)?;
            Ok((owner, directory::status_of(conn, id)?))
        })
        .await?;
    if owner != Some(id) {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "This sign-in link is not valid: it was used already, has expired or belongs elsewhere.",
        ));
    }
    match status {
        Some(TenantStatus::Active) => {}
        Some(TenantStatus::Suspended) => return Err(suspended_problem()),
        _ => return Err(ApiError::not_found("No tenant lives at this address.")),
    }
    let email = tenant.admin_email.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "refused",
            "This tenant has no administrator created at provisioning to sign in.",
        )
    })?;
    let server = state.db.server().clone();
    let dbname = tenant.db_name.clone();
    let e = email.clone();
    let role = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<String>> {
        let mut conn = server
            .connect(&dbname)
            .with_context(|| format!("could not connect to {dbname}"))?;
        let creds = tenant_users::enabled_credentials(&mut conn, &e)?;
        if creds.is_some() {
            tenant_users::record_login(&mut conn, &e)?;
        }
        Ok(creds.map(|c| c.role))
    })
    .await
    .context("sso task")??
    .ok_or_else(|| {
        ApiError::new(
            StatusCode::CONFLICT,
            "refused",
            "The administrator account is disabled or no longer exists.",
        )
    })?;
    let session_token = session::new_token();
    let t = session_token.clone();
    let started = state
        .db
        .run(move |conn| session::start(conn, id, &email, &role, &t).map_err(ApiError::from))
        .await?;
    if !started {
        return Err(suspended_problem());
    }
    Ok(session_token)
}
