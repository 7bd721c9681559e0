//! The request signature of the WHMCS channel (`EMA-HMAC-SHA256-V1`, specified in
//! `docs/signing.md`): header parsing with the exact patterns of the specification, the string
//! to sign, signing, and the checks that need no database (timestamp window, body hash, MAC).
//! Pure functions with the clock passed in; they return [`SigningError`], whose text is for the
//! log only (callers answer one generic 401).

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

type HmacSha256 = Hmac<Sha256>;

/// First line of the string to sign: names the scheme and its version.
pub const ALGORITHM: &str = "EMA-HMAC-SHA256-V1";
/// Prefix of the `X-Ema-Signature` value; another prefix is another (unknown) scheme.
pub const SIGNATURE_PREFIX: &str = "v1=";
/// Largest accepted difference between the caller's timestamp and our clock, either way: wide
/// enough for NTP drift, narrow enough that nonces need only be kept for minutes.
pub const WINDOW_SECS: i64 = 300;
/// How long a nonce is remembered after its timestamp: the window plus a margin for clock steps.
pub const NONCE_TTL_SECS: i64 = 600;
/// Largest body accepted (64 KiB): WHMCS requests are a few hundred bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

pub const KEY_ID_HEADER: &str = "x-ema-key-id";
pub const TIMESTAMP_HEADER: &str = "x-ema-timestamp";
pub const NONCE_HEADER: &str = "x-ema-nonce";
pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub const CONTENT_SHA256_HEADER: &str = "x-ema-content-sha256";
pub const SIGNATURE_HEADER: &str = "x-ema-signature";

/// Why a request was refused. Never shown to the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    #[error("header {0} is missing")]
    MissingHeader(&'static str),
    #[error("header {0} appears more than once")]
    DuplicateHeader(&'static str),
    #[error("header {0} is malformed")]
    MalformedHeader(&'static str),
    #[error("unknown or retired key id")]
    UnknownKey,
    #[error("timestamp is {skew} s away from the daemon's clock (at most {WINDOW_SECS} s allowed)")]
    OutsideWindow { skew: i64 },
    #[error("the body does not match X-Ema-Content-Sha256")]
    BodyHashMismatch,
    #[error("the signature does not match")]
    BadSignature,
    #[error("the nonce was already used (replay)")]
    Replay,
}

/// The signing headers of a request, validated against the patterns of `docs/signing.md` §2.
#[derive(Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    pub key_id: String,
    /// As sent (the string to sign uses the text, not the number).
    pub timestamp: String,
    pub nonce: String,
    pub idempotency_key: Option<String>,
    pub content_sha256: String,
    /// The 32 MAC bytes after `v1=`.
    pub mac: [u8; 32],
}

impl std::fmt::Debug for SignedHeaders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The MAC is left out: a valid one for a request not yet checked must not reach logs.
        f.debug_struct("SignedHeaders")
            .field("key_id", &self.key_id)
            .field("timestamp", &self.timestamp)
            .field("nonce", &self.nonce)
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

impl SignedHeaders {
    /// Parses the headers from `lookup`, which returns every value of a (lower-case) header name.
    pub fn parse<'a, F>(lookup: F) -> Result<Self, SigningError>
    where
        F: Fn(&'static str) -> Vec<&'a [u8]>,
    {
        let key_id = required(&lookup, KEY_ID_HEADER, is_key_id)?;
        let timestamp = required(&lookup, TIMESTAMP_HEADER, |v| {
            (1..=12).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit())
        })?;
        let nonce = required(&lookup, NONCE_HEADER, |v| is_lower_hex(v, 32))?;
        let idempotency_key = optional(&lookup, IDEMPOTENCY_HEADER, is_idempotency_key)?;
        let content_sha256 = required(&lookup, CONTENT_SHA256_HEADER, |v| is_lower_hex(v, 64))?;
        let signature = required(&lookup, SIGNATURE_HEADER, |v| {
            v.strip_prefix(SIGNATURE_PREFIX)
                .is_some_and(|h| is_lower_hex(h, 64))
        })?;
        let mut mac = [0u8; 32];
        hex::decode_to_slice(&signature[SIGNATURE_PREFIX.len()..], &mut mac)
            .map_err(|_| SigningError::MalformedHeader(SIGNATURE_HEADER))?;
        Ok(Self {
            key_id,
            timestamp,
            nonce,
            idempotency_key,
            content_sha256,
            mac,
        })
    }

    /// The timestamp as Unix seconds (12 digits always fit).
    pub fn unix_time(&self) -> i64 {
        self.timestamp.parse().unwrap_or(i64::MAX)
    }
}

fn optional<'a, F>(
    lookup: &F,
    name: &'static str,
    valid: impl Fn(&str) -> bool,
) -> Result<Option<String>, SigningError>
where
    F: Fn(&'static str) -> Vec<&'a [u8]>,
{
    let values = lookup(name);
    match values.as_slice() {
        [] => Ok(None),
        [one] => {
            let s = std::str::from_utf8(one).map_err(|_| SigningError::MalformedHeader(name))?;
            if valid(s) {
                Ok(Some(s.to_owned()))
            } else {
                Err(SigningError::MalformedHeader(name))
            }
        }
        _ => Err(SigningError::DuplicateHeader(name)),
    }
}

fn required<'a, F>(
    lookup: &F,
    name: &'static str,
    valid: impl Fn(&str) -> bool,
) -> Result<String, SigningError>
where
    F: Fn(&'static str) -> Vec<&'a [u8]>,
{
    optional(lookup, name, valid)?.ok_or(SigningError::MissingHeader(name))
}

/// `^[a-z0-9_-]{1,32}$`
pub fn is_key_id(v: &str) -> bool {
    (1..=32).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `^[A-Za-z0-9:._-]{1,255}$`
pub fn is_idempotency_key(v: &str) -> bool {
    (1..=255).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'.' | b'_' | b'-'))
}

