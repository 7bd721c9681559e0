//! The usage push: for every reseller that configured WHMCS API credentials, each tenant linked
//! to a WHMCS service gets its disk usage and limit (MB) written with the WHMCS API action
//! `UpdateClientProduct` (form-encoded, `responsetype=json`, `result` checked). Transport errors
//! and 5xx answers are retried with back-off; a WHMCS `result: error` is final. Nothing logged or
//! returned contains the API secret. One call returns [`PushError`]; a pass returns `anyhow`.

use std::time::Duration;

use anyhow::Context;
use diesel::prelude::*;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::db::schema::{resellers, tenants};
use crate::state::AppState;
use crate::tenant::TenantStatus;

const BYTES_PER_MB: i64 = 1024 * 1024;
const MB_PER_GB: i64 = 1024;

/// Why one `UpdateClientProduct` call failed (after its retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PushError {
    /// WHMCS answered `{"result":"error","message":...}`.
    #[error("WHMCS refused the update: {0}")]
    Refused(String),
    #[error("WHMCS answered HTTP {0}")]
    Status(u16),
    #[error("WHMCS could not be reached: {0}")]
    Transport(String),
    #[error("WHMCS answered something that is not its API's JSON: {0}")]
    InvalidAnswer(String),
}

impl PushError {
    /// Worth another try: the request may not have been processed.
    fn is_transient(&self) -> bool {
        match self {
            Self::Transport(_) => true,
            Self::Status(s) => *s >= 500 || *s == 429,
            Self::Refused(_) | Self::InvalidAnswer(_) => false,
        }
    }
}

/// Attempts and waits of one update.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Wait before each retry; its length + 1 is the number of attempts.
    pub delays: Vec<Duration>,
    /// Bound on one HTTP call.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            delays: vec![
                Duration::from_secs(1),
                Duration::from_secs(2),
                Duration::from_secs(4),
            ],
            timeout: Duration::from_secs(30),
        }
    }
}

/// A reseller's WHMCS API endpoint (`https://whmcs.example/includes/api.php`) and credentials.
pub struct WhmcsApi {
    pub url: String,
    pub identifier: String,
    pub secret: SecretString,
}

impl std::fmt::Debug for WhmcsApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WhmcsApi {{ url: {}, identifier: {}, .. }}",
            self.url, self.identifier
        )
    }
}

/// The figures WHMCS stores in `tblhosting`, in MB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DiskUpdate {
    pub service_id: i64,
    pub disk_usage_mb: i64,
    pub disk_limit_mb: i64,
}

impl DiskUpdate {
    pub fn new(service_id: i64, storage_bytes: i64, storage_gb: i32) -> Self {
        Self {
            service_id,
            // Rounded to the nearest MB, as the module's UsageUpdate does.
            disk_usage_mb: (storage_bytes.max(0) + BYTES_PER_MB / 2) / BYTES_PER_MB,
            disk_limit_mb: i64::from(storage_gb) * MB_PER_GB,
        }
    }
}

#[derive(Deserialize)]
struct ApiAnswer {
    result: Option<String>,
    message: Option<String>,
}

async fn call_once(
    client: &reqwest::Client,
    api: &WhmcsApi,
    update: DiskUpdate,
    timeout: Duration,
) -> Result<(), PushError> {
    let form = [
        ("action", "UpdateClientProduct".to_owned()),
        ("identifier", api.identifier.clone()),
        ("secret", api.secret.expose_secret().to_owned()),
        ("responsetype", "json".to_owned()),
        ("serviceid", update.service_id.to_string()),
        ("diskusage", update.disk_usage_mb.to_string()),
        ("disklimit", update.disk_limit_mb.to_string()),
    ];
    let body = serde_urlencoded::to_string(form)
        .map_err(|e| PushError::InvalidAnswer(format!("could not encode the form: {e}")))?;
    let res = client
        .post(&api.url)
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(timeout)
        .body(body)
        .send()
        .await
        // Without the URL: a reseller may have put credentials in it.
        .map_err(|e| PushError::Transport(e.without_url().to_string()))?;
    let status = res.status();
    let text = res
        .text()
        .await
        .map_err(|e| PushError::Transport(e.without_url().to_string()))?;
    // WHMCS puts `result`/`message` in the body whatever the status (authentication failures
    // come with 403 in recent versions); a 5xx is worth a retry even with a message.
    let answer = serde_json::from_str::<ApiAnswer>(&text).ok();
    match answer {
        _ if status.is_server_error() || status.as_u16() == 429 => {
            Err(PushError::Status(status.as_u16()))
        }
        Some(a) if a.result.as_deref() == Some("success") && status.is_success() => Ok(()),
        Some(a) if a.result.as_deref() == Some("error") => Err(PushError::Refused(shorten(
            a.message.as_deref().unwrap_or("no message"),
            &api.secret,
        ))),
        _ if !status.is_success() => Err(PushError::Status(status.as_u16())),
        _ => Err(PushError::InvalidAnswer(shorten(&text, &api.secret))),
    }
}

