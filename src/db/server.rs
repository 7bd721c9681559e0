use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::{Connection, PgConnection};
use secrecy::{ExposeSecret, SecretString};

/// A PostgreSQL server reached by URL; builds URLs of its other databases by swapping the
/// database name, keeping host, port, user, password and options.
#[derive(Clone)]
pub struct DbServer {
    base: url::Url,
    /// A few pooled connections to the maintenance database, used for CREATE/DROP DATABASE and
    /// catalog reads on every provisioning run.
    maintenance: Arc<OnceLock<Pool<ConnectionManager<PgConnection>>>>,
}

/// Maintenance connections kept per server.
const MAINTENANCE_POOL: u32 = 3;

impl std::fmt::Debug for DbServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.base.clone();
        if shown.password().is_some() {
            let _ = shown.set_password(Some("redacted"));
        }
        write!(f, "DbServer({shown})")
    }
}

/// The database every PostgreSQL server has, used for CREATE/DROP DATABASE and server-wide locks.
pub const MAINTENANCE_DB: &str = "postgres";

impl DbServer {
    pub fn from_control_url(url: &str) -> anyhow::Result<Self> {
        let base = url::Url::parse(url).context("database.url is not a URL")?;
        Ok(Self {
            base,
            maintenance: Arc::new(OnceLock::new()),
        })
    }

    pub fn url_for(&self, dbname: &str) -> SecretString {
        let mut u = self.base.clone();
        u.set_path(&format!("/{dbname}"));
        SecretString::from(u.to_string())
    }

    /// A short-lived connection to `dbname` on this server (tenant databases are never pooled).
    pub fn connect(&self, dbname: &str) -> diesel::ConnectionResult<PgConnection> {
        PgConnection::establish(self.url_for(dbname).expose_secret())
    }

    /// A pooled connection to the maintenance database. Never used to connect to a template:
    /// any session on a template makes CREATE DATABASE … TEMPLATE fail.
    pub fn connect_maintenance(
        &self,
    ) -> Result<PooledConnection<ConnectionManager<PgConnection>>, diesel::ConnectionError> {
        let pool = self.maintenance.get_or_init(|| {
            let manager = ConnectionManager::<PgConnection>::new(
                self.url_for(MAINTENANCE_DB).expose_secret(),
            );
            Pool::builder()
                .max_size(MAINTENANCE_POOL)
                .min_idle(Some(0))
                .connection_timeout(Duration::from_secs(10))
                .test_on_check_out(false)
                .build_unchecked(manager)
        });
        pool.get()
            .map_err(|e| diesel::ConnectionError::BadConnection(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swaps_only_the_database_name() {
        let s = DbServer::from_control_url(
            "postgresql:///ema_control?host=%2Ftmp%2Fx&port=5432&user=postgres",
        )
        .expect("url");
        assert_eq!(
            s.url_for("ema_t_acme").expose_secret(),
            "postgresql:///ema_t_acme?host=%2Ftmp%2Fx&port=5432&user=postgres"
        );
        let s = DbServer::from_control_url("postgres://u:pw@db.example:6432/control").expect("url");
        assert_eq!(
            s.url_for("postgres").expose_secret(),
            "postgres://u:pw@db.example:6432/postgres"
        );
        assert!(!format!("{s:?}").contains("pw@"));
    }
}
