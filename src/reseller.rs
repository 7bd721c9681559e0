//! Resellers and their credentials: the REST API key (stored as a SHA-256 digest) and WHMCS
//! signing keys (key id → secret, several valid at once for rotation). Storage functions return
//! [`ResellerError`].

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use rand::RngCore;
use secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::db::schema::{resellers, tenants, whmcs_keys};
use crate::domain::{BaseDomain, Branding};

#[derive(Debug, thiserror::Error)]
pub enum ResellerError {
    #[error("a reseller named {0:?} already exists")]
    NameTaken(String),
    #[error("no reseller named {0:?}")]
    NotFound(String),
    #[error("the base domain {0:?} is already used by another reseller")]
    DomainTaken(String),
    #[error("{0}")]
    Invalid(String),
    #[error("reseller {reseller:?} has no active WHMCS key {key_id:?}")]
    KeyNotFound { reseller: String, key_id: String },
    #[error("{0:?} is the reseller's only active WHMCS key; rotate first so WHMCS keeps working")]
    LastKey(String),
    #[error(transparent)]
    Db(#[from] diesel::result::Error),
    #[error(transparent)]
    Pool(#[from] crate::db::PoolError),
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = resellers)]
pub struct Reseller {
    pub id: Uuid,
    pub name: String,
    #[diesel(column_name = base_domain)]
    pub base_domain: Option<String>,
    pub branding: serde_json::Value,
    pub whmcs_api_url: Option<String>,
    pub whmcs_api_identifier: Option<String>,
    pub whmcs_api_secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl Reseller {
    pub fn branding(&self) -> Branding {
        serde_json::from_value(self.branding.clone()).unwrap_or_default()
    }
}

/// Credentials shown once, when a reseller is created.
#[derive(Serialize)]
pub struct NewCredentials {
    pub reseller_id: Uuid,
    pub name: String,
    pub api_key: String,
    pub whmcs_key_id: String,
    pub whmcs_secret: String,
}

impl std::fmt::Debug for NewCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "NewCredentials {{ reseller_id: {}, whmcs_key_id: {}, .. }}",
            self.reseller_id, self.whmcs_key_id
        )
    }
}

/// A WHMCS key resolved for signature checking.
pub struct WhmcsKey {
    pub key_id: String,
    pub reseller_id: Uuid,
    pub secret: SecretString,
}

fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::thread_rng().fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

pub fn hash_api_key(key: &str) -> Vec<u8> {
    Sha256::digest(key.as_bytes()).to_vec()
}

fn new_whmcs_key() -> (String, String) {
    let mut id = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut id);
    (
        format!("wk_{}", hex::encode(id)),
        format!("whsec_{}", random_token(32)),
    )
}

fn validate_name(name: &str) -> Result<&str, ResellerError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(ResellerError::Invalid(
            "a reseller name must be 1-100 printable characters".into(),
        ));
    }
    Ok(name)
}

pub fn create(conn: &mut PgConnection, name: &str) -> Result<NewCredentials, ResellerError> {
    let name = validate_name(name)?.to_owned();
    let api_key = format!("ema_{}", random_token(32));
    let (key_id, secret) = new_whmcs_key();
    conn.transaction(|conn| {
        let id: Uuid = diesel::insert_into(resellers::table)
            .values((
                resellers::name.eq(&name),
                resellers::api_key_hash.eq(hash_api_key(&api_key)),
            ))
            .returning(resellers::id)
            .get_result(conn)
            .map_err(|e| match e {
                diesel::result::Error::DatabaseError(
                    diesel::result::DatabaseErrorKind::UniqueViolation,
                    _,
                ) => ResellerError::NameTaken(name.clone()),
                e => e.into(),
            })?;
        diesel::insert_into(whmcs_keys::table)
            .values((
                whmcs_keys::key_id.eq(&key_id),
                whmcs_keys::reseller_id.eq(id),
                whmcs_keys::secret.eq(&secret),
            ))
            .execute(conn)?;
        Ok(NewCredentials {
            reseller_id: id,
            name: name.clone(),
            api_key: api_key.clone(),
            whmcs_key_id: key_id.clone(),
            whmcs_secret: secret.clone(),
        })
    })
}

pub fn count(conn: &mut PgConnection) -> QueryResult<i64> {
    resellers::table.count().get_result(conn)
}

pub fn find_by_name(conn: &mut PgConnection, name: &str) -> Result<Reseller, ResellerError> {
    resellers::table
        .filter(resellers::name.eq(name))
        .select(Reseller::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| ResellerError::NotFound(name.to_owned()))
}

pub fn find_by_id(conn: &mut PgConnection, id: Uuid) -> QueryResult<Reseller> {
    resellers::table
        .find(id)
        .select(Reseller::as_select())
        .first(conn)
}

pub fn authenticate_api_key(
    conn: &mut PgConnection,
    presented: &str,
) -> QueryResult<Option<Reseller>> {
    resellers::table
        .filter(resellers::api_key_hash.eq(hash_api_key(presented)))
        .select(Reseller::as_select())
        .first(conn)
        .optional()
}

/// The active (not retired) key with this id.
pub fn whmcs_key(conn: &mut PgConnection, key_id: &str) -> QueryResult<Option<WhmcsKey>> {
    let row: Option<(String, Uuid, String)> = whmcs_keys::table
        .filter(whmcs_keys::key_id.eq(key_id))
        .filter(whmcs_keys::retired_at.is_null())
        .select((
            whmcs_keys::key_id,
            whmcs_keys::reseller_id,
            whmcs_keys::secret,
        ))
        .first(conn)
        .optional()?;
    Ok(row.map(|(key_id, reseller_id, secret)| WhmcsKey {
        key_id,
        reseller_id,
        secret: SecretString::from(secret),
    }))
}

