//! Test support for the WHMCS channel: a signing client that writes raw HTTP/1.1 (so tests can
//! send what reqwest would refuse or normalise: duplicated headers, odd paths, bad lengths), a
//! capture of the daemon's logs, and a runner for the PHP module's end-to-end script.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use ema_bridge::signing::{self, Canonical};
use secrecy::SecretString;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{TestApp, repo_root};

/// A request signed as the WHMCS module signs it; fields can be changed before or after signing.
#[derive(Clone)]
pub struct Signed {
    pub method: String,
    /// Path and query as sent.
    pub target: String,
    pub body: Vec<u8>,
    pub key_id: String,
    pub secret: String,
    pub timestamp: String,
    pub nonce: String,
    pub idempotency_key: Option<String>,
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

pub fn fresh_nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

impl Signed {
    /// A POST of `body` to `/whmcs/v1/{action}` with the app's reseller key, signed now.
    pub fn new(app: &TestApp, action: &str, body: serde_json::Value) -> Self {
        Self::with_key(
            action,
            body,
            &app.reseller.whmcs_key_id,
            &app.reseller.whmcs_secret,
        )
    }

    pub fn with_key(action: &str, body: serde_json::Value, key_id: &str, secret: &str) -> Self {
        Self {
            method: "POST".into(),
            target: format!("/whmcs/v1/{action}"),
            body: serde_json::to_vec(&body).expect("json"),
            key_id: key_id.into(),
            secret: secret.into(),
            timestamp: now().to_string(),
            nonce: fresh_nonce(),
            idempotency_key: None,
        }
    }

    pub fn idempotency_key(mut self, key: &str) -> Self {
        self.idempotency_key = Some(key.into());
        self
    }

    pub fn signature(&self) -> String {
        let (path, query) = self.target.split_once('?').unwrap_or((&self.target, ""));
        let sha = signing::body_sha256(&self.body);
        let c = Canonical {
            method: &self.method,
            path,
            query,
            timestamp: &self.timestamp,
            nonce: &self.nonce,
            key_id: &self.key_id,
            idempotency_key: self.idempotency_key.as_deref().unwrap_or(""),
            body_sha256: &sha,
        };
        signing::sign(
            &SecretString::from(self.secret.clone()),
            &c.string_to_sign(),
        )
    }

    /// The signing headers for the request as it stands.
    pub fn headers(&self) -> Vec<(String, String)> {
        let mut h = vec![
            ("Content-Type".to_owned(), "application/json".to_owned()),
            ("X-Ema-Key-Id".to_owned(), self.key_id.clone()),
            ("X-Ema-Timestamp".to_owned(), self.timestamp.clone()),
            ("X-Ema-Nonce".to_owned(), self.nonce.clone()),
        ];
        if let Some(k) = &self.idempotency_key {
            h.push(("Idempotency-Key".to_owned(), k.clone()));
        }
        h.push((
            "X-Ema-Content-Sha256".to_owned(),
            signing::body_sha256(&self.body),
        ));
        h.push(("X-Ema-Signature".to_owned(), self.signature()));
        h
    }

    /// A raw request from this one: signed headers, the body, `Content-Length`.
    pub fn raw(&self) -> Raw {
        let mut headers = self.headers();
        headers.push(("Content-Length".to_owned(), self.body.len().to_string()));
        Raw {
            method: self.method.clone(),
            target: self.target.clone(),
            headers,
            body: self.body.clone(),
        }
    }

