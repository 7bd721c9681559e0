//! Operator tooling: migrations run up, down and up again; the doctor finds drift; the CLI's
//! tenant commands.

use diesel::RunQueryDsl;
use diesel_migrations::MigrationHarness;

use crate::helpers::{scalar_i64, shared, spawn_app, test_env, unique};

/// Runs the binary with `env`; returns its exit code, stdout and stderr.
fn run_cli(env: &[(String, String)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ema-bridge"))
        .args(args)
        .envs(env.iter().cloned())
        .output()
        .expect("run");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn every_migration_runs_up_down_and_up_again() {
    let s = shared();
    for name in ["control", "tenant"] {
        let migrations = || match name {
            "control" => ema_bridge::db::migrate::CONTROL_MIGRATIONS,
            _ => ema_bridge::db::migrate::TENANT_MIGRATIONS,
        };
        let db = unique("mig_");
        ema_bridge::embedded::ensure_database(&s.cluster.url("postgres"), &db).expect("db");
        let mut c = {
            use diesel::Connection;
            diesel::PgConnection::establish(&s.cluster.url(&db)).expect("connect")
        };
        let up = c.run_pending_migrations(migrations()).expect("up").len();
        assert!(up > 0, "{name}");
        let down = c.revert_all_migrations(migrations()).expect("down").len();
        assert_eq!(up, down, "{name}");
        assert_eq!(
            scalar_i64(
                &mut c,
                "SELECT count(*) AS v FROM pg_tables WHERE schemaname = 'public' AND tablename <> '__diesel_schema_migrations'"
            ),
            0,
            "{name}: down leaves no table behind"
        );
        assert_eq!(
            c.run_pending_migrations(migrations())
                .expect("up again")
                .len(),
            up,
            "{name}"
        );
    }
}

#[tokio::test]
async fn the_doctor_reports_orphans_and_drift_but_changes_nothing() {
    let app = spawn_app().await;
    let slug = unique("doc-");
    app.create_tenant(&slug).await;
    let orphan_db = format!("ema_t_{}", unique("orphan_"));
    {
        let mut c = app.connect("postgres");
        diesel::sql_query(format!("CREATE DATABASE \"{orphan_db}\""))
            .execute(&mut c)
            .expect("orphan db");
    }
    let orphan_prefix = format!("ema-t-{}/", unique("lost-"));
    app.state
        .bucket
        .put(
            &format!("{orphan_prefix}x.eml"),
            b"x".to_vec(),
            "message/rfc822",
        )
        .await
        .expect("put");
    // A tenant whose prefix vanished.
    let gone = unique("noprefix-");
    app.create_tenant(&gone).await;
    app.state
        .bucket
        .delete_prefix(&format!("ema-t-{gone}/"))
        .await
        .expect("delete");

    let findings = ema_bridge::operator::diagnose(&app.state)
        .await
        .expect("doctor");
    let has = |kind: &str, subject: &str| {
        findings
            .iter()
            .any(|f| f.kind == kind && f.subject == subject)
    };
    assert!(has("orphan_database", &orphan_db), "{findings:?}");
    assert!(has("orphan_prefix", &orphan_prefix), "{findings:?}");
    assert!(has("missing_prefix", &gone), "{findings:?}");
    assert!(
        !findings.iter().any(|f| f.subject == slug),
        "a healthy tenant has no finding: {findings:?}"
    );
    // Nothing was changed.
    let mut c = app.connect("postgres");
    assert_eq!(
        scalar_i64(
            &mut c,
            &format!("SELECT count(*) AS v FROM pg_database WHERE datname = '{orphan_db}'")
        ),
        1
    );
    assert!(
        app.state
            .bucket
            .exists(&format!("{orphan_prefix}x.eml"))
            .await
            .expect("head")
    );
}

#[test]
fn cli_tenant_commands_list_migrate_and_delete_with_confirmation() {
    let s = shared();
    let db = unique("cli_");
    let bucket = unique("cli-");
    ema_bridge::embedded::ensure_database(&s.cluster.url("postgres"), &db).expect("db");
    let env = test_env(&db, &bucket);
    let cli = |args: &[&str]| run_cli(&env, args);
    let (code, out, _) = cli(&["reseller", "create", "--name", "Cli", "--json"]);
    assert_eq!(code, Some(0));
    let creds: serde_json::Value = serde_json::from_str(&out).expect("json");
    // A tenant through the library, on the same control database.
    let rt = tokio::runtime::Runtime::new().expect("rt");
    let slug = unique("cli-");
    rt.block_on(async {
        let settings =
            ema_bridge::config::Settings::load_from(None, env.clone()).expect("settings");
        let state = ema_bridge::startup::connect_state(
            settings.clone(),
            &secrecy::SecretString::from(s.cluster.url(&db)),
            &settings.s3,
        )
        .await
        .expect("state");
        let reseller_id: uuid::Uuid = creds["reseller_id"]
            .as_str()
            .expect("id")
            .parse()
            .expect("uuid");
        ema_bridge::provisioning::create(
            &state,
            &ema_bridge::audit::Actor::Operator,
            ema_bridge::provisioning::CreateRequest {
                reseller_id,
                slug: ema_bridge::domain::Slug::parse(&slug).expect("slug"),
                name: "Cli Tenant".into(),
                sandbox: false,
                plan: ema_bridge::domain::Plan::standard(),
                branding: Default::default(),
                whmcs_service_id: None,
                admin: None,
            },
        )
        .await
        .expect("create");
    });
    let (code, out, _) = cli(&["tenant", "list", "--json"]);
    assert_eq!(code, Some(0));
    assert!(out.contains(&slug));
    let (code, out, _) = cli(&["migrate", "--tenants"]);
    assert_eq!(code, Some(0));
    assert!(out.contains(&format!("{slug}: up to date")), "{out}");
    // Delete: refused while active, refused without the right confirmation.
    let (code, _, err) = cli(&["tenant", "delete", &slug, "--confirm", &slug]);
    assert_eq!(code, Some(1));
    assert!(err.contains("suspend it first"), "{err}");
    rt.block_on(async {
        let settings =
            ema_bridge::config::Settings::load_from(None, env.clone()).expect("settings");
        let state = ema_bridge::startup::connect_state(
            settings.clone(),
            &secrecy::SecretString::from(s.cluster.url(&db)),
            &settings.s3,
        )
        .await
        .expect("state");
        let t = state
            .db
            .run({
                let s = slug.clone();
                move |c| ema_bridge::tenant::repo::by_slug(c, &s)
            })
            .await
            .expect("row")
            .expect("tenant");
        ema_bridge::provisioning::suspend(
            &state,
            &ema_bridge::audit::Actor::Operator,
            t.id,
            Some("cancelled".into()),
        )
        .await
        .expect("suspend");
    });
    let (code, _, err) = cli(&["tenant", "delete", &slug, "--confirm", "nope"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("does not match"), "{err}");
    let (code, out, err) = cli(&["tenant", "delete", &slug, "--confirm", &slug]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("deleted tenant"), "{out}");
    let (_, out, _) = cli(&["tenant", "audit", &slug]);
    assert!(
        out.contains("tenant.deleted"),
        "the audit trail outlives the tenant: {out}"
    );
}

#[test]
fn reseller_set_changes_the_base_domain_and_default_branding_and_refuses_bad_values() {
    let s = shared();
    let db = unique("rset_");
    ema_bridge::embedded::ensure_database(&s.cluster.url("postgres"), &db).expect("db");
    let env = test_env(&db, &unique("rset-"));
    let cli = |args: &[&str]| run_cli(&env, args);
    assert_eq!(
        cli(&["reseller", "create", "--name", "White Label"]).0,
        Some(0)
    );
    let (code, _, err) = cli(&[
        "reseller",
        "set",
        "White Label",
        "--base-domain",
        "Archive.Reseller.Example",
        "--custom-name",
        "RS Archive",
        "--primary-color",
        "#112233",
    ]);
    assert_eq!(code, Some(0), "{err}");
    let (_, out, _) = cli(&["reseller", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list[0]["base_domain"], "archive.reseller.example");
    // Bad values: exit 1, a clear message, nothing changed.
    for (args, needle) in [
        (
            vec!["reseller", "set", "White Label", "--primary-color", "blue"],
            "#RRGGBB",
        ),
        (
            vec![
                "reseller",
                "set",
                "White Label",
                "--base-domain",
                "bad_domain!",
            ],
            "not a valid host name",
        ),
        (
            vec!["reseller", "set", "Nobody", "--custom-name", "X"],
            "no reseller named",
        ),
    ] {
        let (code, _, err) = cli(&args);
        assert_eq!(code, Some(1), "{args:?}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let (_, out, _) = cli(&["reseller", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list[0]["base_domain"], "archive.reseller.example");
    // A second reseller cannot take the same domain.
    assert_eq!(cli(&["reseller", "create", "--name", "Copycat"]).0, Some(0));
    let (code, _, err) = cli(&[
        "reseller",
        "set",
        "Copycat",
        "--base-domain",
        "archive.reseller.example",
    ]);
    assert_eq!(code, Some(1));
    assert!(err.contains("already used"), "{err}");
}

#[test]
fn logs_are_json_lines_when_configured_and_carry_the_request_id() {
    let s = shared();
    let db = unique("logs_");
    ema_bridge::embedded::ensure_database(&s.cluster.url("postgres"), &db).expect("db");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_ema-bridge"))
        .arg("serve")
        .envs(test_env(&db, &unique("logs-")))
        .env("EMA_BRIDGE__HTTP__BIND", format!("127.0.0.1:{port}"))
        .env("EMA_BRIDGE__LOG__FORMAT", "json")
        .env_remove("RUST_LOG")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let res = loop {
        if let Ok(r) = reqwest::blocking::get(format!("http://127.0.0.1:{port}/healthz")) {
            break r;
        }
        assert!(std::time::Instant::now() < deadline, "daemon did not start");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let request_id = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("sigterm");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    assert!(!lines.is_empty());
    assert!(
        stderr.contains(&request_id),
        "the request's log line carries its id"
    );
}
