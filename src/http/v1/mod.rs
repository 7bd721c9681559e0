//! The reseller REST API under `/v1`: bearer API key, JSON, problem+json errors. A reseller
//! sees only its own tenants; another reseller's tenant is "not found".

pub mod auth;
mod branding;
mod ingest_tokens;
mod lifecycle;
pub mod openapi;
mod tenants;
mod usage;

use actix_web::http::StatusCode;
use actix_web::web;

use crate::domain::SlugError;
use crate::http::ApiError;
use crate::provisioning::ProvisionError;
use crate::state::AppState;
use crate::tenant::{Tenant, TenantView, repo};

pub use auth::ResellerAuth;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/v1")
            .route("/openapi.json", web::get().to(openapi::serve))
            .route("/tenants", web::post().to(tenants::create_tenant))
            .route("/tenants", web::get().to(tenants::list_tenants))
            .route("/tenants/{slug}", web::get().to(tenants::get_tenant))
            .route("/tenants/{slug}", web::patch().to(tenants::update_tenant))
            .route("/tenants/{slug}", web::delete().to(tenants::delete_tenant))
            .route(
                "/tenants/{slug}/suspend",
                web::post().to(lifecycle::suspend_tenant),
            )
            .route(
                "/tenants/{slug}/unsuspend",
                web::post().to(lifecycle::unsuspend_tenant),
            )
            .route("/tenants/{slug}/usage", web::get().to(usage::tenant_usage))
            .service(
                web::resource("/tenants/{slug}/branding/{asset}")
                    // Images may be up to MAX_IMAGE_BYTES; actix's default body limit is 256 KiB.
                    // One byte more lets the content check name the size in its answer.
                    .app_data(web::PayloadConfig::new(crate::domain::MAX_IMAGE_BYTES + 1))
                    .route(web::put().to(branding::upload_asset))
                    .route(web::delete().to(branding::remove_asset)),
            )
            .route(
                "/tenants/{slug}/ingest-tokens",
                web::post().to(ingest_tokens::issue_ingest_token),
            )
            .route(
                "/tenants/{slug}/ingest-tokens/{id}",
                web::delete().to(ingest_tokens::revoke_ingest_token),
            )
            .route("/usage", web::get().to(usage::all_usage))
            .route("/slugs/{slug}", web::get().to(usage::check_slug)),
    );
}

pub fn slug_problem(input: &str, e: &SlugError) -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "slug_invalid",
        format!("The slug {input:?} is not valid: {e}."),
    )
}

impl From<ProvisionError> for ApiError {
    fn from(e: ProvisionError) -> Self {
        match e {
            ProvisionError::SlugTaken(s) => ApiError::new(
                StatusCode::CONFLICT,
                "slug_taken",
                format!("The slug {s:?} is already used by another tenant."),
            ),
            ProvisionError::ServiceConflict {
                service_id,
                existing,
            } => ApiError::new(
                StatusCode::CONFLICT,
                "service_conflict",
                format!(
                    "WHMCS service {service_id} already has the tenant {existing:?}; one service cannot own two tenants."
                ),
            ),
            ProvisionError::NotFound => ApiError::not_found("No such tenant."),
            ProvisionError::Busy => {
                ApiError::new(StatusCode::CONFLICT, "tenant_busy", e.to_string())
            }
            ProvisionError::NotReady => ApiError::new(
                StatusCode::CONFLICT,
                "tenant_not_ready",
                "The tenant is not provisioned (it is still being created, or its creation failed).",
            ),
            ProvisionError::Invalid(m) => ApiError::validation(m),
            ProvisionError::Refused(m) => ApiError::new(StatusCode::CONFLICT, "refused", m),
            ProvisionError::Unexpected(e) => ApiError::Unexpected(e),
        }
    }
}

/// The caller's tenant by slug, or 404 (also for another reseller's tenant and bad slugs).
pub async fn owned_tenant(
    state: &AppState,
    who: &ResellerAuth,
    slug: &str,
) -> Result<Tenant, ApiError> {
    let (rid, s) = (who.id, slug.to_owned());
    state
        .db
        .run(move |conn| repo::owned(conn, rid, &s))
        .await?
        .ok_or_else(|| ApiError::not_found(format!("No tenant {slug:?} in your account.")))
}

/// The base domain of a reseller's tenants: its own, else the global default.
pub fn base_domain_of<'a>(state: &'a AppState, who: &'a ResellerAuth) -> &'a str {
    who.base_domain
        .as_deref()
        .unwrap_or(&state.settings.base_domain)
}

pub fn view(state: &AppState, who: &ResellerAuth, t: &Tenant) -> TenantView {
    TenantView::new(
        t,
        state
            .settings
            .tenant_url(&t.slug, base_domain_of(state, who)),
    )
}
