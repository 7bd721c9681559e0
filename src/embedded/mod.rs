//! What `serve` and the CLI run on when nothing external is configured: a private PostgreSQL
//! cluster and a local S3 store under `data_dir`. [`Infrastructure::start`] resolves the
//! configured-or-embedded database URL and S3 endpoint; errors are `anyhow`.

pub mod postgres;
pub mod s3;

use std::net::SocketAddr;

use anyhow::Context;
use diesel::prelude::*;
use diesel::sql_types::Text;
use secrecy::{ExposeSecret, SecretString};

use crate::config::{S3Settings, Settings};
use crate::db::quote_ident;
use postgres::{Cluster, ClusterOptions};
use s3::LocalS3;

/// Name of the control database inside the embedded cluster.
pub const CONTROL_DB: &str = "ema_control";

/// The database and object store the daemon uses, started here when they are embedded.
pub struct Infrastructure {
    pub database_url: SecretString,
    pub s3: S3Settings,
    cluster: Option<Cluster>,
    /// Whether this process started the cluster (and so must stop it).
    owns_cluster: bool,
    local_s3: Option<LocalS3>,
}

impl Infrastructure {
    /// Starts whatever is embedded. `local_s3_bind` is where a local S3 store listens (port 0
    /// for any free port).
    pub async fn start(settings: &Settings, local_s3_bind: SocketAddr) -> anyhow::Result<Self> {
        let (database_url, cluster, owns_cluster) = match &settings.database.url {
            Some(url) => (url.clone(), None, false),
            None => {
                let cluster = Cluster::new(
                    settings.data_dir.join("postgres"),
                    ClusterOptions::default(),
                )?;
                let c = cluster.clone();
                let owns = tokio::task::spawn_blocking(move || c.start())
                    .await
                    .context("cluster start task failed")??;
                let c = cluster.clone();
                tokio::task::spawn_blocking(move || {
                    ensure_database(&c.url("postgres"), CONTROL_DB)
                })
                .await??;
                (
                    SecretString::from(cluster.url(CONTROL_DB)),
                    Some(cluster),
                    owns,
                )
            }
        };
        let (s3, local_s3) = match &settings.s3.endpoint {
            Some(_) => (settings.s3.clone(), None),
            None => {
                let local = LocalS3::start(&settings.data_dir.join("s3"), local_s3_bind).await?;
                let mut s3 = settings.s3.clone();
                s3.endpoint = Some(local.endpoint.clone());
                s3.access_key_id = Some(local.credentials.access_key_id.clone());
                s3.secret_access_key = Some(SecretString::from(
                    local.credentials.secret_access_key.clone(),
                ));
                (s3, Some(local))
            }
        };
        Ok(Self {
            database_url,
            s3,
            cluster,
            owns_cluster,
            local_s3,
        })
    }

    pub fn embedded_database(&self) -> bool {
        self.cluster.is_some()
    }

    pub fn embedded_s3(&self) -> bool {
        self.local_s3.is_some()
    }

    /// Stops the local S3 store and, if this process started it, the PostgreSQL cluster.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        self.local_s3.take();
        if let (Some(cluster), true) = (self.cluster.take(), self.owns_cluster) {
            tokio::task::spawn_blocking(move || cluster.stop()).await??;
        }
        Ok(())
    }
}

/// Creates `dbname` on the server behind `maintenance_url` unless it exists.
pub fn ensure_database(maintenance_url: &str, dbname: &str) -> anyhow::Result<()> {
    let mut conn =
        PgConnection::establish(maintenance_url).context("could not connect to PostgreSQL")?;
    #[derive(QueryableByName)]
    struct Found {
        #[diesel(sql_type = Text)]
        #[allow(dead_code)]
        datname: String,
    }
    let found: Vec<Found> = diesel::sql_query("SELECT datname FROM pg_database WHERE datname = $1")
        .bind::<Text, _>(dbname)
        .load(&mut conn)?;
    if found.is_empty() {
        match diesel::sql_query(format!("CREATE DATABASE {}", quote_ident(dbname)))
            .execute(&mut conn)
        {
            Ok(_) => {}
            // Another process created it between our check and our CREATE.
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => {}
            Err(e) if e.to_string().contains("already exists") => {}
            Err(e) => return Err(e).with_context(|| format!("could not create database {dbname}")),
        }
    }
    Ok(())
}

impl std::fmt::Debug for Infrastructure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Infrastructure")
            .field("embedded_database", &self.cluster.is_some())
            .field("embedded_s3", &self.local_s3.is_some())
            .field("s3_endpoint", &self.s3.endpoint)
            .field("database_url_len", &self.database_url.expose_secret().len())
            .finish()
    }
}
