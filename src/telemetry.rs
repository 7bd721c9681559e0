//! Logging: human-readable by default, JSON lines with `log.format = "json"`. `RUST_LOG`
//! overrides `log.level`.

use tracing_subscriber::EnvFilter;

use crate::config::{LogFormat, LogSettings};

/// Installs the global subscriber; a second call (tests) is a no-op.
pub fn init(log: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&log.level));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match log.format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Human => builder.try_init(),
    };
}

/// The root span of every HTTP request: like tracing-actix-web's default, but the path is
/// logged without its query string and with single-use tokens (SSO links) masked.
pub struct RootSpan;

impl tracing_actix_web::RootSpanBuilder for RootSpan {
    fn on_request_start(request: &actix_web::dev::ServiceRequest) -> tracing::Span {
        use actix_web::HttpMessage;
        let request_id = request
            .extensions()
            .get::<tracing_actix_web::RequestId>()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let empty = tracing::field::Empty;
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.host = %request.connection_info().host(),
            http.target = %redacted_path(request.path()),
            http.status_code = empty,
            otel.status_code = empty,
            request_id = %request_id,
            exception.message = empty,
            exception.details = empty,
        )
    }

    fn on_request_end<B: actix_web::body::MessageBody>(
        span: tracing::Span,
        outcome: &Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
    ) {
        tracing_actix_web::DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Paths whose last segment is a secret.
const SECRET_PATH_PREFIXES: &[&str] = &["/_ema/sso/"];

fn redacted_path(path: &str) -> String {
    match SECRET_PATH_PREFIXES.iter().find(|p| path.starts_with(**p)) {
        Some(prefix) => format!("{prefix}[redacted]"),
        None => path.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sso_tokens_are_masked_in_logged_paths() {
        assert_eq!(
            super::redacted_path("/_ema/sso/abc123"),
            "/_ema/sso/[redacted]"
        );
        assert_eq!(super::redacted_path("/v1/tenants"), "/v1/tenants");
    }
}
