//! Tenant lifecycle through the REST API: every rule of the seed document, the bad inputs, and
//! concurrency.

use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::helpers::{TestApp, scalar_i64, shared, spawn_app, unique};

fn database_exists(app: &TestApp, name: &str) -> bool {
    let mut c = app.connect("postgres");
    scalar_i64(
        &mut c,
        &format!(
            "SELECT count(*) AS v FROM pg_database WHERE datname = '{}'",
            name.replace('\'', "''")
        ),
    ) == 1
}

fn tables_of(app: &TestApp, db: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct T {
        #[diesel(sql_type = diesel::sql_types::Text)]
        tablename: String,
    }
    let mut c = app.connect(db);
    let rows: Vec<T> = diesel::sql_query(
        "SELECT tablename::text AS tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1",
    )
    .load(&mut c)
    .expect("tables");
    rows.into_iter().map(|t| t.tablename).collect()
}

async fn tenant_rows(app: &TestApp, slug: &str) -> i64 {
    let s = slug.to_owned();
    app.state
        .db
        .run(move |conn| {
            use diesel::prelude::*;
            use ema_bridge::db::schema::tenants;
            tenants::table
                .filter(tenants::slug.eq(s))
                .count()
                .get_result::<i64>(conn)
        })
        .await
        .expect("count")
}

#[tokio::test]
async fn creating_a_tenant_allocates_its_database_tables_prefix_and_subdomain() {
    // Arrange
    let app = spawn_app().await;
    let slug = unique("acme-");
    // Act
    let body = app.create_tenant(&slug).await;
    // Assert: the answer
    assert_eq!(body["slug"], slug.as_str());
    assert_eq!(body["status"], "active");
    assert_eq!(
        body["url"],
        format!("http://{slug}.archive.test:{}", app.port).as_str()
    );
    // the database, named exactly, with the tenant tables and its admin
    let db = format!("ema_t_{}", slug.replace('-', "_"));
    assert!(database_exists(&app, &db));
    let tables = tables_of(&app, &db);
    for t in [
        "users",
        "messages",
        "settings",
        "audit_log",
        "__diesel_schema_migrations",
    ] {
        assert!(tables.contains(&t.to_string()), "{t} missing in {tables:?}");
    }
    let mut c = app.connect(&db);
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) AS v FROM users WHERE role = 'admin' AND enabled"
        ),
        1
    );
    // the prefix, with its marker object
    let marker = app
        .state
        .bucket
        .get(&format!("ema-t-{slug}/.ema-tenant.json"))
        .await
        .expect("get")
        .expect("marker exists");
    let marker: Value = serde_json::from_slice(&marker.0).expect("json");
    assert_eq!(marker["slug"], slug.as_str());
    // the audit trail names the reseller's key as actor
    let events = app.audit(&slug).await;
    assert!(events.iter().any(|e| e.action == "tenant.created"));
    assert!(events.iter().any(|e| e.actor == "api_key:Reseller One"));
}

#[tokio::test]
async fn list_shows_each_tenants_fields_and_pages_with_a_cursor() {
    let app = spawn_app().await;
    let base = unique("list-");
    for i in 0..3 {
        app.create_tenant(&format!("{base}-{i}")).await;
    }
    // Act: pages of two
    let first: Value = app.get_json("/v1/tenants?limit=2").await;
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let second: Value = app
        .get_json(&format!("/v1/tenants?limit=2&cursor={cursor}"))
        .await;
    // Assert
    assert_eq!(first["items"].as_array().expect("items").len(), 2);
    assert_eq!(second["items"].as_array().expect("items").len(), 1);
    assert!(
        second.get("next_cursor").is_none(),
        "no cursor on the last page"
    );
    let item = &first["items"][0];
    for field in [
        "slug",
        "name",
        "status",
        "users",
        "storage_bytes",
        "created_at",
    ] {
        assert!(item.get(field).is_some(), "{field} missing in {item}");
    }
    // Usage shows in the list once the collector ran (no per-request fan-out).
    ema_bridge::usage::collect_once(&app.state)
        .await
        .expect("collect");
    let again: Value = app.get_json("/v1/tenants?limit=1").await;
    assert_eq!(again["items"][0]["users"], 1);
    assert!(again["items"][0]["storage_bytes"].as_i64().expect("bytes") > 1_000_000);
    // Bad paging input
    for q in ["limit=0", "limit=201", "cursor=not-a-cursor", "limit=x"] {
        let res = app
            .get(&format!("/v1/tenants?{q}"))
            .send()
            .await
            .expect("list");
        assert_eq!(res.status(), 422, "{q}");
    }
}

