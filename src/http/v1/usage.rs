//! Usage of one tenant or all of a reseller's tenants (from the cached figures: no fan-out),
//! and the slug check for order forms.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::tenants::{PageQuery, load_page};
use super::{ResellerAuth, owned_tenant};
use crate::domain::Slug;
use crate::http::ApiError;
use crate::state::AppState;
use crate::tenant::{UsageView, repo};

#[utoipa::path(get, path = "/v1/tenants/{slug}/usage", tag = "usage", params(("slug" = String, Path)),
    responses((status = 200, body = UsageView)), security(("api_key" = [])))]
pub async fn tenant_usage(
    state: web::Data<AppState>,
    who: ResellerAuth,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = owned_tenant(&state, &who, &slug).await?;
    Ok(HttpResponse::Ok().json(UsageView::new(&t)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsagePage {
    pub items: Vec<UsageView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/usage", tag = "usage", params(PageQuery),
    responses((status = 200, body = UsagePage)), security(("api_key" = [])))]
pub async fn all_usage(
    state: web::Data<AppState>,
    who: ResellerAuth,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (rows, next_cursor) = load_page(&state, &who, &q).await?;
    Ok(HttpResponse::Ok().json(UsagePage {
        items: rows.iter().map(UsageView::new).collect(),
        next_cursor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlugCheck {
    pub slug: String,
    pub valid: bool,
    /// Valid and not used by any tenant of any reseller.
    pub available: bool,
    /// Why not, in a sentence for an order form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[utoipa::path(get, path = "/v1/slugs/{slug}", tag = "tenants", params(("slug" = String, Path)),
    responses((status = 200, body = SlugCheck)), security(("api_key" = [])))]
pub async fn check_slug(
    state: web::Data<AppState>,
    _who: ResellerAuth,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let input = slug.into_inner();
    let check = match Slug::parse(&input) {
        Err(e) => SlugCheck {
            slug: input,
            valid: false,
            available: false,
            reason: Some(format!("{e}.")),
        },
        Ok(s) => {
            let name = s.to_string();
            let taken = state
                .db
                .run(move |conn| repo::by_slug(conn, &name))
                .await?
                .is_some();
            SlugCheck {
                slug: s.to_string(),
                valid: true,
                available: !taken,
                reason: taken.then(|| "This slug is already taken.".to_owned()),
            }
        }
    };
    Ok(HttpResponse::Ok().json(check))
}
