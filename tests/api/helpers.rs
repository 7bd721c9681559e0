//! The test harness: one throwaway PostgreSQL cluster and one SigV4-checking S3 server per test
//! run, a database and a bucket per test, and the app spawned in-process on port 0. The cluster
//! and its folder are removed when the test process exits.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ema_bridge::config::Settings;
use ema_bridge::embedded::postgres::{Cluster, ClusterOptions};
use ema_bridge::embedded::s3::{LocalCredentials, LocalS3};
use ema_bridge::reseller::NewCredentials;
use ema_bridge::startup::{Application, connect_state};
use ema_bridge::state::AppState;
use secrecy::SecretString;
use uuid::Uuid;

pub struct Shared {
    pub root: PathBuf,
    pub cluster: Cluster,
    pub s3_endpoint: String,
    pub s3_credentials: LocalCredentials,
}

static SHARED: OnceLock<Shared> = OnceLock::new();

extern "C" fn cleanup_at_exit() {
    if let Some(s) = SHARED.get() {
        let _ = s.cluster.stop();
        let _ = std::fs::remove_dir_all(&s.root);
    }
}

/// The run's PostgreSQL cluster and S3 server, started on first use.
pub fn shared() -> &'static Shared {
    SHARED.get_or_init(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = tracing_subscriber::fmt()
                .with_env_filter("info,ema_bridge=debug")
                .with_test_writer()
                .try_init();
        }
        let root = std::env::temp_dir().join(format!("ema-test-{}", Uuid::new_v4().simple()));
        std::fs::create_dir_all(&root).expect("test root");
        // The PostgreSQL user must be able to enter the folder.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let options = ClusterOptions {
            server_settings: [
                ("fsync", "off"),
                ("synchronous_commit", "off"),
                ("full_page_writes", "off"),
                ("max_connections", "300"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        };
        let cluster = Cluster::new(root.join("pg"), options).expect("cluster");
        cluster.start().expect("start the test cluster");
        unsafe {
            libc::atexit(cleanup_at_exit);
        }
        let credentials = LocalCredentials {
            access_key_id: "EMATESTKEY".into(),
            secret_access_key: "ema-test-secret-key-0123456789".into(),
        };
        let s3_root = root.join("s3");
        std::fs::create_dir_all(&s3_root).expect("s3 root");
        let (tx, rx) = std::sync::mpsc::channel();
        let creds = credentials.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("s3 runtime");
            rt.block_on(async move {
                let s3 = LocalS3::serve(s3_root, creds, SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
                    .await
                    .expect("s3 server");
                tx.send(s3.endpoint.clone()).expect("send endpoint");
                std::future::pending::<()>().await;
                drop(s3);
            });
        });
        let s3_endpoint = rx.recv().expect("s3 endpoint");
        Shared {
            root,
            cluster,
            s3_endpoint,
            s3_credentials: credentials,
        }
    })
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", &Uuid::new_v4().simple().to_string()[..10])
}