#[tokio::test]
async fn update_changes_name_and_branding_but_never_the_slug() {
    let app = spawn_app().await;
    let slug = unique("upd-");
    app.create_tenant(&slug).await;
    // Act
    let res = app
        .patch(&format!("/v1/tenants/{slug}"))
        .json(&json!({"name": "Acme Corporation", "branding": {"custom_name": "Acme Archive", "primary_color": "#FF8800"}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.expect("json");
    assert_eq!(t["name"], "Acme Corporation");
    assert_eq!(t["branding"]["custom_name"], "Acme Archive");
    assert_eq!(t["branding"]["primary_color"], "#ff8800");
    // The slug cannot change
    let res = app
        .patch(&format!("/v1/tenants/{slug}"))
        .json(&json!({"slug": "other-slug"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(res.status(), 409);
    let p: Value = res.json().await.expect("json");
    assert_eq!(p["code"], "slug_immutable");
    // Bad values change nothing
    for body in [
        json!({"branding": {"primary_color": "orange"}}),
        json!({"name": ""}),
        json!({"unknown": 1}),
        json!({"branding": {"custom_name": "x".repeat(101)}}),
    ] {
        let res = app
            .patch(&format!("/v1/tenants/{slug}"))
            .json(&body)
            .send()
            .await
            .expect("patch");
        assert_eq!(res.status(), 422, "{body}");
    }
    let t: Value = app.get_json(&format!("/v1/tenants/{slug}")).await;
    assert_eq!(t["name"], "Acme Corporation");
    assert_eq!(t["branding"]["primary_color"], "#ff8800");
    // Removing an override with null
    let t: Value = app
        .patch(&format!("/v1/tenants/{slug}"))
        .json(&json!({"branding": {"custom_name": null}}))
        .send()
        .await
        .expect("patch")
        .json()
        .await
        .expect("json");
    assert!(t["branding"]["custom_name"].is_null());
}

#[tokio::test]
async fn logo_uploads_are_content_checked_and_stored_under_the_prefix() {
    let app = spawn_app().await;
    let slug = unique("logo-");
    app.create_tenant(&slug).await;
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend([0u8; 64]);
    let res = app
        .client
        .put(app.url(&format!("/v1/tenants/{slug}/branding/logo")))
        .bearer_auth(&app.reseller.api_key)
        .body(png.clone())
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 200);
    let t: Value = res.json().await.expect("json");
    assert_eq!(t["branding"]["logo"], true);
    let stored = app
        .state
        .bucket
        .get(&format!("ema-t-{slug}/branding/logo.png"))
        .await
        .expect("get")
        .expect("stored");
    assert_eq!(stored.0, png);
    // A large logo within the limit (above actix's default 256 KiB body limit).
    let mut large = b"\x89PNG\r\n\x1a\n".to_vec();
    large.resize(400 * 1024, 0);
    let res = app
        .client
        .put(app.url(&format!("/v1/tenants/{slug}/branding/favicon")))
        .bearer_auth(&app.reseller.api_key)
        .body(large)
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 200);
    // Not an image, a scripted SVG, too large
    for (body, status) in [
        (b"<html>hi</html>".to_vec(), 415),
        (b"<svg><script>alert(1)</script></svg>".to_vec(), 415),
        (vec![0x89; 600 * 1024], 413),
    ] {
        let res = app
            .client
            .put(app.url(&format!("/v1/tenants/{slug}/branding/favicon")))
            .bearer_auth(&app.reseller.api_key)
            .body(body)
            .send()
            .await
            .expect("put");
        assert_eq!(res.status(), status);
    }
    // Removal deletes the object
    let res = app
        .delete(&format!("/v1/tenants/{slug}/branding/logo"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 200);
    assert!(
        !app.state
            .bucket
            .exists(&format!("ema-t-{slug}/branding/logo.png"))
            .await
            .expect("head")
    );
}

#[tokio::test]
async fn suspend_and_unsuspend_are_idempotent_and_keep_every_byte() {
    let app = spawn_app().await;
    let slug = unique("susp-");
    app.create_tenant(&slug).await;
    let db = format!("ema_t_{}", slug.replace('-', "_"));
    let key = format!("ema-t-{slug}/messages/ab/abcdef.eml");
    app.state
        .bucket
        .put(
            &key,
            b"Subject: kept\r\n\r\nbody".to_vec(),
            "message/rfc822",
        )
        .await
        .expect("put");
    {
        let mut c = app.connect(&db);
        diesel::sql_query("INSERT INTO settings (key, value) VALUES ('retention', '\"10y\"')")
            .execute(&mut c)
            .expect("insert");
    }
    // Act: suspend twice
    for _ in 0..2 {
        let res = app
            .post(&format!("/v1/tenants/{slug}/suspend"))
            .json(&json!({"reason": "overdue invoice 1042"}))
            .send()
            .await
            .expect("suspend");
        assert_eq!(res.status(), 200);
        let t: Value = res.json().await.expect("json");
        assert_eq!(t["status"], "suspended");
        assert_eq!(t["suspension_reason"], "overdue invoice 1042");
    }
    // Data intact and the database still writable while suspended (mail keeps arriving).
    {
        let mut c = app.connect(&db);
        assert_eq!(scalar_i64(&mut c, "SELECT count(*) AS v FROM settings"), 1);
        diesel::sql_query("INSERT INTO settings (key, value) VALUES ('during', 'true')")
            .execute(&mut c)
            .expect("still writable");
    }
    assert!(app.state.bucket.exists(&key).await.expect("head"));
    // Unsuspend twice
    for _ in 0..2 {
        let res = app
            .post(&format!("/v1/tenants/{slug}/unsuspend"))
            .send()
            .await
            .expect("unsuspend");
        assert_eq!(res.status(), 200);
        let t: Value = res.json().await.expect("json");
        assert_eq!(t["status"], "active");
        assert!(
            t["suspension"]["until"].is_string(),
            "the last suspension is shown: {t}"
        );
    }
    let mut c = app.connect(&db);
    assert_eq!(scalar_i64(&mut c, "SELECT count(*) AS v FROM settings"), 2);
    assert!(app.state.bucket.exists(&key).await.expect("head"));
    // The audit trail has one suspend and one unsuspend (repeats change nothing).
    let events = app.audit(&slug).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "tenant.suspended")
            .count(),
        1
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.action == "tenant.unsuspended")
            .count(),
        1
    );
    assert_eq!(
        events
            .iter()
            .find(|e| e.action == "tenant.suspended")
            .and_then(|e| e.reason.clone())
            .as_deref(),
        Some("overdue invoice 1042")
    );
}

#[tokio::test]
async fn deletion_is_refused_through_the_api_and_points_to_support() {
    let app = spawn_app().await;
    let slug = unique("del-");
    app.create_tenant(&slug).await;
    let res = app
        .delete(&format!("/v1/tenants/{slug}"))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 403);
    let p: Value = res.json().await.expect("json");
    assert_eq!(p["code"], "deletion_requires_support");
    assert!(p["detail"].as_str().expect("detail").contains("support"));
    assert_eq!(tenant_rows(&app, &slug).await, 1);
}

#[tokio::test]
async fn a_reseller_never_sees_another_resellers_tenants() {
    let app = spawn_app().await;
    let slug = unique("mine-");
    app.create_tenant(&slug).await;
    let other = app.another_reseller("Reseller Two").await;
    for (method, path) in [
        ("GET", format!("/v1/tenants/{slug}")),
        ("PATCH", format!("/v1/tenants/{slug}")),
        ("POST", format!("/v1/tenants/{slug}/suspend")),
        ("POST", format!("/v1/tenants/{slug}/unsuspend")),
        ("GET", format!("/v1/tenants/{slug}/usage")),
        ("DELETE", format!("/v1/tenants/{slug}")),
    ] {
        let res = app
            .client
            .request(method.parse().expect("method"), app.url(&path))
            .bearer_auth(&other.api_key)
            .json(&json!({}))
            .send()
            .await
            .expect("request");
        assert_eq!(res.status(), 404, "{method} {path}");
    }
    let list: Value = app
        .client
        .get(app.url("/v1/tenants"))
        .bearer_auth(&other.api_key)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(list["items"].as_array().expect("items").len(), 0);
    let t: Value = app.get_json(&format!("/v1/tenants/{slug}")).await;
    assert_eq!(
        t["status"], "active",
        "the other reseller's suspend did nothing"
    );
}

#[tokio::test]
async fn requests_without_a_valid_api_key_are_unauthorized() {
    let app = spawn_app().await;
    for auth in [
        None,
        Some("Bearer nope"),
        Some("Basic abc"),
        Some("Bearer "),
    ] {
        let mut req = app.client.get(app.url("/v1/tenants"));
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let res = req.send().await.expect("request");
        assert_eq!(res.status(), 401, "{auth:?}");
        let p: Value = res.json().await.expect("json");
        assert_eq!(p["code"], "unauthorized");
    }
}

#[tokio::test]
async fn every_invalid_slug_is_refused_clearly_and_leaves_nothing_behind() {
    let app = spawn_app().await;
    let taken = unique("taken-");
    app.create_tenant(&taken).await;
    let other = app.another_reseller("Reseller Two").await;
    let cases: Vec<(String, u16, &str)> = vec![
        ("ab".into(), 422, "slug_invalid"),
        ("a".repeat(49), 422, "slug_invalid"),
        ("Acme".into(), 422, "slug_invalid"),
        ("acme_corp".into(), 422, "slug_invalid"),
        ("1acme".into(), 422, "slug_invalid"),
        ("-acme".into(), 422, "slug_invalid"),
        ("acme-".into(), 422, "slug_invalid"),
        ("admin".into(), 422, "slug_invalid"),
        ("postgres".into(), 422, "slug_invalid"),
        ("template1".into(), 422, "slug_invalid"),
        ("acme'; drop table tenants;--".into(), 422, "slug_invalid"),
        (taken.clone(), 409, "slug_taken"),
    ];
    for (slug, status, code) in cases {
        let res = app
            .client
            .post(app.url("/v1/tenants"))
            .bearer_auth(&other.api_key)
            .json(&json!({"slug": slug, "name": "X"}))
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), status, "{slug}");
        let p: Value = res.json().await.expect("json");
        assert_eq!(p["code"], code, "{slug}");
        assert!(
            p["detail"].as_str().expect("detail").len() > 20,
            "a sentence, not a code: {p}"
        );
        if slug != taken {
            assert_eq!(tenant_rows(&app, &slug).await, 0);
            assert!(!database_exists(
                &app,
                &format!("ema_t_{}", slug.replace('-', "_"))
            ));
            assert!(
                !app.state
                    .bucket
                    .exists(&format!("ema-t-{slug}/.ema-tenant.json"))
                    .await
                    .unwrap_or(false)
            );
        }
    }
    // The taken slug still belongs to the first reseller only.
    assert_eq!(tenant_rows(&app, &taken).await, 1);
    // Other bad input: missing name, bad plan, bad admin, unknown field, not JSON.
    for body in [
        json!({"slug": unique("x-")}),
        json!({"slug": unique("x-"), "name": "X", "plan": {"code": "Pro!", "max_users": 1, "storage_gb": 1}}),
        json!({"slug": unique("x-"), "name": "X", "plan": {"code": "pro", "max_users": 0, "storage_gb": 1}}),
        json!({"slug": unique("x-"), "name": "X", "admin": {"email": "not-an-email", "password": "long enough pw"}}),
        json!({"slug": unique("x-"), "name": "X", "admin": {"email": "a@b.example", "password": "short"}}),
        json!({"slug": unique("x-"), "name": "X", "colour": "red"}),
    ] {
        let res = app
            .post("/v1/tenants")
            .json(&body)
            .send()
            .await
            .expect("create");
        assert_eq!(res.status(), 422, "{body}");
        assert_eq!(
            tenant_rows(&app, body["slug"].as_str().expect("slug")).await,
            0
        );
    }
    let res = app
        .post("/v1/tenants")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn the_slug_check_tells_order_forms_whether_a_slug_is_valid_and_free() {
    let app = spawn_app().await;
    let taken = unique("chk-");
    app.create_tenant(&taken).await;
    let free = unique("free-");
    let cases = [
        (free.as_str(), true, true),
        (taken.as_str(), true, false),
        ("Bad_Slug", false, false),
        ("www", false, false),
    ];
    for (slug, valid, available) in cases {
        let r: Value = app.get_json(&format!("/v1/slugs/{slug}")).await;
        assert_eq!(r["valid"], valid, "{slug}");
        assert_eq!(r["available"], available, "{slug}");
        if !available {
            assert!(r["reason"].is_string());
        }
    }
}

