//! PostgreSQL access: the control-database pool, blocking diesel work moved off the async
//! workers, embedded migrations and the server that holds tenant databases. Storage functions
//! return `diesel::QueryResult`; [`Db::run`] adds [`PoolError`] for an unreachable database.

pub mod migrate;
pub mod schema;
mod server;

use std::time::Duration;

use diesel::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool};

pub use server::DbServer;

pub type PgPool = Pool<ConnectionManager<PgConnection>>;

/// The database could not be reached (pool timeout, connection refused) or a worker died.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    #[error("control database unavailable: {0}")]
    Unavailable(String),
}

/// The control database: a small pool whose blocking calls run on tokio's blocking threads.
#[derive(Clone)]
pub struct Db {
    pool: PgPool,
    server: DbServer,
}

impl Db {
    pub fn connect(url: &str, pool_size: u32) -> anyhow::Result<Self> {
        let manager = ConnectionManager::<PgConnection>::new(url);
        let pool = Pool::builder()
            .max_size(pool_size)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(10))
            // A broken connection surfaces as a query error and is replaced; testing every
            // checkout would add a round trip to each query.
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| anyhow::anyhow!("could not connect to the control database: {e}"))?;
        Ok(Self {
            pool,
            server: DbServer::from_control_url(url)?,
        })
    }

    /// The PostgreSQL server that holds the control database (and, by default, tenant databases).
    pub fn server(&self) -> &DbServer {
        &self.server
    }

    /// Runs `f` with a pooled connection on a blocking thread, so no actix worker ever blocks.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<PoolError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            let mut conn = pool
                .get()
                .map_err(|e| E::from(PoolError::Unavailable(e.to_string())))?;
            f(&mut conn)
        })
        .await
        .map_err(|e| E::from(PoolError::Unavailable(format!("worker failed: {e}"))))?
    }
}

impl From<PoolError> for diesel::result::Error {
    fn from(e: PoolError) -> Self {
        diesel::result::Error::QueryBuilderError(Box::new(e))
    }
}

/// Quotes an identifier for DDL, where bind parameters cannot be used.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Quotes a string literal for DDL such as `COMMENT ON DATABASE`.
pub fn quote_literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}
