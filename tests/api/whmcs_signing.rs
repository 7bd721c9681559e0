//! The WHMCS channel's request signature against the live endpoint: every attack of the
//! reference list (signing-and-s3.md §1.8) is refused before it reaches an action, key rotation
//! works, and the refusals are logged without secrets.

use base64::Engine;
use ema_bridge::tenant::{Tenant, TenantStatus, repo};
use serde_json::json;

use crate::helpers::{TestApp, spawn_app, unique};
use crate::whmcs_support::{
    Raw, Signed, align_to_second, capture_logs, fresh_nonce, logs, now, send_bytes, send_bytes_to,
};

const SERVICE: i64 = 1001;

/// An app whose reseller has one active tenant, made through the channel, for `SERVICE`.
async fn app_with_tenant() -> (TestApp, String) {
    capture_logs();
    let app = spawn_app().await;
    let slug = unique("sig");
    let res = Signed::new(&app, "create_account", create_body(&slug, SERVICE))
        .send(&app)
        .await;
    assert_eq!(res.status, 201, "{}", res.text());
    (app, slug)
}

fn create_body(slug: &str, service_id: i64) -> serde_json::Value {
    json!({"service_id": service_id, "slug": slug, "name": "Signing Test", "plan": "standard", "max_users": 25, "storage_gb": 50,
        "admin": {"email": format!("owner@{slug}.example"), "password": "a long enough password"}})
}

async fn tenant(app: &TestApp) -> Tenant {
    let rid = app.reseller.reseller_id;
    app.state
        .db
        .run(move |c| repo::by_service(c, rid, SERVICE))
        .await
        .expect("query")
        .expect("tenant")
}

fn suspend(app: &TestApp) -> Signed {
    Signed::new(
        app,
        "suspend_account",
        json!({"service_id": SERVICE, "reason": "attack"}),
    )
}

/// The same JSON object with its two keys in the other order.
fn reordered(body: &[u8]) -> Vec<u8> {
    let a = br#"{"reason":"attack","service_id":1001}"#;
    let b = br#"{"service_id":1001,"reason":"attack"}"#;
    if body == a { b.to_vec() } else { a.to_vec() }
}

/// The request with its body replaced (the signature and body hash headers stay as they were).
fn with_body(r: Raw, body: &[u8]) -> Raw {
    assert_ne!(
        r.body, body,
        "a tampered body must differ from the signed one"
    );
    let mut r = r.set("Content-Length", &body.len().to_string());
    r.body = body.to_vec();
    r
}

/// Re-signs `s` after `edit` changed a signed field, so only that field is "wrong".
fn resigned(s: &Signed, edit: impl FnOnce(&mut Signed)) -> Raw {
    let mut s = s.clone();
    edit(&mut s);
    s.raw()
}

