//! A phone's key and what it says with it: the open request naming its public key (type 1
//! for Ed25519, type 5 for P-256) and the proof, its signature over the challenge. P-256
//! keys are what phones keep in secure hardware and what WebCrypto makes non-extractable;
//! here one is read from PKCS#8 (the emulator's key file) or made afresh.

use std::sync::Arc;

use ed25519_dalek::{Signer as _, SigningKey};
use portvakt_wire::phone_key::PhonePublicKey;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};

use crate::message::{Challenge, Message, Open, Proof, signed_bytes};

/// Why a P-256 key could not be made or read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The bytes are not a P-256 private key in PKCS#8.
    #[error("not a P-256 private key in PKCS#8: {0}")]
    NotP256(String),
    /// The operating system's random source failed.
    #[error("the operating system's random source failed")]
    Random,
}

/// A phone's private key.
#[derive(Clone)]
pub enum PhoneSecret {
    /// Ed25519 (boxed: the key schedule is large beside a P-256 key's handle).
    Ed25519(Box<SigningKey>),
    /// ECDSA P-256 with SHA-256.
    P256(Arc<EcdsaKeyPair>),
}

impl std::fmt::Debug for PhoneSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PhoneSecret({:?})", self.public())
    }
}

impl From<SigningKey> for PhoneSecret {
    fn from(key: SigningKey) -> Self {
        Self::Ed25519(Box::new(key))
    }
}

impl PhoneSecret {
    /// A P-256 key from its PKCS#8 document.
    pub fn p256_from_pkcs8(pkcs8: &[u8]) -> Result<Self, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
            .map(|k| Self::P256(Arc::new(k)))
            .map_err(|e| KeyError::NotP256(e.to_string()))
    }

    /// A new P-256 key, with its PKCS#8 document (to keep it).
    pub fn generate_p256() -> Result<(Self, Vec<u8>), KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).map_err(|_| KeyError::Random)?;
        let key = Self::p256_from_pkcs8(doc.as_ref())?;
        Ok((key, doc.as_ref().to_vec()))
    }

    /// The public key.
    pub fn public(&self) -> PhonePublicKey {
        match self {
            Self::Ed25519(k) => PhonePublicKey::Ed25519(k.verifying_key().to_bytes()),
            Self::P256(k) => {
                let mut raw = [0u8; portvakt_wire::phone_key::P256_KEY_LEN];
                raw.copy_from_slice(k.public_key().as_ref());
                PhonePublicKey::P256(raw)
            }
        }
    }

    /// Signs `message`: Ed25519, or ECDSA P-256 as `r | s`.
    pub fn sign(&self, message: &[u8]) -> Result<[u8; 64], KeyError> {
        match self {
            Self::Ed25519(k) => Ok(k.sign(message).to_bytes()),
            Self::P256(k) => {
                let sig = k.sign(&ring::rand::SystemRandom::new(), message).map_err(|_| KeyError::Random)?;
                sig.as_ref().try_into().map_err(|_| KeyError::Random)
            }
        }
    }
}

/// A phone: its key and, if it has one, its certificate (a whole signed envelope).
#[derive(Debug, Clone)]
pub struct Phone {
    /// The phone's key.
    pub key: PhoneSecret,
    /// A signed phone certificate.
    pub certificate: Option<Vec<u8>>,
}

impl Phone {
    /// The open request for `door`, with `tag` to recognise the answers by.
    pub fn open(&self, door: &str, tag: [u8; 8]) -> Message {
        Message::Open(Open {
            tag,
            door: door.to_owned(),
            key: self.key.public(),
            certificate: self.certificate.clone(),
        })
    }

    /// The proof for `challenge`, signed for `door`.
    pub fn prove(&self, challenge: &Challenge, door: &str) -> Result<Message, KeyError> {
        let signature = self.key.sign(&signed_bytes(&challenge.nonce, &challenge.site, door))?;
        Ok(Message::Proof(Proof { door: door.to_owned(), signature }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_p256_phone_names_its_key_in_a_type_5_open_and_its_proof_verifies() {
        let (key, pkcs8) = PhoneSecret::generate_p256().unwrap_or_else(|e| panic!("{e}"));
        let again = PhoneSecret::p256_from_pkcs8(&pkcs8).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(again.public(), key.public());
        let phone = Phone { key, certificate: None };
        let open = phone.open("entrance", [1; 8]);
        assert_eq!(open.kind(), crate::message::OPEN_P256);
        let challenge = Challenge {
            tag: [1; 8],
            nonce: [2; 16],
            site: "storgatan-12".into(),
            door: "entrance".into(),
            issued_ms: 0,
            valid_ms: 5000,
        };
        let Ok(Message::Proof(proof)) = phone.prove(&challenge, "entrance") else { panic!("no proof") };
        let signed = signed_bytes(&challenge.nonce, &challenge.site, "entrance");
        assert!(phone.key.public().verify(&signed, &proof.signature));
        assert!(!phone.key.public().verify(&signed_bytes(&[3; 16], "storgatan-12", "entrance"), &proof.signature));
    }

    #[test]
    fn bytes_that_are_no_p256_key_are_refused_with_a_reason() {
        let err = PhoneSecret::p256_from_pkcs8(b"not a key").map(|_| ()).unwrap_err();
        assert!(err.to_string().contains("PKCS#8"), "{err}");
    }
}