fn is_lower_hex(v: &str, len: usize) -> bool {
    v.len() == len
        && v.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Lowercase hex SHA-256 of the raw body bytes.
pub fn body_sha256(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The parts of a request the signature binds (`docs/signing.md` §3).
#[derive(Debug, Clone, Copy)]
pub struct Canonical<'a> {
    pub method: &'a str,
    /// As sent on the wire: not decoded, not normalised.
    pub path: &'a str,
    /// Without the `?`; empty when there is none.
    pub query: &'a str,
    pub timestamp: &'a str,
    pub nonce: &'a str,
    pub key_id: &'a str,
    /// Empty when the header is absent.
    pub idempotency_key: &'a str,
    pub body_sha256: &'a str,
}

impl Canonical<'_> {
    pub fn string_to_sign(&self) -> String {
        [
            ALGORITHM,
            self.method,
            self.path,
            self.query,
            self.timestamp,
            self.nonce,
            self.key_id,
            self.idempotency_key,
            self.body_sha256,
        ]
        .join("\n")
    }
}

fn mac_for(secret: &SecretString) -> HmacSha256 {
    // The key is the UTF-8 bytes of the whole secret string, `whsec_` included.
    HmacSha256::new_from_slice(secret.expose_secret().as_bytes())
        .expect("HMAC accepts keys of any length")
}

