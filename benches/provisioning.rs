//! Provisioning and listing costs, as ratios against baselines measured in the same run on the
//! same private cluster:
//! - a tenant create through the API vs a bare `CREATE DATABASE … TEMPLATE` of the tenant
//!   template vs create-empty + run the tenant migrations (target: API ≤ 1.3× bare clone);
//! - one list page for a reseller with 100 tenants vs one with 100,000 (target: ≤ 1.2×).
//!
//! Run with `scripts/bench` (or `cargo bench --bench provisioning`).

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use diesel::{Connection, PgConnection, RunQueryDsl};
use ema_bridge::config::Settings;
use ema_bridge::embedded::postgres::{Cluster, ClusterOptions};
use ema_bridge::embedded::s3::{LocalCredentials, LocalS3};
use ema_bridge::startup::{Application, connect_state};
use secrecy::SecretString;

const CREATES: usize = 15;
const PAGES: usize = 60;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn exec(conn: &mut PgConnection, sql: &str) {
    diesel::sql_query(sql)
        .execute(conn)
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let root = std::env::temp_dir().join(format!("ema-bench-{}", std::process::id()));
    std::fs::create_dir_all(&root).expect("root");
    std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let cluster = Cluster::new(root.join("pg"), ClusterOptions::default()).expect("cluster");
    cluster.start().expect("start");
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        rt.block_on(run(&cluster, &root))
    }));
    let _ = cluster.stop();
    let _ = std::fs::remove_dir_all(&root);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

