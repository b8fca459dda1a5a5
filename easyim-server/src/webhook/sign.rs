//! The signature of a delivery: HMAC-SHA256 over `<timestamp>.<body>` with `WEBHOOK_SECRET`.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The header with the delivery's timestamp (milliseconds since the Unix epoch).
pub const TIMESTAMP_HEADER: &str = "x-easyim-timestamp";
/// The header with the signature, `sha256=<lowercase hex>`.
pub const SIGNATURE_HEADER: &str = "x-easyim-signature";

/// `sha256=<hex of HMAC-SHA256(secret, "<timestamp>.<body>")>`: what a receiver recomputes to
/// check a delivery (and compares in constant time).
pub fn signature(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256=");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The MAC against RFC 4231 test case 2 (key "Jefe"), and that the timestamp, the body
    /// and the secret each change the signature.
    #[test]
    fn matches_a_published_hmac_sha256_vector() {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        let hex: String = mac
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(
            hex,
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let a = signature(b"k", 1, b"{}");
        assert!(a.starts_with("sha256=") && a.len() == 71);
        assert_ne!(a, signature(b"k", 2, b"{}"), "the timestamp is signed");
        assert_ne!(a, signature(b"k", 1, b"{ }"), "the body is signed");
        assert_ne!(a, signature(b"j", 1, b"{}"), "the secret matters");
    }
}
