//! Logo and favicon uploads: content-checked images stored under the tenant's prefix.

use actix_web::{HttpResponse, web};

use super::{ResellerAuth, owned_tenant, view};
use crate::domain::{Branding, ImageKind};
use crate::http::ApiError;
use crate::state::AppState;
use crate::storage::{BrandingAsset, TenantKeys};
use crate::tenant::{TenantView, repo};

fn asset_of(name: &str) -> Result<BrandingAsset, ApiError> {
    match name {
        "logo" => Ok(BrandingAsset::Logo),
        "favicon" => Ok(BrandingAsset::Favicon),
        _ => Err(ApiError::not_found(
            "Branding assets are 'logo' and 'favicon'.",
        )),
    }
}

fn set_key(b: &mut Branding, asset: BrandingAsset, key: Option<String>) -> Option<String> {
    match asset {
        BrandingAsset::Logo => std::mem::replace(&mut b.logo_key, key),
        BrandingAsset::Favicon => std::mem::replace(&mut b.favicon_key, key),
    }
}

#[utoipa::path(put, path = "/v1/tenants/{slug}/branding/{asset}", tag = "tenants",
    params(("slug" = String, Path), ("asset" = String, Path, description = "logo or favicon")),
    request_body(content = Vec<u8>, description = "PNG, JPEG, SVG or ICO, at most 512 KiB", content_type = "application/octet-stream"),
    responses((status = 200, body = TenantView), (status = 415, body = crate::http::problem::Problem)), security(("api_key" = [])))]
pub async fn upload_asset(
    state: web::Data<AppState>,
    who: ResellerAuth,
    path: web::Path<(String, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let (slug, asset) = path.into_inner();
    let asset = asset_of(&asset)?;
    let t = owned_tenant(&state, &who, &slug).await?;
    let kind = ImageKind::sniff(&body).map_err(|e| match e {
        crate::domain::BrandingError::ImageTooLarge { .. } => ApiError::new(
            actix_web::http::StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            e.to_string(),
        ),
        _ => ApiError::new(
            actix_web::http::StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_image",
            format!("{e}."),
        ),
    })?;
    let tenant_slug = t.slug();
    let key = TenantKeys::new(&tenant_slug).branding(asset, kind);
    state
        .bucket
        .put(&key, body.to_vec(), kind.content_type())
        .await
        .map_err(anyhow::Error::from)?;
    let mut branding = t.branding();
    let old = set_key(&mut branding, asset, Some(key.clone()));
    let (id, actor) = (t.id, who.actor());
    let updated = state
        .db
        .run(move |conn| repo::update_profile(conn, id, None, Some(branding), &actor))
        .await?;
    // A different format leaves the previous file behind: remove it.
    if let Some(old) = old.filter(|o| *o != key && TenantKeys::new(&tenant_slug).owns(o)) {
        let _ = state.bucket.delete(&old).await;
    }
    Ok(HttpResponse::Ok().json(view(&state, &who, &updated)))
}

#[utoipa::path(delete, path = "/v1/tenants/{slug}/branding/{asset}", tag = "tenants",
    params(("slug" = String, Path), ("asset" = String, Path)), responses((status = 200, body = TenantView)), security(("api_key" = [])))]
pub async fn remove_asset(
    state: web::Data<AppState>,
    who: ResellerAuth,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (slug, asset) = path.into_inner();
    let asset = asset_of(&asset)?;
    let t = owned_tenant(&state, &who, &slug).await?;
    let mut branding = t.branding();
    let old = set_key(&mut branding, asset, None);
    let (id, actor) = (t.id, who.actor());
    let updated = state
        .db
        .run(move |conn| repo::update_profile(conn, id, None, Some(branding), &actor))
        .await?;
    let tenant_slug = t.slug();
    if let Some(old) = old.filter(|o| TenantKeys::new(&tenant_slug).owns(o)) {
        state
            .bucket
            .delete(&old)
            .await
            .map_err(anyhow::Error::from)?;
    }
    Ok(HttpResponse::Ok().json(view(&state, &who, &updated)))
}