fn attacks(app: &TestApp, other_key_id: &str) -> Vec<(&'static str, Raw, &'static [u16])> {
    const U: &[u16] = &[401];
    // A raw newline splits the header line: the HTTP parser refuses it first.
    const PARSE: &[u16] = &[400, 401];
    let s = suspend(app);
    let r = || s.raw();
    let sig = s.signature();
    let hexsig = sig[3..].to_owned();
    let mac = hex::decode(&hexsig).expect("hex");
    let ts: i64 = s.timestamp.parse().expect("ts");
    vec![
        // Timestamps (re-signed, so only the window or format fails).
        (
            "stale timestamp now-301",
            resigned(&s, |s| s.timestamp = (ts - 301).to_string()),
            U,
        ),
        (
            "future timestamp now+301",
            resigned(&s, |s| s.timestamp = (ts + 301).to_string()),
            U,
        ),
        (
            "non-numeric timestamp",
            resigned(&s, |s| s.timestamp = "17647632OO".into()),
            U,
        ),
        (
            "negative timestamp",
            resigned(&s, |s| s.timestamp = format!("-{ts}")),
            U,
        ),
        (
            "plus-signed timestamp",
            resigned(&s, |s| s.timestamp = format!("+{ts}")),
            U,
        ),
        (
            "leading zeros beyond 12 digits",
            resigned(&s, |s| s.timestamp = format!("000{ts}")),
            U,
        ),
        (
            "64-bit overflow timestamp",
            resigned(&s, |s| s.timestamp = "18446744073709551617".into()),
            U,
        ),
        (
            "fractional timestamp",
            resigned(&s, |s| s.timestamp = format!("{ts}.0")),
            U,
        ),
        // Body tampering.
        (
            "one byte flipped",
            with_body(
                r(),
                &s.body
                    .iter()
                    .map(|b| if *b == b'k' { b'K' } else { *b })
                    .collect::<Vec<_>>(),
            ),
            U,
        ),
        (
            "space appended",
            with_body(r(), &[s.body.as_slice(), b" "].concat()),
            U,
        ),
        (
            "newline appended",
            with_body(r(), &[s.body.as_slice(), b"\n"].concat()),
            U,
        ),
        ("keys re-ordered", with_body(r(), &reordered(&s.body)), U),
        (
            "number re-spelled",
            with_body(r(), br#"{"service_id":1001.0,"reason":"attack"}"#),
            U,
        ),
        (
            "tampered body with its own valid hash header",
            {
                let body = br#"{"service_id":1001,"reason":"attacker"}"#;
                with_body(r(), body).set(
                    "X-Ema-Content-Sha256",
                    &ema_bridge::signing::body_sha256(body),
                )
            },
            U,
        ),
        (
            "signature over a truncated body",
            {
                let mut short = s.clone();
                short.body.truncate(10);
                let mut raw = s.raw();
                raw = raw.set("X-Ema-Signature", &short.signature()).set(
                    "X-Ema-Content-Sha256",
                    &ema_bridge::signing::body_sha256(&short.body),
                );
                raw
            },
            U,
        ),
        (
            "Content-Length shorter than the body",
            r().set("Content-Length", "10"),
            U,
        ),
        // Path, query and method.
        (
            "moved to another action",
            Raw {
                target: "/whmcs/v1/terminate_account".into(),
                ..r()
            },
            U,
        ),
        (
            "trailing slash",
            Raw {
                target: "/whmcs/v1/suspend_account/".into(),
                ..r()
            },
            U,
        ),
        (
            "double slash",
            Raw {
                target: "/whmcs/v1//suspend_account".into(),
                ..r()
            },
            U,
        ),
        (
            "dot segment",
            Raw {
                target: "/whmcs/v1/./suspend_account".into(),
                ..r()
            },
            U,
        ),
        (
            "percent-encoded letter",
            Raw {
                target: "/whmcs/v1/%73uspend_account".into(),
                ..r()
            },
            U,
        ),
        (
            "query added",
            Raw {
                target: "/whmcs/v1/suspend_account?x=1".into(),
                ..r()
            },
            U,
        ),
        (
            "percent-escape case changed",
            {
                let signed = Signed {
                    target: "/whmcs/v1/suspend%5faccount".into(),
                    ..s.clone()
                };
                Raw {
                    target: "/whmcs/v1/suspend%5Faccount".into(),
                    ..signed.raw()
                }
            },
            U,
        ),
        (
            "method PUT",
            Raw {
                method: "PUT".into(),
                ..r()
            },
            U,
        ),
        (
            "method GET",
            Raw {
                method: "GET".into(),
                ..r()
            },
            U,
        ),
        (
            "lowercase method in the string to sign",
            r().set(
                "X-Ema-Signature",
                &Signed {
                    method: "post".into(),
                    ..s.clone()
                }
                .signature(),
            ),
            U,
        ),
        // Keys.
        (
            "unknown key id",
            r().set("X-Ema-Key-Id", "wk_000000000000"),
            U,
        ),
        (
            "unknown key id, signed",
            resigned(&s, |s| s.key_id = "wk_000000000000".into()),
            U,
        ),
        (
            "another reseller's key id, this reseller's MAC",
            r().set("X-Ema-Key-Id", other_key_id),
            U,
        ),
        (
            "uppercase key id",
            resigned(&s, |s| s.key_id = s.key_id.to_uppercase()),
            U,
        ),
        (
            "key id with a trailing space",
            resigned(&s, |s| s.key_id = format!("{} ", s.key_id)),
            U,
        ),
        (
            "key id with %0a",
            resigned(&s, |s| s.key_id = format!("{}%0a", s.key_id)),
            U,
        ),
        (
            "key id with a raw newline",
            resigned(&s, |s| s.key_id = format!("{}\nX-Other: 1", s.key_id)),
            PARSE,
        ),
        // Missing, duplicated and empty headers.
        ("no key id", r().remove("X-Ema-Key-Id"), U),
        ("no timestamp", r().remove("X-Ema-Timestamp"), U),
        ("no nonce", r().remove("X-Ema-Nonce"), U),
        ("no body hash", r().remove("X-Ema-Content-Sha256"), U),
        ("no signature", r().remove("X-Ema-Signature"), U),
        ("two signatures", r().add("X-Ema-Signature", &sig), U),
        (
            "two timestamps",
            r().add("X-Ema-Timestamp", &s.timestamp),
            U,
        ),
        ("two key ids", r().add("x-ema-key-id", &s.key_id), U),
        ("two nonces", r().add("X-EMA-NONCE", &fresh_nonce()), U),
        ("empty signature", r().set("X-Ema-Signature", ""), U),
        ("empty nonce", r().set("X-Ema-Nonce", ""), U),
        (
            "empty Idempotency-Key",
            resigned(&s, |s| s.idempotency_key = Some(String::new())),
            U,
        ),
        // Malformed signatures.
        ("v1= only", r().set("X-Ema-Signature", "v1="), U),
        (
            "63 hex characters",
            r().set("X-Ema-Signature", &format!("v1={}", &hexsig[..63])),
            U,
        ),
        (
            "32 hex characters",
            r().set("X-Ema-Signature", &format!("v1={}", &hexsig[..32])),
            U,
        ),
        (
            "65 hex characters",
            r().set("X-Ema-Signature", &format!("{sig}0")),
            U,
        ),
        (
            "uppercase hex",
            r().set("X-Ema-Signature", &format!("v1={}", hexsig.to_uppercase())),
            U,
        ),
        (
            "base64 of the right bytes",
            r().set(
                "X-Ema-Signature",
                &format!(
                    "v1={}",
                    base64::engine::general_purpose::STANDARD.encode(&mac)
                ),
            ),
            U,
        ),
        (
            "v2= prefix",
            r().set("X-Ema-Signature", &format!("v2={hexsig}")),
            U,
        ),
        (
            "V1= prefix",
            r().set("X-Ema-Signature", &format!("V1={hexsig}")),
            U,
        ),
        (
            "junk suffix",
            r().set("X-Ema-Signature", &format!("{sig}junk")),
            U,
        ),
        ("no prefix", r().set("X-Ema-Signature", &hexsig), U),
        // Case games and delimiter injection in values.
        (
            "uppercase nonce, signed",
            resigned(&s, |s| s.nonce = s.nonce.to_uppercase()),
            U,
        ),
        (
            "nonce with %0a",
            resigned(&s, |s| s.nonce = format!("{}%0a", &s.nonce[..29])),
            U,
        ),
        (
            "nonce with a raw newline",
            resigned(&s, |s| {
                s.nonce = format!("{}\n{}", &s.nonce[..16], &s.nonce[16..])
            }),
            PARSE,
        ),
        (
            "Idempotency-Key with %0a",
            resigned(&s, |s| {
                s.idempotency_key = Some("suspend_account%0a1001".into())
            }),
            U,
        ),
        (
            "Idempotency-Key with a raw newline",
            resigned(&s, |s| {
                s.idempotency_key = Some("suspend_account\n1001".into())
            }),
            PARSE,
        ),
        (
            "quoted Idempotency-Key",
            resigned(&s, |s| {
                s.idempotency_key = Some("\"suspend_account:1\"".into())
            }),
            U,
        ),
        // Size.
        (
            "Content-Length of 10 GB",
            Raw {
                body: Vec::new(),
                ..r().set("Content-Length", "10000000000")
            },
            &[413],
        ),
        (
            "65 KiB body, signed",
            {
                let mut big = s.clone();
                big.body = format!(
                    r#"{{"service_id":1001,"reason":"{}"}}"#,
                    "x".repeat(65 * 1024)
                )
                .into_bytes();
                big.raw()
            },
            &[413],
        ),
        (
            "65 KiB chunked body without Content-Length",
            {
                let mut big = s.clone();
                big.body = format!(
                    r#"{{"service_id":1001,"reason":"{}"}}"#,
                    "x".repeat(65 * 1024)
                )
                .into_bytes();
                let mut raw = big
                    .raw()
                    .remove("Content-Length")
                    .set("Transfer-Encoding", "chunked");
                let mut chunked = Vec::new();
                for part in big.body.chunks(4096) {
                    chunked.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
                    chunked.extend_from_slice(part);
                    chunked.extend_from_slice(b"\r\n");
                }
                chunked.extend_from_slice(b"0\r\n\r\n");
                raw.body = chunked;
                raw
            },
            &[413],
        ),
    ]
}

#[tokio::test]
async fn no_attack_of_the_reference_list_reaches_an_action() {
    // Arrange
    let (app, _slug) = app_with_tenant().await;
    let other = app.another_reseller(&unique("Other ")).await;
    align_to_second().await;
    let cases = attacks(&app, &other.whmcs_key_id);
    // Act + Assert
    let mut failures = Vec::new();
    for (name, raw, expected) in cases {
        let res = raw.send(&app).await;
        if !expected.contains(&res.status) {
            failures.push(format!(
                "{name}: expected {expected:?}, got {} {}",
                res.status,
                res.text()
            ));
        }
        if res.status == 401 {
            let body = res.json();
            assert_eq!(body["code"], "unauthorized", "{name}");
            assert_eq!(
                body["detail"], "The request signature could not be verified.",
                "{name}: one generic answer"
            );
            assert!(res.header("x-request-id").is_some(), "{name}");
        }
    }
    assert!(
        failures.is_empty(),
        "attacks not refused as expected:\n{}",
        failures.join("\n")
    );
    let t = tenant(&app).await;
    assert_eq!(
        t.status(),
        TenantStatus::Active,
        "an attack suspended the tenant"
    );
    assert!(t.suspended_at.is_none());
    let slug = t.slug.clone();
    let events = app
        .state
        .db
        .run(move |c| ema_bridge::audit::for_tenant(c, &slug))
        .await
        .expect("audit");
    assert!(
        events
            .iter()
            .all(|e| e.action != "tenant.suspended" && e.action != "tenant.deletion_requested"),
        "{events:?}"
    );
    // The reasons are in the log, the secret and the signatures are not.
    let log = logs();
    assert!(log.contains("WHMCS request refused"), "refusals are logged");
    assert!(
        log.contains("the signature does not match")
            && log.contains("away from the daemon's clock"),
        "reasons are logged"
    );
    assert!(
        !log.contains(&app.reseller.whmcs_secret),
        "the secret reached the log"
    );
    assert!(
        !log.contains(&suspend(&app).signature()[3..]),
        "a signature reached the log"
    );
}

#[tokio::test]
async fn timestamps_within_299_seconds_either_way_are_accepted() {
    let (app, _slug) = app_with_tenant().await;
    align_to_second().await;
    for offset in [-299, 299, 0] {
        let mut s = Signed::new(&app, "test_connection", json!({}));
        s.timestamp = (now() + offset).to_string();
        let res = s.send(&app).await;
        assert_eq!(res.status, 200, "offset {offset}: {}", res.text());
        assert_eq!(res.json()["ok"], true);
    }
}

#[tokio::test]
async fn a_replayed_suspend_fails_even_on_a_restarted_daemon() {
    // Arrange: a captured suspend, and the tenant unsuspended after it.
    let (app, _slug) = app_with_tenant().await;
    let captured = suspend(&app).raw();
    let first = captured.send(&app).await;
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(tenant(&app).await.status(), TenantStatus::Suspended);
    let res = Signed::new(&app, "unsuspend_account", json!({"service_id": SERVICE}))
        .send(&app)
        .await;
    assert_eq!(res.status, 200, "{}", res.text());
    // Act: replay it to this daemon, and to a second one started on the same control database.
    let replay = captured.send(&app).await;
    let restarted = ema_bridge::startup::Application::build(app.state.clone())
        .await
        .expect("second app");
    let port = restarted.port();
    let handle = restarted.handle();
    tokio::spawn(restarted.run_until_stopped());
    let replay_elsewhere = send_bytes_to(port, &captured.bytes()).await;
    handle.stop(false).await;
    // Assert
    assert_eq!(replay.status, 401, "{}", replay.text());
    assert_eq!(replay_elsewhere.status, 401, "{}", replay_elsewhere.text());
    assert_eq!(tenant(&app).await.status(), TenantStatus::Active);
    assert!(logs().contains("replay"), "the reason is logged");
    // The nonce is kept past the window (timestamp + 600 s).
    let nonce = captured.header("X-Ema-Nonce");
    let ts: i64 = captured.header("X-Ema-Timestamp").parse().expect("ts");
    let expires: chrono::DateTime<chrono::Utc> = app
        .state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use ema_bridge::db::schema::request_nonces::dsl as n;
            n::request_nonces
                .filter(n::nonce.eq(nonce))
                .select(n::expires_at)
                .first(c)
        })
        .await
        .expect("nonce row");
    assert_eq!(expires.timestamp(), ts + 600);
}