/// Text from WHMCS for a log line: one line, at most 200 characters, never the secret (a
/// misconfigured endpoint may echo the request).
fn shorten(text: &str, secret: &SecretString) -> String {
    let mut s: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let secret = secret.expose_secret();
    if !secret.is_empty() {
        let encoded: String = url::form_urlencoded::byte_serialize(secret.as_bytes()).collect();
        s = s
            .replace(secret, "[redacted]")
            .replace(&encoded, "[redacted]");
    }
    if s.chars().count() > 200 {
        s = s.chars().take(200).collect::<String>() + "…";
    }
    s
}

/// One `UpdateClientProduct`, retried on transient failures as `policy` says.
pub async fn update_client_product(
    client: &reqwest::Client,
    api: &WhmcsApi,
    update: DiskUpdate,
    policy: &RetryPolicy,
) -> Result<(), PushError> {
    let mut delays = policy.delays.iter();
    loop {
        match call_once(client, api, update, policy.timeout).await {
            Ok(()) => return Ok(()),
            Err(e) if e.is_transient() => match delays.next() {
                Some(wait) => {
                    tracing::debug!(service_id = update.service_id, error = %e, retry_in = ?wait, "WHMCS usage push failed; retrying");
                    tokio::time::sleep(*wait).await;
                }
                None => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct PushSummary {
    pub updated: usize,
    pub failed: usize,
}

type Target = (
    uuid::Uuid,
    String,
    Option<String>,
    Option<String>,
    Option<String>,
);

/// Pushes every linked tenant of every reseller with WHMCS API credentials once.
pub async fn push_once(
    state: &AppState,
    client: &reqwest::Client,
    policy: &RetryPolicy,
) -> anyhow::Result<PushSummary> {
    let resellers: Vec<Target> = state
        .db
        .run(|conn| {
            resellers::table
                .filter(resellers::whmcs_api_url.is_not_null())
                .select((
                    resellers::id,
                    resellers::name,
                    resellers::whmcs_api_url,
                    resellers::whmcs_api_identifier,
                    resellers::whmcs_api_secret,
                ))
                .load(conn)
        })
        .await
        .context("could not list resellers with WHMCS API credentials")?;
    let mut summary = PushSummary::default();
    for (reseller_id, name, url, identifier, secret) in resellers {
        let (Some(url), Some(identifier), Some(secret)) = (url, identifier, secret) else {
            tracing::warn!(reseller = %name, "WHMCS API URL set without identifier and secret; usage not pushed");
            continue;
        };
        let api = WhmcsApi {
            url,
            identifier,
            secret: SecretString::from(secret),
        };
        let linked: Vec<(i64, Option<i64>, Option<i64>, i32)> = state
            .db
            .run(move |conn| {
                tenants::table
                    .filter(tenants::reseller_id.eq(reseller_id))
                    .filter(tenants::whmcs_service_id.is_not_null())
                    .filter(tenants::status.eq_any([
                        TenantStatus::Active.as_str(),
                        TenantStatus::Suspended.as_str(),
                    ]))
                    .order(tenants::whmcs_service_id.asc())
                    .select((
                        tenants::whmcs_service_id.assume_not_null(),
                        tenants::db_bytes,
                        tenants::s3_bytes,
                        tenants::storage_gb,
                    ))
                    .load(conn)
            })
            .await
            .with_context(|| format!("could not list the tenants of reseller {name}"))?;
        for (service_id, db_bytes, s3_bytes, storage_gb) in linked {
            let bytes = db_bytes.unwrap_or(0) + s3_bytes.unwrap_or(0);
            let update = DiskUpdate::new(service_id, bytes, storage_gb);
            match update_client_product(client, &api, update, policy).await {
                Ok(()) => summary.updated += 1,
                Err(e) => {
                    summary.failed += 1;
                    tracing::warn!(reseller = %name, service_id, error = %e, "WHMCS usage push failed");
                }
            }
        }
    }
    Ok(summary)
}
