//! Archived messages: parsing a raw RFC 5322 message into the fields the tenant database
//! indexes, and the index itself (`messages`, one row per content hash). Parsing returns
//! [`MailError`]; the index returns `diesel::QueryResult`.

use chrono::{DateTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Nullable, Text, Timestamptz};
use sha2::{Digest, Sha256};

/// Longest value kept in an indexed text column (the raw message keeps everything).
const MAX_FIELD_CHARS: usize = 998;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MailError {
    #[error("the message is empty")]
    Empty,
    #[error("the message has no RFC 5322 header section")]
    NoHeaders,
    #[error("the message has no valid From header")]
    NoFrom,
}

/// The indexed fields of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedMessage {
    pub sha256: String,
    pub size: i64,
    pub message_id: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub subject: Option<String>,
    pub date: Option<DateTime<Utc>>,
}

fn clip(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || *c == '\t')
        .take(MAX_FIELD_CHARS)
        .collect()
}

/// Whether the message starts with a header field (`name:` of printable ASCII, RFC 5322 §2.2).
fn starts_with_header_field(raw: &[u8]) -> bool {
    let line_end = raw.iter().position(|&b| b == b'\n').unwrap_or(raw.len());
    let line = &raw[..line_end];
    match line.iter().position(|&b| b == b':') {
        Some(0) | None => false,
        Some(colon) => line[..colon].iter().all(|&b| (33..=126).contains(&b)),
    }
}

/// Parses a raw message. It must start with a header section and carry a From address; the
/// other fields are indexed when present.
pub fn parse(raw: &[u8]) -> Result<ParsedMessage, MailError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(MailError::Empty);
    }
    if !starts_with_header_field(raw) {
        return Err(MailError::NoHeaders);
    }
    let msg = mail_parser::MessageParser::default()
        .parse_headers(raw)
        .ok_or(MailError::NoHeaders)?;
    if msg.headers().is_empty() {
        return Err(MailError::NoHeaders);
    }
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .filter(|a| a.contains('@'))
        .map(clip)
        .ok_or(MailError::NoFrom)?;
    let to = msg.to().map(|a| {
        clip(
            &a.iter()
                .filter_map(|x| x.address())
                .collect::<Vec<_>>()
                .join(", "),
        )
    });
    let date = msg
        .date()
        .and_then(|d| DateTime::from_timestamp(d.to_timestamp(), 0));
    Ok(ParsedMessage {
        sha256: hex::encode(Sha256::digest(raw)),
        size: raw.len() as i64,
        message_id: msg.message_id().map(clip),
        from: Some(from),
        to: to.filter(|t| !t.is_empty()),
        subject: msg.subject().map(clip),
        date,
    })
}

/// Indexes a stored message; `false` when a message with the same content is already there.
pub fn index(
    conn: &mut PgConnection,
    m: &ParsedMessage,
    s3_key: &str,
    while_suspended: bool,
) -> QueryResult<bool> {
    let n = diesel::sql_query(
        "INSERT INTO messages (sha256, s3_key, message_id, from_addr, to_addrs, subject, sent_at, size_bytes, received_while_suspended) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (sha256) DO NOTHING",
    )
    .bind::<Text, _>(&m.sha256)
    .bind::<Text, _>(s3_key)
    .bind::<Nullable<Text>, _>(m.message_id.as_deref())
    .bind::<Nullable<Text>, _>(m.from.as_deref())
    .bind::<Nullable<Text>, _>(m.to.as_deref())
    .bind::<Nullable<Text>, _>(m.subject.as_deref())
    .bind::<Nullable<Timestamptz>, _>(m.date)
    .bind::<BigInt, _>(m.size)
    .bind::<Bool, _>(while_suspended)
    .execute(conn)?;
    Ok(n == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"From: Alice <alice@example.com>\r\nTo: bob@example.com, carol@example.com\r\nSubject: Hello\r\nDate: Tue, 1 Dec 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n\r\nBody\r\n";

    #[test]
    fn a_message_is_indexed_by_its_headers_and_hash() {
        let m = parse(GOOD).expect("parses");
        assert_eq!(m.from.as_deref(), Some("alice@example.com"));
        assert_eq!(m.to.as_deref(), Some("bob@example.com, carol@example.com"));
        assert_eq!(m.subject.as_deref(), Some("Hello"));
        assert_eq!(m.message_id.as_deref(), Some("m1@example.com"));
        assert_eq!(
            m.date.map(|d| d.to_rfc3339()).as_deref(),
            Some("2026-12-01T10:00:00+00:00")
        );
        assert_eq!(m.sha256.len(), 64);
        assert_eq!(m.size, GOOD.len() as i64);
    }

    #[test]
    fn text_without_headers_is_not_a_message() {
        assert_eq!(parse(b""), Err(MailError::Empty));
        assert_eq!(parse(b"  \r\n"), Err(MailError::Empty));
        assert_eq!(
            parse(b"just some text\r\nmore text"),
            Err(MailError::NoHeaders)
        );
        assert_eq!(parse(b": no name\r\n\r\nx"), Err(MailError::NoHeaders));
        assert_eq!(parse(b"\x00\x01\x02binary"), Err(MailError::NoHeaders));
        assert_eq!(
            parse(b"Subject: no sender\r\n\r\nbody"),
            Err(MailError::NoFrom)
        );
        assert_eq!(parse(b"From: nobody\r\n\r\nbody"), Err(MailError::NoFrom));
    }
}