    pub async fn send(&self, app: &TestApp) -> Answer {
        self.raw().send(app).await
    }
}

/// A request exactly as it goes on the wire.
#[derive(Clone)]
pub struct Raw {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Raw {
    pub fn set(mut self, name: &str, value: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn remove(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    pub fn add(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    }

    pub fn bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "{} {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
            self.method, self.target
        )
        .into_bytes();
        for (n, v) in &self.headers {
            out.extend_from_slice(n.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(v.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&self.body);
        out
    }

    pub async fn send(&self, app: &TestApp) -> Answer {
        send_bytes(app, &self.bytes()).await
    }
}

/// A response read off the wire.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Writes `bytes` to the app and reads the answer until the server closes the connection.
pub async fn send_bytes(app: &TestApp, bytes: &[u8]) -> Answer {
    send_bytes_to(app.port, bytes).await
}

/// [`send_bytes`] to a daemon on another port.
pub async fn send_bytes_to(port: u16, bytes: &[u8]) -> Answer {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    // The server may answer (413) and close before it read everything: that is fine.
    let _ = stream.write_all(bytes).await;
    let _ = stream.flush().await;
    let mut raw = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut raw),
    )
    .await;
    if read.is_err() {
        panic!("no answer within 20 s");
    }
    parse_answer(&raw)
}

fn parse_answer(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no HTTP answer: {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body);
    } else if let Some(len) = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .and_then(|(_, v)| v.parse::<usize>().ok())
    {
        // Whatever follows belongs to another answer (e.g. to bytes sent past Content-Length).
        body.truncate(len);
    }
    Answer {
        status,
        headers,
        body,
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        let start = eol + 2;
        out.extend_from_slice(&b[start..(start + size).min(b.len())]);
        b = &b[(start + size + 2).min(b.len())..];
    }
    out
}

/// Waits until just after a second boundary, so that a test's "now" and the daemon's agree to
/// the second for the next few hundred milliseconds.
pub async fn align_to_second() {
    let sub = chrono::Utc::now().timestamp_subsec_millis();
    tokio::time::sleep(std::time::Duration::from_millis(u64::from(1000 - sub) + 20)).await;
}

// ---- the daemon's logs --------------------------------------------------------------------

static LOGS: Mutex<Vec<u8>> = Mutex::new(Vec::new());
static CAPTURING: OnceLock<bool> = OnceLock::new();

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOGS.lock()
            .unwrap_or_else(|e| e.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends every log line of this test process (every app in it) to a buffer, with span fields.
/// Call before `spawn_app`. Panics if another subscriber was installed first (`TEST_LOG`).
pub fn capture_logs() {
    let ok = *CAPTURING.get_or_init(|| {
        tracing_subscriber::fmt()
            .with_env_filter("info,ema_bridge=debug")
            .with_ansi(false)
            .with_writer(|| LogWriter)
            .try_init()
            .is_ok()
    });
    assert!(
        ok,
        "another tracing subscriber is installed (unset TEST_LOG to run the log assertions)"
    );
}

/// Everything logged so far.
pub fn logs() -> String {
    String::from_utf8_lossy(&LOGS.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

// ---- the PHP module ----------------------------------------------------------------------

/// A temp folder of WHMCS `$params` fixtures pointed at one app.
pub struct Fixtures {
    pub dir: tempfile::TempDir,
    host: String,
    port: String,
    key_id: String,
    secret: String,
}

impl Fixtures {
    pub fn new(app: &TestApp) -> Self {
        Self::pointing_at(
            "127.0.0.1",
            app.port,
            &app.reseller.whmcs_key_id,
            &app.reseller.whmcs_secret,
        )
    }

    pub fn pointing_at(host: &str, port: u16, key_id: &str, secret: &str) -> Self {
        Self {
            dir: tempfile::tempdir().expect("tempdir"),
            host: host.into(),
            port: port.to_string(),
            key_id: key_id.into(),
            secret: secret.into(),
        }
    }

    /// `fixtures/whmcs/{name}.json` with the placeholders filled and `edit` applied, written
    /// as `{as_name}.json`.
    pub fn write(
        &self,
        name: &str,
        as_name: &str,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> PathBuf {
        let text = std::fs::read_to_string(
            repo_root()
                .join("fixtures/whmcs")
                .join(format!("{name}.json")),
        )
        .expect("fixture");
        let text = text
            .replace("@HOST@", &self.host)
            .replace("@PORT@", &self.port)
            .replace("@KEY_ID@", &self.key_id)
            .replace("@SECRET@", &self.secret);
        let mut v: serde_json::Value = serde_json::from_str(&text).expect("fixture json");
        edit(&mut v);
        let path = self.dir.path().join(format!("{as_name}.json"));
        std::fs::write(&path, serde_json::to_vec_pretty(&v).expect("json")).expect("write fixture");
        path
    }

    /// A service fixture for one tenant: service id, domain and "Tenant Slug" made unique.
    pub fn service(&self, name: &str, slug: &str, service_id: i64) -> PathBuf {
        let slug = slug.to_owned();
        self.write(name, &format!("{name}-{service_id}"), move |v| {
            v["serviceid"] = service_id.into();
            v["accountid"] = service_id.into();
            v["domain"] = format!("{slug}.example.com").into();
            if v["customfields"]["Tenant Slug"]
                .as_str()
                .is_some_and(|s| !s.is_empty())
            {
                v["customfields"]["Tenant Slug"] = slug.clone().into();
            }
        })
    }
}

/// Runs `php php-module/tests/e2e/run.php FUNCTION FILE` and returns its JSON.
pub async fn run_php(function: &str, params: &Path) -> serde_json::Value {
    let function = function.to_owned();
    let params = params.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("php")
            .arg(repo_root().join("php-module/tests/e2e/run.php"))
            .arg(&function)
            .arg(&params)
            .output()
    })
    .await
    .expect("join")
    .expect("run php (install php-cli php-curl php-mbstring php-xml)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "php exited with {}: {stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("run.php printed no JSON ({e}): {stdout}"))
}
