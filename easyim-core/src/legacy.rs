//! The original easyim's password hashes, kept for accounts imported from it.
//!
//! The original stored the lowercase hex SHA-256 of the lowercase hex SHA-256 of the password,
//! unsalted. An imported account keeps that value in its password hash as
//! `legacy-sha256$<hex>`; it is accepted at login (compared in constant time) and replaced by an
//! argon2id hash at the first successful login.

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The prefix of a password hash imported from the original easyim.
pub const LEGACY_SHA256_PREFIX: &str = "legacy-sha256$";

/// The stored form of an original password hash (`hex`, the original's `password_hash`), or
/// `None` if it is not 64 hex digits.
pub fn legacy_password_hash(hex: &str) -> Option<String> {
    let hex = hex.trim();
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("{LEGACY_SHA256_PREFIX}{}", hex.to_ascii_lowercase()))
}

/// Whether a stored hash is a legacy one (to be replaced at the next successful login).
pub(crate) fn is_legacy(hash: &str) -> bool {
    hash.starts_with(LEGACY_SHA256_PREFIX)
}

/// Whether `password` matches the legacy hash `stored` (with its prefix); false for anything
/// that is not one.
pub(crate) fn verify_legacy(password: &str, stored: &str) -> bool {
    let Some(expected) = stored.strip_prefix(LEGACY_SHA256_PREFIX) else {
        return false;
    };
    let once = hex::encode(Sha256::digest(password.as_bytes()));
    let twice = hex::encode(Sha256::digest(once.as_bytes()));
    twice.as_bytes().ct_eq(expected.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_originals_double_sha256() {
        // sha256("123456") = 8d969eef...; its hex, hashed again, is what the original stored.
        let once = hex::encode(Sha256::digest(b"123456"));
        assert_eq!(
            once,
            "8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92"
        );
        let stored = hex::encode(Sha256::digest(once.as_bytes()));
        let ours = legacy_password_hash(&stored.to_ascii_uppercase()).unwrap();
        assert!(is_legacy(&ours));
        assert!(verify_legacy("123456", &ours));
        assert!(!verify_legacy("1234567", &ours));
        assert!(!verify_legacy("123456", &stored));
        assert!(!verify_legacy("123456", "legacy-sha256$"));
        assert_eq!(legacy_password_hash("abc"), None);
        assert_eq!(legacy_password_hash(&"z".repeat(64)), None);
    }
}
