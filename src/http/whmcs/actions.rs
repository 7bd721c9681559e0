//! The actions of the WHMCS channel, for a verified [`Caller`]: bodies and answers exactly as in
//! `docs/whmcs-channel.md`. A tenant is found by its WHMCS service id among the caller's tenants;
//! the lifecycle itself is `crate::provisioning`'s.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::{Action, Caller};
use crate::audit::Actor;
use crate::domain::{Branding, Plan, Slug, SlugError};
use crate::http::ApiError;
use crate::provisioning::{self, AdminAccount, CreateRequest, Created};
use crate::state::AppState;
use crate::tenant::{Tenant, TenantStatus, TenantView, UsageView, repo};

/// Longest suspension or termination reason kept.
const MAX_REASON: usize = 500;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NoArgs {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ServiceRef {
    service_id: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateAccountBody {
    service_id: i64,
    slug: String,
    name: String,
    plan: String,
    max_users: i64,
    storage_gb: i64,
    admin: AdminBody,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdminBody {
    email: String,
    password: SecretString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReasonBody {
    service_id: i64,
    reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePackageBody {
    service_id: i64,
    plan: String,
    max_users: i64,
    storage_gb: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangePasswordBody {
    service_id: i64,
    password: SecretString,
}

pub async fn run(
    state: &AppState,
    caller: &Caller,
    action: Action,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::Whmcs {
        key_id: caller.key_id.clone(),
    };
    match action {
        Action::TestConnection => {
            parse::<NoArgs>(body)?;
            Ok(HttpResponse::Ok().json(serde_json::json!({
                "ok": true,
                "reseller": caller.reseller_name,
                "server_time": chrono::Utc::now().timestamp(),
            })))
        }
        Action::CreateAccount => create_account(state, caller, &actor, parse(body)?).await,
        Action::GetAccount => {
            let b: ServiceRef = parse(body)?;
            let t = tenant_of_service(state, caller, b.service_id).await?;
            Ok(tenant_answer(state, caller, &t))
        }
        Action::SuspendAccount => {
            let b: ReasonBody = parse(body)?;
            let t = tenant_of_service(state, caller, b.service_id).await?;
            let t = provisioning::suspend(state, &actor, t.id, parse_reason(b.reason)?).await?;
            Ok(tenant_answer(state, caller, &t))
        }
        Action::UnsuspendAccount => {
            let b: ServiceRef = parse(body)?;
            let t = tenant_of_service(state, caller, b.service_id).await?;
            let t = provisioning::unsuspend(state, &actor, t.id).await?;
            Ok(tenant_answer(state, caller, &t))
        }
        Action::TerminateAccount => {
            let b: ReasonBody = parse(body)?;
            let t = tenant_of_service(state, caller, b.service_id).await?;
            let t = provisioning::request_deletion(state, &actor, t.id, parse_reason(b.reason)?)
                .await?;
            Ok(tenant_answer(state, caller, &t))
        }
        Action::ChangePackage => {
            let b: ChangePackageBody = parse(body)?;
            let t = tenant_of_service(state, caller, b.service_id).await?;
            // WHMCS does not know the licence size: keep the tenant's.
            let plan = Plan::parse(
                &b.plan,
                b.max_users,
                b.storage_gb,
                Some(i64::from(t.gb_per_licence)),
            )
            .map_err(|e| ApiError::validation(capitalised(&e.to_string())))?;
            let t = provisioning::change_plan(state, &actor, t.id, plan).await?;
            Ok(tenant_answer(state, caller, &t))
        }
        Action::ChangePassword => {
            let b: ChangePasswordBody = parse(body)?;
            let t = tenant_of_service(state, caller, b.service_id).await?;
            provisioning::change_admin_password(state, &actor, t.id, b.password).await?;
            Ok(HttpResponse::Ok().json(serde_json::json!({"ok": true})))
        }
        Action::Sso => {
            let b: ServiceRef = parse(body)?;
            let t = tenant_of_service(state, caller, b.service_id).await?;
            single_sign_on(state, caller, &t).await
        }
        Action::Usage => {
            parse::<NoArgs>(body)?;
            let rid = caller.reseller_id;
            let all = state
                .db
                .run(move |conn| repo::all_of_reseller(conn, rid))
                .await?;
            let items: Vec<UsageView> = all.iter().map(UsageView::new).collect();
            Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
        }
        Action::ListAccounts => {
            parse::<NoArgs>(body)?;
            let rid = caller.reseller_id;
            let all = state
                .db
                .run(move |conn| repo::all_of_reseller(conn, rid))
                .await?;
            let items: Vec<TenantView> = all.iter().map(|t| view(state, caller, t)).collect();
            Ok(HttpResponse::Ok().json(serde_json::json!({ "items": items })))
        }
    }
}

/// Parses a body; an empty one counts as `{}`. Unknown fields are refused.
fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    serde_json::from_slice(body)
        .map_err(|e| ApiError::validation(format!("The request body is not valid: {e}.")))
}

fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(first) => first.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn parse_reason(reason: Option<String>) -> Result<Option<String>, ApiError> {
    match reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty())
    {
        Some(r) if r.chars().count() > MAX_REASON || r.chars().any(char::is_control) => {
            Err(ApiError::validation(format!(
                "The reason must be at most {MAX_REASON} printable characters on one line."
            )))
        }
        other => Ok(other),
    }
}

fn check_service_id(service_id: i64) -> Result<i64, ApiError> {
    if service_id >= 1 {
        Ok(service_id)
    } else {
        Err(ApiError::validation(format!(
            "service_id must be a WHMCS service id (a positive number), got {service_id}."
        )))
    }
}

/// The caller's tenant of this WHMCS service, or 404.
async fn tenant_of_service(
    state: &AppState,
    caller: &Caller,
    service_id: i64,
) -> Result<Tenant, ApiError> {
    let sid = check_service_id(service_id)?;
    let rid = caller.reseller_id;
    state
        .db
        .run(move |conn| repo::by_service(conn, rid, sid))
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "No archive tenant is linked to WHMCS service {service_id}."
            ))
        })
}

