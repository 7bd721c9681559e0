//! Host routing: which requests belong to a tenant's edge and which to the API host.
//!
//! A Host `{slug}.{base}` is a tenant host when `base` is a reseller's own base domain (that
//! reseller's tenant only) or, for resellers without one, the global `base_domain`. Reserved
//! labels (`www`, `api`…) and every other host are the API host. The [`dispatch`] middleware
//! resolves the host once per request and leaves a [`TenantHost`] in the request's extensions;
//! the [`OnTenantHost`] and [`OnApiHost`] guards split the routes on it, so neither group of
//! routes is reachable from the other kind of host. Errors are [`ApiError`].

use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::guard::{Guard, GuardContext};
use actix_web::middleware::Next;
use actix_web::{Error, FromRequest, HttpMessage, HttpRequest, ResponseError, web};
use uuid::Uuid;

use super::directory::{Directory, EdgeTenant};
use crate::domain::{Slug, SlugError};
use crate::http::ApiError;
use crate::state::AppState;
use crate::tenant::TenantStatus;

/// What a Host header names, before looking anything up.
#[derive(Debug, PartialEq, Eq)]
pub enum HostKind {
    /// Not a tenant host: the REST API, WHMCS and health endpoints.
    Api,
    /// `{slug}.{base}`; `reseller` is the owner of `base`, or `None` for the global base domain.
    Tenant { slug: Slug, reseller: Option<Uuid> },
    /// Under a base domain but cannot be a tenant (bad label, several labels).
    Unknown,
}

/// Lower-cases the host and strips a port and a trailing dot.
pub fn normalize(host: &str) -> String {
    let host = host.trim();
    let without_port = if host.starts_with('[') {
        // An IPv6 literal never names a tenant; keep it whole.
        host
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => host,
        }
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

enum Under<'a> {
    No,
    Label(&'a str),
    Deeper,
}

fn under<'a>(host: &'a str, base: &str) -> Under<'a> {
    match host.strip_suffix(base).and_then(|p| p.strip_suffix('.')) {
        Some(p) if !p.is_empty() && !p.contains('.') => Under::Label(p),
        Some(_) => Under::Deeper,
        None => Under::No,
    }
}

/// Classifies a normalized host against every reseller's own base domain (longest first) and
/// then the global one.
pub fn classify(host: &str, reseller_domains: &[(Uuid, String)], global: &str) -> HostKind {
    let mut best: Option<(usize, Option<Uuid>, Under<'_>)> = None;
    for (id, domain) in reseller_domains {
        let u = under(host, domain);
        if !matches!(u, Under::No) && best.as_ref().is_none_or(|b| domain.len() > b.0) {
            best = Some((domain.len(), Some(*id), u));
        }
    }
    if best.is_none() {
        let u = under(host, global);
        if !matches!(u, Under::No) {
            best = Some((global.len(), None, u));
        }
    }
    match best {
        None => HostKind::Api,
        Some((_, _, Under::Deeper | Under::No)) => HostKind::Unknown,
        Some((_, reseller, Under::Label(label))) => match Slug::parse(label) {
            Ok(slug) => HostKind::Tenant { slug, reseller },
            Err(SlugError::Reserved(_)) => HostKind::Api,
            Err(_) => HostKind::Unknown,
        },
    }
}

/// The request's host: the Host header, else the request target's authority (HTTP/2).
pub fn request_host(req: &HttpRequest) -> String {
    let raw = req
        .headers()
        .get(actix_web::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().host().map(str::to_owned))
        .unwrap_or_default();
    normalize(&raw)
}

/// The tenant whose host a request came to (in the request's extensions).
#[derive(Debug, Clone)]
pub struct TenantHost(pub Arc<EdgeTenant>);

impl std::ops::Deref for TenantHost {
    type Target = EdgeTenant;
    fn deref(&self) -> &EdgeTenant {
        &self.0
    }
}

impl FromRequest for TenantHost {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            req.extensions()
                .get::<TenantHost>()
                .cloned()
                .ok_or_else(|| ApiError::not_found("No such endpoint.")),
        )
    }
}

/// Matches requests to a tenant host.
pub struct OnTenantHost;

