//! The users API of a tenant host, for the tenant's administrators (a session with role
//! `admin`): `GET /_ema/users`, `POST /_ema/users` (`email`, `password`, `role`,
//! `display_name`), `PATCH /_ema/users/{id}` (`enabled`). JSON only, which with `SameSite=Lax`
//! cookies keeps other sites from driving it. Disabling a user ends its sessions; enabled users
//! are what usage counts as active.

use actix_web::http::StatusCode;
use actix_web::http::header::CONTENT_TYPE;
use actix_web::{HttpRequest, HttpResponse, web};
use anyhow::Context;
use diesel::Connection;
use secrecy::SecretString;
use serde::Deserialize;

use super::directory::EdgeTenant;
use super::login::session_token;
use super::session::{self, Access, Session};
use super::tenant_users::{self, UserView};
use super::{TenantHost, suspended_problem};
use crate::http::ApiError;
use crate::state::AppState;

/// Largest request body of the users API.
const BODY_LIMIT: usize = 16 * 1024;
/// Longest display name.
const MAX_DISPLAY_NAME: usize = 200;

/// The signed-in administrator, or the reason there is none.
async fn require_admin(
    req: &HttpRequest,
    state: &AppState,
    tenant: &EdgeTenant,
) -> Result<Session, ApiError> {
    let (id, token) = (tenant.id, session_token(req));
    let access = state
        .db
        .run(move |conn| session::check(conn, id, token.as_deref()).map_err(ApiError::from))
        .await?;
    match access {
        Access::Granted(s) if s.is_admin() => Ok(s),
        Access::Granted(_) => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Only the tenant's administrators can manage users.",
        )),
        Access::Anonymous => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Sign in as an administrator first.",
        )),
        Access::Suspended => Err(suspended_problem()),
        Access::Unavailable => Err(ApiError::not_found("No tenant lives at this address.")),
    }
}

async fn json_body<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<T, ApiError> {
    let is_json = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "Send the body as application/json.",
        ));
    }
    let body = super::read_body(req, payload, BODY_LIMIT).await?;
    serde_json::from_slice(&body)
        .map_err(|e| ApiError::validation(format!("The request body is not valid: {e}.")))
}

/// Runs `f` on a short-lived connection to the tenant database, on a blocking thread.
async fn with_tenant_db<T, F>(state: &AppState, tenant: &EdgeTenant, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut diesel::PgConnection) -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    let server = state.db.server().clone();
    let dbname = tenant.db_name.clone();
    tokio::task::spawn_blocking(move || {
        let mut conn = server
            .connect(&dbname)
            .with_context(|| format!("could not connect to {dbname}"))?;
        f(&mut conn)
    })
    .await
    .context("tenant database task")?
}

pub async fn list_users(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantHost,
) -> Result<HttpResponse, ApiError> {
    require_admin(&req, &state, &tenant).await?;
    let users = with_tenant_db(&state, &tenant, |conn| Ok(tenant_users::list(conn)?)).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "items": users })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    email: String,
    password: String,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
}

fn user_limit(max: i32) -> ApiError {
    ApiError::new(
        StatusCode::CONFLICT,
        "user_limit_reached",
        format!("The plan allows {max} active users; disable one or upgrade the plan first."),
    )
}

pub async fn add_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantHost,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let admin = require_admin(&req, &state, &tenant).await?;
    let body: NewUserBody = json_body(&req, payload).await?;
    let email = crate::provisioning::parse_email(&body.email)?;
    let password = SecretString::from(body.password);
    crate::password::check_policy(&password).map_err(|e| ApiError::validation(e.to_string()))?;
    let role = match body.role.as_deref().unwrap_or("member") {
        r @ ("admin" | "member") => r.to_owned(),
        _ => {
            return Err(ApiError::validation(
                "The role must be \"admin\" or \"member\".",
            ));
        }
    };
    let display_name = match body.display_name.map(|d| d.trim().to_owned()) {
        Some(d) if d.is_empty() => None,
        Some(d) if d.chars().count() > MAX_DISPLAY_NAME || d.chars().any(char::is_control) => {
            return Err(ApiError::validation(format!(
                "The display name must be at most {MAX_DISPLAY_NAME} printable characters."
            )));
        }
        other => other,
    };
    let max = tenant.max_users;
    let created = with_tenant_db(&state, &tenant, move |conn| {
        let hash = crate::password::hash(&password)?;
        conn.transaction(|conn| -> Result<UserView, ApiError> {
            // Serialises concurrent additions so the plan's limit holds.
            diesel::RunQueryDsl::execute(
                diesel::sql_query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"),
                conn,
            )?;
            if tenant_users::count_enabled(conn)? >= i64::from(max) {
                return Err(user_limit(max));
            }
            let user = tenant_users::add(conn, &email, display_name.as_deref(), &hash, &role)?
                .ok_or_else(|| {
                    ApiError::new(
                        StatusCode::CONFLICT,
                        "user_exists",
                        format!("A user with the e-mail address {email:?} already exists."),
                    )
                })?;
            tenant_users::audit(
                conn,
                &admin.email,
                "user.added",
                serde_json::json!({"email": user.email, "role": user.role}),
            )?;
            Ok(user)
        })
    })
    .await?;
    Ok(HttpResponse::Created().json(created))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserBody {
    enabled: bool,
}

pub async fn update_user(
    req: HttpRequest,
    state: web::Data<AppState>,
    tenant: TenantHost,
    id: web::Path<String>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let admin = require_admin(&req, &state, &tenant).await?;
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::not_found("No such user."))?;
    let body: UpdateUserBody = json_body(&req, payload).await?;
    let (enabled, max, me) = (body.enabled, tenant.max_users, admin.email.clone());
    let user = with_tenant_db(&state, &tenant, move |conn| {
        conn.transaction(|conn| -> Result<UserView, ApiError> {
            diesel::RunQueryDsl::execute(
                diesel::sql_query("LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE"),
                conn,
            )?;
            let current = tenant_users::by_id(conn, id)?
                .ok_or_else(|| ApiError::not_found("No such user."))?;
            if current.enabled == enabled {
                return Ok(current);
            }
            if !enabled && current.email == me {
                return Err(ApiError::new(
                    StatusCode::CONFLICT,
                    "refused",
                    "You cannot disable your own account.",
                ));
            }
            if enabled && tenant_users::count_enabled(conn)? >= i64::from(max) {
                return Err(user_limit(max));
            }
            let user = tenant_users::set_enabled(conn, id, enabled)?
                .ok_or_else(|| ApiError::not_found("No such user."))?;
            tenant_users::audit(
                conn,
                &me,
                if enabled {
                    "user.enabled"
                } else {
                    "user.disabled"
                },
                serde_json::json!({"email": user.email}),
            )?;
            Ok(user)
        })
    })
    .await?;
    if !user.enabled {
        let (tid, email) = (tenant.id, user.email.clone());
        state
            .db
            .run(move |conn| session::end_all_of_user(conn, tid, &email).map_err(ApiError::from))
            .await?;
    }
    Ok(HttpResponse::Ok().json(user))
}
