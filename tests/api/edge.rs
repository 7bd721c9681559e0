//! The tenant edge over HTTP, with Host headers on loopback: host routing, login and sessions,
//! suspension, SSO links, the gate, mail ingest, the users API, usage, and bad input.

use diesel::RunQueryDsl;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{TestApp, scalar_i64, spawn_app, unique};

pub const PASSWORD: &str = "correct horse battery";

pub fn host(slug: &str) -> String {
    format!("{slug}.archive.test")
}

/// A request to the tenant host of `slug`.
pub fn on_tenant(
    app: &TestApp,
    method: reqwest::Method,
    slug: &str,
    path: &str,
) -> reqwest::RequestBuilder {
    app.client
        .request(method, app.url(path))
        .header("Host", host(slug))
}

/// Logs in with JSON and returns the session cookie's value.
pub async fn login(app: &TestApp, slug: &str, email: &str, password: &str) -> reqwest::Response {
    on_tenant(app, reqwest::Method::POST, slug, "/login")
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("login request")
}

pub fn session_cookie(res: &reqwest::Response) -> String {
    let header = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ema_session="))
        .expect("a session cookie")
        .to_owned();
    header
        .trim_start_matches("ema_session=")
        .split(';')
        .next()
        .expect("value")
        .to_owned()
}

pub async fn login_cookie(app: &TestApp, slug: &str) -> String {
    let res = login(app, slug, &format!("admin@{slug}.example"), PASSWORD).await;
    assert_eq!(res.status(), 200);
    session_cookie(&res)
}

pub async fn gate(app: &TestApp, slug: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut req = on_tenant(app, reqwest::Method::GET, slug, "/_ema/gate");
    if let Some(c) = cookie {
        req = req.header("Cookie", format!("ema_session={c}"));
    }
    req.send().await.expect("gate request")
}

pub async fn suspend(app: &TestApp, slug: &str) {
    let res = app
        .post(&format!("/v1/tenants/{slug}/suspend"))
        .json(&json!({"reason": "overdue"}))
        .send()
        .await
        .expect("suspend");
    assert_eq!(res.status(), 200);
}

pub async fn unsuspend(app: &TestApp, slug: &str) {
    let res = app
        .post(&format!("/v1/tenants/{slug}/unsuspend"))
        .send()
        .await
        .expect("unsuspend");
    assert_eq!(res.status(), 200);
}

async fn ingest_token(app: &TestApp, slug: &str) -> (String, String) {
    let res = app
        .post(&format!("/v1/tenants/{slug}/ingest-tokens"))
        .send()
        .await
        .expect("issue");
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    (
        body["token"].as_str().expect("token").to_owned(),
        body["id"].as_str().expect("id").to_owned(),
    )
}

fn message(subject: &str, id: &str) -> Vec<u8> {
    format!(
        "From: Alice <alice@example.com>\r\nTo: bob@example.com\r\nSubject: {subject}\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <{id}@example.com>\r\n\r\nHello {id}\r\n"
    )
    .into_bytes()
}

async fn ingest(app: &TestApp, slug: &str, token: &str, body: Vec<u8>) -> reqwest::Response {
    on_tenant(app, reqwest::Method::POST, slug, "/ingest")
        .bearer_auth(token)
        .header("Content-Type", "message/rfc822")
        .body(body)
        .send()
        .await
        .expect("ingest request")
}

async fn tenant_id(app: &TestApp, slug: &str) -> uuid::Uuid {
    let s = slug.to_owned();
    app.state
        .db
        .run(move |conn| ema_bridge::tenant::repo::by_slug(conn, &s))
        .await
        .expect("query")
        .expect("tenant")
        .id
}

fn tenant_db(slug: &str) -> String {
    format!("ema_t_{}", slug.replace('-', "_"))
}