impl Guard for OnTenantHost {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        ctx.req_data().contains::<TenantHost>()
    }
}

/// Matches requests to the API host.
pub struct OnApiHost;

impl Guard for OnApiHost {
    fn check(&self, ctx: &GuardContext<'_>) -> bool {
        !ctx.req_data().contains::<TenantHost>()
    }
}

/// Resolves a classified host to a reachable tenant: it exists, belongs to the reseller whose
/// domain was used (or to one without a domain of its own), and is active or suspended.
pub async fn resolve(
    directory: &Directory,
    global: &str,
    host: &str,
) -> Result<Option<Option<Arc<EdgeTenant>>>, ApiError> {
    let domains = directory.reseller_domains().await?;
    let (slug, reseller) = match classify(host, &domains, global) {
        HostKind::Api => return Ok(None),
        HostKind::Unknown => return Ok(Some(None)),
        HostKind::Tenant { slug, reseller } => (slug, reseller),
    };
    let Some(t) = directory.tenant(slug.as_str()).await? else {
        return Ok(Some(None));
    };
    let right_domain = match reseller {
        Some(owner) => t.reseller_id == owner,
        None => t.reseller_domain.is_none(),
    };
    let reachable = matches!(t.status, TenantStatus::Active | TenantStatus::Suspended);
    Ok(Some((right_domain && reachable).then_some(t)))
}

/// Middleware: marks tenant-host requests, answers 404 for hosts that name no tenant.
pub async fn dispatch(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let directory = req.app_data::<web::Data<Directory>>().cloned();
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let (Some(directory), Some(state)) = (directory, state) else {
        return next
            .call(req)
            .await
            .map(ServiceResponse::map_into_boxed_body);
    };
    let host = request_host(req.request());
    match resolve(&directory, &state.settings.base_domain, &host).await {
        Ok(None) => {}
        Ok(Some(Some(t))) => {
            req.extensions_mut().insert(TenantHost(t));
        }
        Ok(Some(None)) => {
            let e = ApiError::not_found("No tenant lives at this address.");
            return Ok(req.into_response(e.error_response()));
        }
        Err(e) => return Ok(req.into_response(e.error_response())),
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_boxed_body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slug(s: &str) -> Slug {
        Slug::parse(s).expect("valid slug")
    }

    #[test]
    fn ports_case_and_trailing_dots_do_not_matter() {
        assert_eq!(normalize("Acme.Archive.Test:8080"), "acme.archive.test");
        assert_eq!(normalize("acme.archive.test."), "acme.archive.test");
        assert_eq!(normalize("[::1]:80"), "[::1]:80");
    }

    #[test]
    fn reseller_domains_win_over_the_global_one() {
        let r = Uuid::new_v4();
        let domains = vec![(r, "archive.reseller.example".to_owned())];
        assert_eq!(
            classify("acme.archive.reseller.example", &domains, "archive.test"),
            HostKind::Tenant {
                slug: slug("acme"),
                reseller: Some(r)
            }
        );
        assert_eq!(
            classify("acme.archive.test", &domains, "archive.test"),
            HostKind::Tenant {
                slug: slug("acme"),
                reseller: None
            }
        );
    }

    #[test]
    fn other_hosts_are_the_api_or_unknown() {
        assert_eq!(classify("127.0.0.1", &[], "archive.test"), HostKind::Api);
        assert_eq!(classify("archive.test", &[], "archive.test"), HostKind::Api);
        assert_eq!(
            classify("www.archive.test", &[], "archive.test"),
            HostKind::Api
        );
        assert_eq!(
            classify("api.archive.test", &[], "archive.test"),
            HostKind::Api
        );
        assert_eq!(
            classify("evilarchive.test", &[], "archive.test"),
            HostKind::Api
        );
        assert_eq!(
            classify("a.b.archive.test", &[], "archive.test"),
            HostKind::Unknown
        );
        assert_eq!(
            classify("a_b.archive.test", &[], "archive.test"),
            HostKind::Unknown
        );
        assert_eq!(
            classify("x.archive.test", &[], "archive.test"),
            HostKind::Unknown
        );
    }
}
