//! Create, list, read, update and (refuse to) delete tenants.

use actix_web::http::StatusCode;
use actix_web::http::header::LOCATION;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::{ResellerAuth, owned_tenant, slug_problem, view};
use crate::domain::{Branding, HexColor, Plan, Slug};
use crate::http::{ApiError, idempotent};
use crate::provisioning::{self, AdminAccount, CreateRequest, Created};
use crate::state::AppState;
use crate::tenant::{TenantStatus, TenantView, repo};

/// Largest page of a tenant list.
pub const MAX_PAGE: i64 = 200;
const DEFAULT_PAGE: i64 = 50;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenantBody {
    /// 3-48 of a-z, 0-9 and '-', starting with a letter, not ending with '-'. Immutable.
    pub slug: String,
    pub name: String,
    /// A test tenant: never billed.
    #[serde(default)]
    pub sandbox: bool,
    pub admin: Option<AdminBody>,
    pub plan: Option<PlanBody>,
    pub branding: Option<BrandingBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminBody {
    pub email: String,
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PlanBody {
    pub code: String,
    pub max_users: i64,
    pub storage_gb: i64,
    pub gb_per_licence: Option<i64>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BrandingBody {
    /// `null` removes the override.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub custom_name: Option<Option<String>>,
    /// `#RRGGBB`; `null` removes the override.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub primary_color: Option<Option<String>>,
}

/// Distinguishes an absent field (None) from an explicit null (Some(None)).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

impl BrandingBody {
    /// Applies the body to `current`.
    fn apply(&self, mut current: Branding) -> Result<Branding, ApiError> {
        if let Some(name) = &self.custom_name {
            current.custom_name = name
                .as_deref()
                .map(Branding::parse_custom_name)
                .transpose()
                .map_err(|e| ApiError::validation(e.to_string()))?;
        }
        if let Some(color) = &self.primary_color {
            current.primary_color = color
                .as_deref()
                .map(HexColor::parse)
                .transpose()
                .map_err(|e| ApiError::validation(e.to_string()))?;
        }
        Ok(current)
    }
}

#[utoipa::path(post, path = "/v1/tenants", tag = "tenants", request_body = CreateTenantBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the stored answer for a repeated request")),
    responses((status = 201, body = TenantView), (status = 202, body = TenantView, description = "Accepted; provisioning continues in the background"),
        (status = 409, body = crate::http::problem::Problem), (status = 422, body = crate::http::problem::Problem)),
    security(("api_key" = [])))]
pub async fn create_tenant(
    state: web::Data<AppState>,
    who: ResellerAuth,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let key = idempotent::key_of(&req)?;
    let fp = idempotent::fingerprint(&req, &body);
    let st = state.clone();
    let w = who.clone();
    idempotent::run(&state, who.id, key, fp, async move {
        create(&st, &w, &body).await
    })
    .await
}

async fn create(
    state: &AppState,
    who: &ResellerAuth,
    body: &[u8],
) -> Result<HttpResponse, ApiError> {
    let body: CreateTenantBody = parse_json(body)?;
    let slug = Slug::parse(&body.slug).map_err(|e| slug_problem(&body.slug, &e))?;
    let name = provisioning::parse_name(&body.name)?;
    let plan = match &body.plan {
        Some(p) => Plan::parse(&p.code, p.max_users, p.storage_gb, p.gb_per_licence)
            .map_err(|e| ApiError::validation(e.to_string()))?,
        None => Plan::standard(),
    };
    let branding = body
        .branding
        .as_ref()
        .map(|b| b.apply(Branding::default()))
        .transpose()?
        .unwrap_or_default();
    let admin = body.admin.map(|a| AdminAccount {
        email: a.email,
        password: a.password.into(),
    });
    let created = provisioning::create(
        state,
        &who.actor(),
        CreateRequest {
            reseller_id: who.id,
            slug,
            name,
            sandbox: body.sandbox,
            plan,
            branding,
            whmcs_service_id: None,
            admin,
        },
    )
    .await?;
    let t = match created {
        Created::New(t) | Created::Existing(t) => t,
    };
    let status = if t.status() == TenantStatus::Active {
        StatusCode::CREATED
    } else {
        StatusCode::ACCEPTED
    };
    Ok(HttpResponse::build(status)
        .insert_header((LOCATION, format!("/v1/tenants/{}", t.slug)))
        .json(view(state, who, &t)))
}

/// Parses a JSON body, turning serde's message into a validation problem.
pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.len() > crate::http::JSON_LIMIT {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "The request body is too large.",
        ));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::validation(format!("The request body is not valid: {e}.")))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct PageQuery {
    /// 1-200, default 50.
    pub limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// The page size and the slug to continue after.
    pub fn parse(&self) -> Result<(i64, Option<String>), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ApiError::validation(format!(
                "limit must be between 1 and {MAX_PAGE}."
            )));
        }
        let after = match &self.cursor {
            None => None,
            Some(c) => Some(decode_cursor(c).ok_or_else(|| {
                ApiError::validation("The cursor is not valid; start again without one.")
            })?),
        };
        Ok((limit, after))
    }
}