async fn problem_code(res: reqwest::Response) -> String {
    let body: Value = res.json().await.expect("problem json");
    body["code"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn login_works_for_an_active_tenant_and_the_gate_admits_its_session() {
    // Arrange
    let app = spawn_app().await;
    let slug = unique("acme-");
    app.create_tenant(&slug).await;
    // Act
    let page = on_tenant(&app, reqwest::Method::GET, &slug, "/")
        .send()
        .await
        .expect("page");
    let res = login(&app, &slug, &format!("admin@{slug}.example"), PASSWORD).await;
    // Assert
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/html")
    );
    let html = page.text().await.expect("html");
    assert!(html.contains(r#"<html lang="en">"#));
    assert!(html.contains(r#"<label for="email">"#) && html.contains(r#"<label for="password">"#));
    assert!(html.contains(r#"<form method="post" action="/login">"#));
    assert_eq!(res.status(), 200);
    let set_cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(set_cookie.contains(attr), "{set_cookie}");
    }
    // Plain http in tests: Secure comes with http.public_scheme = https only.
    assert!(!set_cookie.contains("Secure"), "{set_cookie}");
    let cookie = session_cookie(&res);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["role"], "admin");
    let ok = gate(&app, &slug, Some(&cookie)).await;
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()["x-ema-user"],
        format!("admin@{slug}.example").as_str()
    );
    assert_eq!(ok.headers()["x-ema-tenant"], slug.as_str());
    assert_eq!(gate(&app, &slug, None).await.status(), 401);
    assert_eq!(
        gate(&app, &slug, Some("forged-cookie-value"))
            .await
            .status(),
        401
    );
    let signed_in = on_tenant(&app, reqwest::Method::GET, &slug, "/")
        .header("Cookie", format!("ema_session={cookie}"))
        .send()
        .await
        .expect("page");
    assert!(
        signed_in
            .text()
            .await
            .expect("html")
            .contains(&format!("admin@{slug}.example"))
    );
    // A form login (no JavaScript) redirects to the start page with the cookie.
    let form = on_tenant(&app, reqwest::Method::POST, &slug, "/login")
        .form(&[
            ("email", format!("admin@{slug}.example")),
            ("password", PASSWORD.to_owned()),
        ])
        .send()
        .await
        .expect("form login");
    assert_eq!(form.status(), 303);
    assert_eq!(form.headers()["location"], "/");
    assert_eq!(
        gate(&app, &slug, Some(&session_cookie(&form)))
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn suspension_blocks_login_and_kills_sessions_and_unsuspend_restores_access() {
    // Arrange
    let app = spawn_app().await;
    let slug = unique("susp-");
    app.create_tenant(&slug).await;
    let email = format!("admin@{slug}.example");
    let cookie = login_cookie(&app, &slug).await;
    assert_eq!(gate(&app, &slug, Some(&cookie)).await.status(), 204);
    // Act: the very next requests after the REST suspend.
    suspend(&app, &slug).await;
    let gated = gate(&app, &slug, Some(&cookie)).await;
    let refused = login(&app, &slug, &email, PASSWORD).await;
    let browser = on_tenant(&app, reqwest::Method::POST, &slug, "/login")
        .header("Accept", "text/html")
        .form(&[("email", email.as_str()), ("password", PASSWORD)])
        .send()
        .await
        .expect("form");
    let page = on_tenant(&app, reqwest::Method::GET, &slug, "/")
        .header("Accept", "text/html")
        .header("Cookie", format!("ema_session={cookie}"))
        .send()
        .await
        .expect("page");
    // Assert
    assert_eq!(gated.status(), 403);
    assert_eq!(problem_code(gated).await, "tenant_suspended");
    assert_eq!(refused.status(), 403);
    assert_eq!(problem_code(refused).await, "tenant_suspended");
    assert_eq!(browser.status(), 403);
    assert!(browser.headers().get("set-cookie").is_none());
    assert!(
        browser
            .text()
            .await
            .expect("html")
            .contains("This account is suspended")
    );
    assert_eq!(page.status(), 403);
    assert!(
        page.text()
            .await
            .expect("html")
            .contains("This account is suspended")
    );
    let id = tenant_id(&app, &slug).await;
    let mut conn = app.connect(&app.db_name);
    assert_eq!(
        scalar_i64(
            &mut conn,
            &format!("SELECT count(*) AS v FROM edge_sessions WHERE tenant_id = '{id}'")
        ),
        0
    );
    // Unsuspend: the old session is gone (401), the same credentials work at once.
    unsuspend(&app, &slug).await;
    assert_eq!(gate(&app, &slug, Some(&cookie)).await.status(), 401);
    let again = login(&app, &slug, &email, PASSWORD).await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        gate(&app, &slug, Some(&session_cookie(&again)))
            .await
            .status(),
        204
    );
}

#[tokio::test]
async fn sso_links_log_the_admin_in_once_and_are_refused_while_suspended() {
    // Arrange
    let app = spawn_app().await;
    let (slug, other) = (unique("sso-"), unique("ssoo-"));
    app.create_tenant(&slug).await;
    app.create_tenant(&other).await;
    let (id, other_id) = (tenant_id(&app, &slug).await, tenant_id(&app, &other).await);
    let issue = |tid: uuid::Uuid| {
        let db = app.state.db.clone();
        async move {
            db.run(move |conn| ema_bridge::sso::issue(conn, tid))
                .await
                .expect("issue")
                .0
        }
    };
    let land = |token: String, accept: &'static str| {
        on_tenant(
            &app,
            reqwest::Method::GET,
            &slug,
            &format!("/_ema/sso/{token}"),
        )
        .header("Accept", accept)
        .send()
    };
    // Act
    let token = issue(id).await;
    let first = land(token.clone(), "*/*").await.expect("landing");
    let reused = land(token, "*/*").await.expect("reuse");
    let foreign = land(issue(other_id).await, "*/*").await.expect("foreign");
    // Assert
    assert_eq!(first.status(), 303);
    let cookie = session_cookie(&first);
    let ok = gate(&app, &slug, Some(&cookie)).await;
    assert_eq!(ok.status(), 204);
    assert_eq!(
        ok.headers()["x-ema-user"],
        format!("admin@{slug}.example").as_str()
    );
    assert_eq!(reused.status(), 401);
    assert_eq!(foreign.status(), 401);
    // While suspended every link is refused, as a problem or as the suspended page.
    suspend(&app, &slug).await;
    let api = land(issue(id).await, "*/*")
        .await
        .expect("suspended landing");
    assert_eq!(api.status(), 403);
    assert!(api.headers().get("set-cookie").is_none());
    assert_eq!(problem_code(api).await, "tenant_suspended");
    let browser = land(issue(id).await, "text/html")
        .await
        .expect("suspended landing");
    assert_eq!(browser.status(), 403);
    assert!(
        browser
            .text()
            .await
            .expect("html")
            .contains("This account is suspended")
    );
    unsuspend(&app, &slug).await;
    assert_eq!(
        land(issue(id).await, "*/*")
            .await
            .expect("landing")
            .status(),
        303
    );
}

#[tokio::test]
async fn mail_is_archived_before_during_and_after_suspension() {
    // Arrange
    let app = spawn_app().await;
    let slug = unique("mail-");
    app.create_tenant(&slug).await;
    let (token, _) = ingest_token(&app, &slug).await;
    let keys = |sha: &str| format!("ema-t-{slug}/messages/{}/{sha}.eml", &sha[..2]);
    // Act
    let before = ingest(&app, &slug, &token, message("before", "m1")).await;
    suspend(&app, &slug).await;
    let during = ingest(&app, &slug, &token, message("during", "m2")).await;
    let duplicate = ingest(&app, &slug, &token, message("during", "m2")).await;
    unsuspend(&app, &slug).await;
    let after = ingest(&app, &slug, &token, message("after", "m3")).await;
    // Assert
    let mut shas = Vec::new();
    for (res, stored, while_suspended) in [
        (before, true, false),
        (during, true, true),
        (duplicate, false, false),
        (after, true, false),
    ] {
        assert_eq!(res.status(), 202);
        let body: Value = res.json().await.expect("json");
        assert_eq!(body["stored"], stored, "{body}");
        assert_eq!(body["received_while_suspended"], while_suspended, "{body}");
        shas.push(body["sha256"].as_str().expect("sha").to_owned());
    }
    assert_eq!(shas[1], shas[2], "a duplicate has the same hash");
    for sha in &shas {
        assert!(
            app.state.bucket.exists(&keys(sha)).await.expect("head"),
            "{sha} in the bucket"
        );
    }
    let usage = app
        .state
        .bucket
        .prefix_usage(&format!("ema-t-{slug}/messages/"))
        .await
        .expect("list");
    assert_eq!(usage.objects, 3, "the duplicate is stored once");
    let mut conn = app.connect(&tenant_db(&slug));
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) AS v FROM messages"),
        3
    );
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) AS v FROM messages WHERE received_while_suspended"
        ),
        1
    );
    assert_eq!(
        scalar_i64(
            &mut conn,
            "SELECT count(*) AS v FROM messages WHERE subject = 'during' AND message_id = 'm2@example.com' AND from_addr = 'alice@example.com' AND to_addrs = 'bob@example.com' AND sent_at IS NOT NULL"
        ),
        1
    );
    let view: Value = app
        .get(&format!("/v1/tenants/{slug}"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(view["suspension"]["messages_received"], 1, "{view}");
    assert!(view["last_ingest_at"].is_string(), "{view}");
    assert_eq!(view["status"], "active");
}

#[tokio::test]
async fn usage_reflects_users_added_through_the_users_api_and_stored_bytes() {
    // Arrange
    let app = spawn_app().await;
    let slug = unique("use-");
    app.create_tenant(&slug).await;
    let admin = login_cookie(&app, &slug).await;
    let users = |method: reqwest::Method, path: &str, cookie: &str| {
        on_tenant(&app, method, &slug, path).header("Cookie", format!("ema_session={cookie}"))
    };
    // Act: two members, one disabled again; one message.
    let mut ids = Vec::new();
    for email in ["carol@example.com", "dave@example.com"] {
        let res = users(reqwest::Method::POST, "/_ema/users", &admin)
            .json(&json!({"email": email, "password": "a long password", "role": "member"}))
            .send()
            .await
            .expect("add");
        assert_eq!(res.status(), 201);
        ids.push(
            res.json::<Value>().await.expect("json")["id"]
                .as_i64()
                .expect("id"),
        );
    }
    let dave = login(&app, &slug, "dave@example.com", "a long password").await;
    assert_eq!(dave.status(), 200);
    let dave_cookie = session_cookie(&dave);
    let member_list = users(reqwest::Method::GET, "/_ema/users", &dave_cookie)
        .send()
        .await
        .expect("list");
    let disabled = users(
        reqwest::Method::PATCH,
        &format!("/_ema/users/{}", ids[1]),
        &admin,
    )
    .json(&json!({"enabled": false}))
    .send()
    .await
    .expect("disable");
    let (token, _) = ingest_token(&app, &slug).await;
    let raw = message("usage", "u1");
    assert_eq!(ingest(&app, &slug, &token, raw.clone()).await.status(), 202);
    ema_bridge::usage::collect_once(&app.state)
        .await
        .expect("collect");
    // Assert
    assert_eq!(member_list.status(), 403);
    assert_eq!(disabled.status(), 200);
    assert_eq!(
        gate(&app, &slug, Some(&dave_cookie)).await.status(),
        401,
        "disabling ends the user's sessions"
    );
    assert_eq!(
        login(&app, &slug, "dave@example.com", "a long password")
            .await
            .status(),
        401
    );
    let duplicate = users(reqwest::Method::POST, "/_ema/users", &admin)
        .json(&json!({"email": "carol@example.com", "password": "a long password"}))
        .send()
        .await
        .expect("add again");
    assert_eq!(duplicate.status(), 409);
    let listed: Value = users(reqwest::Method::GET, "/_ema/users", &admin)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed["items"].as_array().expect("items").len(), 3);
    let usage: Value = app
        .get(&format!("/v1/tenants/{slug}/usage"))
        .send()
        .await
        .expect("usage")
        .json()
        .await
        .expect("json");
    assert_eq!(usage["users"], 3, "{usage}");
    assert_eq!(usage["active_users"], 2, "{usage}");
    assert!(
        usage["s3_bytes"].as_i64().expect("bytes") >= raw.len() as i64,
        "{usage}"
    );
    assert!(usage["db_bytes"].as_i64().expect("bytes") > 0, "{usage}");
}

