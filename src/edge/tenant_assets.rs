//! `GET /_ema/branding/{logo|favicon}`: the tenant's branding images, read from its own prefix
//! (never another key, whatever the branding row says). Served while suspended too: the
//! suspended notice is branded.

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpResponse, web};

use super::TenantHost;
use crate::http::ApiError;
use crate::state::AppState;
use crate::storage::TenantKeys;

pub async fn branding_image(
    state: web::Data<AppState>,
    tenant: TenantHost,
    asset: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = match asset.as_str() {
        "logo" => tenant.branding.logo_key.clone(),
        "favicon" => tenant.branding.favicon_key.clone(),
        _ => None,
    }
    .filter(|k| TenantKeys::new(&tenant.slug).owns(k))
    .ok_or_else(|| ApiError::not_found("No such branding image."))?;
    let (bytes, content_type) = state
        .bucket
        .get(&key)
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| ApiError::not_found("No such branding image."))?;
    Ok(HttpResponse::Ok()
        .insert_header((
            CONTENT_TYPE,
            content_type.unwrap_or_else(|| "application/octet-stream".into()),
        ))
        .insert_header((CACHE_CONTROL, "public, max-age=300"))
        // An SVG opened on its own must not run anything either.
        .insert_header((
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .insert_header(("x-content-type-options", "nosniff"))
        .body(bytes))
}
