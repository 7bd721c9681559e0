//! The daemon's basics: health, readiness, request ids, problem documents, and the real binary
//! on embedded defaults and on configured external services.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::helpers::{shared, spawn_app, test_env, unique};

#[tokio::test]
async fn health_and_readiness_answer_with_a_request_id() {
    // Arrange
    let app = spawn_app().await;
    // Act
    let health = app
        .client
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    // Assert
    assert_eq!(health.status(), 200);
    assert!(health.headers().get("x-request-id").is_some());
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["storage"], "ok");
}

#[tokio::test]
async fn readiness_names_an_unreachable_bucket() {
    // Arrange: a bucket that disappears under the running app.
    let app = spawn_app().await;
    std::fs::remove_dir_all(shared().root.join("s3").join(&app.bucket)).expect("remove bucket dir");
    // Act
    let ready = app
        .client
        .get(app.url("/readyz"))
        .send()
        .await
        .expect("readyz");
    // Assert
    assert_eq!(ready.status(), 503);
    let body: serde_json::Value = ready.json().await.expect("json");
    assert_eq!(body["storage"], "unreachable");
    assert_eq!(body["database"], "ok");
}

#[tokio::test]
async fn unknown_routes_are_problem_documents_with_the_request_id() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/no/such/thing"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), 404);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let id = res.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let body: serde_json::Value = res.json().await.expect("json");
    assert_eq!(body["code"], "not_found");
    assert_eq!(body["request_id"], id.as_str());
    assert_eq!(body["type"], "https://ema-bridge.dev/problems/not_found");
}

/// The real binary, with its stdout read line by line.
struct Daemon {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Daemon {
    fn start(args: &[&str], env: &[(String, String)], dir: &std::path::Path) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_ema-bridge"));
        cmd.args(args)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .env_remove("RUST_LOG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ema-bridge");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        Self { child, lines: rx }
    }

    /// Reads stdout until a line contains `needle`, returning every line read.
    fn wait_for(&self, needle: &str, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(l) = self.lines.recv_timeout(Duration::from_millis(200)) {
                let hit = l.contains(needle);
                seen.push(l);
                if hit {
                    return seen;
                }
            }
        }
        panic!("{needle:?} not printed in time; saw {seen:?}");
    }

    fn terminate(mut self) -> std::process::ExitStatus {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("sigterm");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

fn postgres_processes_under(dir: &std::path::Path) -> usize {
    let needle = dir.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .expect("proc")
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read(e.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(&needle))
                .unwrap_or(false)
        })
        .count()
}

