//! `GET /` (the login page, or the signed-in page), `POST /login` (JSON or form) and
//! `POST /logout`. Passwords are checked with argon2id against the tenant database's enabled
//! users on a blocking thread; unknown addresses are checked against a dummy hash so timing
//! does not reveal which exist. Failures are rate-limited ([`super::rate_limit`]).

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_TYPE, LOCATION, RETRY_AFTER};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use anyhow::Context;
use serde::Deserialize;

use super::directory::{self, EdgeTenant};
use super::session::{self, Access};
use super::{TenantHost, page, rate_limit, refusal, suspended_problem, tenant_users, wants_html};
use crate::http::ApiError;
use crate::state::AppState;
use crate::tenant::TenantStatus;

/// Largest login request body.
const LOGIN_LIMIT: usize = 16 * 1024;
/// Longest e-mail address (RFC 5321 path limit).
const MAX_EMAIL: usize = 254;

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

/// The session cookie's value, if any.
pub fn session_token(req: &HttpRequest) -> Option<String> {
    req.cookie(session::COOKIE).map(|c| c.value().to_owned())
}

pub async fn show_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantHost,
) -> HttpResponse {
    let (id, token) = (tenant.id, session_token(&req));
    let access = state
        .db
        .run(move |conn| session::check(conn, id, token.as_deref()).map_err(ApiError::from))
        .await;
    match access {
        Ok(Access::Granted(s)) => page::signed_in(&tenant, &s.email),
        Ok(Access::Anonymous) => page::login(&tenant, StatusCode::OK, None, ""),
        Ok(Access::Suspended) => refusal(&req, &tenant, suspended_problem()),
        Ok(Access::Unavailable) => refusal(
            &req,
            &tenant,
            ApiError::not_found("No tenant lives at this address."),
        ),
        Err(e) => refusal(&req, &tenant, e),
    }
}

fn wrong_credentials() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "The e-mail address or password is wrong.",
    )
}

/// Login refusals: browsers get the form again (or the suspended notice), API clients a problem.
fn login_refusal(
    req: &HttpRequest,
    t: &EdgeTenant,
    e: ApiError,
    email: &str,
    retry_after: Option<i64>,
) -> HttpResponse {
    let mut res = match &e {
        ApiError::Problem {
            status,
            detail,
            code,
            ..
        } if wants_html(req) && *code != "tenant_suspended" && status.is_client_error() => {
            page::login(t, *status, Some(detail), email)
        }
        _ => refusal(req, t, e),
    };
    if let Some(secs) = retry_after
        && let Ok(v) = actix_web::http::header::HeaderValue::from_str(&secs.to_string())
    {
        res.headers_mut().insert(RETRY_AFTER, v);
    }
    res
}

fn parse_body(req: &HttpRequest, body: &[u8]) -> Result<(LoginBody, bool), ApiError> {
    let ct = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct.starts_with("application/json") {
        serde_json::from_slice(body)
            .map(|b| (b, false))
            .map_err(|_| {
                ApiError::validation("Send a JSON object with \"email\" and \"password\".")
            })
    } else if ct.starts_with("application/x-www-form-urlencoded") {
        serde_urlencoded::from_bytes(body)
            .map(|b| (b, true))
            .map_err(|_| ApiError::validation("The form needs the fields email and password."))
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the login as application/json or application/x-www-form-urlencoded.",
        ))
    }
}

pub async fn submit_login(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantHost,
    payload: web::Payload,
) -> HttpResponse {
    let body = match super::read_body(&req, payload, LOGIN_LIMIT).await {
        Ok(b) => b,
        Err(e) => return login_refusal(&req, &tenant, e, "", None),
    };
    let (login, is_form) = match parse_body(&req, &body) {
        Ok(l) => l,
        Err(e) => return login_refusal(&req, &tenant, e, "", None),
    };
    let email = login.email.trim().to_lowercase();
    match attempt(&req, &state, &tenant, &email, login.password).await {
        Ok((token, role)) => {
            let cookie = session::cookie(&token, super::secure_cookies(&state));
            if is_form {
                HttpResponse::SeeOther()
                    .insert_header((LOCATION, "/"))
                    .cookie(cookie)
                    .finish()
            } else {
                HttpResponse::Ok()
                    .cookie(cookie)
                    .json(serde_json::json!({"email": email, "role": role}))
            }
        }
        Err((e, retry)) => login_refusal(&req, &tenant, e, &email, retry),
    }
}

