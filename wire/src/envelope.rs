//! The signed envelope around every document an authority issues:
//! `"PVKT" | u8 format (1) | u8 type | u32 body length | body | 64-byte Ed25519 signature`.
//! The signature covers `"portvakt.signed.v1\0" | u8 type | body`, so a signature for one
//! kind of document can never be replayed as another.

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};

use crate::bytes::{Reader, WireError};

const MAGIC: &[u8; 4] = b"PVKT";
const FORMAT: u8 = 1;
const DOMAIN: &[u8] = b"portvakt.signed.v1\0";

/// What an envelope holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocType {
    /// An allowlist bundle.
    Bundle = 1,
    /// A revocation list.
    Revocations = 2,
    /// A phone certificate.
    Certificate = 3,
    /// A remote command (door pulse, door mode, audit query, reload), sent over MQTT.
    Command = 4,
    /// A collector's acknowledgement of the records it has stored (`events/ack`).
    Ack = 5,
    /// A gateway's checkpoint of its audit chain, signed with its device key.
    Checkpoint = 6,
    /// An authority's delegation of certificate issuing to an issuer key.
    Delegation = 7,
    /// A phone certificate signed by a delegated issuer, carrying its delegation.
    DelegatedCertificate = 8,
    /// A revocation list signed by a delegated issuer, carrying its delegation: it ends
    /// certificates signed through that delegation only.
    IssuerRevocations = 9,
}

impl DocType {
    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Bundle),
            2 => Some(Self::Revocations),
            3 => Some(Self::Certificate),
            4 => Some(Self::Command),
            5 => Some(Self::Ack),
            6 => Some(Self::Checkpoint),
            7 => Some(Self::Delegation),
            8 => Some(Self::DelegatedCertificate),
            9 => Some(Self::IssuerRevocations),
            _ => None,
        }
    }

    /// A word for messages.
    pub fn word(self) -> &'static str {
        match self {
            Self::Bundle => "allowlist bundle",
            Self::Revocations => "revocation list",
            Self::Certificate => "phone certificate",
            Self::Command => "signed command",
            Self::Ack => "collector acknowledgement",
            Self::Checkpoint => "audit checkpoint",
            Self::Delegation => "issuer delegation",
            Self::DelegatedCertificate => "delegated phone certificate",
            Self::IssuerRevocations => "delegated issuer's revocation list",
        }
    }
}

/// An opened (not yet verified) envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The document type.
    pub doc_type: DocType,
    /// The body bytes.
    pub body: &'a [u8],
    /// The signature.
    pub signature: [u8; 64],
}

/// The bytes the signature covers.
pub fn signed_message(doc_type: DocType, body: &[u8]) -> Vec<u8> {
    let mut m = Vec::with_capacity(DOMAIN.len() + 1 + body.len());
    m.extend_from_slice(DOMAIN);
    m.push(doc_type as u8);
    m.extend_from_slice(body);
    m
}

/// Signs a body into an envelope.
pub fn seal(doc_type: DocType, body: &[u8], key: &SigningKey) -> Vec<u8> {
    let signature = key.sign(&signed_message(doc_type, body));
    let mut out = Vec::with_capacity(10 + body.len() + 64);
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.push(doc_type as u8);
    out.extend_from_slice(&u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&signature.to_bytes());
    out
}

/// Splits an envelope, strictly; the signature is not checked here.
pub fn open(bytes: &[u8]) -> Result<Envelope<'_>, WireError> {
    let mut r = Reader::new(bytes);
    let magic = [r.u8("magic")?, r.u8("magic")?, r.u8("magic")?, r.u8("magic")?];
    if &magic != MAGIC {
        return Err(WireError { at: 0, what: "not a Portvakt signed document (no \"PVKT\" at the start)".into() });
    }
    let format = r.u8("format")?;
    if format != FORMAT {
        return Err(WireError { at: 4, what: format!("format {format}; this gateway reads format {FORMAT}") });
    }
    let t = r.u8("document type")?;
    let doc_type =
        DocType::from_byte(t).ok_or_else(|| WireError { at: 5, what: format!("unknown document type {t}") })?;
    let body = r.blob("body")?;
    let mut signature = [0u8; 64];
    signature[..32].copy_from_slice(&r.bytes32("signature")?);
    signature[32..].copy_from_slice(&r.bytes32("signature")?);
    r.finish()?;
    Ok(Envelope { doc_type, body, signature })
}

/// Checks the signature with an authority's public key (strict Ed25519: no malleable or
/// small-order forms).
pub fn signature_ok(env: &Envelope<'_>, public_key: &[u8; 32]) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else { return false };
    let sig = Signature::from_bytes(&env.signature);
    key.verify_strict(&signed_message(env.doc_type, env.body), &sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SigningKey {
        SigningKey::from_bytes(&[b; 32])
    }

    #[test]
    fn a_sealed_envelope_opens_and_verifies_with_the_right_key_only() {
        let sealed = seal(DocType::Bundle, b"body", &key(1));
        let env = open(&sealed).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((env.doc_type, env.body), (DocType::Bundle, &b"body"[..]));
        assert!(signature_ok(&env, &key(1).verifying_key().to_bytes()));
        assert!(!signature_ok(&env, &key(2).verifying_key().to_bytes()));
    }

    #[test]
    fn a_signature_cannot_be_moved_to_another_document_type() {
        let mut sealed = seal(DocType::Revocations, b"body", &key(1));
        sealed[5] = DocType::Bundle as u8;
        let env = open(&sealed).unwrap_or_else(|e| panic!("{e}"));
        assert!(!signature_ok(&env, &key(1).verifying_key().to_bytes()));
    }

    #[test]
    fn every_single_bit_flip_is_refused() {
        let sealed = seal(DocType::Bundle, b"a small body", &key(1));
        let public = key(1).verifying_key().to_bytes();
        for i in 0..sealed.len() * 8 {
            let mut m = sealed.clone();
            m[i / 8] ^= 1 << (i % 8);
            let accepted = open(&m).is_ok_and(|env| signature_ok(&env, &public) && env.doc_type == DocType::Bundle);
            assert!(!accepted, "bit {i} flipped and still accepted");
        }
    }

    #[test]
    fn garbage_and_truncation_are_refused_with_a_reason() {
        assert!(open(b"hello").is_err());
        let sealed = seal(DocType::Bundle, b"body", &key(1));
        assert!(open(&sealed[..sealed.len() - 1]).is_err());
        let mut longer = sealed.clone();
        longer.push(0);
        assert!(open(&longer).unwrap_err().what.contains("unexpected bytes"));
    }
}