#[tokio::test]
async fn hosts_reach_only_their_own_routes_and_tenants() {
    // Arrange: reseller two has its own base domain; reseller one uses the global one.
    let app = spawn_app().await;
    let two = app.another_reseller("Reseller Two").await;
    app.state
        .db
        .run(|conn| {
            ema_bridge::reseller::update(
                conn,
                "Reseller Two",
                ema_bridge::reseller::ResellerChanges {
                    base_domain: Some(Some(
                        ema_bridge::domain::BaseDomain::parse("mail.two.test").expect("domain"),
                    )),
                    ..Default::default()
                },
            )
        })
        .await
        .expect("set domain");
    let (mine, theirs) = (unique("mine-"), unique("theirs-"));
    app.create_tenant(&mine).await;
    let res = app
        .client
        .post(app.url("/v1/tenants"))
        .bearer_auth(&two.api_key)
        .json(&json!({"slug": theirs, "name": "Theirs", "admin": {"email": "a@theirs.example", "password": PASSWORD}}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let get = |h: String, path: &str| {
        app.client
            .get(app.url(path))
            .header("Host", h)
            .bearer_auth(&app.reseller.api_key)
            .send()
    };
    // Act + Assert: tenant hosts.
    assert_eq!(get(host(&mine), "/").await.expect("r").status(), 200);
    assert_eq!(
        get(format!("{theirs}.mail.two.test"), "/")
            .await
            .expect("r")
            .status(),
        200
    );
    assert_eq!(
        get(format!("{}:8443", host(&mine).to_uppercase()), "/")
            .await
            .expect("r")
            .status(),
        200
    );
    for wrong in [
        host(&unique("nobody-")),
        host(&theirs),                   // a white-label tenant under the global domain
        format!("{mine}.mail.two.test"), // another reseller's domain
        format!("x.{}", host(&mine)),
    ] {
        let res = get(wrong.clone(), "/").await.expect("r");
        assert_eq!(res.status(), 404, "{wrong}");
        assert_eq!(problem_code(res).await, "not_found");
    }
    // The API is not reachable on a tenant host...
    for path in [
        "/v1/tenants",
        "/v1/openapi.json",
        "/healthz",
        "/readyz",
        "/whmcs/v1/test_connection",
    ] {
        let res = get(host(&mine), path).await.expect("r");
        assert_eq!(res.status(), 404, "{path} on a tenant host");
    }
    // ...and tenant routes are not reachable on the API host (nor on reserved names).
    for h in [
        "127.0.0.1".to_owned(),
        "api.archive.test".to_owned(),
        "archive.test".to_owned(),
    ] {
        assert_eq!(
            get(h.clone(), "/").await.expect("r").status(),
            404,
            "/ on {h}"
        );
        assert_eq!(
            get(h.clone(), "/_ema/gate").await.expect("r").status(),
            404,
            "gate on {h}"
        );
        let ingest = app
            .client
            .post(app.url("/ingest"))
            .header("Host", h.clone())
            .body(message("x", "y"))
            .send()
            .await
            .expect("r");
        assert_eq!(ingest.status(), 404, "ingest on {h}");
    }
    assert_eq!(
        get("api.archive.test".into(), "/v1/tenants")
            .await
            .expect("r")
            .status(),
        200
    );
    assert_eq!(
        app.get("/v1/tenants").send().await.expect("r").status(),
        200
    );
}

#[tokio::test]
async fn ingest_refuses_bad_tokens_and_bad_messages_and_stores_nothing() {
    // Arrange
    let app = spawn_app().await;
    let (slug, other) = (unique("ing-"), unique("ingo-"));
    app.create_tenant(&slug).await;
    app.create_tenant(&other).await;
    let (token, _) = ingest_token(&app, &slug).await;
    let (other_token, _) = ingest_token(&app, &other).await;
    let (revoked, revoked_id) = ingest_token(&app, &slug).await;
    let res = app
        .delete(&format!("/v1/tenants/{slug}/ingest-tokens/{revoked_id}"))
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), 204);
    let good = message("fine", "ok1");
    // Act + Assert
    let none = on_tenant(&app, reqwest::Method::POST, &slug, "/ingest")
        .body(good.clone())
        .send()
        .await
        .expect("r");
    assert_eq!(none.status(), 401);
    for bad in [
        "wrong-token",
        other_token.as_str(),
        revoked.as_str(),
        "' OR '1'='1",
    ] {
        let res = ingest(&app, &slug, bad, good.clone()).await;
        assert_eq!(res.status(), 401, "token {bad:?}");
        assert_eq!(problem_code(res).await, "unauthorized");
    }
    let mut oversized = message("big", "big1");
    oversized.resize(25 * 1024 * 1024 + 1, b'a');
    assert_eq!(
        ingest(&app, &slug, &token, oversized).await.status(),
        StatusCode::PAYLOAD_TOO_LARGE
    );
    for malformed in [
        &b""[..],
        b"just text, no headers at all",
        b"Subject: no sender\r\n\r\nbody",
        b"\x00\x01\x02\xff",
    ] {
        let res = ingest(&app, &slug, &token, malformed.to_vec()).await;
        assert_eq!(res.status(), 422, "{malformed:?}");
        assert_eq!(problem_code(res).await, "malformed_message");
    }
    let wrong_type = on_tenant(&app, reqwest::Method::POST, &slug, "/ingest")
        .bearer_auth(&token)
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("r");
    assert_eq!(wrong_type.status(), 415);
    // Nothing was stored anywhere, and nothing recorded as an ingest.
    let usage = app
        .state
        .bucket
        .prefix_usage(&format!("ema-t-{slug}/messages/"))
        .await
        .expect("list");
    assert_eq!(usage.objects, 0);
    let mut conn = app.connect(&tenant_db(&slug));
    assert_eq!(
        scalar_i64(&mut conn, "SELECT count(*) AS v FROM messages"),
        0
    );
    let view: Value = app
        .get(&format!("/v1/tenants/{slug}"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert!(view["last_ingest_at"].is_null(), "{view}");
    // The token routes belong to the tenant's reseller only, and unknown ids are not found.
    let stranger = app.another_reseller("Stranger").await;
    let res = app
        .client
        .post(app.url(&format!("/v1/tenants/{slug}/ingest-tokens")))
        .bearer_auth(&stranger.api_key)
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), 404);
    let res = app
        .delete(&format!(
            "/v1/tenants/{slug}/ingest-tokens/{}",
            uuid::Uuid::new_v4()
        ))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), 404);
    let res = app
        .delete(&format!("/v1/tenants/{other}/ingest-tokens/{revoked_id}"))
        .send()
        .await
        .expect("r");
    assert_eq!(res.status(), 404, "another tenant's token id");
    // Still works with the right token.
    assert_eq!(ingest(&app, &slug, &token, good).await.status(), 202);
}

