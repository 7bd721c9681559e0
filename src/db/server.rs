use anyhow::Context;
use diesel::{Connection, PgConnection};
use secrecy::{ExposeSecret, SecretString};

/// A PostgreSQL server reached by URL; builds URLs of its other databases by swapping the
/// database name, keeping host, port, user, password and options.
#[derive(Clone)]
pub struct DbServer {
    base: url::Url,
}

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
        Ok(Self { base })
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

    pub fn connect_maintenance(&self) -> diesel::ConnectionResult<PgConnection> {
        self.connect(MAINTENANCE_DB)
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
