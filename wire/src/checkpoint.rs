//! Checkpoints of the audit chain: the gateway's statement, signed with its device key,
//! that its record `seq` has hash `hash` — a `PVKT` envelope of type 6 whose body is the
//! JSON [`CheckpointBody`]. A checkpoint is itself stored as an `audit.checkpoint` record
//! (detail: [`Checkpoint::detail`]) and so leaves the box in `events`; a collector that
//! keeps one can later prove a store truncated or rewritten before it. Pure.

use ed25519_dalek::SigningKey;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::envelope::{self, DocType};
use crate::hex;

/// The body of a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointBody {
    /// The gateway's site.
    pub site: String,
    /// The newest record covered.
    pub seq: u64,
    /// Its hash (64 hexadecimal digits).
    pub hash: String,
    /// When it was signed (the gateway's clock).
    pub at: Timestamp,
}

/// A checkpoint whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// What it says.
    pub body: CheckpointBody,
    /// The record's hash, decoded.
    pub hash: [u8; 32],
    /// The device key that signed it.
    pub key: [u8; 32],
    /// The signed envelope.
    pub signed: Vec<u8>,
}

/// Why a checkpoint could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Not a checkpoint in any accepted form.
    #[error("not a checkpoint: {0}")]
    Malformed(String),
    /// Its signature is not the key's.
    #[error("the checkpoint's signature does not verify with device key {0}")]
    BadSignature(String),
}

impl Checkpoint {
    /// Signs a checkpoint of record `seq` with hash `hash`.
    pub fn sign(site: &str, seq: u64, hash: [u8; 32], at: Timestamp, key: &SigningKey) -> Self {
        let body = CheckpointBody { site: site.to_owned(), seq, hash: hex::encode(&hash), at };
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let signed = envelope::seal(DocType::Checkpoint, &json, key);
        Self { body, hash, key: key.verifying_key().to_bytes(), signed }
    }

    /// The `audit.checkpoint` record's detail: `seq`, `hash`, `at`, the device `key` and
    /// the `signed` envelope in hex (everything a verifier needs).
    pub fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "seq": self.body.seq,
            "hash": self.body.hash,
            "at": self.body.at,
            "key": hex::encode(&self.key),
            "signed": hex::encode(&self.signed),
        })
    }

    /// Reads a signed envelope and checks it against `key`.
    pub fn open(signed: &[u8], key: [u8; 32]) -> Result<Self, CheckpointError> {
        let malformed = |e: String| CheckpointError::Malformed(e);
        let env = envelope::open(signed).map_err(|e| malformed(e.to_string()))?;
        if env.doc_type != DocType::Checkpoint {
            return Err(malformed(format!("a {} where a checkpoint belongs", env.doc_type.word())));
        }
        if !envelope::signature_ok(&env, &key) {
            return Err(CheckpointError::BadSignature(hex::encode(&key)));
        }
        let body: CheckpointBody = serde_json::from_slice(env.body).map_err(|e| malformed(format!("its body: {e}")))?;
        let hash = hex::decode32(&body.hash).ok_or_else(|| malformed("its hash is not 64 hex digits".into()))?;
        Ok(Self { body, hash, key, signed: signed.to_vec() })
    }

    /// Reads a checkpoint from a record's detail ([`Self::detail`]).
    pub fn from_detail(detail: &serde_json::Value) -> Result<Self, CheckpointError> {
        let text = |name: &str| {
            detail[name].as_str().ok_or_else(|| CheckpointError::Malformed(format!("no \"{name}\" in the detail")))
        };
        let key = hex::decode32(text("key")?).ok_or_else(|| CheckpointError::Malformed("its key".into()))?;
        let signed = hex::decode(text("signed")?).ok_or_else(|| CheckpointError::Malformed("its envelope".into()))?;
        Self::open(&signed, key)
    }

    /// Reads a checkpoint a collector kept: the `audit.checkpoint` record as it came in
    /// `events` (JSON), or that record's `detail` alone.
    pub fn from_file(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let v: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
            CheckpointError::Malformed(format!("{e} (expected the audit.checkpoint record as JSON, or its detail)"))
        })?;
        if v.get("kind").is_some() {
            if v["kind"] != "audit.checkpoint" {
                return Err(CheckpointError::Malformed(format!("a {} record, not audit.checkpoint", v["kind"])));
            }
            return Self::from_detail(&v["detail"]);
        }
        Self::from_detail(&v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> Timestamp {
        "2026-11-24T13:00:00Z".parse().expect("time")
    }

    #[test]
    fn a_checkpoint_reads_back_from_its_detail_and_from_its_record() {
        let key = SigningKey::from_bytes(&[5; 32]);
        let c = Checkpoint::sign("storgatan-12", 42, [7; 32], at(), &key);
        assert_eq!(Checkpoint::from_detail(&c.detail()), Ok(c.clone()));
        let record = serde_json::json!({ "seq": 43, "kind": "audit.checkpoint", "detail": c.detail() });
        assert_eq!(Checkpoint::from_file(&serde_json::to_vec(&record).expect("json")), Ok(c.clone()));
        assert_eq!(Checkpoint::from_file(&serde_json::to_vec(&c.detail()).expect("json")), Ok(c));
    }

    #[test]
    fn a_checkpoint_under_another_key_or_altered_is_refused() {
        let c = Checkpoint::sign("storgatan-12", 42, [7; 32], at(), &SigningKey::from_bytes(&[5; 32]));
        let mut d = c.detail();
        d["key"] = hex::encode(&SigningKey::from_bytes(&[6; 32]).verifying_key().to_bytes()).into();
        assert!(matches!(Checkpoint::from_detail(&d), Err(CheckpointError::BadSignature(_))));
        let mut signed = c.signed.clone();
        let i = signed.len() - 70;
        signed[i] ^= 1;
        assert!(Checkpoint::open(&signed, c.key).is_err());
        let other = serde_json::json!({ "kind": "door.opened", "detail": {} });
        assert!(Checkpoint::from_file(&serde_json::to_vec(&other).expect("json")).is_err());
        assert!(Checkpoint::from_file(b"not json").is_err());
    }
}
