//! Keyed digests of PINs, door codes and tag UIDs, so the gateway never stores or logs
//! one in clear: HMAC-SHA256 under the site's credential key, with a per-kind domain
//! label so a PIN and a tag with the same digits never collide.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Length of a credential key in bytes.
pub const KEY_LEN: usize = 32;

/// The site's secret key for keyed digests. `Debug` never shows it.
#[derive(Clone)]
pub struct CredentialKey([u8; KEY_LEN]);

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialKey(<redacted>)")
    }
}

/// Why a key file's text is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// Not 64 hexadecimal digits.
    #[error("a credential key is 64 hexadecimal digits (32 bytes); the file has {0} characters that are not that")]
    Malformed(usize),
}

impl CredentialKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Parses the hexadecimal text of a key file (surrounding white space ignored).
    pub fn from_hex(text: &str) -> Result<Self, KeyError> {
        super::hex::decode32(text).map(Self).ok_or_else(|| KeyError::Malformed(text.trim().chars().count()))
    }

    fn digest(&self, label: &[u8], value: &[u8]) -> Digest {
        // HMAC accepts keys of any length, so this cannot fail for a 32-byte key.
        let Ok(mut mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.0) else {
            unreachable!("HMAC takes keys of any length")
        };
        mac.update(label);
        mac.update(&[0]);
        mac.update(value);
        Digest(mac.finalize().into_bytes().into())
    }

    /// The digest of a keypad PIN (digits as typed).
    pub fn pin(&self, pin: &str) -> Digest {
        self.digest(b"portvakt/pin/v1", pin.as_bytes())
    }

    /// The digest of the shared building door code.
    pub fn door_code(&self, code: &str) -> Digest {
        self.digest(b"portvakt/pin/v1", code.as_bytes())
    }

    /// The seal of a door mode kept in the store (`door`, mode word, when set in ms): at
    /// start a row whose seal does not match was written by something other than the
    /// gateway and is refused.
    pub fn door_mode_seal(&self, door: &str, mode: &str, set_at_ms: i64) -> Digest {
        let value = format!("{door}\0{mode}\0{set_at_ms}");
        self.digest(b"portvakt/state/door-mode/v1", value.as_bytes())
    }

    /// The digest of a tag UID, given as hexadecimal text in any case.
    pub fn tag(&self, uid_hex: &str) -> Digest {
        let norm: String = uid_hex.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect();
        self.digest(b"portvakt/tag/v1", norm.to_ascii_uppercase().as_bytes())
    }
}

/// A keyed digest. `Debug` shows only a short prefix, enough to tell two apart in a test.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({:02x}{:02x}{:02x}{:02x}…)", self.0[0], self.0[1], self.0[2], self.0[3])
    }
}

/// Checks that a PIN is 4 to 8 digits.
pub fn check_pin(pin: &str) -> Result<(), String> {
    if (4..=8).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err("a PIN is 4 to 8 digits".into())
    }
}

/// Checks that a tag UID is 4 to 10 bytes of hexadecimal (separators `:` `-` allowed).
pub fn check_tag(uid: &str) -> Result<(), String> {
    let hex: Vec<char> = uid.chars().filter(|c| !matches!(c, ':' | ' ' | '-')).collect();
    if (8..=20).contains(&hex.len()) && hex.len().is_multiple_of(2) && hex.iter().all(char::is_ascii_hexdigit) {
        Ok(())
    } else {
        Err("a tag UID is 4 to 10 bytes in hexadecimal, e.g. 04:A2:19:7F".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> CredentialKey {
        CredentialKey::from_bytes([b; KEY_LEN])
    }

    #[test]
    fn the_same_pin_gives_the_same_digest_under_one_key_only() {
        assert_eq!(key(1).pin("1234"), key(1).pin("1234"));
        assert_ne!(key(1).pin("1234"), key(2).pin("1234"));
        assert_ne!(key(1).pin("1234"), key(1).pin("1235"));
    }

    #[test]
    fn a_tag_and_a_pin_with_the_same_digits_differ() {
        assert_ne!(key(1).pin("12345678"), key(1).tag("12345678"));
    }

    #[test]
    fn tag_uids_ignore_case_and_separators() {
        assert_eq!(key(1).tag("04:a2:19:7f"), key(1).tag("04A2197F"));
    }

    #[test]
    fn keys_parse_from_hex_and_never_show_in_debug() {
        let k = CredentialKey::from_hex(&"ab".repeat(32));
        assert!(k.is_ok());
        assert_eq!(format!("{:?}", k.ok()), "Some(CredentialKey(<redacted>))");
        assert!(CredentialKey::from_hex("abcd").is_err());
        assert!(CredentialKey::from_hex(&"zz".repeat(32)).is_err());
    }

    #[test]
    fn checks_pin_and_tag_shapes() {
        assert!(check_pin("0123").is_ok());
        assert!(check_pin("123").is_err());
        assert!(check_pin("12a4").is_err());
        assert!(check_tag("04:A2:19:7F").is_ok());
        assert!(check_tag("04A2197").is_err());
        assert!(check_tag("hello world!").is_err());
    }
}
