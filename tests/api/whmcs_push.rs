//! The usage push to WHMCS (`UpdateClientProduct`) against a test double of WHMCS's API.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use ema_bridge::reseller::ResellerChanges;
use ema_bridge::whmcs_push::{
    DiskUpdate, PushError, PushSummary, RetryPolicy, WhmcsApi, push_once, update_client_product,
};
use secrecy::SecretString;
use serde_json::json;

use crate::helpers::{TestApp, spawn_app, unique};
use crate::whmcs_support::{Signed, capture_logs, logs};

const IDENTIFIER: &str = "ema-bridge-usage";

/// What the double knows and saw.
#[derive(Default)]
struct Whmcs {
    identifier: String,
    secret: String,
    /// tblhosting ids that exist.
    services: Vec<i64>,
    /// Answer this many next requests with HTTP 500 (a PHP fatal error, an overloaded host).
    fail_next: usize,
    requests: usize,
    /// tblhosting rows as updated: service id → (diskusage, disklimit).
    hosting: HashMap<i64, (i64, i64)>,
    /// Every form received.
    forms: Vec<HashMap<String, String>>,
}

/// A stand-in for a WHMCS installation's API endpoint, `POST /includes/api.php`, implementing
/// `UpdateClientProduct` as WHMCS documents it (developers.whmcs.com: api/authentication,
/// api/response-types, api-reference/updateclientproduct): an
/// `application/x-www-form-urlencoded` body with `action`, API credentials in `identifier` and
/// `secret`, `responsetype=json`; wrong credentials answer
/// `{"result":"error","message":"Authentication Failed"}` (with HTTP 403, as recent WHMCS
/// versions do); an unknown `serviceid` answers `{"result":"error","message":"Service ID Not
/// Found"}`; success is `{"result":"success","serviceid":"N"}` (the id as a string), after
/// `diskusage`/`disklimit` (MB) were stored on the service.
struct WhmcsDouble {
    url: String,
    state: Arc<Mutex<Whmcs>>,
    handle: actix_web::dev::ServerHandle,
}

async fn api_php(
    req: HttpRequest,
    body: web::Bytes,
    state: web::Data<Arc<Mutex<Whmcs>>>,
) -> HttpResponse {
    let mut w = state.lock().expect("lock");
    w.requests += 1;
    if w.fail_next > 0 {
        w.fail_next -= 1;
        return HttpResponse::InternalServerError()
            .body("<html><body>Oops! Something went wrong.</body></html>");
    }
    let is_form = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    w.forms.push(form.clone());
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if !is_form || field("identifier") != w.identifier || field("secret") != w.secret {
        return HttpResponse::Forbidden()
            .json(json!({"result": "error", "message": "Authentication Failed"}));
    }
    if field("responsetype") != "json" {
        return HttpResponse::Ok()
            .content_type("text/xml")
            .body("<whmcsapi><result>error</result></whmcsapi>");
    }
    if field("action") != "UpdateClientProduct" {
        return HttpResponse::Ok().json(json!({"result": "error", "message": "Command Not Found"}));
    }
    let id: i64 = field("serviceid").parse().unwrap_or(0);
    if !w.services.contains(&id) {
        return HttpResponse::Ok()
            .json(json!({"result": "error", "message": "Service ID Not Found"}));
    }
    let usage = field("diskusage").parse().unwrap_or(-1);
    let limit = field("disklimit").parse().unwrap_or(-1);
    w.hosting.insert(id, (usage, limit));
    HttpResponse::Ok().json(json!({"result": "success", "serviceid": id.to_string()}))
}

impl WhmcsDouble {
    async fn start(secret: &str, services: &[i64]) -> Self {
        let state = Arc::new(Mutex::new(Whmcs {
            identifier: IDENTIFIER.into(),
            secret: secret.into(),
            services: services.to_vec(),
            ..Whmcs::default()
        }));
        let data = web::Data::new(state.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/includes/api.php", web::post().to(api_php))
        })
        .listen(listener)
        .expect("listen")
        .workers(1)
        .run();
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/includes/api.php"),
            state,
            handle,
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Whmcs) -> T) -> T {
        f(&mut self.state.lock().expect("lock"))
    }
}

