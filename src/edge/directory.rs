//! Which tenant lives at a host: a short-lived in-process cache over the control database.
//!
//! Entries live [`TTL`] at most. Every change to a tenant (and to a reseller's domain or
//! branding) is notified on [`CHANNEL`] inside its transaction (`crate::tenant::notify`); a
//! listener thread per process (its own connection) drops the entry as soon as the change commits, so every replica sees it at once. While the listener is
//! not connected the cache is bypassed. Access decisions (login, sessions, gate, SSO, users API)
//! additionally read the status fresh from the control database, so they never depend on the
//! cache. Queries return `diesel::QueryResult`; lookups add [`PoolError`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::{resellers, tenants};
use crate::db::{Db, DbServer, PoolError};
use crate::domain::{Branding, Slug};
use crate::reseller::Reseller;
use crate::tenant::{Tenant, TenantStatus};

use crate::tenant::notify::{ALL, CHANNEL};
/// How long a cached lookup is trusted: the upper bound should a notification be missed (the
/// listener reconnecting).
pub const TTL: Duration = Duration::from_secs(5);
/// Entries kept at most; beyond that the cache starts over (random hosts cannot grow it).
const MAX_ENTRIES: usize = 10_000;
/// How often the listener looks for notifications.
const POLL: Duration = Duration::from_millis(50);
/// How often the listener checks that its connection is alive when nothing arrives.
const KEEPALIVE: Duration = Duration::from_secs(30);
/// Longest wait between two reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the edge needs of a tenant to route and render its pages.
#[derive(Debug, Clone)]
pub struct EdgeTenant {
    pub id: Uuid,
    pub slug: Slug,
    pub name: String,
    pub reseller_id: Uuid,
    /// The reseller's own (white-label) base domain, if it has one.
    pub reseller_domain: Option<String>,
    /// As cached: fine for display, never for access decisions (see [`status_of`]).
    pub status: TenantStatus,
    pub db_name: String,
    /// The administrator created at provisioning: whom an SSO link logs in.
    pub admin_email: Option<String>,
    /// Tenant override > reseller > (left empty for) the built-in default.
    pub branding: Branding,
    pub max_users: i32,
}

impl EdgeTenant {
    fn from_rows(t: Tenant, r: Reseller) -> Self {
        let branding = Branding::over(&t.branding(), &r.branding());
        Self {
            id: t.id,
            slug: t.slug(),
            name: t.name,
            reseller_id: r.id,
            reseller_domain: r.base_domain,
            status: TenantStatus::parse(&t.status),
            db_name: t.db_name,
            admin_email: t.admin_email,
            branding,
            max_users: t.max_users,
        }
    }
}

struct Entry<T> {
    at: Instant,
    value: T,
}

/// Every reseller's own base domain, by reseller.
type ResellerDomains = Arc<Vec<(Uuid, String)>>;

struct Inner {
    tenants: Mutex<HashMap<String, Entry<Option<Arc<EdgeTenant>>>>>,
    domains: Mutex<Option<Entry<ResellerDomains>>>,
    /// Bumped by every invalidation, so a lookup that raced one does not store stale data.
    generation: AtomicU64,
    /// Whether the listener is connected; without it nothing is cached.
    listening: AtomicBool,
    /// How long an entry is trusted.
    ttl: Duration,
}

/// The cache, shared by every worker of one process.
#[derive(Clone)]
pub struct Directory {
    inner: Arc<Inner>,
    db: Db,
}

impl Directory {
    /// A directory whose invalidations come from a listener thread on the control database.
    pub async fn start(db: Db) -> Result<Self, PoolError> {
        Self::start_with_ttl(db, TTL).await
    }

    /// [`Directory::start`] with another entry lifetime (tests use a long one, so that only a
    /// notification can refresh an entry).
    pub async fn start_with_ttl(db: Db, ttl: Duration) -> Result<Self, PoolError> {
        let dbname: String = db
            .run(|conn| {
                diesel::select(diesel::dsl::sql::<diesel::sql_types::Text>(
                    "current_database()",
                ))
                .get_result(conn)
                .map_err(|e| PoolError::Unavailable(e.to_string()))
            })
            .await?;
        let mut directory = Self::without_listener(db);
        if let Some(inner) = Arc::get_mut(&mut directory.inner) {
            inner.ttl = ttl;
        }
        let weak = Arc::downgrade(&directory.inner);
        let server = directory.db.server().clone();
        std::thread::Builder::new()
            .name("ema-edge-listener".into())
            .spawn(move || listen(weak, server, dbname))
            .map_err(|e| PoolError::Unavailable(format!("listener thread: {e}")))?;
        Ok(directory)
    }

    /// A directory that never caches (no listener to keep it honest).
    pub fn without_listener(db: Db) -> Self {
        Self {
            inner: Arc::new(Inner {
                tenants: Mutex::new(HashMap::new()),
                domains: Mutex::new(None),
                generation: AtomicU64::new(0),
                listening: AtomicBool::new(false),
                ttl: TTL,
            }),
            db,
        }
    }

    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Whether cached entries may be used right now.
    pub fn is_listening(&self) -> bool {
        self.inner.listening.load(Ordering::Acquire)
    }

