//! End to end: the PHP module (`php-module/tests/e2e/run.php`, real curl transport and signer)
//! with WHMCS's `$params` from `fixtures/whmcs/` against the real daemon, checked through the
//! REST API and the databases. No secret reaches the module log or the daemon's log.

use diesel::RunQueryDsl;
use ema_bridge::tenant::{Tenant, TenantStatus, repo};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, test_env, unique};
use crate::whmcs_support::{Fixtures, capture_logs, logs, run_php};

/// The admin password of every service fixture but change_password.json.
const SERVICE_PASSWORD: &str = "Xq7!pL2#vR9zT4";
/// The password change_password.json sets.
const NEW_PASSWORD: &str = "N3w!Passw0rd-2026";

async fn start() -> (TestApp, Fixtures, String) {
    capture_logs();
    let app = spawn_app().await;
    let fx = Fixtures::new(&app);
    (app, fx, unique("acme"))
}

async fn by_service(app: &TestApp, service_id: i64) -> Option<Tenant> {
    let rid = app.reseller.reseller_id;
    app.state
        .db
        .run(move |c| repo::by_service(c, rid, service_id))
        .await
        .expect("query")
}

/// No secret in what the module logged, nor in anything the daemon logged so far.
fn assert_no_secrets(app: &TestApp, out: &Value, extra: &[&str]) {
    let module_log = out["module_log"].to_string();
    let daemon_log = logs();
    let mut secrets = vec![
        app.reseller.whmcs_secret.as_str(),
        SERVICE_PASSWORD,
        NEW_PASSWORD,
    ];
    secrets.extend_from_slice(extra);
    for secret in secrets {
        // JSON escaping would hide a raw match: compare against the escaped form too.
        let escaped = serde_json::to_string(secret).expect("json");
        let escaped = escaped.trim_matches('"');
        assert!(
            !module_log.contains(secret) && !module_log.contains(escaped),
            "a secret reached the module log: {module_log}"
        );
        assert!(
            !daemon_log.contains(secret) && !daemon_log.contains(escaped),
            "a secret reached the daemon log"
        );
    }
    assert!(
        !module_log.is_empty() && module_log != "[]",
        "the module logged its call"
    );
}

fn admin_hash(app: &TestApp, t: &Tenant) -> String {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        password_hash: String,
    }
    let mut conn = app.connect(&t.db_name);
    let email = t.admin_email.clone().expect("admin email");
    let row: Row =
        diesel::sql_query("SELECT password_hash FROM users WHERE email = $1 AND role = 'admin'")
            .bind::<diesel::sql_types::Text, _>(email)
            .get_result(&mut conn)
            .expect("the admin user exists in the tenant database");
    row.password_hash
}