impl Drop for WhmcsDouble {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

fn fast() -> RetryPolicy {
    RetryPolicy {
        delays: vec![
            Duration::from_millis(10),
            Duration::from_millis(20),
            Duration::from_millis(40),
        ],
        timeout: Duration::from_secs(5),
    }
}

fn api(url: &str, secret: &str) -> WhmcsApi {
    WhmcsApi {
        url: url.into(),
        identifier: IDENTIFIER.into(),
        secret: SecretString::from(secret.to_owned()),
    }
}

fn secret() -> String {
    format!("whmcs-api-secret-{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn one_update_sends_the_documented_form_and_checks_the_result() {
    // Arrange
    let secret = secret();
    let whmcs = WhmcsDouble::start(&secret, &[1001]).await;
    let client = reqwest::Client::new();
    // Act
    let r = update_client_product(
        &client,
        &api(&whmcs.url, &secret),
        DiskUpdate::new(1001, 5 * 1_048_576 + 1, 50),
        &fast(),
    )
    .await;
    // Assert
    assert_eq!(r, Ok(()));
    whmcs.with(|w| {
        assert_eq!(w.hosting.get(&1001), Some(&(5, 51_200)));
        let form = &w.forms[0];
        assert_eq!(form["action"], "UpdateClientProduct");
        assert_eq!(form["responsetype"], "json");
        assert_eq!(form["identifier"], IDENTIFIER);
        assert_eq!(form["serviceid"], "1001");
    });
}

#[tokio::test]
async fn wrong_credentials_fail_at_once_with_whmcs_message_and_without_the_secret() {
    let whmcs = WhmcsDouble::start(&secret(), &[1001]).await;
    let ours = secret();
    let r = update_client_product(
        &reqwest::Client::new(),
        &api(&whmcs.url, &ours),
        DiskUpdate::new(1001, 0, 50),
        &fast(),
    )
    .await;
    let e = r.expect_err("refused");
    assert_eq!(e, PushError::Refused("Authentication Failed".into()));
    assert!(!e.to_string().contains(&ours));
    assert_eq!(
        whmcs.with(|w| w.requests),
        1,
        "a definitive refusal is not retried"
    );
}

#[tokio::test]
async fn an_unknown_service_is_refused_with_whmcs_message() {
    let secret = secret();
    let whmcs = WhmcsDouble::start(&secret, &[1001]).await;
    let r = update_client_product(
        &reqwest::Client::new(),
        &api(&whmcs.url, &secret),
        DiskUpdate::new(4242, 0, 50),
        &fast(),
    )
    .await;
    assert_eq!(r, Err(PushError::Refused("Service ID Not Found".into())));
}

#[tokio::test]
async fn transient_500s_are_retried_with_back_off_until_success() {
    // Arrange: two failures, then WHMCS is back.
    let secret = secret();
    let whmcs = WhmcsDouble::start(&secret, &[1001]).await;
    whmcs.with(|w| w.fail_next = 2);
    // Act
    let started = std::time::Instant::now();
    let r = update_client_product(
        &reqwest::Client::new(),
        &api(&whmcs.url, &secret),
        DiskUpdate::new(1001, 0, 50),
        &fast(),
    )
    .await;
    // Assert
    assert_eq!(r, Ok(()));
    assert_eq!(whmcs.with(|w| w.requests), 3);
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "waited 10 ms then 20 ms"
    );
    assert_eq!(
        whmcs.with(|w| w.hosting.get(&1001).copied()),
        Some((0, 51_200))
    );
}

#[tokio::test]
async fn retries_stop_after_the_last_delay() {
    let secret = secret();
    let whmcs = WhmcsDouble::start(&secret, &[1001]).await;
    whmcs.with(|w| w.fail_next = 100);
    let r = update_client_product(
        &reqwest::Client::new(),
        &api(&whmcs.url, &secret),
        DiskUpdate::new(1001, 0, 50),
        &fast(),
    )
    .await;
    assert_eq!(r, Err(PushError::Status(500)));
    assert_eq!(
        whmcs.with(|w| w.requests),
        4,
        "one attempt and three retries"
    );
}

#[tokio::test]
async fn an_unreachable_whmcs_is_a_transport_error_after_retries() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let url = format!("http://127.0.0.1:{port}/includes/api.php");
    let r = update_client_product(
        &reqwest::Client::new(),
        &api(&url, "s3cr3t"),
        DiskUpdate::new(1, 0, 1),
        &fast(),
    )
    .await;
    assert!(matches!(r, Err(PushError::Transport(_))), "{r:?}");
}