#[tokio::test]
async fn a_retired_key_is_refused_and_its_successor_works() {
    // Arrange
    let (app, _slug) = app_with_tenant().await;
    let old = app.reseller.whmcs_key_id.clone();
    let (new_id, new_secret) = app
        .state
        .db
        .run(|c| ema_bridge::reseller::rotate_key(c, "Reseller One"))
        .await
        .expect("rotate");
    let ping =
        |key: &str, secret: &str| Signed::with_key("test_connection", json!({}), key, secret);
    // Act + Assert: both work during the rotation.
    assert_eq!(
        ping(&old, &app.reseller.whmcs_secret)
            .send(&app)
            .await
            .status,
        200
    );
    assert_eq!(ping(&new_id, &new_secret).send(&app).await.status, 200);
    // A MAC made with the new secret does not pass under the old key id, nor the reverse.
    assert_eq!(ping(&old, &new_secret).send(&app).await.status, 401);
    assert_eq!(
        ping(&new_id, &app.reseller.whmcs_secret)
            .send(&app)
            .await
            .status,
        401
    );
    let o = old.clone();
    app.state
        .db
        .run(move |c| ema_bridge::reseller::retire_key(c, "Reseller One", &o))
        .await
        .expect("retire");
    assert_eq!(
        ping(&old, &app.reseller.whmcs_secret)
            .send(&app)
            .await
            .status,
        401
    );
    let res = Signed::with_key(
        "suspend_account",
        json!({"service_id": SERVICE}),
        &new_id,
        &new_secret,
    )
    .send(&app)
    .await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(tenant(&app).await.status(), TenantStatus::Suspended);
    // Audit names the key that acted.
    let slug = tenant(&app).await.slug;
    let events = app
        .state
        .db
        .run(move |c| ema_bridge::audit::for_tenant(c, &slug))
        .await
        .expect("audit");
    let suspended = events
        .iter()
        .find(|e| e.action == "tenant.suspended")
        .expect("suspend event");
    assert_eq!(suspended.actor, format!("whmcs:{new_id}"));
}

