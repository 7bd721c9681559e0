//! Mail-ingest tokens of a tenant: issue one (shown once) and revoke it.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{ResellerAuth, owned_tenant};
use crate::audit;
use crate::edge::ingest_token;
use crate::http::ApiError;
use crate::state::AppState;

/// A new ingest token. The token is shown only in this answer; keep it in the mail relay.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedIngestToken {
    pub id: Uuid,
    /// Send as `Authorization: Bearer <token>` to `POST /ingest` on the tenant's host.
    pub token: String,
    pub created_at: DateTime<Utc>,
}

#[utoipa::path(post, path = "/v1/tenants/{slug}/ingest-tokens", tag = "ingest", params(("slug" = String, Path)),
    responses((status = 201, body = IssuedIngestToken), (status = 404, body = crate::http::problem::Problem)), security(("api_key" = [])))]
pub async fn issue_ingest_token(
    state: web::Data<AppState>,
    who: ResellerAuth,
    slug: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let t = owned_tenant(&state, &who, &slug).await?;
    let actor = who.actor();
    let issued = state
        .db
        .run(move |conn| {
            diesel::Connection::transaction(conn, |conn| {
                let issued = ingest_token::issue(conn, t.id)?;
                audit::record(
                    conn,
                    audit::Event {
                        reseller_id: Some(t.reseller_id),
                        slug: &t.slug,
                        actor: &actor,
                        action: "tenant.ingest_token_issued",
                        reason: None,
                        details: serde_json::json!({"token_id": issued.id}),
                    },
                )?;
                Ok::<_, ApiError>(issued)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(IssuedIngestToken {
        id: issued.id,
        token: issued.token,
        created_at: issued.created_at,
    }))
}

#[utoipa::path(delete, path = "/v1/tenants/{slug}/ingest-tokens/{id}", tag = "ingest", params(("slug" = String, Path), ("id" = Uuid, Path)),
    responses((status = 204, description = "Revoked (also when it was already)"), (status = 404, body = crate::http::problem::Problem)), security(("api_key" = [])))]
pub async fn revoke_ingest_token(
    state: web::Data<AppState>,
    who: ResellerAuth,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (slug, id) = path.into_inner();
    let t = owned_tenant(&state, &who, &slug).await?;
    let id = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("No such ingest token."))?;
    let actor = who.actor();
    let found = state
        .db
        .run(move |conn| {
            diesel::Connection::transaction(conn, |conn| {
                let found = ingest_token::revoke(conn, t.id, id)?;
                if found {
                    audit::record(
                        conn,
                        audit::Event {
                            reseller_id: Some(t.reseller_id),
                            slug: &t.slug,
                            actor: &actor,
                            action: "tenant.ingest_token_revoked",
                            reason: None,
                            details: serde_json::json!({"token_id": id}),
                        },
                    )?;
                }
                Ok::<_, ApiError>(found)
            })
        })
        .await?;
    if !found {
        return Err(ApiError::not_found("No such ingest token for this tenant."));
    }
    Ok(HttpResponse::NoContent().finish())
}