/// An app whose reseller has a WHMCS-made tenant (service 1001), measured, and a REST-made one.
async fn app_with_linked_tenant(whmcs_url: &str, secret: &str) -> (TestApp, String) {
    capture_logs();
    let app = spawn_app().await;
    let slug = unique("push");
    let body = json!({"service_id": 1001, "slug": slug, "name": "Push Test", "plan": "standard", "max_users": 25, "storage_gb": 50,
        "admin": {"email": format!("owner@{slug}.example"), "password": "a long enough password"}});
    let res = Signed::new(&app, "create_account", body).send(&app).await;
    assert_eq!(res.status, 201, "{}", res.text());
    app.create_tenant(&unique("restonly")).await;
    ema_bridge::usage::collect_once(&app.state)
        .await
        .expect("collect");
    let changes = (
        whmcs_url.to_owned(),
        IDENTIFIER.to_owned(),
        secret.to_owned(),
    );
    app.state
        .db
        .run(move |c| {
            ema_bridge::reseller::update(
                c,
                "Reseller One",
                ResellerChanges {
                    whmcs_api: Some(Some(changes)),
                    ..ResellerChanges::default()
                },
            )
        })
        .await
        .expect("set WHMCS API");
    (app, slug)
}

#[tokio::test]
async fn a_push_pass_updates_every_linked_service_in_megabytes() {
    // Arrange
    let secret = secret();
    let whmcs = WhmcsDouble::start(&secret, &[1001]).await;
    let (app, slug) = app_with_linked_tenant(&whmcs.url, &secret).await;
    let s = slug.clone();
    let t = app
        .state
        .db
        .run(move |c| ema_bridge::tenant::repo::by_slug(c, &s))
        .await
        .expect("query")
        .expect("tenant");
    let bytes = t.db_bytes.expect("measured") + t.s3_bytes.expect("measured");
    // Act
    let summary = push_once(&app.state, &reqwest::Client::new(), &fast())
        .await
        .expect("push");
    // Assert: only the linked tenant, usage rounded to MB, limit = 50 GB in MB.
    assert_eq!(
        summary,
        PushSummary {
            updated: 1,
            failed: 0
        }
    );
    let expected_mb = (bytes + 524_288) / 1_048_576;
    assert!(expected_mb > 0);
    assert_eq!(
        whmcs.with(|w| (w.requests, w.hosting.get(&1001).copied())),
        (1, Some((expected_mb, 51_200)))
    );
}

#[tokio::test]
async fn a_push_pass_with_wrong_credentials_counts_failures_and_logs_no_secret() {
    let whmcs = WhmcsDouble::start(&secret(), &[1001]).await;
    let ours = secret();
    let (app, _slug) = app_with_linked_tenant(&whmcs.url, &ours).await;
    let summary = push_once(&app.state, &reqwest::Client::new(), &fast())
        .await
        .expect("push");
    assert_eq!(
        summary,
        PushSummary {
            updated: 0,
            failed: 1
        }
    );
    let log = logs();
    assert!(
        log.contains("WHMCS usage push failed") && log.contains("Authentication Failed"),
        "the failure is logged"
    );
    assert!(!log.contains(&ours), "the WHMCS API secret reached the log");
}
