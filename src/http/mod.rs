//! The HTTP surface: health, the reseller REST API under `/v1`, the WHMCS channel under
//! `/whmcs/v1`. Handlers return [`ApiError`].

pub mod health;
pub mod idempotent;
pub mod problem;
pub mod request_id;
pub mod v1;
pub mod whmcs;

use actix_web::web;

pub use problem::ApiError;

/// Largest JSON body accepted by the API.
pub const JSON_LIMIT: usize = 64 * 1024;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(problem::json_config(JSON_LIMIT))
        .app_data(problem::query_config())
        .app_data(problem::path_config())
        .service(health::healthz)
        .service(health::readyz)
        .configure(v1::configure);
    cfg.configure(whmcs::configure);
}
