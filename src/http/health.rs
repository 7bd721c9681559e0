//! Liveness and readiness for load balancers and operators.

use actix_web::{HttpResponse, get, web};
use serde_json::json;

use crate::state::AppState;

/// Up: the process answers.
#[get("/healthz")]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// Ready: the control database and the bucket are reachable; 503 names what is not.
#[get("/readyz")]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let db = state
        .db
        .run(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("SELECT 1")
                .execute(conn)
                .map_err(anyhow::Error::from)
        })
        .await;
    let bucket = state.bucket.check().await;
    let mut failures = Vec::new();
    if let Err(e) = &db {
        failures.push(format!("control database: {e}"));
    }
    if let Err(e) = &bucket {
        failures.push(format!("object storage: {e}"));
    }
    if failures.is_empty() {
        HttpResponse::Ok().json(json!({"status": "ready", "database": "ok", "storage": "ok"}))
    } else {
        tracing::warn!(?failures, "not ready");
        HttpResponse::ServiceUnavailable().json(json!({
            "status": "unavailable",
            "database": if db.is_ok() { "ok" } else { "unreachable" },
            "storage": if bucket.is_ok() { "ok" } else { "unreachable" },
            "reasons": failures,
        }))
    }
}
