//! A staff phone's public key, of either kind a phone may hold: Ed25519 (the original
//! kind, kept in software) or ECDSA P-256 (what phones keep in secure hardware and what
//! WebCrypto makes non-extractable). Allowlists, certificates and revocation lists name a
//! phone key by its 32-byte **id**: an Ed25519 key is its own id; a P-256 key's id is the
//! SHA-256 of its 65-byte uncompressed form. The BLE exchange carries the whole key, so
//! the gateway verifies with it and then decides by its id. `docs/ble-protocol.md`.

use sha2::{Digest as _, Sha256};

/// Bytes of an uncompressed P-256 point: `0x04 | x (32) | y (32)`.
pub const P256_KEY_LEN: usize = 65;

/// A phone's public key.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum PhonePublicKey {
    /// An Ed25519 key (32 bytes).
    Ed25519([u8; 32]),
    /// An ECDSA P-256 key, uncompressed (65 bytes, starting 0x04).
    P256([u8; P256_KEY_LEN]),
}

impl std::fmt::Debug for PhonePublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}({})", self.kind(), crate::hex::encode(&self.id()[..8]))
    }
}

impl PhonePublicKey {
    /// The id allowlists, certificates and revocation lists name this key by.
    pub fn id(&self) -> [u8; 32] {
        match self {
            Self::Ed25519(k) => *k,
            Self::P256(k) => p256_key_id(k),
        }
    }

    /// The key's kind, as a word: `ed25519` or `p256`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "ed25519",
            Self::P256(_) => "p256",
        }
    }

    /// A P-256 key from its 65 uncompressed bytes (`0x04 | x | y`). Whether it is a point
    /// on the curve is checked where it matters, when a signature is verified with it (a
    /// key that is not one verifies nothing, so it never gets past the exchange).
    pub fn p256(bytes: &[u8]) -> Option<Self> {
        let key: [u8; P256_KEY_LEN] = bytes.try_into().ok()?;
        (key[0] == 0x04).then_some(Self::P256(key))
    }

    /// Whether `signature` over `message` was made with this key. Ed25519 strictly (no
    /// small-order keys, no malleable signatures); P-256 as ECDSA with SHA-256, the
    /// signature as `r | s` (32 bytes each, as WebCrypto makes it). An ECDSA signature
    /// has a second valid form (`s` negated); that matters nowhere here, since every
    /// signed message holds a single-use nonce.
    pub fn verify(&self, message: &[u8], signature: &[u8; 64]) -> bool {
        match self {
            Self::Ed25519(k) => ed25519_dalek::VerifyingKey::from_bytes(k)
                .is_ok_and(|k| k.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature)).is_ok()),
            Self::P256(k) => ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, k)
                .verify(message, signature)
                .is_ok(),
        }
    }
}

/// The id of a P-256 key: SHA-256 of its 65-byte uncompressed form.
pub fn p256_key_id(key: &[u8; P256_KEY_LEN]) -> [u8; 32] {
    Sha256::digest(key).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The NIST P-256 base point, uncompressed.
    const G: &str = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

    fn key(hex: &str) -> Vec<u8> {
        crate::hex::decode(hex).unwrap_or_default()
    }

    #[test]
    fn a_p256_key_is_65_uncompressed_bytes_and_one_off_the_curve_verifies_nothing() {
        assert!(PhonePublicKey::p256(&key(G)).is_some());
        let mut bent = key(G);
        bent[64] ^= 1;
        let off_curve = PhonePublicKey::p256(&bent).unwrap_or(PhonePublicKey::Ed25519([0; 32]));
        assert!(!off_curve.verify(b"m", &[1; 64]));
        let mut compressed = key(G);
        compressed[0] = 0x02;
        assert!(PhonePublicKey::p256(&compressed).is_none());
        assert!(PhonePublicKey::p256(&key(G)[..64]).is_none());
    }

    #[test]
    fn an_ed25519_key_is_its_own_id_and_a_p256_key_is_named_by_its_hash() {
        assert_eq!(PhonePublicKey::Ed25519([7; 32]).id(), [7; 32]);
        let g = PhonePublicKey::p256(&key(G)).unwrap_or(PhonePublicKey::Ed25519([0; 32]));
        assert_eq!(g.id(), <[u8; 32]>::from(Sha256::digest(key(G))));
    }

    #[test]
    fn a_p256_signature_verifies_with_its_own_key_only() {
        use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
        let rng = ring::rand::SystemRandom::new();
        let pair = |rng: &ring::rand::SystemRandom| {
            let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, rng).map_err(|e| e.to_string());
            let doc = doc.unwrap_or_else(|e| panic!("{e}"));
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), rng)
                .unwrap_or_else(|e| panic!("{e}"))
        };
        let (mine, other) = (pair(&rng), pair(&rng));
        let sig = mine.sign(&rng, b"portvakt").unwrap_or_else(|e| panic!("{e}"));
        let sig: [u8; 64] = sig.as_ref().try_into().unwrap_or([0; 64]);
        let public = |p: &EcdsaKeyPair| {
            PhonePublicKey::p256(p.public_key().as_ref()).unwrap_or(PhonePublicKey::Ed25519([0; 32]))
        };
        assert!(public(&mine).verify(b"portvakt", &sig));
        assert!(!public(&mine).verify(b"portvakT", &sig));
        assert!(!public(&other).verify(b"portvakt", &sig));
    }
}
