//! Suspend and unsuspend: both idempotent, both non-destructive.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ResellerAuth, owned_tenant, tenants::parse_json, view};
use crate::http::ApiError;
use crate::provisioning;
use crate::state::AppState;
use crate::tenant::TenantView;

/// Longest suspension reason kept.
const MAX_REASON: usize = 500;

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    /// Why, for the audit trail and the reseller's records (e.g. "overdue invoice 1042").
    pub reason: Option<String>,
}

pub fn parse_reason(r: Option<String>) -> Result<Option<String>, ApiError> {
    match r.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()) {
        Some(s)
            if s.chars().count() > MAX_REASON || s.chars().any(|c| c.is_control() && c != '\n') =>
        {
            Err(ApiError::validation(format!(
                "The reason must be at most {MAX_REASON} printable characters."
            )))
        }
        other => Ok(other),
    }
}

#[utoipa::path(post, path = "/v1/tenants/{slug}/suspend", tag = "lifecycle", params(("slug" = String, Path)), request_body(content = Option<SuspendBody>),
    responses((status = 200, body = TenantView)), security(("api_key" = [])))]
pub async fn suspend_tenant(
    state: web::Data<AppState>,
    who: ResellerAuth,
    slug: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let t = owned_tenant(&state, &who, &slug).await?;
    let body: SuspendBody = if body.iter().all(u8::is_ascii_whitespace) {
        SuspendBody::default()
    } else {
        parse_json(&body)?
    };
    let reason = parse_reason(body.reason)?;
    let t = provisioning::suspend(&state, &who.actor(), t.id, reason).await?;
    Ok(HttpResponse::Ok().json(view(&state, &who, &t)))
}

#[utoipa::path(post, path = "/v1/tenants/{slug}/unsuspend", tag = "lifecycle", params(("slug" = String, Path)),
    responses((status = 200, body = TenantView)), security(("api_key" = [])))]
pub async fn unsuspend_tenant(
    state: web::Data<AppState>,
    who: ResellerAuth,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = owned_tenant(&state, &who, &slug).await?;
    let t = provisioning::unsuspend(&state, &who.actor(), t.id).await?;
    Ok(HttpResponse::Ok().json(view(&state, &who, &t)))
}