/// Cursors are opaque to clients: the last slug of the page, versioned and encoded.
pub fn encode_cursor(last_slug: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{last_slug}"))
}

fn decode_cursor(c: &str) -> Option<String> {
    let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(c).ok()?).ok()?;
    let slug = raw.strip_prefix("v1:")?;
    Slug::parse(slug).ok().map(|s| s.to_string())
}

/// One page of the caller's tenants and the cursor of the next page, if there is one.
pub async fn load_page(
    state: &AppState,
    who: &ResellerAuth,
    q: &PageQuery,
) -> Result<(Vec<crate::tenant::Tenant>, Option<String>), ApiError> {
    let (limit, after) = q.parse()?;
    let rid = who.id;
    // One row more than the page tells whether another page follows.
    let mut rows = state
        .db
        .run(move |conn| repo::page(conn, rid, after.as_deref(), limit + 1))
        .await?;
    let more = rows.len() as i64 > limit;
    rows.truncate(limit as usize);
    let next = if more {
        rows.last().map(|t| encode_cursor(&t.slug))
    } else {
        None
    };
    Ok((rows, next))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TenantPage {
    pub items: Vec<TenantView>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/tenants", tag = "tenants", params(PageQuery),
    responses((status = 200, body = TenantPage)), security(("api_key" = [])))]
pub async fn list_tenants(
    state: web::Data<AppState>,
    who: ResellerAuth,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let (rows, next_cursor) = load_page(&state, &who, &q).await?;
    Ok(HttpResponse::Ok().json(TenantPage {
        items: rows.iter().map(|t| view(&state, &who, t)).collect(),
        next_cursor,
    }))
}

#[utoipa::path(get, path = "/v1/tenants/{slug}", tag = "tenants", params(("slug" = String, Path)),
    responses((status = 200, body = TenantView), (status = 404, body = crate::http::problem::Problem)), security(("api_key" = [])))]
pub async fn get_tenant(
    state: web::Data<AppState>,
    who: ResellerAuth,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = owned_tenant(&state, &who, &slug).await?;
    Ok(HttpResponse::Ok().json(view(&state, &who, &t)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenantBody {
    pub name: Option<String>,
    pub branding: Option<BrandingBody>,
    /// Cannot change: any other value is refused with `slug_immutable`.
    pub slug: Option<String>,
}

#[utoipa::path(patch, path = "/v1/tenants/{slug}", tag = "tenants", params(("slug" = String, Path)), request_body = UpdateTenantBody,
    responses((status = 200, body = TenantView), (status = 409, body = crate::http::problem::Problem, description = "slug_immutable")),
    security(("api_key" = [])))]
pub async fn update_tenant(
    state: web::Data<AppState>,
    who: ResellerAuth,
    slug: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let t = owned_tenant(&state, &who, &slug).await?;
    let body: UpdateTenantBody = parse_json(&body)?;
    if let Some(new) = &body.slug
        && new != &t.slug
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "slug_immutable",
            "The slug cannot be changed: it names the tenant's database, storage prefix and subdomain. Create a new tenant instead.",
        ));
    }
    let name = body
        .name
        .as_deref()
        .map(provisioning::parse_name)
        .transpose()?;
    let branding = body
        .branding
        .as_ref()
        .map(|b| b.apply(t.branding()))
        .transpose()?;
    let actor = who.actor();
    let id = t.id;
    let updated = state
        .db
        .run(move |conn| crate::tenant::repo::update_profile(conn, id, name, branding, &actor))
        .await?;
    Ok(HttpResponse::Ok().json(view(&state, &who, &updated)))
}

#[utoipa::path(delete, path = "/v1/tenants/{slug}", tag = "tenants", params(("slug" = String, Path)),
    responses((status = 403, body = crate::http::problem::Problem, description = "deletion_requires_support")), security(("api_key" = [])))]
pub async fn delete_tenant(
    state: web::Data<AppState>,
    who: ResellerAuth,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = owned_tenant(&state, &who, &slug).await?;
    Err(ApiError::new(
        StatusCode::FORBIDDEN,
        "deletion_requires_support",
        format!(
            "Deleting a tenant removes all its data permanently and is not available through the API. Suspend {} instead, and contact support to delete it.",
            t.slug
        ),
    ))
}
