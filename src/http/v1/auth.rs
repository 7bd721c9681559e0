//! The reseller behind a REST request, from `Authorization: Bearer <api key>`.

use std::future::Future;
use std::pin::Pin;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use uuid::Uuid;

use crate::audit::Actor;
use crate::http::ApiError;
use crate::state::AppState;

/// An authenticated reseller.
#[derive(Debug, Clone)]
pub struct ResellerAuth {
    pub id: Uuid,
    pub name: String,
    pub base_domain: Option<String>,
}

impl ResellerAuth {
    pub fn actor(&self) -> Actor {
        Actor::ApiKey {
            reseller: self.name.clone(),
        }
    }
}

/// Longest API key looked at (ours are 47 characters).
const MAX_KEY_LEN: usize = 200;

impl FromRequest for ResellerAuth {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let key = req
            .headers()
            .get(actix_web::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(|k| k.trim().to_owned());
        Box::pin(async move {
            let state =
                state.ok_or_else(|| ApiError::Unexpected(anyhow::anyhow!("no app state")))?;
            let key = key
                .filter(|k| !k.is_empty() && k.len() <= MAX_KEY_LEN)
                .ok_or_else(ApiError::unauthorized)?;
            let found = state
                .db
                .run(move |conn| crate::reseller::authenticate_api_key(conn, &key))
                .await?;
            let r = found.ok_or_else(ApiError::unauthorized)?;
            Ok(ResellerAuth {
                id: r.id,
                name: r.name,
                base_domain: r.base_domain,
            })
        })
    }
}
