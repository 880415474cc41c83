//! A gateway's signed checkpoints (`audit.checkpoint` records, `docs/audit.md`) judged
//! against its chain as stored: signed by the device key the chain commissioned before
//! it (the newest `system.device_key` record), for this site, covering an earlier record
//! that Central holds with the very hash it names. A checkpoint that holds is what lets
//! Central later show a gateway's store cut short or rewritten and re-signed; one that
//! does not is an alarm. Pure: the stored facts are passed in.

use jiff::Timestamp;
use portvakt_wire::checkpoint::{Checkpoint, CheckpointError};
use portvakt_wire::hex;

/// What a checkpoint shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Signed by the commissioned key, and the record it covers is stored with its hash.
    Verified,
    /// The record it covers is not stored (yet): nothing to compare.
    NotStored,
    /// Not a checkpoint (the detail cannot be read).
    Malformed(String),
    /// Its signature does not verify with the key it names.
    BadSignature,
    /// Signed by a key the stored chain did not commission before it.
    Uncommissioned,
    /// Signed for another site.
    OtherSite(String),
    /// It covers itself or a record after it.
    CoversLater,
    /// The stored record it covers has another hash.
    Mismatch,
}

impl Outcome {
    /// Whether this shows the chain or the checkpoint is not what the gateway signed.
    pub fn failed(&self) -> bool {
        !matches!(self, Outcome::Verified | Outcome::NotStored)
    }

    /// A word for the `checkpoints` table.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Verified => "verified",
            Outcome::NotStored => "not_stored",
            Outcome::Malformed(_) => "malformed",
            Outcome::BadSignature => "bad_signature",
            Outcome::Uncommissioned => "uncommissioned_key",
            Outcome::OtherSite(_) => "other_site",
            Outcome::CoversLater => "covers_later",
            Outcome::Mismatch => "mismatch",
        }
    }
}

/// One checkpoint judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Judged {
    /// The checkpoint record's own seq.
    pub seq: u64,
    /// The record it covers, when it could be read.
    pub covers: Option<u64>,
    /// When the gateway signed it, when it could be read.
    pub signed_at: Option<Timestamp>,
    /// The key that signed it, when it could be read.
    pub key: Option<[u8; 32]>,
    /// What it shows.
    pub outcome: Outcome,
}

impl Judged {
    /// In words, for `verify` and the alarm.
    pub fn words(&self) -> String {
        let covers = self.covers.map_or_else(|| "?".into(), |c| c.to_string());
        let what = format!("checkpoint (record {}) of record {covers}", self.seq);
        match &self.outcome {
            Outcome::Verified => format!("{what}: verified"),
            Outcome::NotStored => format!("{what}: that record is not stored, nothing to compare"),
            Outcome::Malformed(e) => format!("{what}: MALFORMED: {e}"),
            Outcome::BadSignature => format!("{what}: its signature DOES NOT VERIFY"),
            Outcome::Uncommissioned => format!(
                "{what}: signed by device key {}…, which the stored chain did not commission before it",
                self.key.map(|k| hex::encode(&k[..8])).unwrap_or_default()
            ),
            Outcome::OtherSite(s) => format!("{what}: signed for another site, {s}"),
            Outcome::CoversLater => format!("{what}: covers a record after itself"),
            Outcome::Mismatch => format!("{what}: MISMATCH: the stored record {covers} has another hash"),
        }
    }
}

/// The device key a `system.device_key` record commissions (`detail.public_key`), if any.
pub fn commissioned_key(detail: &str) -> Option<[u8; 32]> {
    let v: serde_json::Value = serde_json::from_str(detail).ok()?;
    hex::decode32(v.get("public_key")?.as_str()?)
}