/// A row of `reseller list`.
#[derive(Debug, Serialize)]
pub struct ResellerSummary {
    pub reseller_id: Uuid,
    pub name: String,
    pub base_domain: Option<String>,
    pub tenants: i64,
    pub active_whmcs_keys: Vec<String>,
    pub created_at: DateTime<Utc>,
}

pub fn list(conn: &mut PgConnection) -> QueryResult<Vec<ResellerSummary>> {
    let all: Vec<Reseller> = resellers::table
        .order(resellers::name)
        .select(Reseller::as_select())
        .load(conn)?;
    all.into_iter()
        .map(|r| {
            let tenants = tenants::table
                .filter(tenants::reseller_id.eq(r.id))
                .count()
                .get_result(conn)?;
            let keys = whmcs_keys::table
                .filter(whmcs_keys::reseller_id.eq(r.id))
                .filter(whmcs_keys::retired_at.is_null())
                .order(whmcs_keys::created_at)
                .select(whmcs_keys::key_id)
                .load(conn)?;
            Ok(ResellerSummary {
                reseller_id: r.id,
                name: r.name,
                base_domain: r.base_domain,
                tenants,
                active_whmcs_keys: keys,
                created_at: r.created_at,
            })
        })
        .collect()
}

/// Adds a new WHMCS key; the old ones stay valid until retired.
pub fn rotate_key(conn: &mut PgConnection, name: &str) -> Result<(String, String), ResellerError> {
    let r = find_by_name(conn, name)?;
    let (key_id, secret) = new_whmcs_key();
    diesel::insert_into(whmcs_keys::table)
        .values((
            whmcs_keys::key_id.eq(&key_id),
            whmcs_keys::reseller_id.eq(r.id),
            whmcs_keys::secret.eq(&secret),
        ))
        .execute(conn)?;
    Ok((key_id, secret))
}

pub fn retire_key(conn: &mut PgConnection, name: &str, key_id: &str) -> Result<(), ResellerError> {
    let r = find_by_name(conn, name)?;
    conn.transaction(|conn| {
        let active: Vec<String> = whmcs_keys::table
            .filter(whmcs_keys::reseller_id.eq(r.id))
            .filter(whmcs_keys::retired_at.is_null())
            .select(whmcs_keys::key_id)
            .for_update()
            .load(conn)?;
        if !active.iter().any(|k| k == key_id) {
            return Err(ResellerError::KeyNotFound {
                reseller: r.name.clone(),
                key_id: key_id.to_owned(),
            });
        }
        if active.len() == 1 {
            return Err(ResellerError::LastKey(key_id.to_owned()));
        }
        diesel::update(whmcs_keys::table.find(key_id))
            .set(whmcs_keys::retired_at.eq(diesel::dsl::now))
            .execute(conn)?;
        Ok(())
    })
}

/// What `reseller set` may change.
#[derive(Debug, Default)]
pub struct ResellerChanges {
    pub base_domain: Option<Option<BaseDomain>>,
    pub branding: Option<Branding>,
    pub whmcs_api: Option<Option<(String, String, String)>>,
}

pub fn update(
    conn: &mut PgConnection,
    name: &str,
    changes: ResellerChanges,
) -> Result<Reseller, ResellerError> {
    let r = find_by_name(conn, name)?;
    conn.transaction(|conn| {
        if let Some(domain) = &changes.base_domain {
            let value = domain.as_ref().map(|d| d.as_str().to_owned());
            diesel::update(resellers::table.find(r.id))
                .set(resellers::base_domain.eq(&value))
                .execute(conn)
                .map_err(|e| match e {
                    diesel::result::Error::DatabaseError(
                        diesel::result::DatabaseErrorKind::UniqueViolation,
                        _,
                    ) => ResellerError::DomainTaken(value.clone().unwrap_or_default()),
                    e => e.into(),
                })?;
        }
        if let Some(b) = &changes.branding {
            let merged = b.over(&r.branding());
            diesel::update(resellers::table.find(r.id))
                .set(resellers::branding.eq(serde_json::to_value(merged).unwrap_or_default()))
                .execute(conn)?;
        }
        if let Some(api) = &changes.whmcs_api {
            let (url, ident, secret) = match api {
                Some((u, i, s)) => (Some(u.clone()), Some(i.clone()), Some(s.clone())),
                None => (None, None, None),
            };
            diesel::update(resellers::table.find(r.id))
                .set((
                    resellers::whmcs_api_url.eq(url),
                    resellers::whmcs_api_identifier.eq(ident),
                    resellers::whmcs_api_secret.eq(secret),
                ))
                .execute(conn)?;
        }
        // Every tenant of this reseller may now resolve or render differently.
        crate::tenant::notify::all_changed(conn)?;
        Ok(find_by_id(conn, r.id)?)
    })
}

/// All resellers with their own base domain, for Host routing.
pub fn base_domains(conn: &mut PgConnection) -> QueryResult<Vec<(Uuid, String)>> {
    resellers::table
        .filter(resellers::base_domain.is_not_null())
        .select((resellers::id, resellers::base_domain.assume_not_null()))
        .load(conn)
}
