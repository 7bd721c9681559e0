//! Request idempotency (`Idempotency-Key`), shared by the REST API and the WHMCS channel: the
//! first request with a key runs; a repeat with the same body gets the stored answer; a repeat
//! with another body is refused; a repeat while the first still runs gets a conflict. Final
//! answers (2xx, 4xx) are stored; 5xx are not, so a retry re-runs the (resumable) operation.
//! Storage functions return `diesel::QueryResult`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use uuid::Uuid;

use crate::db::schema::idempotency_keys;

/// How long a running request owns its key before a retry may take over (crashed worker).
const LOCK_SECS: i64 = 120;
/// Longest key accepted.
pub const MAX_KEY_LEN: usize = 255;

/// A client's idempotency key: 1-255 of `A-Z a-z 0-9 : . _ -` (no delimiters to smuggle).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKey(String);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "the Idempotency-Key must be 1-{MAX_KEY_LEN} characters of A-Z, a-z, 0-9, ':', '.', '_' or '-'"
)]
pub struct InvalidKey;

impl IdempotencyKey {
    pub fn parse(s: &str) -> Result<Self, InvalidKey> {
        let s = s
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(s);
        let ok = (1..=MAX_KEY_LEN).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(InvalidKey)
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A stored final answer.
#[derive(Debug, Clone)]
pub struct StoredResponse {
    pub status: u16,
    pub content_type: String,
    pub body: Vec<u8>,
}

#[derive(Debug)]
pub enum Begin {
    /// Run the request; call [`finish`] (or [`abandon`]) afterwards.
    Proceed,
    Replay(StoredResponse),
    InProgress,
    /// The key was used with another request.
    Mismatch,
}

/// A stored key: fingerprint, state, status, content type, body, lock expiry.
type Record = (
    Vec<u8>,
    String,
    Option<i32>,
    Option<String>,
    Option<Vec<u8>>,
    DateTime<Utc>,
);

pub fn begin(
    conn: &mut PgConnection,
    reseller_id: Uuid,
    key: &IdempotencyKey,
    fingerprint: &[u8],
) -> QueryResult<Begin> {
    let lock_until: DateTime<Utc> = Utc::now() + chrono::Duration::seconds(LOCK_SECS);
    conn.transaction(|conn| {
        let inserted = diesel::insert_into(idempotency_keys::table)
            .values((
                idempotency_keys::reseller_id.eq(reseller_id),
                idempotency_keys::key.eq(key.as_str()),
                idempotency_keys::fingerprint.eq(fingerprint),
                idempotency_keys::state.eq("in_progress"),
                idempotency_keys::locked_until.eq(lock_until),
            ))
            .on_conflict_do_nothing()
            .execute(conn)?;
        if inserted == 1 {
            return Ok(Begin::Proceed);
        }
        let (fp, state, status, ct, body, locked): Record = idempotency_keys::table
            .find((reseller_id, key.as_str()))
            .select((
                idempotency_keys::fingerprint,
                idempotency_keys::state,
                idempotency_keys::status_code,
                idempotency_keys::content_type,
                idempotency_keys::response_body,
                idempotency_keys::locked_until,
            ))
            .for_update()
            .first(conn)?;
        if fp != fingerprint {
            return Ok(Begin::Mismatch);
        }
        if state == "done" {
            return Ok(Begin::Replay(StoredResponse {
                status: status.unwrap_or(200) as u16,
                content_type: ct.unwrap_or_else(|| "application/json".into()),
                body: body.unwrap_or_default(),
            }));
        }
        if locked > Utc::now() {
            return Ok(Begin::InProgress);
        }
        diesel::update(idempotency_keys::table.find((reseller_id, key.as_str())))
            .set(idempotency_keys::locked_until.eq(lock_until))
            .execute(conn)?;
        Ok(Begin::Proceed)
    })
}

/// Stores a final answer, or releases the key for a retry when the answer was a server error.
pub fn finish(
    conn: &mut PgConnection,
    reseller_id: Uuid,
    key: &IdempotencyKey,
    response: &StoredResponse,
) -> QueryResult<()> {
    if response.status >= 500 {
        return abandon(conn, reseller_id, key);
    }
    diesel::update(idempotency_keys::table.find((reseller_id, key.as_str())))
        .set((
            idempotency_keys::state.eq("done"),
            idempotency_keys::status_code.eq(i32::from(response.status)),
            idempotency_keys::content_type.eq(&response.content_type),
            idempotency_keys::response_body.eq(&response.body),
        ))
        .execute(conn)
        .map(|_| ())
}

pub fn abandon(
    conn: &mut PgConnection,
    reseller_id: Uuid,
    key: &IdempotencyKey,
) -> QueryResult<()> {
    diesel::delete(idempotency_keys::table.find((reseller_id, key.as_str())))
        .execute(conn)
        .map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_restricted_to_safe_characters() {
        assert!(IdempotencyKey::parse("whmcs:1234:create_account:0f3a").is_ok());
        assert_eq!(
            IdempotencyKey::parse("\"quoted-key\"").map(|k| k.0),
            Ok("quoted-key".into())
        );
        for bad in ["", "a b", "a\nb", "a/b", &"x".repeat(256)] {
            assert_eq!(IdempotencyKey::parse(bad), Err(InvalidKey), "{bad:?}");
        }
    }
}