/// Judges the checkpoint stored as record `seq` of `site` with `detail`, given the key
/// the chain commissioned before it and the stored hash of any record.
pub fn judge(
    site: &str,
    seq: u64,
    detail: &str,
    commissioned: Option<[u8; 32]>,
    stored_hash: impl Fn(u64) -> Option<[u8; 32]>,
) -> Judged {
    let mut judged = Judged { seq, covers: None, signed_at: None, key: None, outcome: Outcome::Verified };
    let parsed = serde_json::from_str::<serde_json::Value>(detail)
        .map_err(|e| CheckpointError::Malformed(e.to_string()))
        .and_then(|v| Checkpoint::from_detail(&v));
    let c = match parsed {
        Ok(c) => c,
        Err(CheckpointError::BadSignature(_)) => {
            judged.outcome = Outcome::BadSignature;
            return judged;
        }
        Err(CheckpointError::Malformed(e)) => {
            judged.outcome = Outcome::Malformed(e);
            return judged;
        }
    };
    judged.covers = Some(c.body.seq);
    judged.signed_at = Some(c.body.at);
    judged.key = Some(c.key);
    judged.outcome = if commissioned != Some(c.key) {
        Outcome::Uncommissioned
    } else if c.body.site != site {
        Outcome::OtherSite(c.body.site.clone())
    } else if c.body.seq >= seq {
        Outcome::CoversLater
    } else {
        match stored_hash(c.body.seq) {
            None => Outcome::NotStored,
            Some(h) if h == c.hash => Outcome::Verified,
            Some(_) => Outcome::Mismatch,
        }
    };
    judged
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    fn at() -> Timestamp {
        "2026-11-24T13:00:00Z".parse().expect("time")
    }

    fn detail(site: &str, covers: u64, hash: [u8; 32], key: &SigningKey) -> String {
        Checkpoint::sign(site, covers, hash, at(), key).detail().to_string()
    }

    fn device() -> (SigningKey, [u8; 32]) {
        let k = SigningKey::from_bytes(&[9; 32]);
        let public = k.verifying_key().to_bytes();
        (k, public)
    }

    #[test]
    fn a_checkpoint_by_the_commissioned_key_of_a_stored_record_verifies() {
        let (k, public) = device();
        let j = judge("s", 11, &detail("s", 10, [4; 32], &k), Some(public), |seq| (seq == 10).then_some([4; 32]));
        assert_eq!(j.outcome, Outcome::Verified);
        assert_eq!((j.covers, j.signed_at, j.key), (Some(10), Some(at()), Some(public)));
        assert!(!j.outcome.failed());
    }

    #[test]
    fn a_stored_record_with_another_hash_is_a_mismatch() {
        let (k, public) = device();
        let j = judge("s", 11, &detail("s", 10, [4; 32], &k), Some(public), |_| Some([5; 32]));
        assert_eq!(j.outcome, Outcome::Mismatch);
        assert!(j.outcome.failed());
        assert!(j.words().contains("MISMATCH"), "{}", j.words());
    }

    #[test]
    fn a_key_the_chain_never_commissioned_is_refused_even_with_a_good_signature() {
        let (_, public) = device();
        let stranger = SigningKey::from_bytes(&[3; 32]);
        let j = judge("s", 11, &detail("s", 10, [4; 32], &stranger), Some(public), |_| Some([4; 32]));
        assert_eq!(j.outcome, Outcome::Uncommissioned);
        let j = judge("s", 11, &detail("s", 10, [4; 32], &stranger), None, |_| Some([4; 32]));
        assert_eq!(j.outcome, Outcome::Uncommissioned, "no commissioning record stored: nothing to trust");
    }

    #[test]
    fn an_altered_signature_another_site_or_a_later_record_fail() {
        let (k, public) = device();
        let mut v: serde_json::Value = serde_json::from_str(&detail("s", 10, [4; 32], &k)).expect("json");
        let signed = v["signed"].as_str().expect("signed").to_owned();
        let flipped = format!("{}{}", &signed[..signed.len() - 1], if signed.ends_with('0') { "1" } else { "0" });
        v["signed"] = flipped.into();
        let j = judge("s", 11, &v.to_string(), Some(public), |_| Some([4; 32]));
        assert_eq!(j.outcome, Outcome::BadSignature);
        let j = judge("s", 11, &detail("other", 10, [4; 32], &k), Some(public), |_| Some([4; 32]));
        assert_eq!(j.outcome, Outcome::OtherSite("other".into()));
        let j = judge("s", 11, &detail("s", 11, [4; 32], &k), Some(public), |_| Some([4; 32]));
        assert_eq!(j.outcome, Outcome::CoversLater);
    }

    #[test]
    fn an_unreadable_detail_is_malformed_and_an_unstored_record_is_not_a_failure() {
        let (k, public) = device();
        assert!(matches!(judge("s", 2, "{}", Some(public), |_| None).outcome, Outcome::Malformed(_)));
        assert!(matches!(judge("s", 2, "not json", Some(public), |_| None).outcome, Outcome::Malformed(_)));
        let j = judge("s", 11, &detail("s", 10, [4; 32], &k), Some(public), |_| None);
        assert_eq!(j.outcome, Outcome::NotStored);
        assert!(!j.outcome.failed());
    }

    #[test]
    fn the_commissioning_record_names_its_key() {
        let (_, public) = device();
        let d = serde_json::json!({ "public_key": hex::encode(&public), "path": "/var/lib/portvakt/device.key" });
        assert_eq!(commissioned_key(&d.to_string()), Some(public));
        assert_eq!(commissioned_key(r#"{"error":"read-only file system"}"#), None);
    }
}