#[tokio::test]
async fn an_idempotency_key_replays_the_first_answer_and_refuses_another_body() {
    let app = spawn_app().await;
    let slug = unique("idem-");
    let body = json!({"slug": slug, "name": "Idem"});
    let first = app
        .post("/v1/tenants")
        .header("Idempotency-Key", "order-42")
        .json(&body)
        .send()
        .await
        .expect("create");
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    let again = app
        .post("/v1/tenants")
        .header("Idempotency-Key", "order-42")
        .json(&body)
        .send()
        .await
        .expect("create");
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.json::<Value>().await.expect("json"), first);
    let other = app
        .post("/v1/tenants")
        .header("Idempotency-Key", "order-42")
        .json(&json!({"slug": unique("idem-"), "name": "Other"}))
        .send()
        .await
        .expect("create");
    assert_eq!(other.status(), 422);
    assert_eq!(
        other.json::<Value>().await.expect("json")["code"],
        "idempotency_key_reused"
    );
    let bad = app
        .post("/v1/tenants")
        .header("Idempotency-Key", "has space")
        .json(&body)
        .send()
        .await
        .expect("create");
    assert_eq!(bad.status(), 400);
    assert_eq!(tenant_rows(&app, &slug).await, 1);
}

#[tokio::test]
async fn twenty_concurrent_creates_of_one_slug_make_one_tenant() {
    let app = spawn_app().await;
    let slug = unique("race-");
    let mut tasks = Vec::new();
    for i in 0..20 {
        let req = app
            .post("/v1/tenants")
            .json(&json!({"slug": slug, "name": format!("Racer {i}")}));
        tasks.push(tokio::spawn(async move {
            req.send().await.expect("create").status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.expect("join"));
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(tenant_rows(&app, &slug).await, 1);
    assert!(database_exists(
        &app,
        &format!("ema_t_{}", slug.replace('-', "_"))
    ));
    let mut c = app.connect("postgres");
    assert_eq!(
        scalar_i64(
            &mut c,
            "SELECT count(*) AS v FROM pg_database WHERE datname LIKE 'ema\\_p\\_%'"
        ),
        0,
        "no pending clone left"
    );
}

#[tokio::test]
async fn paging_through_ten_thousand_tenants_during_creates_returns_each_exactly_once() {
    let app = spawn_app().await;
    let prefix = unique("pg");
    let rid = app.reseller.reseller_id;
    let p = prefix.clone();
    // Arrange: 10,000 control rows seeded directly (real databases would not fit one machine).
    app.state
        .db
        .run(move |conn| {
            diesel::sql_query(format!(
                "INSERT INTO tenants (slug, reseller_id, name, status, provisioning_step, plan_code, max_users, storage_gb, gb_per_licence, db_name)
                 SELECT '{p}-' || lpad(g::text, 5, '0'), '{rid}', 'Seeded ' || g, 'active', 'done', 'standard', 25, 50, 10, 'ema_t_{p}_' || g
                 FROM generate_series(1, 10000) g"
            ))
            .execute(conn)
        })
        .await
        .expect("seed");
    // Act: page through while real creates run.
    let creator = {
        let req_base = app.client.clone();
        let url = app.url("/v1/tenants");
        let key = app.reseller.api_key.clone();
        let p = prefix.clone();
        tokio::spawn(async move {
            for i in 0..5 {
                let res = req_base
                    .post(&url)
                    .bearer_auth(&key)
                    .json(&json!({"slug": format!("{p}-new{i}"), "name": "New"}))
                    .send()
                    .await
                    .expect("create");
                assert_eq!(res.status(), 201);
            }
        })
    };
    let mut seen = std::collections::HashMap::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/tenants?limit=200&cursor={c}"),
            None => "/v1/tenants?limit=200".to_string(),
        };
        let page: Value = app
            .get(&path)
            .send()
            .await
            .expect("page")
            .json()
            .await
            .expect("json");
        for item in page["items"].as_array().expect("items") {
            *seen
                .entry(item["slug"].as_str().expect("slug").to_owned())
                .or_insert(0) += 1;
        }
        match page.get("next_cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    creator.await.expect("creator");
    // Assert: every seeded tenant exactly once; nothing twice.
    for g in 1..=10000 {
        assert_eq!(
            seen.get(&format!("{prefix}-{g:05}")),
            Some(&1),
            "tenant {g}"
        );
    }
    assert!(seen.values().all(|n| *n == 1));
}

#[tokio::test]
async fn usage_counts_users_and_storage_and_marks_sandbox_and_suspended_tenants_unbilled() {
    let app = spawn_app().await;
    let live = unique("use-");
    let sandbox = unique("sbx-");
    let susp = unique("sus-");
    app.create_tenant(&live).await;
    let res = app
        .post("/v1/tenants")
        .json(&json!({"slug": sandbox, "name": "Test", "sandbox": true}))
        .send()
        .await
        .expect("sandbox");
    assert_eq!(res.status(), 201);
    app.create_tenant(&susp).await;
    app.post(&format!("/v1/tenants/{susp}/suspend"))
        .send()
        .await
        .expect("suspend");
    // Two more users in the live tenant, one of them disabled.
    {
        let mut c = app.connect(&format!("ema_t_{}", live.replace('-', "_")));
        diesel::sql_query("INSERT INTO users (email, enabled) VALUES ('u1@x.example', true), ('u2@x.example', false)").execute(&mut c).expect("users");
    }
    app.state
        .bucket
        .put(
            &format!("ema-t-{live}/messages/aa/aa.eml"),
            vec![b'x'; 5000],
            "message/rfc822",
        )
        .await
        .expect("put");
    // Act
    ema_bridge::usage::collect_once(&app.state)
        .await
        .expect("collect");
    let u: Value = app.get_json(&format!("/v1/tenants/{live}/usage")).await;
    let all: Value = app.get_json("/v1/usage").await;
    // Assert
    assert_eq!(u["users"], 3);
    assert_eq!(u["active_users"], 2);
    assert!(u["s3_bytes"].as_i64().expect("s3") >= 5000);
    assert!(u["db_bytes"].as_i64().expect("db") > 1_000_000);
    assert_eq!(
        u["storage_bytes"].as_i64(),
        Some(u["s3_bytes"].as_i64().unwrap_or(0) + u["db_bytes"].as_i64().unwrap_or(0))
    );
    assert_eq!(u["billable"], true);
    assert_eq!(
        u["licences"], 2,
        "max(2 active users, ceil(storage / 10 GB) = 1)"
    );
    let by_slug = |s: &str| {
        all["items"]
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["slug"] == s)
            .cloned()
            .expect("item")
    };
    assert_eq!(by_slug(&sandbox)["billable"], false);
    assert_eq!(by_slug(&sandbox)["not_billable_reason"], "sandbox");
    assert_eq!(by_slug(&susp)["billable"], false);
    assert_eq!(by_slug(&susp)["not_billable_reason"], "suspended");
}

#[tokio::test]
async fn the_openapi_document_matches_the_routes() {
    let app = spawn_app().await;
    let doc: Value = app
        .client
        .get(app.url("/v1/openapi.json"))
        .send()
        .await
        .expect("doc")
        .json()
        .await
        .expect("json");
    let paths = doc["paths"].as_object().expect("paths");
    let mut documented = std::collections::BTreeSet::new();
    for (path, ops) in paths {
        for method in ops.as_object().expect("ops").keys() {
            documented.insert(format!("{} {path}", method.to_uppercase()));
            // Every documented operation is routed (not the catch-all "No such endpoint").
            let concrete = path
                .replace("{slug}", "nosuchtenant")
                .replace("{asset}", "logo")
                .replace("{id}", "00000000-0000-0000-0000-000000000000");
            let res = app
                .client
                .request(
                    method.to_uppercase().parse().expect("method"),
                    app.url(&concrete),
                )
                .bearer_auth(&app.reseller.api_key)
                .send()
                .await
                .expect("request");
            let body: Value = res.json().await.unwrap_or(Value::Null);
            assert_ne!(
                body["detail"], "No such endpoint.",
                "{method} {path} is documented but not routed"
            );
        }
    }
    // Every routed operation is documented.
    for route in [
        "POST /v1/tenants",
        "GET /v1/tenants",
        "GET /v1/tenants/{slug}",
        "PATCH /v1/tenants/{slug}",
        "DELETE /v1/tenants/{slug}",
        "POST /v1/tenants/{slug}/suspend",
        "POST /v1/tenants/{slug}/unsuspend",
        "GET /v1/tenants/{slug}/usage",
        "PUT /v1/tenants/{slug}/branding/{asset}",
        "DELETE /v1/tenants/{slug}/branding/{asset}",
        "GET /v1/usage",
        "GET /v1/slugs/{slug}",
        "POST /v1/tenants/{slug}/ingest-tokens",
        "DELETE /v1/tenants/{slug}/ingest-tokens/{id}",
    ] {
        assert!(
            documented.contains(route),
            "{route} is routed but not documented: {documented:?}"
        );
    }
}

#[tokio::test]
async fn a_database_that_is_not_ours_is_never_adopted_nor_dropped() {
    let app = spawn_app().await;
    let slug = unique("foreign-");
    let db = format!("ema_t_{}", slug.replace('-', "_"));
    {
        let mut c = app.connect("postgres");
        diesel::sql_query(format!("CREATE DATABASE \"{db}\""))
            .execute(&mut c)
            .expect("foreign db");
    }
    let res = app
        .post("/v1/tenants")
        .json(&json!({"slug": slug, "name": "Clash"}))
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 202);
    let t: Value = res.json().await.expect("json");
    assert_eq!(t["status"], "failed", "parked for support, not active");
    assert!(
        database_exists(&app, &db),
        "the foreign database is untouched"
    );
    let findings = ema_bridge::operator::diagnose(&app.state)
        .await
        .expect("doctor");
    assert!(
        findings
            .iter()
            .any(|f| f.kind == "foreign_database" && f.subject == db),
        "{findings:?}"
    );
    assert!(
        findings
            .iter()
            .any(|f| f.kind == "failed_tenant" && f.subject == slug)
    );
    // The operator can delete the parked tenant: the foreign database stays.
    let removed = ema_bridge::provisioning::delete(
        &app.state,
        &ema_bridge::domain::Slug::parse(&slug).expect("slug"),
        &slug,
    )
    .await;
    assert!(
        removed.is_err(),
        "refuses to drop a database without our marker"
    );
    assert!(database_exists(&app, &db));
}

#[tokio::test]
async fn the_operator_deletes_only_suspended_tenants_and_keeps_the_audit_record() {
    let app = spawn_app().await;
    let slug = unique("gone-");
    app.create_tenant(&slug).await;
    let parsed = ema_bridge::domain::Slug::parse(&slug).expect("slug");
    let db = parsed.database_name();
    // Active: refused. Wrong confirmation: refused.
    assert!(
        ema_bridge::provisioning::delete(&app.state, &parsed, &slug)
            .await
            .is_err()
    );
    app.post(&format!("/v1/tenants/{slug}/suspend"))
        .send()
        .await
        .expect("suspend");
    assert!(
        ema_bridge::provisioning::delete(&app.state, &parsed, "wrong")
            .await
            .is_err()
    );
    assert!(database_exists(&app, &db));
    // Act
    let removed = ema_bridge::provisioning::delete(&app.state, &parsed, &slug)
        .await
        .expect("delete");
    // Assert
    assert!(removed.iter().any(|r| r == &db), "{removed:?}");
    assert!(!database_exists(&app, &db));
    assert!(
        app.state
            .bucket
            .prefix_usage(&parsed.s3_prefix())
            .await
            .expect("list")
            .objects
            == 0
    );
    assert_eq!(tenant_rows(&app, &slug).await, 0);
    let events = app.audit(&slug).await;
    assert!(
        events
            .iter()
            .any(|e| e.action == "tenant.deleted" && e.actor == "operator")
    );
    // The slug is free again.
    app.create_tenant(&slug).await;
}

/// The real binary against the shared cluster and S3 server, with a crash injected.
fn run_daemon(db: &str, bucket: &str, crash_after: Option<&str>) -> (std::process::Child, u16) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_ema-bridge"));
    cmd.arg("serve")
        .envs(crate::helpers::test_env(db, bucket))
        .env("EMA_BRIDGE__HTTP__BIND", format!("127.0.0.1:{port}"));
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    if let Some(point) = crash_after {
        cmd.env(ema_bridge::provisioning::fault::ENV, point);
    }
    let child = cmd.spawn().expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "daemon did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    (child, port)
}

