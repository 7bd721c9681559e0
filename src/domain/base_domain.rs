use std::fmt;

/// A DNS name under which tenants live as `{slug}.{base_domain}`, e.g. `archive.reseller.example`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BaseDomain(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BaseDomainError {
    #[error(
        "the domain {0:?} is not a valid host name (labels of a-z, 0-9 and inner hyphens, separated by dots)"
    )]
    Invalid(String),
}

impl BaseDomain {
    pub fn parse(input: &str) -> Result<Self, BaseDomainError> {
        let lower = input.trim().trim_end_matches('.').to_ascii_lowercase();
        let valid_label = |l: &str| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !l.starts_with('-')
                && !l.ends_with('-')
        };
        if lower.is_empty() || lower.len() > 200 || !lower.split('.').all(valid_label) {
            return Err(BaseDomainError::Invalid(input.to_owned()));
        }
        Ok(Self(lower))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseDomain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_normalises_host_names() {
        assert_eq!(
            BaseDomain::parse("Archive.Reseller.Example.")
                .expect("ok")
                .as_str(),
            "archive.reseller.example"
        );
        assert_eq!(
            BaseDomain::parse("localhost").expect("ok").as_str(),
            "localhost"
        );
        for bad in ["", "-x.com", "a..b", "a_b.com", "exa mple.com", "x-.com"] {
            assert!(BaseDomain::parse(bad).is_err(), "{bad}");
        }
    }
}
