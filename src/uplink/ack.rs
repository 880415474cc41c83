//! The collector's acknowledgement on `events/ack`, in `confirm = "collector"` mode: a
//! `PVKT` envelope of type 5 signed with the collector's key (`uplink.collector_key`),
//! whose body is the JSON [`AckBody`]: the site, the newest record the collector has
//! stored with every one before it, and that record's hash. Signed, because only what the
//! collector holds may leave the outbox (and be pruned at the cap); bound to the hash, so
//! an acknowledgement replayed after the store was replaced confirms nothing it did not
//! see. Needs no clock: it is true for as long as the record exists. Pure.

pub use portvakt_wire::ack::{AckBody, seal};

use super::command::Refused;
use crate::core::hex;
use crate::credentials::envelope::{self, DocType};

/// An acknowledgement that passed its checks: of which run, through which record, with
/// which hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// The chain's run (none: the run a store began before epochs).
    pub epoch: Option<String>,
    /// The record.
    pub through: u64,
    /// Its hash.
    pub hash: [u8; 32],
}

/// Reads an acknowledgement and checks its signature and site; the record's hash is
/// checked against the store by the caller.
pub fn read(payload: &[u8], site: &str, collector_key: &[u8; 32]) -> Result<Ack, Refused> {
    let refused = |code, message: String| Refused { id: None, code, message };
    if !payload.starts_with(b"PVKT") {
        return Err(refused(
            "unsigned",
            "an acknowledgement must be signed with the collector's key (uplink.collector_key)".into(),
        ));
    }
    let env = envelope::open(payload).map_err(|e| refused("malformed", format!("acknowledgement: {e}")))?;
    if env.doc_type != DocType::Ack {
        return Err(refused("malformed", format!("a {} where an acknowledgement belongs", env.doc_type.word())));
    }
    if !envelope::signature_ok(&env, collector_key) {
        return Err(refused("bad_signature", "the signature is not the collector's (uplink.collector_key)".into()));
    }
    let body: AckBody = serde_json::from_slice(env.body).map_err(|e| {
        refused("malformed", format!("acknowledgement body: {e} (expected {{\"site\", \"through\", \"hash\"}})"))
    })?;
    if body.site != site {
        return Err(refused("wrong_site", format!("acknowledges site \"{}\", this is \"{site}\"", body.site)));
    }
    let hash = hex::decode32(&body.hash)
        .ok_or_else(|| refused("malformed", "acknowledgement hash: not 64 hexadecimal digits".into()))?;
    Ok(Ack { epoch: body.epoch, through: body.through, hash })
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;

    fn body() -> AckBody {
        AckBody { site: "storgatan-12".into(), epoch: Some("0a".repeat(16)), through: 42, hash: "ab".repeat(32) }
    }

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn read_with(payload: &[u8]) -> Result<Ack, &'static str> {
        read(payload, "storgatan-12", &key(7).verifying_key().to_bytes()).map_err(|r| r.code)
    }

    #[test]
    fn a_signed_acknowledgement_is_read_with_its_record_and_hash() {
        assert_eq!(
            read_with(&seal(&body(), &key(7))),
            Ok(Ack { epoch: Some("0a".repeat(16)), through: 42, hash: [0xab; 32] })
        );
    }

    #[test]
    fn unsigned_forged_misaddressed_and_malformed_acknowledgements_are_refused() {
        assert_eq!(read_with(br#"{"through": 42}"#), Err("unsigned"));
        assert_eq!(read_with(&seal(&body(), &key(8))), Err("bad_signature"));
        let mut other = body();
        other.site = "annan-gata-3".into();
        assert_eq!(read_with(&seal(&other, &key(7))), Err("wrong_site"));
        let mut short = body();
        short.hash = "ab".into();
        assert_eq!(read_with(&seal(&short, &key(7))), Err("malformed"));
        let command = envelope::seal(DocType::Command, b"{}", &key(7));
        assert_eq!(read_with(&command), Err("malformed"));
        assert_eq!(read_with(b"PVKT\x01\x05garbage"), Err("malformed"));
    }
}