async fn run(cluster: &Cluster, root: &std::path::Path) {
    // Arrange: the daemon on the cluster, with a local S3 store.
    ema_bridge::embedded::ensure_database(&cluster.url("postgres"), "bench_control").expect("db");
    let creds = LocalCredentials {
        access_key_id: "BENCHKEY".into(),
        secret_access_key: "bench-secret-key-000000".into(),
    };
    std::fs::create_dir_all(root.join("s3")).expect("s3 dir");
    let s3 = LocalS3::serve(
        root.join("s3"),
        creds.clone(),
        "127.0.0.1:0".parse().expect("addr"),
    )
    .await
    .expect("s3");
    let env: Vec<(String, String)> = [
        ("EMA_BRIDGE__DATABASE__URL", cluster.url("bench_control")),
        ("EMA_BRIDGE__S3__ENDPOINT", s3.endpoint.clone()),
        ("EMA_BRIDGE__S3__ACCESS_KEY_ID", creds.access_key_id.clone()),
        (
            "EMA_BRIDGE__S3__SECRET_ACCESS_KEY",
            creds.secret_access_key.clone(),
        ),
        ("EMA_BRIDGE__HTTP__BIND", "127.0.0.1:0".into()),
        ("EMA_BRIDGE__LOG__LEVEL", "warn".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = Settings::load_from(None, env).expect("settings");
    let state = connect_state(
        settings.clone(),
        &SecretString::from(cluster.url("bench_control")),
        &settings.s3,
    )
    .await
    .expect("state");
    let app = Application::build(state).await.expect("app");
    let state = app.state().clone();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let small = state
        .db
        .run(|c| ema_bridge::reseller::create(c, "Small"))
        .await
        .expect("reseller");
    let large = state
        .db
        .run(|c| ema_bridge::reseller::create(c, "Large"))
        .await
        .expect("reseller");
    let http = reqwest::Client::new();
    let create = |slug: String| {
        let http = http.clone();
        let url = format!("{base}/v1/tenants");
        let key = small.api_key.clone();
        async move {
            let t = Instant::now();
            let res = http
                .post(url)
                .bearer_auth(key)
                .json(&serde_json::json!({"slug": slug, "name": "Bench"}))
                .send()
                .await
                .expect("create");
            assert_eq!(
                res.status(),
                201,
                "{}",
                res.text().await.unwrap_or_default()
            );
            t.elapsed()
        }
    };
    // Warm-up: builds the template once, as the first create after a release does.
    create("bench-warm".into()).await;
    let template = ema_bridge::provisioning::database::template_name();
    let url = cluster.url("postgres");

    // Act: the three ways, interleaved so each pays the same checkpoint debt.
    let (mut api, mut clone, mut migrate) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..CREATES {
        api.push(create(format!("bench-api-{i}")).await);
        let (u, tpl) = (url.clone(), template.clone());
        clone.push(
            tokio::task::spawn_blocking(move || {
                let mut c = PgConnection::establish(&u).expect("connect");
                let t = Instant::now();
                exec(
                    &mut c,
                    &format!("CREATE DATABASE \"bench_clone_{i}\" TEMPLATE \"{tpl}\""),
                );
                t.elapsed()
            })
            .await
            .expect("join"),
        );
        let (u, target) = (url.clone(), cluster.url(&format!("bench_mig_{i}")));
        migrate.push(
            tokio::task::spawn_blocking(move || {
                let mut c = PgConnection::establish(&u).expect("connect");
                let t = Instant::now();
                exec(
                    &mut c,
                    &format!("CREATE DATABASE \"bench_mig_{i}\" TEMPLATE template0"),
                );
                let mut m = PgConnection::establish(&target).expect("connect");
                ema_bridge::db::migrate::run_tenant_migrations(&mut m).expect("migrate");
                t.elapsed()
            })
            .await
            .expect("join"),
        );
    }
    let (api, clone, migrate) = (median(api), median(clone), median(migrate));

    // Lists: 100 tenants for one reseller, 100,000 for another, seeded as control rows.
    let ctl = cluster.url("bench_control");
    let (s_id, l_id) = (small.reseller_id, large.reseller_id);
    tokio::task::spawn_blocking(move || {
        let mut c = PgConnection::establish(&ctl).expect("connect");
        for (rid, n, p) in [(s_id, 100 - CREATES as i64 - 1, "s"), (l_id, 100_000, "l")] {
            exec(&mut c, &format!(
                "INSERT INTO tenants (slug, reseller_id, name, status, provisioning_step, plan_code, max_users, storage_gb, gb_per_licence, db_name, user_count, active_user_count, db_bytes, s3_bytes)
                 SELECT '{p}' || lpad(g::text, 6, '0'), '{rid}', 'Seeded ' || g, 'active', 'done', 'standard', 25, 50, 10, 'ema_t_{p}' || g, 5, 4, 8000000, 1000
                 FROM generate_series(1, {n}) g"
            ));
        }
        exec(&mut c, "ANALYZE tenants");
    })
    .await
    .expect("seed");
    let page = |key: String, cursor: Option<String>| {
        let http = http.clone();
        let url = match cursor {
            Some(c) => format!("{base}/v1/tenants?limit=50&cursor={c}"),
            None => format!("{base}/v1/tenants?limit=50"),
        };
        async move {
            let t = Instant::now();
            let res = http.get(url).bearer_auth(key).send().await.expect("list");
            assert_eq!(res.status(), 200);
            let body: serde_json::Value = res.json().await.expect("json");
            assert_eq!(body["items"].as_array().map(Vec::len), Some(50));
            t.elapsed()
        }
    };
    // A cursor in the middle of the large account, as a client paging deep in would send.
    let mid_cursor = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("v1:l050000")
    };
    let (mut p100, mut p100k, mut p100k_deep) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..5 {
        page(small.api_key.clone(), None).await;
        page(large.api_key.clone(), None).await;
    }
    for _ in 0..PAGES {
        p100.push(page(small.api_key.clone(), None).await);
        p100k.push(page(large.api_key.clone(), None).await);
        p100k_deep.push(page(large.api_key.clone(), Some(mid_cursor.clone())).await);
    }
    let (p100, p100k, p100k_deep) = (median(p100), median(p100k), median(p100k_deep));

    // Assert / report
    let create_ratio = ms(api) / ms(clone);
    let list_ratio = ms(p100k) / ms(p100);
    let deep_ratio = ms(p100k_deep) / ms(p100);
    println!("tenant create, median of {CREATES}:");
    println!(
        "  API create (HTTP, row, clone, marker, migrations check, S3 marker)  {:8.1} ms",
        ms(api)
    );
    println!(
        "  bare CREATE DATABASE … TEMPLATE {template:<28}  {:8.1} ms",
        ms(clone)
    );
    println!(
        "  CREATE DATABASE … TEMPLATE template0 + tenant migrations            {:8.1} ms",
        ms(migrate)
    );
    println!(
        "  ratio API / bare clone            {create_ratio:5.2}  (target <= 1.30: {})",
        verdict(create_ratio <= 1.3)
    );
    println!(
        "  ratio create-empty+migrate / clone {:5.2}",
        ms(migrate) / ms(clone)
    );
    println!("list page of 50, median of {PAGES}:");
    println!("  100 tenants                    {:7.2} ms", ms(p100));
    println!("  100,000 tenants (first page)   {:7.2} ms", ms(p100k));
    println!("  100,000 tenants (page at 50k)  {:7.2} ms", ms(p100k_deep));
    println!(
        "  ratio 100k / 100               {list_ratio:5.2}  (target <= 1.20: {})",
        verdict(list_ratio <= 1.2)
    );
    println!(
        "  ratio 100k deep / 100          {deep_ratio:5.2}  (target <= 1.20: {})",
        verdict(deep_ratio <= 1.2)
    );
    drop(s3);
}

fn verdict(ok: bool) -> &'static str {
    if ok { "met" } else { "MISSED" }
}