    /// The tenant with this slug (any status), from the cache when fresh.
    pub async fn tenant(&self, slug: &str) -> Result<Option<Arc<EdgeTenant>>, PoolError> {
        if self.is_listening()
            && let Ok(map) = self.inner.tenants.lock()
            && let Some(e) = map.get(slug)
            && e.at.elapsed() < self.inner.ttl
        {
            return Ok(e.value.clone());
        }
        let generation = self.inner.generation.load(Ordering::Acquire);
        let s = slug.to_owned();
        let loaded = self
            .db
            .run(move |conn| load(conn, &s).map_err(|e| PoolError::Unavailable(e.to_string())))
            .await?
            .map(Arc::new);
        if self.is_listening()
            && self.inner.generation.load(Ordering::Acquire) == generation
            && let Ok(mut map) = self.inner.tenants.lock()
        {
            if map.len() >= MAX_ENTRIES {
                map.clear();
            }
            map.insert(
                slug.to_owned(),
                Entry {
                    at: Instant::now(),
                    value: loaded.clone(),
                },
            );
        }
        Ok(loaded)
    }

    /// Every reseller's own base domain.
    pub async fn reseller_domains(&self) -> Result<ResellerDomains, PoolError> {
        if self.is_listening()
            && let Ok(d) = self.inner.domains.lock()
            && let Some(e) = d.as_ref()
            && e.at.elapsed() < self.inner.ttl
        {
            return Ok(e.value.clone());
        }
        let loaded = Arc::new(
            self.db
                .run(|conn| {
                    crate::reseller::base_domains(conn)
                        .map_err(|e| PoolError::Unavailable(e.to_string()))
                })
                .await?,
        );
        if self.is_listening()
            && let Ok(mut d) = self.inner.domains.lock()
        {
            *d = Some(Entry {
                at: Instant::now(),
                value: loaded.clone(),
            });
        }
        Ok(loaded)
    }

    /// Forgets one tenant (a notification arrived).
    pub fn invalidate(&self, slug: &str) {
        self.inner.invalidate(slug);
    }
}

impl Inner {
    fn invalidate(&self, slug: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut map) = self.tenants.lock() {
            map.remove(slug);
        }
    }

    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Ok(mut map) = self.tenants.lock() {
            map.clear();
        }
        if let Ok(mut d) = self.domains.lock() {
            *d = None;
        }
    }
}

fn load(conn: &mut PgConnection, slug: &str) -> QueryResult<Option<EdgeTenant>> {
    let row: Option<(Tenant, Reseller)> = tenants::table
        .inner_join(resellers::table)
        .filter(tenants::slug.eq(slug))
        .select((Tenant::as_select(), Reseller::as_select()))
        .first(conn)
        .optional()?;
    Ok(row.map(|(t, r)| EdgeTenant::from_rows(t, r)))
}

/// The tenant's status as committed right now (access decisions use this, not the cache).
pub fn status_of(conn: &mut PgConnection, id: Uuid) -> QueryResult<Option<TenantStatus>> {
    let s: Option<String> = tenants::table
        .find(id)
        .select(tenants::status)
        .first(conn)
        .optional()?;
    Ok(s.map(|s| TenantStatus::parse(&s)))
}

/// The listener thread: LISTEN on its own connection, invalidate on each notification,
/// reconnect with backoff, and stop once the directory is gone (the server stopped).
fn listen(weak: Weak<Inner>, server: DbServer, dbname: String) {
    let mut backoff = Duration::from_millis(100);
    let mut warned = false;
    loop {
        if weak.strong_count() == 0 {
            return;
        }
        let connected = server
            .connect(&dbname)
            .map_err(|e| e.to_string())
            .and_then(|mut c| {
                diesel::sql_query(format!("LISTEN {CHANNEL}"))
                    .execute(&mut c)
                    .map(|_| c)
                    .map_err(|e| e.to_string())
            });
        let mut conn = match connected {
            Ok(c) => c,
            Err(e) => {
                if !warned {
                    tracing::warn!(error = %e, "tenant-change listener cannot connect; the edge cache is bypassed");
                    warned = true;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        backoff = Duration::from_millis(100);
        warned = false;
        match weak.upgrade() {
            // Changes made while disconnected were missed: start from nothing.
            Some(inner) => {
                inner.clear();
                inner.listening.store(true, Ordering::Release);
            }
            None => return,
        }
        let mut last_check = Instant::now();
        loop {
            std::thread::sleep(POLL);
            let Some(inner) = weak.upgrade() else { return };
            let mut alive = true;
            for n in conn.notifications_iter() {
                match n {
                    Ok(n) if n.payload == ALL => inner.clear(),
                    Ok(n) => inner.invalidate(&n.payload),
                    Err(_) => {
                        alive = false;
                        break;
                    }
                }
            }
            if alive && last_check.elapsed() > KEEPALIVE {
                alive = diesel::sql_query("SELECT 1").execute(&mut conn).is_ok();
                last_check = Instant::now();
            }
            if !alive {
                inner.listening.store(false, Ordering::Release);
                inner.clear();
                tracing::warn!("tenant-change listener lost its connection; reconnecting");
                break;
            }
        }
    }
}
