//! Builds the application from settings and resolved infrastructure: control database
//! (migrated), bucket (created if missing), HTTP server on its listener, background tasks.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use tracing_actix_web::TracingLogger;

use crate::config::{S3Settings, Settings};
use crate::db::{Db, migrate};
use crate::state::AppState;
use crate::storage::Bucket;
use crate::{edge, http};

pub struct Application {
    port: u16,
    server: Server,
    state: AppState,
}

/// Connects to the control database, applies its migrations, and connects the bucket.
pub async fn connect_state(
    settings: Settings,
    database_url: &SecretString,
    s3: &S3Settings,
) -> anyhow::Result<AppState> {
    let url = database_url.expose_secret().to_owned();
    let pool_size = settings.database.pool_size;
    let db = tokio::task::spawn_blocking(move || Db::connect(&url, pool_size)).await??;
    db.run(migrate::run_control_migrations).await?;
    let bucket = Bucket::connect(s3).await?;
    bucket
        .ensure_exists()
        .await
        .context("object storage is not usable")?;
    Ok(AppState {
        settings: Arc::new(settings),
        db,
        bucket,
    })
}

impl Application {
    pub async fn build(mut state: AppState) -> anyhow::Result<Self> {
        let bind = state.settings.http.bind;
        let listener =
            TcpListener::bind(bind).with_context(|| format!("could not listen on {bind}"))?;
        let port = listener.local_addr()?.port();
        if state.settings.http.public_port == Some(0) {
            // Bound to any free port: tenant links carry the port actually taken.
            let mut settings = (*state.settings).clone();
            settings.http.public_port = Some(port);
            state.settings = Arc::new(settings);
        }
        let data = web::Data::new(state.clone());
        let directory = web::Data::new(edge::Directory::start(state.db.clone()).await?);
        let shutdown = state.settings.http.shutdown_timeout.as_secs();
        let workers = match state.settings.http.workers {
            0 => std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
            n => n,
        };
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(edge::host::dispatch))
                .wrap(from_fn(http::request_id::attach))
                .wrap(TracingLogger::<crate::telemetry::RootSpan>::new())
                .app_data(data.clone())
                .app_data(directory.clone())
                .service(
                    web::scope("")
                        .guard(edge::OnTenantHost)
                        .configure(edge::configure),
                )
                .service(
                    web::scope("")
                        .guard(edge::OnApiHost)
                        .configure(http::configure),
                )
                .default_service(web::to(http::problem::no_route))
        })
        .listen(listener)?
        .workers(workers)
        .shutdown_timeout(shutdown)
        .run();
        Ok(Self {
            port,
            server,
            state,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Stops the server from elsewhere (tests).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT/SIGTERM (or the handle stops it), draining in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
