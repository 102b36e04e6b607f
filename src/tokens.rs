//! Secret tokens: 256 random bits from the OS CSPRNG, base64url; only a SHA-256 is stored.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A fresh 256-bit token, base64url without padding (43 characters).
pub fn generate() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Characters of a token as [`generate`] writes it: 32 bytes in base64url, no padding.
pub const TOKEN_CHARS: usize = 43;

/// A token as it arrived in a URL (path segment or query value), checked strictly before
/// any lookup: exactly [`TOKEN_CHARS`] characters of the base64url alphabet that decode to
/// exactly 32 bytes (no padding, no stray trailing bits). Anything else — a percent-encoded
/// or double-encoded form, a wrong length, another alphabet — is `None`, which every token
/// route answers with its ordinary "unknown link" page. The one parser of every token route
/// (`/invite/{token}`, `/reset/{token}`, `/account/emails/verify/{token}`, `/setup?token=`).
pub fn parse(raw: &str) -> Option<&str> {
    if raw.len() != TOKEN_CHARS
        || !raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return None;
    }
    match URL_SAFE_NO_PAD.decode(raw) {
        Ok(bytes) if bytes.len() == 32 => Some(raw),
        _ => None,
    }
}

/// The stored form of a token: hex SHA-256. A database leak yields no usable link.
pub fn hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let mut out = String::with_capacity(64);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Compares two secrets without leaking, through timing, how much of them matched.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_unique_and_hash_stably() {
        let a = generate();
        assert_eq!(a.len(), 43);
        assert_ne!(a, generate());
        assert_eq!(hash(&a), hash(&a));
        assert_eq!(hash(&a).len(), 64);
        assert!(constant_time_eq(&a, &a.clone()));
        assert!(!constant_time_eq(&a, "x"));
    }

    #[test]
    fn only_a_canonical_256_bit_base64url_token_parses() {
        let a = generate();
        assert_eq!(parse(&a), Some(a.as_str()));
        assert_eq!(parse(&a[..42]), None, "too short");
        assert_eq!(parse(&format!("{a}A")), None, "too long");
        assert_eq!(parse(&format!("{}+", &a[..42])), None, "standard alphabet");
        assert_eq!(parse(&format!("{}=", &a[..42])), None, "padding");
        assert_eq!(parse(&format!("%41{}", &a[3..])), None, "percent-encoded");
        // 43 characters carry 258 bits: the last one must leave the two spare bits zero.
        let last_bits_set = format!("{}B", &a[..42]);
        assert_eq!(parse(&last_bits_set), None, "non-canonical trailing bits");
    }
}