#[test]
fn a_crash_after_any_provisioning_step_ends_in_an_active_tenant_after_restart() {
    let s = shared();
    for point in [
        "db_cloned",
        "db_marked",
        "database_created",
        "migrated",
        "storage_ready",
    ] {
        // Arrange: a control database with one reseller.
        let db = unique("crash_");
        let bucket = unique("crash-");
        ema_bridge::embedded::ensure_database(&s.cluster.url("postgres"), &db).expect("db");
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_ema-bridge"))
            .args(["reseller", "create", "--name", "Crashy", "--json"])
            .envs(crate::helpers::test_env(&db, &bucket))
            .output()
            .expect("reseller");
        let creds: Value = serde_json::from_slice(&out.stdout).expect("creds");
        let key = creds["api_key"].as_str().expect("key").to_owned();
        let slug = unique("crash-");
        // Act: the daemon dies mid-create.
        let (mut child, port) = run_daemon(&db, &bucket, Some(point));
        let client = reqwest::blocking::Client::new();
        let res = client
            .post(format!("http://127.0.0.1:{port}/v1/tenants"))
            .bearer_auth(&key)
            .json(&json!({"slug": slug, "name": "Crash"}))
            .send();
        assert!(
            res.is_err(),
            "{point}: the process should have died mid-request"
        );
        let status = child.wait().expect("wait");
        assert!(!status.success(), "{point}: aborted");
        // Restart without the fault: the reconciler finishes the create.
        let (mut child, port) = run_daemon(&db, &bucket, None);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        let t: Value = loop {
            let t: Value = client
                .get(format!("http://127.0.0.1:{port}/v1/tenants/{slug}"))
                .bearer_auth(&key)
                .send()
                .expect("get")
                .json()
                .expect("json");
            if t["status"] == "active" || std::time::Instant::now() > deadline {
                break t;
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        };
        let _ = child.kill();
        let _ = child.wait();
        // Assert: active, one row, one database, no pending clone, marker in the bucket.
        assert_eq!(t["status"], "active", "{point}: {t}");
        let list: Value = client
            .get(format!("http://127.0.0.1:{port}/v1/tenants"))
            .bearer_auth(&key)
            .send()
            .map(|r| r.json().unwrap_or(Value::Null))
            .unwrap_or(Value::Null);
        let _ = list;
        let mut c = {
            use diesel::Connection;
            diesel::PgConnection::establish(&s.cluster.url("postgres")).expect("connect")
        };
        let dbname = format!("ema_t_{}", slug.replace('-', "_"));
        assert_eq!(
            scalar_i64(
                &mut c,
                &format!("SELECT count(*) AS v FROM pg_database WHERE datname = '{dbname}'")
            ),
            1,
            "{point}"
        );
        let mut ctl = {
            use diesel::Connection;
            diesel::PgConnection::establish(&s.cluster.url(&db)).expect("connect")
        };
        let marker_hex: String = {
            #[derive(diesel::QueryableByName)]
            struct M {
                #[diesel(sql_type = diesel::sql_types::Text)]
                m: String,
            }
            let m: M = diesel::sql_query(format!(
                "SELECT replace(marker::text, '-', '') AS m FROM tenants WHERE slug = '{slug}'"
            ))
            .get_result(&mut ctl)
            .expect("marker");
            m.m
        };
        assert_eq!(
            scalar_i64(
                &mut ctl,
                &format!("SELECT count(*) AS v FROM tenants WHERE slug = '{slug}'")
            ),
            1,
            "{point}"
        );
        assert_eq!(
            scalar_i64(
                &mut c,
                &format!(
                    "SELECT count(*) AS v FROM pg_database WHERE datname = 'ema_p_{marker_hex}'"
                )
            ),
            0,
            "{point}: pending clone left"
        );
        let tables = scalar_i64(
            &mut {
                use diesel::Connection;
                diesel::PgConnection::establish(&s.cluster.url(&dbname)).expect("tenant db")
            },
            "SELECT count(*) AS v FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('users','messages','settings','audit_log')",
        );
        assert_eq!(tables, 4, "{point}");
        assert!(
            s.root
                .join("s3")
                .join(&bucket)
                .join(format!("ema-t-{slug}"))
                .join(".ema-tenant.json")
                .is_file(),
            "{point}: marker object"
        );
    }
}

#[tokio::test]
async fn a_request_still_running_under_an_idempotency_key_answers_409_and_a_crashed_one_can_be_retried()
 {
    use ema_bridge::idempotency::{self, Begin, IdempotencyKey};
    use sha2::{Digest, Sha256};
    let app = spawn_app().await;
    let rid = app.reseller.reseller_id;
    let slug = unique("inflight-");
    let body = serde_json::to_vec(&json!({"slug": slug, "name": "X"})).expect("json");
    // The fingerprint the API computes: method, path and query, body.
    let fingerprint: Vec<u8> = {
        let mut h = Sha256::new();
        h.update(b"POST\0/v1/tenants\0");
        h.update(&body);
        h.finalize().to_vec()
    };
    // Arrange: the first request has begun and not finished (as if still provisioning).
    let key = IdempotencyKey::parse("order-in-flight").expect("key");
    let (k, fp) = (key.clone(), fingerprint.clone());
    let first = app
        .state
        .db
        .run(move |c| idempotency::begin(c, rid, &k, &fp))
        .await
        .expect("begin");
    assert!(matches!(first, Begin::Proceed));
    // Act: the client retries the same request.
    let res = app
        .post("/v1/tenants")
        .header("Idempotency-Key", "order-in-flight")
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .expect("create");
    // Assert: 409 while the first runs, and nothing was created by the retry.
    assert_eq!(res.status(), 409);
    assert_eq!(
        res.json::<Value>().await.expect("json")["code"],
        "request_in_progress"
    );
    assert_eq!(tenant_rows(&app, &slug).await, 0);
    // A worker that died leaves a lock that expires: the retry then runs.
    app.state
        .db
        .run(move |c| {
            diesel::sql_query("UPDATE idempotency_keys SET locked_until = now() - interval '1 second' WHERE key = 'order-in-flight'").execute(c)
        })
        .await
        .expect("expire");
    let res = app
        .post("/v1/tenants")
        .header("Idempotency-Key", "order-in-flight")
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("create");
    assert_eq!(res.status(), 201);
    assert_eq!(tenant_rows(&app, &slug).await, 1);
}

#[tokio::test]
async fn two_identical_requests_at_once_run_once_and_the_other_gets_409_or_the_replay() {
    let app = spawn_app().await;
    let body = json!({"slug": unique("twin-"), "name": "Twin"});
    let a = app
        .post("/v1/tenants")
        .header("Idempotency-Key", "twin-key")
        .json(&body)
        .send();
    let b = app
        .post("/v1/tenants")
        .header("Idempotency-Key", "twin-key")
        .json(&body)
        .send();
    let (a, b) = tokio::join!(a, b);
    let mut statuses = [
        a.expect("a").status().as_u16(),
        b.expect("b").status().as_u16(),
    ];
    statuses.sort();
    assert!(
        statuses == [201, 201] || statuses == [201, 409],
        "{statuses:?}"
    );
    assert_eq!(
        tenant_rows(&app, body["slug"].as_str().expect("slug")).await,
        1
    );
}