/// Checks everything in order: suspension, rate limit, password; then starts the session.
async fn attempt(
    req: &HttpRequest,
    state: &AppState,
    tenant: &EdgeTenant,
    email: &str,
    password: String,
) -> Result<(String, String), (ApiError, Option<i64>)> {
    let plain = |e: ApiError| (e, None);
    let id = tenant.id;
    let status = state
        .db
        .run(move |conn| directory::status_of(conn, id).map_err(ApiError::from))
        .await
        .map_err(plain)?;
    match status {
        Some(TenantStatus::Active) => {}
        Some(TenantStatus::Suspended) => return Err(plain(suspended_problem())),
        _ => {
            return Err(plain(ApiError::not_found(
                "No tenant lives at this address.",
            )));
        }
    }
    let ip = super::client_ip(req);
    let (e, i) = (email.to_owned(), ip.clone());
    let locked = state
        .db
        .run(move |conn| rate_limit::retry_after(conn, id, &e, &i).map_err(ApiError::from))
        .await
        .map_err(plain)?;
    if let Some(secs) = locked {
        return Err((
            ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                format!(
                    "Too many failed sign-in attempts. Try again in {} minute(s).",
                    (secs + 59) / 60
                ),
            ),
            Some(secs),
        ));
    }
    let role = verify(state, tenant, email, password)
        .await
        .map_err(plain)?;
    let Some(role) = role else {
        let (e, i) = (email.to_owned(), ip);
        state
            .db
            .run(move |conn| rate_limit::record_failure(conn, id, &e, &i).map_err(ApiError::from))
            .await
            .map_err(plain)?;
        tracing::info!(slug = %tenant.slug, "failed tenant login");
        return Err(plain(wrong_credentials()));
    };
    let token = session::new_token();
    let (e, r, t) = (email.to_owned(), role.clone(), token.clone());
    let started = state
        .db
        .run(move |conn| -> Result<bool, ApiError> {
            rate_limit::clear(conn, id, &e)?;
            Ok(session::start(conn, id, &e, &r, &t)?)
        })
        .await
        .map_err(plain)?;
    if !started {
        // Suspended while the password was being checked.
        return Err(plain(suspended_problem()));
    }
    Ok((token, role))
}

/// The user's role when the password is right (and the user enabled), on a blocking thread.
pub async fn verify(
    state: &AppState,
    tenant: &EdgeTenant,
    email: &str,
    password: String,
) -> Result<Option<String>, ApiError> {
    let server = state.db.server().clone();
    let dbname = tenant.db_name.clone();
    let email = email.to_owned();
    let checked = tokio::task::spawn_blocking(move || -> anyhow::Result<Option<String>> {
        let sane = !email.is_empty()
            && email.len() <= MAX_EMAIL
            && (1..=crate::password::MAX_LEN).contains(&password.chars().count());
        let found = if sane {
            let mut conn = server
                .connect(&dbname)
                .with_context(|| format!("could not connect to {dbname}"))?;
            let creds = tenant_users::enabled_credentials(&mut conn, &email)?;
            let hash = creds
                .as_ref()
                .and_then(|c| c.password_hash.as_deref())
                .unwrap_or(crate::password::dummy_hash());
            let ok = crate::password::verify(&password, hash);
            match creds {
                Some(c) if ok && c.password_hash.is_some() => {
                    tenant_users::record_login(&mut conn, &email)?;
                    Some(c.role)
                }
                _ => None,
            }
        } else {
            // Same work for absurd input, so it cannot be told apart by timing either.
            crate::password::verify("x", crate::password::dummy_hash());
            None
        };
        Ok(found)
    })
    .await
    .context("login task")
    .map_err(ApiError::Unexpected)?
    .map_err(ApiError::Unexpected)?;
    Ok(checked)
}

pub async fn logout(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantHost,
) -> HttpResponse {
    if let Some(token) = session_token(&req) {
        let id = tenant.id;
        if let Err(e) = state
            .db
            .run(move |conn| session::end(conn, id, &token).map_err(ApiError::from))
            .await
        {
            return e.error_response();
        }
    }
    let removal = session::removal(super::secure_cookies(&state));
    if wants_html(&req) {
        HttpResponse::SeeOther()
            .insert_header((LOCATION, "/"))
            .cookie(removal)
            .finish()
    } else {
        HttpResponse::NoContent().cookie(removal).finish()
    }
}
