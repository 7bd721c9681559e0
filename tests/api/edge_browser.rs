//! The login page as a real browser renders it: headless Chromium (the Debian `chromium`
//! package) resolving `*.archive.test` to loopback. Fails, never skips, when Chromium is missing.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::edge::{on_tenant, suspend};
use crate::helpers::{TestApp, spawn_app, unique};

/// A 1x1 PNG.
const PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x60, 0x60, 0x60, 0xf8,
    0x0f, 0x00, 0x01, 0x04, 0x01, 0x00, 0x5f, 0x0d, 0xd3, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45,
    0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
];

/// The DOM Chromium renders for `url`, with every `*.archive.test` host mapped to loopback.
fn render(url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--host-resolver-rules=MAP *.archive.test 127.0.0.1",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg("--dump-dom")
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium must be installed (Debian package `chromium`; scripts/test installs it)");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().expect("wait").is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish rendering {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn render_async(url: String) -> String {
    tokio::task::spawn_blocking(move || render(&url))
        .await
        .expect("render task")
}

async fn brand(app: &TestApp, slug: &str) {
    let res = app
        .patch(&format!("/v1/tenants/{slug}"))
        .json(&json!({"branding": {"custom_name": "Contoso <Vault>", "primary_color": "#12ab34"}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(res.status(), 200);
    let res = app
        .client
        .put(app.url(&format!("/v1/tenants/{slug}/branding/logo")))
        .bearer_auth(&app.reseller.api_key)
        .body(PNG.to_vec())
        .send()
        .await
        .expect("logo");
    assert_eq!(
        res.status(),
        200,
        "{}",
        res.text().await.unwrap_or_default()
    );
}

#[tokio::test]
async fn chromium_renders_the_branded_login_page_and_the_suspended_notice() {
    // Arrange
    let app = spawn_app().await;
    let slug = unique("browser-");
    app.create_tenant(&slug).await;
    brand(&app, &slug).await;
    let url = format!("http://{slug}.archive.test:{}/", app.port);
    // Act
    let dom = render_async(url.clone()).await;
    // Assert: the custom name (escaped), colour, logo and an accessible form.
    assert!(
        dom.contains("<h1 id=\"product\">Contoso &lt;Vault&gt;</h1>"),
        "{dom}"
    );
    assert!(dom.contains("--primary: #12ab34"), "{dom}");
    assert!(dom.contains("src=\"/_ema/branding/logo\""), "{dom}");
    assert!(
        dom.contains("<label for=\"email\">") && dom.contains("id=\"email\""),
        "{dom}"
    );
    assert!(
        dom.contains("<label for=\"password\">") && dom.contains("type=\"password\""),
        "{dom}"
    );
    assert!(!dom.contains("This account is suspended"), "{dom}");
    let logo = on_tenant(&app, reqwest::Method::GET, &slug, "/_ema/branding/logo")
        .send()
        .await
        .expect("logo");
    assert_eq!(logo.status(), 200);
    assert_eq!(logo.headers()["content-type"], "image/png");
    assert_eq!(logo.bytes().await.expect("bytes").as_ref(), PNG);
    // Act: suspend, render again.
    suspend(&app, &slug).await;
    let dom = render_async(url).await;
    // Assert: the suspended notice, still in the tenant's branding, and no login form.
    assert!(dom.contains("This account is suspended"), "{dom}");
    assert!(dom.contains("Contoso &lt;Vault&gt;"), "{dom}");
    assert!(
        !dom.contains("<form method=\"post\" action=\"/login\">"),
        "{dom}"
    );
}
