//! Password hashing for tenant users (argon2id, PHC strings). Hashing is CPU-heavy: callers run
//! it on a blocking thread.

use argon2::Argon2;
use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use secrecy::{ExposeSecret, SecretString};

/// Shortest password accepted for a tenant user.
pub const MIN_LEN: usize = 8;
/// Longest password accepted (bounds hashing work per request).
pub const MAX_LEN: usize = 256;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PasswordError {
    #[error("the password must be between {MIN_LEN} and {MAX_LEN} characters")]
    Length,
}

pub fn check_policy(password: &SecretString) -> Result<(), PasswordError> {
    let n = password.expose_secret().chars().count();
    if (MIN_LEN..=MAX_LEN).contains(&n) {
        Ok(())
    } else {
        Err(PasswordError::Length)
    }
}

pub fn hash(password: &SecretString) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("could not hash a password: {e}"))
}

pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// A hash that no password matches, verified against for unknown users so that timing does
/// not tell which e-mail addresses exist.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash(&SecretString::from("not-a-real-password-ever")).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_policy_holds() {
        let h = hash(&SecretString::from("correct horse")).expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("x", "not a phc string"));
        assert_eq!(
            check_policy(&SecretString::from("short")),
            Err(PasswordError::Length)
        );
        assert!(check_policy(&SecretString::from("long enough")).is_ok());
    }
}