/// Environment for a daemon using the shared cluster and S3 server with its own database and bucket.
pub fn test_env(db_name: &str, bucket: &str) -> Vec<(String, String)> {
    let s = shared();
    [
        ("EMA_BRIDGE__DATABASE__URL", s.cluster.url(db_name)),
        ("EMA_BRIDGE__DATABASE__POOL_SIZE", "4".into()),
        ("EMA_BRIDGE__S3__ENDPOINT", s.s3_endpoint.clone()),
        ("EMA_BRIDGE__S3__BUCKET", bucket.into()),
        (
            "EMA_BRIDGE__S3__ACCESS_KEY_ID",
            s.s3_credentials.access_key_id.clone(),
        ),
        (
            "EMA_BRIDGE__S3__SECRET_ACCESS_KEY",
            s.s3_credentials.secret_access_key.clone(),
        ),
        ("EMA_BRIDGE__HTTP__BIND", "127.0.0.1:0".into()),
        ("EMA_BRIDGE__HTTP__WORKERS", "1".into()),
        ("EMA_BRIDGE__BASE_DOMAIN", "archive.test".into()),
        ("EMA_BRIDGE__PROVISIONING__LEASE_SECS", "2".into()),
        (
            "EMA_BRIDGE__DATA_DIR",
            s.root
                .join("unused-data-dir")
                .to_string_lossy()
                .into_owned(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

pub struct TestApp {
    pub address: String,
    pub port: u16,
    pub state: AppState,
    pub db_name: String,
    pub bucket: String,
    pub reseller: NewCredentials,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

/// A fresh database and bucket, the app on a free port, and one reseller.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

pub async fn spawn_app_with(extra_env: &[(&str, &str)]) -> TestApp {
    let s = shared();
    let db_name = unique("test_");
    let bucket = unique("bucket-");
    let maint = s.cluster.url("postgres");
    let name = db_name.clone();
    tokio::task::spawn_blocking(move || ema_bridge::embedded::ensure_database(&maint, &name))
        .await
        .expect("join")
        .expect("test database");
    let mut env = test_env(&db_name, &bucket);
    env.extend(
        extra_env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string())),
    );
    let settings = Settings::load_from(None, env).expect("settings");
    let state = connect_state(
        settings.clone(),
        &SecretString::from(s.cluster.url(&db_name)),
        &settings.s3,
    )
    .await
    .expect("state");
    let app = Application::build(state).await.expect("app");
    let state = app.state().clone();
    let port = app.port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let reseller = state
        .db
        .run(|conn| ema_bridge::reseller::create(conn, "Reseller One"))
        .await
        .expect("reseller");
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        state,
        db_name,
        bucket,
        reseller,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        handle,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn another_reseller(&self, name: &str) -> NewCredentials {
        let n = name.to_owned();
        self.state
            .db
            .run(move |conn| ema_bridge::reseller::create(conn, &n))
            .await
            .expect("reseller")
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .get(self.url(path))
            .bearer_auth(&self.reseller.api_key)
    }

    pub fn post(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .post(self.url(path))
            .bearer_auth(&self.reseller.api_key)
    }

    pub fn patch(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .patch(self.url(path))
            .bearer_auth(&self.reseller.api_key)
    }

    pub fn delete(&self, path: &str) -> reqwest::RequestBuilder {
        self.client
            .delete(self.url(path))
            .bearer_auth(&self.reseller.api_key)
    }

    /// Creates a tenant through the API and returns its JSON.
    pub async fn create_tenant(&self, slug: &str) -> serde_json::Value {
        let res = self
            .post("/v1/tenants")
            .json(&serde_json::json!({"slug": slug, "name": format!("Tenant {slug}"), "admin": {"email": format!("admin@{slug}.example"), "password": "correct horse battery"}}))
            .send()
            .await
            .expect("request");
        assert_eq!(
            res.status(),
            201,
            "{}",
            res.text().await.unwrap_or_default()
        );
        res.json().await.expect("json")
    }

    /// The audit trail of a tenant.
    pub async fn audit(&self, slug: &str) -> Vec<ema_bridge::audit::Recorded> {
        let s = slug.to_owned();
        self.state
            .db
            .run(move |conn| ema_bridge::audit::for_tenant(conn, &s))
            .await
            .expect("audit")
    }

    /// GET with the reseller's key, as JSON.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
        self.get(path)
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json")
    }

    /// A connection to a database on the test cluster.
    pub fn connect(&self, db: &str) -> diesel::PgConnection {
        use diesel::Connection;
        diesel::PgConnection::establish(&shared().cluster.url(db)).expect("connect")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        let db = self.db_name.clone();
        // Stop the workers and remove the test's control database; tenant databases go with the
        // cluster at exit.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(rt) = rt {
                rt.block_on(async {
                    let _ =
                        tokio::time::timeout(std::time::Duration::from_secs(5), handle.stop(false))
                            .await;
                });
            }
            use diesel::{Connection, RunQueryDsl};
            if let Ok(mut c) = diesel::PgConnection::establish(&shared().cluster.url("postgres")) {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{db}\" WITH (FORCE)"))
                    .execute(&mut c);
            }
        })
        .join();
    }
}

/// Path of the repository root (fixtures, php-module).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Single-row query helper for assertions.
pub fn scalar_i64(conn: &mut diesel::PgConnection, sql: &str) -> i64 {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct V {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        v: i64,
    }
    let r: V = diesel::sql_query(sql)
        .get_result(conn)
        .expect("scalar query");
    r.v
}