fn tenant_url(state: &AppState, caller: &Caller, slug: &str) -> String {
    let base = caller
        .base_domain
        .as_deref()
        .unwrap_or(&state.settings.base_domain);
    state.settings.tenant_url(slug, base)
}

fn view(state: &AppState, caller: &Caller, t: &Tenant) -> TenantView {
    TenantView::new(t, tenant_url(state, caller, &t.slug))
}

fn tenant_answer(state: &AppState, caller: &Caller, t: &Tenant) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({ "tenant": view(state, caller, t) }))
}

/// A sentence for the WHMCS admin, who chose the slug in the service's "Tenant Slug" field or
/// its domain.
fn slug_problem(input: &str, e: &SlugError) -> ApiError {
    let detail = match e {
        SlugError::Reserved(_) => format!(
            "The tenant slug {input:?} is reserved for the archive service itself; choose another one."
        ),
        other => format!(
            "The tenant slug {input:?} is not valid ({other}): use 3-48 lowercase letters, digits or hyphens, starting with a letter."
        ),
    };
    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "slug_invalid", detail)
}

async fn create_account(
    state: &AppState,
    caller: &Caller,
    actor: &Actor,
    b: CreateAccountBody,
) -> Result<HttpResponse, ApiError> {
    let service_id = check_service_id(b.service_id)?;
    let slug = Slug::parse(&b.slug).map_err(|e| slug_problem(&b.slug, &e))?;
    let name = provisioning::parse_name(&b.name)?;
    let plan = Plan::parse(&b.plan, b.max_users, b.storage_gb, None)
        .map_err(|e| ApiError::validation(capitalised(&e.to_string())))?;
    let created = provisioning::create(
        state,
        actor,
        CreateRequest {
            reseller_id: caller.reseller_id,
            slug,
            name,
            sandbox: false,
            plan,
            branding: Branding::default(),
            whmcs_service_id: Some(service_id),
            admin: Some(AdminAccount {
                email: b.admin.email,
                password: b.admin.password,
            }),
        },
    )
    .await?;
    let (status, t) = match created {
        Created::New(t) => (StatusCode::CREATED, t),
        Created::Existing(t) => (StatusCode::OK, t),
    };
    Ok(HttpResponse::build(status).json(serde_json::json!({ "tenant": view(state, caller, &t) })))
}

async fn single_sign_on(
    state: &AppState,
    caller: &Caller,
    t: &Tenant,
) -> Result<HttpResponse, ApiError> {
    match t.status() {
        TenantStatus::Active => {}
        TenantStatus::Suspended => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "tenant_suspended",
                format!(
                    "The tenant {:?} is suspended, so nobody can log in; unsuspend it first.",
                    t.slug
                ),
            ));
        }
        TenantStatus::Provisioning | TenantStatus::Failed => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "tenant_not_ready",
                "The tenant is not provisioned (it is still being created, or its creation failed).",
            ));
        }
    }
    let id = t.id;
    let (token, expires_at) = state
        .db
        .run(move |conn| crate::sso::issue(conn, id))
        .await?;
    let url = format!(
        "{}{}{token}",
        tenant_url(state, caller, &t.slug),
        crate::sso::PATH_PREFIX
    );
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(serde_json::json!({ "url": url, "expires_at": expires_at })))
}