#[tokio::test]
async fn another_resellers_valid_key_sees_no_tenant_of_this_reseller() {
    let (app, _slug) = app_with_tenant().await;
    let other = app.another_reseller(&unique("Other ")).await;
    let res = Signed::with_key(
        "suspend_account",
        json!({"service_id": SERVICE}),
        &other.whmcs_key_id,
        &other.whmcs_secret,
    )
    .send(&app)
    .await;
    assert_eq!(res.status, 404, "{}", res.text());
    assert_eq!(res.json()["code"], "not_found");
    assert_eq!(tenant(&app).await.status(), TenantStatus::Active);
    let list = Signed::with_key(
        "list_accounts",
        json!({}),
        &other.whmcs_key_id,
        &other.whmcs_secret,
    )
    .send(&app)
    .await;
    assert_eq!(list.json()["items"], json!([]));
}

#[tokio::test]
async fn one_idempotency_key_with_another_body_is_refused_and_the_same_body_is_replayed() {
    // Arrange
    let (app, _slug) = app_with_tenant().await;
    let key = format!("change_package:{}", fresh_nonce());
    let body = |users: i64| json!({"service_id": SERVICE, "plan": "standard", "max_users": users, "storage_gb": 50});
    // Act
    let first = Signed::new(&app, "change_package", body(30))
        .idempotency_key(&key)
        .send(&app)
        .await;
    let again = Signed::new(&app, "change_package", body(30))
        .idempotency_key(&key)
        .send(&app)
        .await;
    let other = Signed::new(&app, "change_package", body(99))
        .idempotency_key(&key)
        .send(&app)
        .await;
    // Assert
    assert_eq!(first.status, 200, "{}", first.text());
    assert_eq!(again.status, 200);
    assert_eq!(again.header("idempotent-replayed"), Some("true"));
    assert_eq!(again.body, first.body);
    assert_eq!(other.status, 422, "{}", other.text());
    assert_eq!(other.json()["code"], "idempotency_key_reused");
    assert_eq!(tenant(&app).await.max_users, 30);
}

