//! The OpenAPI document of `/v1`, generated from the handlers' annotations.

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "ema-bridge reseller API", description = "Tenant lifecycle of the email archive, for resellers."),
    paths(
        super::tenants::create_tenant,
        super::tenants::list_tenants,
        super::tenants::get_tenant,
        super::tenants::update_tenant,
        super::tenants::delete_tenant,
        super::lifecycle::suspend_tenant,
        super::lifecycle::unsuspend_tenant,
        super::usage::tenant_usage,
        super::usage::all_usage,
        super::usage::check_slug,
        super::branding::upload_asset,
        super::branding::remove_asset,
        super::ingest_tokens::issue_ingest_token,
        super::ingest_tokens::revoke_ingest_token,
    ),
    components(schemas(crate::http::problem::Problem)),
    modifiers(&BearerAuth)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "api_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
