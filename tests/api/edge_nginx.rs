//! The nginx `auth_request` example of `docs/edge-nginx.md`, run for real: the config block is
//! taken from the document (TLS lines dropped, loopback ports put in), nginx fronts the daemon
//! and a stand-in archive application, and a browser's journey is checked through it.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::edge::{PASSWORD, session_cookie};
use crate::helpers::{spawn_app, unique};

/// A stand-in for the archive application behind the gate: answers every request with a marker.
fn archive_app() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let body = "ARCHIVE APP CONTENT";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    port
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The document's nginx block, adapted to loopback ports and the test's base domain.
fn config_from_docs(
    daemon: u16,
    app: u16,
    tenants: u16,
    api: u16,
    dir: &std::path::Path,
) -> String {
    let doc = std::fs::read_to_string(crate::helpers::repo_root().join("docs/edge-nginx.md"))
        .expect("doc");
    let start = doc.find("```nginx\n").expect("an nginx block") + "```nginx\n".len();
    let block = &doc[start..start + doc[start..].find("```").expect("end of block")];
    let block: String = block
        .lines()
        .filter(|l| !l.contains("ssl_certificate"))
        .map(|l| {
            l.replace(
                "listen 443 ssl http2;   # nginx >= 1.25.1: `listen 443 ssl;` + `http2 on;`",
                &format!("listen 127.0.0.1:{tenants};"),
            )
            .replace("listen 443 ssl;", &format!("listen 127.0.0.1:{api};"))
            .replace(
                "server 127.0.0.1:8080",
                &format!("server 127.0.0.1:{daemon}"),
            )
            .replace("server 127.0.0.1:9000", &format!("server 127.0.0.1:{app}"))
            .replace(
                "*.archive.reseller.example *.archive.example.com",
                "*.archive.test",
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let d = dir.display();
    format!(
        "daemon off; pid {d}/nginx.pid; error_log {d}/error.log;\nevents {{}}\nhttp {{\naccess_log off;\n\
         client_body_temp_path {d}/body; proxy_temp_path {d}/proxy; fastcgi_temp_path {d}/fcgi;\n\
         uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n{block}\n}}\n"
    )
}

/// A browser talking to a tenant host through nginx.
struct Front {
    http: reqwest::Client,
    port: u16,
    host: String,
}

impl Front {
    async fn login(&self, email: &str) -> reqwest::Response {
        self.http
            .post(format!("http://127.0.0.1:{}/login", self.port))
            .header("Host", &self.host)
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login")
    }

    /// A page of the archive application, with the session cookie when given.
    async fn page(&self, session: Option<&str>) -> reqwest::Response {
        let mut req = self
            .http
            .get(format!("http://127.0.0.1:{}/reports/2026", self.port))
            .header("Host", &self.host)
            .header("Accept", "text/html");
        if let Some(s) = session {
            req = req.header("Cookie", format!("ema_session={s}"));
        }
        req.send().await.expect("get")
    }
}

struct Nginx(std::process::Child);

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM makes the master stop its workers too; SIGKILL would orphan them.
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.0.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        );
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_documented_nginx_auth_request_setup_gates_the_archive_application() {
    // Arrange: the daemon with a tenant, the application, nginx with the documented config.
    let app = spawn_app().await;
    let slug = unique("ngx-");
    app.create_tenant(&slug).await;
    let app_port = archive_app();
    let (tenants_port, api_port) = (free_port(), free_port());
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let conf = dir.path().join("nginx.conf");
    std::fs::write(
        &conf,
        config_from_docs(app.port, app_port, tenants_port, api_port, dir.path()),
    )
    .expect("conf");
    let _nginx = Nginx(
        std::process::Command::new("nginx")
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx must be installed (scripts/test installs it)"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", tenants_port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {:?}",
            std::fs::read_to_string(dir.path().join("error.log"))
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let front = Front {
        http: app.client.clone(),
        port: tenants_port,
        host: format!("{slug}.archive.test"),
    };
    let email = format!("admin@{slug}.example");

    // No session: sent to the login page.
    let res = front.page(None).await;
    assert_eq!(res.status(), 302);
    assert_eq!(
        res.headers()["location"]
            .to_str()
            .expect("ascii")
            .trim_end_matches('/')
            .rsplit('/')
            .next(),
        Some(format!("{}:{tenants_port}", front.host).as_str())
    );

    // Login through nginx, then the application is reachable.
    let login = front.login(&email).await;
    assert_eq!(login.status(), 200);
    let cookie = session_cookie(&login);
    let res = front.page(Some(&cookie)).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("body"), "ARCHIVE APP CONTENT");

    // Suspended: the same session gets the suspended notice, not the application.
    app.post(&format!("/v1/tenants/{slug}/suspend"))
        .send()
        .await
        .expect("suspend");
    let body = front.page(Some(&cookie)).await.text().await.expect("body");
    assert!(body.contains("This account is suspended"), "{body}");
    assert!(!body.contains("ARCHIVE APP CONTENT"));

    // Unsuspended: the same credentials work again at once.
    app.post(&format!("/v1/tenants/{slug}/unsuspend"))
        .send()
        .await
        .expect("unsuspend");
    let cookie = session_cookie(&front.login(&email).await);
    let res = front.page(Some(&cookie)).await;
    assert_eq!(res.text().await.expect("body"), "ARCHIVE APP CONTENT");

    // The API host server block reaches the daemon's API.
    let res = app
        .client
        .get(format!("http://127.0.0.1:{api_port}/healthz"))
        .header("Host", "api.archive.example.com")
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status(), 200);
}