/// The `X-Ema-Signature` value for a string to sign.
pub fn sign(secret: &SecretString, string_to_sign: &str) -> String {
    let mut mac = mac_for(secret);
    mac.update(string_to_sign.as_bytes());
    format!(
        "{SIGNATURE_PREFIX}{}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// Checks `|now - timestamp| <= WINDOW_SECS`, future timestamps included.
pub fn check_window(timestamp: i64, now: i64) -> Result<(), SigningError> {
    let skew = now.saturating_sub(timestamp);
    if skew.checked_abs().is_some_and(|s| s <= WINDOW_SECS) {
        Ok(())
    } else {
        Err(SigningError::OutsideWindow { skew })
    }
}

/// Compares the MAC in constant time (`Mac::verify_slice` also refuses any other length).
pub fn verify_mac(
    secret: &SecretString,
    string_to_sign: &str,
    mac: &[u8],
) -> Result<(), SigningError> {
    let mut m = mac_for(secret);
    m.update(string_to_sign.as_bytes());
    m.verify_slice(mac).map_err(|_| SigningError::BadSignature)
}

/// Steps 4 to 6 of `docs/signing.md` §5 for a request whose headers parsed and whose key was
/// found: timestamp window, body hash, MAC. The nonce (step 7) needs the database.
pub fn verify(
    secret: &SecretString,
    headers: &SignedHeaders,
    method: &str,
    path: &str,
    query: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SigningError> {
    check_window(headers.unix_time(), now)?;
    let body_sha256 = body_sha256(body);
    if body_sha256 != headers.content_sha256 {
        return Err(SigningError::BodyHashMismatch);
    }
    let canonical = Canonical {
        method,
        path,
        query,
        timestamp: &headers.timestamp,
        nonce: &headers.nonce,
        key_id: &headers.key_id,
        idempotency_key: headers.idempotency_key.as_deref().unwrap_or(""),
        body_sha256: &body_sha256,
    };
    verify_mac(secret, &canonical.string_to_sign(), &headers.mac)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Vector {
        name: String,
        secret: String,
        key_id: String,
        method: String,
        path: String,
        query: String,
        timestamp: i64,
        nonce: String,
        idempotency_key: String,
        body: String,
        body_sha256: String,
        string_to_sign: String,
        signature: String,
    }

    fn vectors() -> Vec<Vector> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/signing/vectors.json");
        let text = std::fs::read_to_string(path).expect("read the shared vectors");
        let v: Vec<Vector> = serde_json::from_str(&text).expect("vectors parse");
        assert!(v.len() >= 5, "the vectors file lost entries");
        v
    }

    fn headers_of(v: &Vector) -> Vec<(&'static str, String)> {
        let mut h = vec![
            (KEY_ID_HEADER, v.key_id.clone()),
            (TIMESTAMP_HEADER, v.timestamp.to_string()),
            (NONCE_HEADER, v.nonce.clone()),
            (CONTENT_SHA256_HEADER, v.body_sha256.clone()),
            (SIGNATURE_HEADER, v.signature.clone()),
        ];
        if !v.idempotency_key.is_empty() {
            h.push((IDEMPOTENCY_HEADER, v.idempotency_key.clone()));
        }
        h
    }

    fn parse(h: &[(&'static str, String)]) -> Result<SignedHeaders, SigningError> {
        SignedHeaders::parse(|name| {
            h.iter()
                .filter(|(n, _)| *n == name)
                .map(|(_, v)| v.as_bytes())
                .collect()
        })
    }

    fn verify_vector(
        v: &Vector,
        h: &[(&'static str, String)],
        body: &[u8],
        now: i64,
    ) -> Result<(), SigningError> {
        let parsed = parse(h)?;
        verify(
            &SecretString::from(v.secret.clone()),
            &parsed,
            &v.method,
            &v.path,
            &v.query,
            body,
            now,
        )
    }

    #[test]
    fn every_shared_vector_hashes_signs_and_verifies() {
        for v in vectors() {
            // Arrange
            let secret = SecretString::from(v.secret.clone());
            let ts = v.timestamp.to_string();
            let canonical = Canonical {
                method: &v.method,
                path: &v.path,
                query: &v.query,
                timestamp: &ts,
                nonce: &v.nonce,
                key_id: &v.key_id,
                idempotency_key: &v.idempotency_key,
                body_sha256: &v.body_sha256,
            };
            // Act + Assert
            assert_eq!(body_sha256(v.body.as_bytes()), v.body_sha256, "{}", v.name);
            assert_eq!(canonical.string_to_sign(), v.string_to_sign, "{}", v.name);
            assert_eq!(sign(&secret, &v.string_to_sign), v.signature, "{}", v.name);
            assert_eq!(
                verify_vector(&v, &headers_of(&v), v.body.as_bytes(), v.timestamp),
                Ok(()),
                "{}",
                v.name
            );
        }
    }

    #[test]
    fn the_window_is_300_seconds_either_way() {
        let v = &vectors()[0];
        let h = headers_of(v);
        for (offset, ok) in [
            (0, true),
            (299, true),
            (300, true),
            (-300, true),
            (301, false),
            (-301, false),
        ] {
            let r = verify_vector(v, &h, v.body.as_bytes(), v.timestamp + offset);
            assert_eq!(r.is_ok(), ok, "now = ts + {offset}: {r:?}");
        }
        assert_eq!(
            check_window(0, i64::MAX),
            Err(SigningError::OutsideWindow { skew: i64::MAX })
        );
        assert!(check_window(999_999_999_999, i64::MIN).is_err());
    }

    #[test]
    fn malformed_signatures_are_refused_before_any_mac_work() {
        let v = &vectors()[3];
        let good = v.signature.clone();
        let hexpart = &good[3..];
        let cases = [
            String::new(),
            "v1=".into(),
            format!("v1={}", &hexpart[..63]),
            format!("v1={}", &hexpart[..32]),
            format!("v1={hexpart}0"),
            format!("v1={}", hexpart.to_uppercase()),
            format!("V1={hexpart}"),
            format!("v2={hexpart}"),
            format!("{good}junk"),
            format!("{good} "),
            format!(" {good}"),
            format!("\"{good}\""),
            hexpart.to_owned(),
        ];
        for bad in cases {
            let mut h = headers_of(v);
            h.retain(|(n, _)| *n != SIGNATURE_HEADER);
            h.push((SIGNATURE_HEADER, bad.clone()));
            assert_eq!(
                parse(&h),
                Err(SigningError::MalformedHeader(SIGNATURE_HEADER)),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_valid_looking_but_wrong_mac_is_a_bad_signature() {
        let v = &vectors()[3];
        let mut flipped = v.signature.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let mut h = headers_of(v);
        h.retain(|(n, _)| *n != SIGNATURE_HEADER);
        h.push((SIGNATURE_HEADER, String::from_utf8(flipped).expect("ascii")));
        assert_eq!(
            verify_vector(v, &h, v.body.as_bytes(), v.timestamp),
            Err(SigningError::BadSignature)
        );
    }

    #[test]
    fn verify_mac_refuses_truncated_and_long_macs() {
        let secret = SecretString::from("whsec_x".to_owned());
        let sig = sign(&secret, "hello");
        let bytes = hex::decode(&sig[3..]).expect("hex");
        assert_eq!(verify_mac(&secret, "hello", &bytes), Ok(()));
        assert_eq!(
            verify_mac(&secret, "hello", &bytes[..31]),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            verify_mac(&secret, "hello", &bytes[..16]),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            verify_mac(&secret, "hello", &[]),
            Err(SigningError::BadSignature)
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(
            verify_mac(&secret, "hello", &long),
            Err(SigningError::BadSignature)
        );
    }

    #[test]
    fn every_bound_field_changes_the_outcome() {
        let v = &vectors()[3];
        let h = headers_of(v);
        let secret = SecretString::from(v.secret.clone());
        let parsed = parse(&h).expect("parses");
        let run = |method: &str, path: &str, query: &str, body: &[u8]| {
            verify(&secret, &parsed, method, path, query, body, v.timestamp)
        };
        assert_eq!(run(&v.method, &v.path, &v.query, v.body.as_bytes()), Ok(()));
        assert_eq!(
            run("PUT", &v.path, &v.query, v.body.as_bytes()),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            run("post", &v.path, &v.query, v.body.as_bytes()),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            run(
                &v.method,
                "/whmcs/v1/terminate_account",
                &v.query,
                v.body.as_bytes()
            ),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            run(
                &v.method,
                &format!("{}/", v.path),
                &v.query,
                v.body.as_bytes()
            ),
            Err(SigningError::BadSignature)
        );
        assert_eq!(
            run(&v.method, &v.path, "x=1", v.body.as_bytes()),
            Err(SigningError::BadSignature)
        );
        let mut tampered = v.body.clone().into_bytes();
        tampered.push(b' ');
        assert_eq!(
            run(&v.method, &v.path, &v.query, &tampered),
            Err(SigningError::BodyHashMismatch)
        );
        // Another secret (a rotated key's) does not verify this key's signature.
        let other = SecretString::from("whsec_other".to_owned());
        assert_eq!(
            verify(
                &other,
                &parsed,
                &v.method,
                &v.path,
                &v.query,
                v.body.as_bytes(),
                v.timestamp
            ),
            Err(SigningError::BadSignature)
        );
    }

    #[test]
    fn header_values_must_match_their_patterns_exactly() {
        let v = &vectors()[3];
        let swap = |name: &'static str, value: &str| {
            let mut h = headers_of(v);
            h.retain(|(n, _)| *n != name);
            h.push((name, value.to_owned()));
            parse(&h)
        };
        let malformed = [
            (KEY_ID_HEADER, "WK_0123456789AB"),
            (KEY_ID_HEADER, "wk_0123456789ab\n"),
            (KEY_ID_HEADER, "wk_0123456789ab "),
            (KEY_ID_HEADER, ""),
            (KEY_ID_HEADER, &"k".repeat(33)),
            (TIMESTAMP_HEADER, "-1764763380"),
            (TIMESTAMP_HEADER, "+1764763380"),
            (TIMESTAMP_HEADER, "1764763380.0"),
            (TIMESTAMP_HEADER, "abc"),
            (TIMESTAMP_HEADER, "0001764763380"),
            (TIMESTAMP_HEADER, "18446744073709551617"),
            (TIMESTAMP_HEADER, ""),
            (NONCE_HEADER, "0F1E2D3C4B5A69788796A5B4C3D2E1F0"),
            (NONCE_HEADER, "0f1e2d3c4b5a69788796a5b4c3d2e1f"),
            (NONCE_HEADER, "0f1e2d3c4b5a69788796a5b4c3d2e1f0\n"),
            (IDEMPOTENCY_HEADER, ""),
            (IDEMPOTENCY_HEADER, "a\nb"),
            (IDEMPOTENCY_HEADER, "\"quoted\""),
            (IDEMPOTENCY_HEADER, &"x".repeat(256)),
            (CONTENT_SHA256_HEADER, &v.body_sha256.to_uppercase()),
            (CONTENT_SHA256_HEADER, &v.body_sha256[..63]),
        ];
        for (name, value) in malformed {
            assert_eq!(
                swap(name, value),
                Err(SigningError::MalformedHeader(name)),
                "{name}: {value:?}"
            );
        }
        for name in [
            KEY_ID_HEADER,
            TIMESTAMP_HEADER,
            NONCE_HEADER,
            CONTENT_SHA256_HEADER,
            SIGNATURE_HEADER,
        ] {
            let mut h = headers_of(v);
            h.retain(|(n, _)| *n != name);
            assert_eq!(parse(&h), Err(SigningError::MissingHeader(name)), "{name}");
            let mut h = headers_of(v);
            let dup = h
                .iter()
                .find(|(n, _)| *n == name)
                .cloned()
                .expect("present");
            h.push(dup);
            assert_eq!(
                parse(&h),
                Err(SigningError::DuplicateHeader(name)),
                "{name}"
            );
        }
    }

    #[test]
    fn debug_output_hides_the_mac() {
        let v = &vectors()[3];
        let parsed = parse(&headers_of(v)).expect("parses");
        let debug = format!("{parsed:?}");
        assert!(!debug.contains(&v.signature[3..13]), "{debug}");
        assert!(debug.contains(&v.key_id));
    }
}
