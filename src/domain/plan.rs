use serde::{Deserialize, Serialize};

/// Default storage that one licence includes, when a plan does not say.
pub const DEFAULT_GB_PER_LICENCE: u32 = 10;
const MAX_PLAN_CODE_LEN: usize = 32;

/// A tenant's plan and limits, as sold by the reseller (WHMCS product settings or REST).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    pub code: String,
    pub max_users: i32,
    pub storage_gb: i32,
    pub gb_per_licence: i32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "the plan code {0:?} is not valid: use 1-32 of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
    )]
    Code(String),
    #[error("{field} must be a whole number between 1 and {max}, got {value}")]
    Limit {
        field: &'static str,
        value: i64,
        max: i64,
    },
}

impl Plan {
    pub fn parse(
        code: &str,
        max_users: i64,
        storage_gb: i64,
        gb_per_licence: Option<i64>,
    ) -> Result<Self, PlanError> {
        let valid_code = !code.is_empty()
            && code.len() <= MAX_PLAN_CODE_LEN
            && code.as_bytes()[0].is_ascii_alphanumeric()
            && code.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if !valid_code {
            return Err(PlanError::Code(code.to_owned()));
        }
        let limit = |field, value: i64, max: i64| {
            if (1..=max).contains(&value) {
                Ok(value as i32)
            } else {
                Err(PlanError::Limit { field, value, max })
            }
        };
        Ok(Self {
            code: code.to_owned(),
            max_users: limit("max_users", max_users, 1_000_000)?,
            storage_gb: limit("storage_gb", storage_gb, 1_000_000)?,
            gb_per_licence: limit(
                "gb_per_licence",
                gb_per_licence.unwrap_or(DEFAULT_GB_PER_LICENCE.into()),
                100_000,
            )?,
        })
    }

    /// The plan a tenant gets when its creator names none.
    pub fn standard() -> Self {
        Self {
            code: "standard".into(),
            max_users: 25,
            storage_gb: 50,
            gb_per_licence: DEFAULT_GB_PER_LICENCE as i32,
        }
    }

    /// Licences billed: max(active users, ceil(storage GB / GB per licence)).
    pub fn licences(&self, active_users: i64, storage_bytes: i64) -> i64 {
        const GB: i64 = 1_000_000_000;
        let per = i64::from(self.gb_per_licence) * GB;
        let by_storage = if storage_bytes <= 0 {
            0
        } else {
            (storage_bytes + per - 1) / per
        };
        active_users.max(by_storage)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects_limits() {
        assert!(Plan::parse("pro", 10, 100, None).is_ok());
        assert!(matches!(
            Plan::parse("Pro", 10, 100, None),
            Err(PlanError::Code(_))
        ));
        assert!(matches!(
            Plan::parse("", 10, 100, None),
            Err(PlanError::Code(_))
        ));
        assert!(matches!(
            Plan::parse("pro", 0, 100, None),
            Err(PlanError::Limit {
                field: "max_users",
                ..
            })
        ));
        assert!(matches!(
            Plan::parse("pro", 1, -5, None),
            Err(PlanError::Limit {
                field: "storage_gb",
                ..
            })
        ));
    }

    #[test]
    fn licences_are_the_larger_of_users_and_storage_blocks() {
        let p = Plan::parse("pro", 10, 100, Some(10)).expect("valid");
        assert_eq!(p.licences(3, 0), 3);
        assert_eq!(p.licences(0, 1), 1);
        assert_eq!(p.licences(2, 10_000_000_000), 2);
        assert_eq!(p.licences(2, 30_000_000_001), 4);
    }
}