#[tokio::test]
async fn injection_in_every_field_is_refused_or_kept_as_inert_text() {
    // Arrange: hostile branding and tenant name.
    let app = spawn_app().await;
    let slug = unique("inj-");
    let evil_name = r#"<img src=x onerror=alert(1)>'; DROP TABLE tenants; --"#;
    let res = app
        .post("/v1/tenants")
        .json(&json!({"slug": slug, "name": evil_name, "admin": {"email": format!("admin@{slug}.example"), "password": PASSWORD},
            "branding": {"custom_name": "<script>alert('x')</script>\" onmouseover=\"x", "primary_color": "#aa3300"}}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    let bad_color = app
        .patch(&format!("/v1/tenants/{slug}"))
        .json(&json!({"branding": {"primary_color": "red;}</style><script>"}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(bad_color.status(), 422);
    // Act
    let html = on_tenant(&app, reqwest::Method::GET, &slug, "/")
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    // Assert: rendered as text.
    assert!(!html.contains("<script>"), "{html}");
    assert!(!html.contains("<img src=x"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot; onmouseover=&quot;x"),
        "{html}"
    );
    assert!(
        html.contains("&lt;img src=x onerror=alert(1)&gt;&#39;; DROP TABLE tenants; --"),
        "{html}"
    );
    assert!(html.contains("--primary: #aa3300"));
    // Login fields: SQL in e-mail and password is just a wrong credential; echoed back escaped.
    for (email, password) in [
        (
            format!("admin@{slug}.example' OR '1'='1"),
            PASSWORD.to_owned(),
        ),
        (
            format!("admin@{slug}.example"),
            "' OR '1'='1' --".to_owned(),
        ),
        ("\"><script>alert(1)</script>".to_owned(), "x".to_owned()),
    ] {
        assert_eq!(
            login(&app, &slug, &email, &password).await.status(),
            401,
            "{email} / {password}"
        );
    }
    let page = on_tenant(&app, reqwest::Method::POST, &slug, "/login")
        .header("Accept", "text/html")
        .form(&[("email", "\"><script>alert(1)</script>"), ("password", "x")])
        .send()
        .await
        .expect("form");
    assert_eq!(page.status(), 401);
    let page = page.text().await.expect("html");
    assert!(!page.contains("<script>alert(1)"), "{page}");
    assert!(
        page.contains("value=\"&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;\""),
        "{page}"
    );
    // The users API refuses malformed e-mail addresses; hostile but valid text is stored inert.
    let admin = login_cookie(&app, &slug).await;
    let add = |body: Value| {
        on_tenant(&app, reqwest::Method::POST, &slug, "/_ema/users")
            .header("Cookie", format!("ema_session={admin}"))
            .json(&body)
            .send()
    };
    for body in [
        json!({"email": "x'; DROP TABLE users; --@example.com", "password": "a long password"}),
        json!({"email": "<b>@example.com", "password": "a long password"}),
        json!({"email": "ok@example.com", "password": "a long password", "role": "admin' OR '1'='1"}),
        json!({"email": "ok@example.com", "password": "short"}),
    ] {
        let res = add(body.clone()).await.expect("add");
        assert_eq!(res.status(), 422, "{body}");
        assert_eq!(problem_code(res).await, "validation_failed");
    }
    let res = add(json!({"email": "o'brien@example.com", "password": "a long password", "display_name": "<i>Bobby</i>'); DROP TABLE users;--"}))
        .await
        .expect("add");
    assert_eq!(res.status(), 201);
    // Ingest: a hostile subject and sender are indexed literally.
    let (token, _) = ingest_token(&app, &slug).await;
    let evil_subject = "'); DROP TABLE messages; -- <script>";
    let raw = format!(
        "From: \"<script>\" <evil'--@example.com>\r\nSubject: {evil_subject}\r\n\r\nbody\r\n"
    )
    .into_bytes();
    assert_eq!(ingest(&app, &slug, &token, raw).await.status(), 202);
    let mut conn = app.connect(&tenant_db(&slug));
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        subject: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        from_addr: String,
    }
    let row: Row = diesel::sql_query("SELECT subject, from_addr FROM messages")
        .get_result(&mut conn)
        .expect("row");
    assert_eq!(row.subject, evil_subject);
    assert_eq!(row.from_addr, "evil'--@example.com");
    assert_eq!(scalar_i64(&mut conn, "SELECT count(*) AS v FROM users"), 2);
    let mut control = app.connect(&app.db_name);
    assert_eq!(
        scalar_i64(&mut control, "SELECT count(*) AS v FROM tenants"),
        1
    );
}

#[tokio::test]
async fn repeated_failed_logins_are_rate_limited_per_account() {
    // Arrange
    let app = spawn_app().await;
    let slug = unique("rate-");
    app.create_tenant(&slug).await;
    let email = format!("admin@{slug}.example");
    let admin = login_cookie(&app, &slug).await;
    let res = on_tenant(&app, reqwest::Method::POST, &slug, "/_ema/users")
        .header("Cookie", format!("ema_session={admin}"))
        .json(&json!({"email": "erin@example.com", "password": "a long password"}))
        .send()
        .await
        .expect("add");
    assert_eq!(res.status(), 201);
    // Act
    for attempt in 0..5 {
        assert_eq!(
            login(&app, &slug, &email, "wrong password").await.status(),
            401,
            "attempt {attempt}"
        );
    }
    let locked = login(&app, &slug, &email, PASSWORD).await;
    // Assert: even the right password is refused until the window passes; others are unaffected.
    assert_eq!(locked.status(), 429);
    let retry: i64 = locked.headers()["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=15 * 60).contains(&retry), "{retry}");
    assert_eq!(problem_code(locked).await, "too_many_attempts");
    assert!(
        locked_html(&app, &slug, &email)
            .await
            .contains("Too many failed sign-in attempts")
    );
    assert_eq!(
        login(&app, &slug, "erin@example.com", "a long password")
            .await
            .status(),
        200
    );
}

async fn locked_html(app: &TestApp, slug: &str, email: &str) -> String {
    let res = on_tenant(app, reqwest::Method::POST, slug, "/login")
        .header("Accept", "text/html")
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .expect("form");
    assert_eq!(res.status(), 429);
    res.text().await.expect("html")
}

/// Another replica's directory, whose entries never expire by age during a test: only a
/// notification can refresh them.
async fn replica(app: &TestApp) -> ema_bridge::edge::Directory {
    let d = ema_bridge::edge::Directory::start_with_ttl(
        app.state.db.clone(),
        std::time::Duration::from_secs(3600),
    )
    .await
    .expect("directory");
    wait_until("the listener connects", || {
        let d = d.clone();
        async move { d.is_listening() }
    })
    .await;
    d
}

/// Polls `check` until it holds; the deadline only stops a hung test.
async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !check().await {
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: never happened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_suspension_reaches_another_processs_cache_at_once() {
    // Arrange: a second directory over the same control database stands for another replica.
    let app = spawn_app().await;
    let slug = unique("notify-");
    app.create_tenant(&slug).await;
    let replica = replica(&app).await;
    let cached = replica
        .tenant(&slug)
        .await
        .expect("lookup")
        .expect("tenant");
    assert_eq!(cached.status, ema_bridge::tenant::TenantStatus::Active);
    // Act
    suspend(&app, &slug).await;
    // Assert: the other replica's entry is refreshed by the notification (not by age).
    wait_until("the replica sees the suspension", || {
        let (r, s) = (replica.clone(), slug.clone());
        async move {
            r.tenant(&s).await.expect("lookup").expect("tenant").status
                == ema_bridge::tenant::TenantStatus::Suspended
        }
    })
    .await;
}

#[tokio::test]
async fn creation_branding_and_reseller_domain_changes_reach_another_processs_cache() {
    let app = spawn_app().await;
    let replica = replica(&app).await;
    let slug = unique("fresh-");
    // A miss is cached before the tenant exists; its creation must replace it.
    assert!(replica.tenant(&slug).await.expect("lookup").is_none());
    app.create_tenant(&slug).await;
    wait_until("the replica sees the new tenant", || {
        let (r, s) = (replica.clone(), slug.clone());
        async move {
            r.tenant(&s)
                .await
                .expect("lookup")
                .is_some_and(|t| t.status == ema_bridge::tenant::TenantStatus::Active)
        }
    })
    .await;
    // A branding change.
    let res = app
        .patch(&format!("/v1/tenants/{slug}"))
        .json(&json!({"branding": {"custom_name": "Renamed Archive"}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(res.status(), 200);
    wait_until("the replica sees the new branding", || {
        let (r, s) = (replica.clone(), slug.clone());
        async move {
            r.tenant(&s)
                .await
                .expect("lookup")
                .expect("tenant")
                .branding
                .custom_name
                .as_deref()
                == Some("Renamed Archive")
        }
    })
    .await;
    // A reseller's new white-label domain.
    let before = replica.reseller_domains().await.expect("domains");
    let name = app.reseller.name.clone();
    app.state
        .db
        .run(move |conn| {
            ema_bridge::reseller::update(
                conn,
                &name,
                ema_bridge::reseller::ResellerChanges {
                    base_domain: Some(Some(
                        ema_bridge::domain::BaseDomain::parse("mail.white.example")
                            .expect("domain"),
                    )),
                    ..Default::default()
                },
            )
        })
        .await
        .expect("update");
    wait_until("the replica sees the reseller's domain", || {
        let (r, before) = (replica.clone(), format!("{before:?}"));
        async move { format!("{:?}", r.reseller_domains().await.expect("domains")) != before }
    })
    .await;
    assert!(
        format!("{:?}", replica.reseller_domains().await.expect("domains"))
            .contains("mail.white.example")
    );
}