#[tokio::test]
async fn verified_requests_for_unknown_actions_or_methods_get_404_and_405() {
    let (app, _slug) = app_with_tenant().await;
    let unknown = Signed::new(&app, "drop_everything", json!({}))
        .send(&app)
        .await;
    assert_eq!(unknown.status, 404);
    let mut get = Signed::new(&app, "get_account", json!({"service_id": SERVICE}));
    get.method = "GET".into();
    let res = get.send(&app).await;
    assert_eq!(res.status, 405, "{}", res.text());
    let unsigned = Raw {
        method: "POST".into(),
        target: "/whmcs/v1/drop_everything".into(),
        headers: vec![("Content-Length".into(), "2".into())],
        body: b"{}".to_vec(),
    };
    assert_eq!(
        unsigned.send(&app).await.status,
        401,
        "unsigned probes learn nothing about routes"
    );
}

#[tokio::test]
async fn the_raw_client_sends_a_valid_request_that_succeeds() {
    // The attacks above are only meaningful if the unmodified request works.
    let (app, _slug) = app_with_tenant().await;
    let res = send_bytes(&app, &suspend(&app).raw().bytes()).await;
    assert_eq!(res.status, 200, "{}", res.text());
    assert_eq!(res.json()["tenant"]["status"], "suspended");
}