#[tokio::test]
async fn create_makes_the_tenant_and_a_second_click_does_not_make_another() {
    // Arrange
    let (app, fx, slug) = start().await;
    let create = fx.service("create_account", &slug, 1001);
    // Act
    let first = run_php("CreateAccount", &create).await;
    let second = run_php("CreateAccount", &create).await;
    // Assert: the module's answers.
    assert_eq!(first["result"], "success", "{first}");
    assert_eq!(
        first["properties"]["Tenant Slug"],
        slug.as_str(),
        "the slug is saved on the service"
    );
    assert_eq!(second["result"], "success", "{second}");
    // The tenant, through the REST API and the control database.
    let res = app
        .get(&format!("/v1/tenants/{slug}"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    let view: Value = res.json().await.expect("json");
    assert_eq!(view["status"], "active");
    assert_eq!(view["service_id"], 1001);
    assert_eq!(view["plan"], "standard");
    assert_eq!(view["max_users"], 25);
    assert_eq!(view["storage_gb"], 50);
    assert_eq!(view["name"], "Acme Corp");
    let rid = app.reseller.reseller_id;
    let all = app
        .state
        .db
        .run(move |c| repo::all_of_reseller(c, rid))
        .await
        .expect("list");
    assert_eq!(all.len(), 1, "the second click made no second tenant");
    // The tenant database, migrated, with the admin from the WHMCS client and service password.
    let t = by_service(&app, 1001).await.expect("tenant");
    assert_eq!(t.db_name, format!("ema_t_{}", slug.replace('-', "_")));
    let mut conn = app.connect(&t.db_name);
    let tables = crate::helpers::scalar_i64(
        &mut conn,
        "SELECT count(*) AS v FROM information_schema.tables WHERE table_schema = 'public'",
    );
    assert!(tables >= 2, "the tenant database has its tables");
    assert_eq!(t.admin_email.as_deref(), Some("jane.doe@acme.example"));
    assert!(ema_bridge::password::verify(
        SERVICE_PASSWORD,
        &admin_hash(&app, &t)
    ));
    assert_no_secrets(&app, &first, &[]);
    assert_no_secrets(&app, &second, &[]);
}

#[tokio::test]
async fn suspend_unsuspend_change_package_password_sso_and_terminate_drive_the_tenant() {
    // Arrange
    let (app, fx, slug) = start().await;
    let created = run_php("CreateAccount", &fx.service("create_account", &slug, 1001)).await;
    assert_eq!(created["result"], "success", "{created}");

    // Suspend blocks (and a second suspend is still success).
    let suspend = fx.service("suspend_account", &slug, 1001);
    let out = run_php("SuspendAccount", &suspend).await;
    assert_eq!(out["result"], "success", "{out}");
    let t = by_service(&app, 1001).await.expect("tenant");
    assert_eq!(t.status(), TenantStatus::Suspended);
    assert_eq!(t.suspension_reason.as_deref(), Some("Overdue on payment"));
    assert_eq!(
        run_php("SuspendAccount", &suspend).await["result"],
        "success"
    );
    // Single sign-on is refused while suspended, with the admin sentence.
    let sso = fx.service("service_single_sign_on", &slug, 1001);
    let refused = run_php("ServiceSingleSignOn", &sso).await;
    assert_eq!(refused["result"]["success"], false, "{refused}");
    assert!(
        refused["result"]["errorMsg"]
            .as_str()
            .unwrap_or("")
            .contains("suspended"),
        "{refused}"
    );

    // Unsuspend restores.
    let out = run_php(
        "UnsuspendAccount",
        &fx.service("unsuspend_account", &slug, 1001),
    )
    .await;
    assert_eq!(out["result"], "success", "{out}");
    assert_eq!(
        by_service(&app, 1001).await.expect("tenant").status(),
        TenantStatus::Active
    );

    // Change package: plan and limits from the product and its configurable options.
    let out = run_php("ChangePackage", &fx.service("change_package", &slug, 1001)).await;
    assert_eq!(out["result"], "success", "{out}");
    let t = by_service(&app, 1001).await.expect("tenant");
    assert_eq!(
        (t.plan_code.as_str(), t.max_users, t.storage_gb),
        ("pro", 100, 200)
    );
    let view: Value = app
        .get(&format!("/v1/tenants/{slug}"))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(
        (
            view["plan"].as_str(),
            view["max_users"].as_i64(),
            view["storage_gb"].as_i64()
        ),
        (Some("pro"), Some(100), Some(200))
    );

    // Change password: the admin's hash now verifies the new password only.
    let out = run_php(
        "ChangePassword",
        &fx.service("change_password", &slug, 1001),
    )
    .await;
    assert_eq!(out["result"], "success", "{out}");
    let hash = admin_hash(&app, &t);
    assert!(ema_bridge::password::verify(NEW_PASSWORD, &hash));
    assert!(!ema_bridge::password::verify(SERVICE_PASSWORD, &hash));
    assert_no_secrets(&app, &out, &[]);

    // Single sign-on: a one-time URL on the tenant's host, consumed once by the edge.
    let out = run_php("ServiceSingleSignOn", &sso).await;
    assert_eq!(out["result"]["success"], true, "{out}");
    let url = out["result"]["redirectTo"]
        .as_str()
        .expect("url")
        .to_owned();
    let prefix = format!("http://{slug}.archive.test:{}/_ema/sso/", app.port);
    let token = url
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{url} is not under {prefix}"))
        .to_owned();
    assert_no_secrets(&app, &out, &[&token]);
    let tok = token.clone();
    let first = app
        .state
        .db
        .run(move |c| ema_bridge::sso::consume_sso_token(c, &tok))
        .await
        .expect("consume");
    let tok = token.clone();
    let again = app
        .state
        .db
        .run(move |c| ema_bridge::sso::consume_sso_token(c, &tok))
        .await
        .expect("consume");
    assert_eq!(first, Some(t.id));
    assert_eq!(again, None, "single use");

    // Terminate: suspended, deletion requested, nothing deleted; a repeat is success.
    let terminate = fx.service("terminate_account", &slug, 1001);
    let out = run_php("TerminateAccount", &terminate).await;
    assert_eq!(out["result"], "success", "{out}");
    let t = by_service(&app, 1001)
        .await
        .expect("the tenant still exists");
    assert_eq!(t.status(), TenantStatus::Suspended);
    assert!(t.deletion_requested_at.is_some());
    assert_eq!(
        t.deletion_reason.as_deref(),
        Some("Terminated in WHMCS (service #1001)")
    );
    assert_eq!(
        run_php("TerminateAccount", &terminate).await["result"],
        "success"
    );
    let mut conn = app.connect(&t.db_name);
    assert_eq!(
        crate::helpers::scalar_i64(&mut conn, "SELECT count(*) AS v FROM users"),
        1,
        "the tenant database is kept"
    );
    // The operator sees it in `ema-bridge deletion-requests`.
    let listed = deletion_requests(&app).await;
    assert!(
        listed
            .iter()
            .any(|r| r["slug"] == slug.as_str() && r["status"] == "suspended"),
        "{listed:?}"
    );
}

/// Runs the real binary's `deletion-requests --json` against the app's database and bucket.
async fn deletion_requests(app: &TestApp) -> Vec<Value> {
    let env = test_env(&app.db_name, &app.bucket);
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_ema-bridge"))
            .args(["deletion-requests", "--json"])
            .env_remove("RUST_LOG")
            .envs(env)
            .output()
    })
    .await
    .expect("join")
    .expect("run ema-bridge");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

#[tokio::test]
async fn usage_reaches_tblhosting_and_the_metric_provider() {
    // Arrange: a tenant made by WHMCS and one made through the REST API (no service).
    let (app, fx, slug) = start().await;
    let created = run_php("CreateAccount", &fx.service("create_account", &slug, 1001)).await;
    assert_eq!(created["result"], "success", "{created}");
    let rest_slug = unique("rest");
    app.create_tenant(&rest_slug).await;
    let measured = ema_bridge::usage::collect_once(&app.state)
        .await
        .expect("collect");
    assert_eq!(measured, 2);
    let t = by_service(&app, 1001).await.expect("tenant");
    let bytes = t.db_bytes.expect("measured") + t.s3_bytes.expect("measured");
    assert!(bytes > 0);
    // Act
    let update = run_php(
        "UsageUpdate",
        &fx.write("usage_update", "usage_update", |_| {}),
    )
    .await;
    let metrics = run_php(
        "MetricProvider",
        &fx.write("metric_provider", "metric_provider", |_| {}),
    )
    .await;
    let accounts = run_php(
        "ListAccounts",
        &fx.write("list_accounts", "list_accounts", |_| {}),
    )
    .await;
    // Assert: tblhosting of service 1001 on server 3, in MB; the REST tenant is skipped.
    assert_eq!(update["result"], "success", "{update}");
    let updates = update["capsule_updates"].as_array().expect("updates");
    assert_eq!(updates.len(), 1, "{updates:?}");
    let u = &updates[0];
    assert_eq!(u["table"], "tblhosting");
    assert!(
        u["wheres"].to_string().contains(r#"["id","=",1001]"#),
        "{u}"
    );
    assert!(
        u["wheres"].to_string().contains(r#"["server","=",3]"#),
        "{u}"
    );
    let mb = (bytes as f64 / 1_048_576.0).round() as i64;
    assert_eq!(u["values"]["diskusage"], mb);
    assert_eq!(u["values"]["disklimit"], 50 * 1024);
    // Metrics keyed by slug: active users (the admin) and storage in GB.
    let usage = &metrics["result"]["usage"];
    assert_eq!(
        metrics["result"]["metrics"],
        serde_json::json!(["active_users", "storage"]),
        "{metrics}"
    );
    assert_eq!(
        usage[slug.as_str()]["active_users"].as_f64(),
        Some(1.0),
        "{metrics}"
    );
    let gb = (bytes as f64 / 1_073_741_824.0 * 1e6).round() / 1e6;
    assert_eq!(
        usage[slug.as_str()]["storage"].as_f64(),
        Some(gb),
        "{metrics}"
    );
    assert!(
        usage.get(&rest_slug).is_some(),
        "every tenant of the reseller reports usage"
    );
    // Server Sync sees both tenants.
    assert_eq!(accounts["result"]["success"], true, "{accounts}");
    let listed = accounts["result"]["accounts"].to_string();
    assert!(
        listed.contains(&slug) && listed.contains(&rest_slug),
        "{listed}"
    );
    for out in [&update, &metrics, &accounts] {
        assert_no_secrets(&app, out, &[]);
    }
}

#[tokio::test]
async fn test_connection_succeeds_and_fails_clearly_on_a_wrong_secret_or_no_daemon() {
    // Arrange
    let (app, fx, _slug) = start().await;
    let wrong_secret = format!("whsec_{}", uuid::Uuid::new_v4().simple());
    let wrong = Fixtures::pointing_at(
        "127.0.0.1",
        app.port,
        &app.reseller.whmcs_key_id,
        &wrong_secret,
    );
    let free_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let nobody = Fixtures::pointing_at(
        "127.0.0.1",
        free_port,
        &app.reseller.whmcs_key_id,
        &app.reseller.whmcs_secret,
    );
    // Act
    let ok = run_php("TestConnection", &fx.write("test_connection", "tc", |_| {})).await;
    let refused = run_php(
        "TestConnection",
        &wrong.write("test_connection", "tc", |_| {}),
    )
    .await;
    let unreachable = run_php(
        "TestConnection",
        &nobody.write("test_connection", "tc", |_| {}),
    )
    .await;
    // Assert
    assert_eq!(
        ok["result"],
        serde_json::json!({"success": true, "error": ""})
    );
    assert_eq!(refused["result"]["success"], false);
    let sentence = refused["result"]["error"].as_str().expect("error");
    assert!(
        sentence.contains("refused this server's credentials") && sentence.contains("(request "),
        "{sentence}"
    );
    assert_eq!(unreachable["result"]["success"], false);
    let sentence = unreachable["result"]["error"].as_str().expect("error");
    assert!(
        sentence.contains(&format!("127.0.0.1:{free_port}"))
            && sentence.contains("could not be reached"),
        "{sentence}"
    );
    assert_no_secrets(&app, &ok, &[]);
    assert_no_secrets(&app, &refused, &[&wrong_secret]);
    assert_no_secrets(&app, &unreachable, &[]);
}

#[tokio::test]
async fn a_bad_or_taken_slug_gives_a_sentence_a_whmcs_admin_understands() {
    // Arrange
    let (app, fx, slug) = start().await;
    assert_eq!(
        run_php("CreateAccount", &fx.service("create_account", &slug, 1001)).await["result"],
        "success"
    );
    // Act
    let bad = run_php(
        "CreateAccount",
        &fx.write("create_account_bad_slug", "bad", |_| {}),
    )
    .await;
    let taken = run_php(
        "CreateAccount",
        &fx.service("create_account_slug_taken", &slug, 1002),
    )
    .await;
    let custom_slug = unique("globex-");
    let custom = run_php(
        "CreateAccount",
        &fx.service("create_account_custom_slug", &custom_slug, 1003),
    )
    .await;
    // Assert
    let sentence = bad["result"].as_str().expect("sentence");
    assert!(
        sentence.starts_with(r#"The tenant slug "acme_corp" is not valid: use 3-48 lowercase letters, digits or hyphens, starting with a letter."#)
            && sentence.contains("(request "),
        "{sentence}"
    );
    let sentence = taken["result"].as_str().expect("sentence");
    assert!(
        sentence.contains(&format!(
            r#"The tenant slug "{slug}" is already used by another archive tenant"#
        )),
        "{sentence}"
    );
    assert_eq!(custom["result"], "success", "{custom}");
    assert!(
        by_service(&app, 1003)
            .await
            .is_some_and(|t| t.slug == custom_slug)
    );
    assert!(by_service(&app, 1002).await.is_none());
    assert!(by_service(&app, 1004).await.is_none());
    // The daemon's own detail for the bad slug reads as a sentence too.
    let log = bad["module_log"].to_string();
    assert!(
        log.contains("slug_invalid") && log.contains("is not valid"),
        "{log}"
    );
    for out in [&bad, &taken, &custom] {
        assert_no_secrets(&app, out, &[]);
    }
}
