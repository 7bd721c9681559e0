//! Puts the request id (from `tracing-actix-web`) in an `x-request-id` header on every
//! response and in the body of every problem document, so a WHMCS module-log line or a
//! reseller's bug report can be matched to our logs; and writes one access-log line per request.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing_actix_web::RequestId;

use super::problem::PROBLEM_CONTENT_TYPE;

pub const HEADER: &str = "x-request-id";

pub async fn attach(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let id = req.extensions().get::<RequestId>().map(|r| r.to_string());
    let started = std::time::Instant::now();
    let res = next.call(req).await?;
    // The access log line; method, route and request id come from the request's root span.
    tracing::info!(
        status = res.status().as_u16(),
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request served"
    );
    let Some(id) = id else {
        return Ok(res.map_into_boxed_body());
    };
    let is_problem = res
        .headers()
        .get(CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_CONTENT_TYPE.as_bytes()));
    let (req, mut res) = res.into_parts();
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HeaderName::from_static(HEADER), v);
    }
    if !is_problem {
        return Ok(ServiceResponse::new(req, res.map_into_boxed_body()));
    }
    let (head, body) = res.into_parts();
    let bytes = actix_web::body::to_bytes(body).await.unwrap_or_default();
    let patched = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(mut map)) => {
            map.insert("request_id".into(), serde_json::Value::String(id));
            serde_json::to_vec(&map).unwrap_or_else(|_| bytes.to_vec())
        }
        _ => bytes.to_vec(),
    };
    Ok(ServiceResponse::new(
        req,
        head.set_body(BoxBody::new(patched)),
    ))
}