#[test]
fn the_binary_runs_on_embedded_defaults_stops_on_sigterm_and_reuses_its_data() {
    // Arrange: an empty working directory, as a newcomer has.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let port = free_port();
    let env = vec![(
        "EMA_BRIDGE__HTTP__BIND".to_string(),
        format!("127.0.0.1:{port}"),
    )];

    // Act: first start.
    let daemon = Daemon::start(&["serve"], &env, dir.path());
    let banner = daemon.wait_for("whmcs_secret:", Duration::from_secs(90));
    let client = reqwest::blocking::Client::new();
    let health = client
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .send()
        .expect("healthz");
    let ready = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .expect("readyz");
    let api_key = banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("api_key:"))
        .expect("api key printed")
        .trim()
        .to_owned();
    let tenants = client
        .get(format!("http://127.0.0.1:{port}/v1/tenants"))
        .bearer_auth(&api_key)
        .send()
        .expect("list");
    // A CLI command while serve runs joins the running cluster and leaves it running.
    let out = Command::new(env!("CARGO_BIN_EXE_ema-bridge"))
        .args(["reseller", "create", "--name", "second", "--json"])
        .current_dir(dir.path())
        .output()
        .expect("reseller create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after_cli = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .expect("readyz");
    assert_eq!(
        after_cli.status(),
        200,
        "serve still has its database after the CLI finished"
    );
    let status = daemon.terminate();

    // Assert: it served, and SIGTERM stopped it and its PostgreSQL.
    assert_eq!(health.status(), 200);
    assert_eq!(ready.status(), 200);
    assert_eq!(tenants.status(), 200);
    assert!(status.success(), "exit status {status}");
    assert!(dir.path().join("var/postgres/data/PG_VERSION").is_file());
    assert_eq!(
        postgres_processes_under(dir.path()),
        0,
        "PostgreSQL still running after SIGTERM"
    );

    // Act: second start reuses the data and the reseller (no new bootstrap credentials).
    let daemon = Daemon::start(&["serve"], &env, dir.path());
    let banner = daemon.wait_for("object store:", Duration::from_secs(90));
    std::thread::sleep(Duration::from_millis(500));
    let again = client
        .get(format!("http://127.0.0.1:{port}/v1/tenants"))
        .bearer_auth(&api_key)
        .send()
        .expect("list");
    let mut later: Vec<String> = daemon.lines.try_iter().collect();
    later.extend(banner);
    assert!(daemon.terminate().success());
    assert_eq!(again.status(), 200, "the first start's API key still works");
    assert!(
        !later.iter().any(|l| l.contains("bootstrap reseller")),
        "no second bootstrap reseller: {later:?}"
    );

    // CLI commands work on the same data_dir while serve is not running.
    let out = Command::new(env!("CARGO_BIN_EXE_ema-bridge"))
        .args(["reseller", "list", "--json"])
        .current_dir(dir.path())
        .output()
        .expect("reseller list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list[0]["name"], "default");
    assert_eq!(list[1]["name"], "second");
    assert_eq!(
        postgres_processes_under(dir.path()),
        0,
        "the CLI stops the cluster it started"
    );
}

#[test]
fn the_binary_uses_a_configured_database_and_s3_endpoint_and_a_config_file() {
    // Arrange: external PostgreSQL (the shared cluster) and S3 server, bind from a config file.
    let s = shared();
    let db = unique("ext_");
    ema_bridge::embedded::ensure_database(&s.cluster.url("postgres"), &db).expect("db");
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    std::fs::write(
        dir.path().join("custom.toml"),
        format!("[http]\nbind = \"127.0.0.1:{port}\"\n"),
    )
    .expect("config");
    let mut env = test_env(&db, &unique("ext-bucket-"));
    env.retain(|(k, _)| k != "EMA_BRIDGE__HTTP__BIND");

    // Act: the CLI creates a reseller; serve then answers with its key.
    let out = Command::new(env!("CARGO_BIN_EXE_ema-bridge"))
        .args([
            "reseller",
            "create",
            "--name",
            "Ext Reseller",
            "--json",
            "--config",
            "custom.toml",
        ])
        .envs(env.iter().cloned())
        .current_dir(dir.path())
        .output()
        .expect("reseller create");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let creds: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    for field in ["reseller_id", "api_key", "whmcs_key_id", "whmcs_secret"] {
        assert!(creds[field].is_string(), "{field} missing in {creds}");
    }
    let daemon = Daemon::start(&["serve", "--config", "custom.toml"], &env, dir.path());
    daemon.wait_for("listening on", Duration::from_secs(60));
    let client = reqwest::blocking::Client::new();
    let ready = client
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .expect("readyz");
    let list = client
        .get(format!("http://127.0.0.1:{port}/v1/tenants"))
        .bearer_auth(creds["api_key"].as_str().expect("key"))
        .send()
        .expect("list");
    assert!(daemon.terminate().success());

    // Assert
    assert_eq!(ready.status(), 200);
    assert_eq!(list.status(), 200);
    assert!(
        !dir.path().join("var").exists(),
        "nothing embedded was started"
    );
}

#[test]
fn an_invalid_setting_exits_non_zero_naming_the_key() {
    let out = Command::new(env!("CARGO_BIN_EXE_ema-bridge"))
        .arg("serve")
        .env("EMA_BRIDGE__HTTP__BIND", "nonsense")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("http.bind: invalid socket address \"nonsense\""),
        "{err}"
    );
}

#[test]
fn sigterm_drains_a_request_in_flight_before_postgresql_stops() {
    // Arrange: embedded defaults in a fresh folder, so the first create also builds the tenant
    // template and is still running when the signal arrives.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let port = free_port();
    let env = vec![(
        "EMA_BRIDGE__HTTP__BIND".to_string(),
        format!("127.0.0.1:{port}"),
    )];
    let daemon = Daemon::start(&["serve"], &env, dir.path());
    let banner = daemon.wait_for("whmcs_secret:", Duration::from_secs(90));
    let api_key = banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("api_key:"))
        .expect("api key")
        .trim()
        .to_owned();
    // Act: a create whose body is still arriving when SIGTERM comes, so it is in flight for sure.
    let body = serde_json::to_vec(&serde_json::json!({"slug": "drained", "name": "Drained"}))
        .expect("json");
    let (first, rest) = body.split_at(body.len() / 2);
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    write!(
        stream,
        "POST /v1/tenants HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {api_key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .expect("headers");
    stream.write_all(first).expect("first half");
    std::thread::sleep(Duration::from_millis(500));
    let pid = nix::unistd::Pid::from_raw(daemon.child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("sigterm");
    std::thread::sleep(Duration::from_millis(300));
    stream.write_all(rest).expect("second half");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = daemon.terminate();
    // Assert: the request got its answer, the daemon exited cleanly, PostgreSQL is down.
    assert!(
        answer.starts_with("HTTP/1.1 201"),
        "the in-flight request was not answered: {answer:?}"
    );
    assert!(status.success(), "{status}");
    assert_eq!(postgres_processes_under(dir.path()), 0);
}
