use std::fmt;

use serde::{Deserialize, Serialize};

/// Shortest slug: three characters keeps subdomains readable and leaves two-letter names free.
pub const MIN_LEN: usize = 3;
/// Longest slug: `ema_t_` + 48 stays well below PostgreSQL's 63-byte identifier limit, where
/// longer names would be silently truncated (and could collide).
pub const MAX_LEN: usize = 48;

/// Slugs that would clash with the service's own hosts, mail plumbing or PostgreSQL's names.
const RESERVED: &[&str] = &[
    "www",
    "api",
    "app",
    "admin",
    "administrator",
    "root",
    "mail",
    "smtp",
    "imap",
    "pop",
    "pop3",
    "mx",
    "ftp",
    "ns1",
    "ns2",
    "dns",
    "postgres",
    "postgresql",
    "template",
    "template0",
    "template1",
    "system",
    "support",
    "help",
    "status",
    "billing",
    "whmcs",
    "static",
    "assets",
    "cdn",
    "auth",
    "login",
    "sso",
    "ema",
    "ema-bridge",
    "localhost",
    "internal",
    "default",
    "test-harness",
    "webmail",
    "autodiscover",
    "autoconfig",
];

/// A tenant's slug: the subdomain label, the suffix of its database name and of its S3 prefix.
/// Immutable once a tenant exists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Slug(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("the slug is {len} characters long; it must be between {MIN_LEN} and {MAX_LEN}")]
    Length { len: usize },
    #[error("the slug must start with a lowercase letter")]
    FirstChar,
    #[error("the slug must not end with a hyphen")]
    TrailingHyphen,
    #[error("the slug contains {0:?}; only lowercase letters, digits and hyphens are allowed")]
    InvalidChar(char),
    #[error("the slug {0:?} is reserved")]
    Reserved(String),
}

impl Slug {
    pub fn parse(input: &str) -> Result<Self, SlugError> {
        let len = input.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&len) {
            return Err(SlugError::Length { len });
        }
        if let Some(c) = input
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(SlugError::InvalidChar(c));
        }
        if !input.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(SlugError::FirstChar);
        }
        if input.ends_with('-') {
            return Err(SlugError::TrailingHyphen);
        }
        if RESERVED.contains(&input) || input.starts_with("template") || input.starts_with("pg-") {
            return Err(SlugError::Reserved(input.to_owned()));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `ema_t_{slug}` with `-` mapped to `_`: bijective because `_` is not a slug character, and
    /// unquoted-safe, though DDL always quotes it anyway.
    pub fn database_name(&self) -> String {
        format!("ema_t_{}", self.0.replace('-', "_"))
    }

    /// `ema-t-{slug}/`, the tenant's prefix in the bucket.
    pub fn s3_prefix(&self) -> String {
        format!("ema-t-{}/", self.0)
    }
}

impl TryFrom<String> for Slug {
    type Error = SlugError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Slug> for String {
    fn from(s: Slug) -> Self {
        s.0
    }
}

impl AsRef<str> for Slug {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_slugs() {
        for s in ["abc", "acme", "acme-corp", "a1b2", "x-1-y", &"a".repeat(48)] {
            assert!(Slug::parse(s).is_ok(), "{s}");
        }
    }

    #[test]
    fn rejects_each_rule_with_its_own_error() {
        assert_eq!(Slug::parse("ab"), Err(SlugError::Length { len: 2 }));
        assert_eq!(
            Slug::parse(&"a".repeat(49)),
            Err(SlugError::Length { len: 49 })
        );
        assert_eq!(Slug::parse("Acme"), Err(SlugError::InvalidChar('A')));
        assert_eq!(Slug::parse("ac_me"), Err(SlugError::InvalidChar('_')));
        assert_eq!(Slug::parse("1acme"), Err(SlugError::FirstChar));
        assert_eq!(Slug::parse("-acme"), Err(SlugError::FirstChar));
        assert_eq!(Slug::parse("acme-"), Err(SlugError::TrailingHyphen));
        assert_eq!(Slug::parse("acmé"), Err(SlugError::InvalidChar('é')));
        assert_eq!(Slug::parse("ac me"), Err(SlugError::InvalidChar(' ')));
        for r in [
            "www",
            "api",
            "admin",
            "mail",
            "postgres",
            "template1",
            "templatex",
        ] {
            assert_eq!(Slug::parse(r), Err(SlugError::Reserved(r.into())), "{r}");
        }
    }

    #[test]
    fn names_derive_from_the_slug() {
        let s = Slug::parse("acme-corp").expect("valid");
        assert_eq!(s.database_name(), "ema_t_acme_corp");
        assert_eq!(s.s3_prefix(), "ema-t-acme-corp/");
        assert!(
            Slug::parse(&"a".repeat(48))
                .expect("valid")
                .database_name()
                .len()
                <= 63
        );
    }

    #[test]
    fn deserialising_cannot_skip_the_check() {
        assert!(serde_json::from_str::<Slug>("\"Bad\"").is_err());
        assert_eq!(
            serde_json::from_str::<Slug>("\"good\"")
                .expect("valid")
                .as_str(),
            "good"
        );
    }

    #[test]
    fn every_generated_valid_slug_parses_and_maps_bijectively() {
        // A small deterministic generator over the whole alphabet instead of a property-test crate.
        let alphabet: Vec<char> = ('a'..='z').chain('0'..='9').chain(['-']).collect();
        let mut seen = std::collections::HashSet::new();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        for _ in 0..2000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let len = 3 + (state % 46) as usize;
            let mut s = String::from("k");
            for i in 1..len {
                let c = alphabet[((state >> (i % 50)) as usize + i * 7) % alphabet.len()];
                s.push(if i == len - 1 && c == '-' { 'z' } else { c });
            }
            let slug = Slug::parse(&s).unwrap_or_else(|e| panic!("{s}: {e}"));
            if seen.insert(slug.clone()) {
                assert_eq!(
                    slug.database_name()
                        .replace('_', "-")
                        .trim_start_matches("ema-t-"),
                    slug.as_str()
                );
            }
        }
    }
}
