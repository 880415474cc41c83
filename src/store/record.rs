//! Audit records and their hash chain (pure). Each record's hash is
//! `SHA-256(previous hash ‖ canonical bytes)`; the first record's previous hash is 32 zero
//! bytes (or the anchor kept when older records were pruned). The canonical encoding is
//! documented in `docs/audit.md` so the backend can verify the chain independently; it
//! is written once, in `portvakt_wire::chain`, for the gateway and Central alike.

use jiff::Timestamp;
use portvakt_wire::chain::Fields;
pub use portvakt_wire::chain::GENESIS;
use portvakt_wire::kinds::EVENT_KINDS;
use serde::Serialize;

use crate::core::decide::Decision;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum EventKind {
    /// A door opened for a credential, the door code or free passage.
    AccessGranted,
    /// A request was refused.
    AccessDenied,
    /// Access was granted but the relay board did not confirm the strike released
    /// (`detail` is the grant's, with `strike` saying why): the door may not have opened.
    AccessStrikeFailed,
    /// A door's free-passage schedule began or ended holding it released (`detail.open`,
    /// `detail.schedule`).
    DoorFreePassage,
    /// A strike's coil was found not as the gateway wants it and was written again
    /// (`detail`: bus, unit, channel, found, wanted): once per episode.
    DoorStrikeCorrected,
    /// A keypad was locked after wrong entries.
    KeypadLockedOut,
    /// A door opened while released.
    DoorOpened,
    /// A door opened while locked.
    DoorForcedOpen,
    /// A door closed.
    DoorClosed,
    /// A door stood open too long.
    DoorHeldOpen,
    /// A door contact could not be read, or can be again (`detail` says which).
    DoorContactFault,
    /// A Modbus device stopped or started answering (`detail` says which).
    DeviceHealth,
    /// Events could not be stored (disk or cap full); this record counts them.
    Gap,
    /// The store raised or cleared an alarm (nearly full, retention shortened).
    StoreAlarm,
    /// A signed bundle or revocation list was verified, stored and applied.
    CredentialsAccepted,
    /// A signed document was refused (forged, rolled back, out of scope…), with why.
    CredentialsRefused,
    /// A bundle in use comes within the warning lead of its end (once per version).
    CredentialsExpiring,
    /// A door's strike was released by command (control socket, uplink), not a credential.
    DoorPulsed,
    /// The clock's trust changed (`detail` says to what, and why).
    ClockTrust,
    /// A new configuration was taken into use (SIGHUP or a command).
    ConfigReloaded,
    /// A new configuration was refused; the old one stays (`detail` lists the problems).
    ConfigRefused,
    /// A door's mode was set remotely (`detail` has the mode and who signed).
    DoorModeChanged,
    /// Something that came over MQTT was refused: a command, an acknowledgement
    /// (`detail` has the topic, a reason code and a message).
    UplinkRefused,
    /// A signed `audit.query` read part of the visit list (`detail.by`, `query`, `records`).
    AuditQueried,
    /// A signed `personal.erase` erased one holder's personal parts of the signer's
    /// records (`detail.by`, `records`; the holder is not named).
    AuditErased,
    /// The gateway signed a checkpoint of its audit chain with its device key (`detail`:
    /// the checkpoint, see `docs/audit.md`).
    AuditCheckpoint,
    /// A phone's BLE attempt refused before any decision (protocol, certificate, limits).
    BleRefused,
    /// The BLE adapter went away, came back, or could not be set up.
    BleAdapter,
    /// The device key was made (`detail.public_key`, `path`), or could not be read or made
    /// (`detail.error`): no checkpoints then.
    DeviceKey,
    /// The store began a new run of its chain (`detail`: `epoch`, `from`, `previous`, and
    /// the collector's refusal that showed the store behind it: `code`, `message`).
    ChainEpoch,
    /// The gateway started.
    SystemStart,
    /// The gateway stopped in an orderly way.
    SystemStop,
}

/// Every kind, in the order of `portvakt_wire::kinds::EVENT_KINDS`, which has their codes.
const KINDS: [EventKind; 32] = [
    EventKind::DoorOpened,
    EventKind::DoorForcedOpen,
    EventKind::DoorClosed,
    EventKind::DoorHeldOpen,
    EventKind::DoorContactFault,
    EventKind::DeviceHealth,
    EventKind::CredentialsAccepted,
    EventKind::CredentialsRefused,
    EventKind::CredentialsExpiring,
    EventKind::AccessGranted,
    EventKind::AccessDenied,
    EventKind::AccessStrikeFailed,
    EventKind::DoorStrikeCorrected,
    EventKind::DoorFreePassage,
    EventKind::KeypadLockedOut,
    EventKind::Gap,
    EventKind::StoreAlarm,
    EventKind::SystemStart,
    EventKind::DeviceKey,
    EventKind::ChainEpoch,
    EventKind::SystemStop,
    EventKind::DoorPulsed,
    EventKind::ClockTrust,
    EventKind::ConfigReloaded,
    EventKind::ConfigRefused,
    EventKind::DoorModeChanged,
    EventKind::UplinkRefused,
    EventKind::AuditQueried,
    EventKind::AuditErased,
    EventKind::AuditCheckpoint,
    EventKind::BleRefused,
    EventKind::BleAdapter,
];

impl EventKind {
    /// The stable code stored and published (`access.granted`).
    pub fn code(self) -> &'static str {
        KINDS.iter().position(|k| *k == self).map_or("unknown", |i| EVENT_KINDS[i])
    }

    /// The kind for a stored code.
    pub fn from_code(code: &str) -> Option<Self> {
        EVENT_KINDS.iter().position(|c| *c == code).map(|i| KINDS[i])
    }
}

/// The audience of the building's own records (doors, devices, the gateway itself).
pub const SITE: &str = "site";

/// An event to record; the store gives it a sequence number and a place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// Wall-clock time of the event.
    pub at: Timestamp,
    /// Whether the clock was trusted then.
    pub trusted: bool,
    /// What happened.
    pub kind: EventKind,
    /// The door, if any.
    pub door: Option<String>,
    /// Whose the record is (`docs/audit.md`, Audiences): the authority whose credential
    /// or signed command it concerns, or [`SITE`] for the building's own.
    pub audience: String,
    /// The holder, if known (never a PIN or a tag UID).
    pub holder: Option<String>,
    /// The credential id, if known.
    pub credential: Option<String>,
    /// Details as a compact JSON object (reason, rule, counts).
    pub detail: String,
}

impl NewEvent {
    /// An event of the gateway itself (no holder, no credential), optionally at a door.
    pub fn system(
        kind: EventKind,
        at: Timestamp,
        trusted: bool,
        door: Option<String>,
        detail: &serde_json::Value,
    ) -> Self {
        Self {
            at,
            trusted,
            kind,
            door,
            audience: SITE.into(),
            holder: None,
            credential: None,
            detail: detail.to_string(),
        }
    }

    /// The same record, belonging to `audience` (an authority's id).
    #[must_use]
    pub fn for_audience(mut self, audience: &str) -> Self {
        audience.clone_into(&mut self.audience);
        self
    }

    /// The audit event for an access decision.
    pub fn from_decision(d: &Decision, at: Timestamp) -> Self {
        let (kind, door, who, clock) = match d {
            Decision::Grant { door, who, clock, .. } => (EventKind::AccessGranted, Some(door.to_string()), who, clock),
            Decision::Deny { door, who, clock, .. } => {
                (EventKind::AccessDenied, door.as_ref().map(ToString::to_string), who, clock)
            }
        };
        let mut detail = serde_json::to_value(d).unwrap_or_default();
        if let Some(obj) = detail.as_object_mut() {
            for k in ["door", "who", "clock", "decision"] {
                obj.remove(k);
            }
        }
        Self {
            at,
            trusted: clock.is_trusted(),
            kind,
            door,
            // The credential's issuer; a decision without one (the door code, an unknown
            // tag) names no one and is the building's.
            audience: who.as_ref().and_then(|w| w.authority.as_ref()).map_or_else(|| SITE.into(), ToString::to_string),
            holder: who.as_ref().map(|w| w.holder.to_string()),
            credential: who.as_ref().map(|w| w.credential.to_string()),
            detail: detail.to_string(),
        }
    }
}

impl NewEvent {
    /// This record with `detail.<key>` set to `value` (say the issuer that signed the
    /// certificate a phone opened with).
    #[must_use]
    pub fn with_detail(mut self, key: &str, value: &str) -> Self {
        let mut detail: serde_json::Value =
            serde_json::from_str(&self.detail).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(obj) = detail.as_object_mut() {
            obj.insert(key.into(), serde_json::json!(value));
        }
        self.detail = detail.to_string();
        self
    }

    /// This grant's record turned into `access.strike_failed`, with why in `detail.strike`.
    #[must_use]
    pub fn strike_failed(mut self, why: &str) -> Self {
        self.kind = EventKind::AccessStrikeFailed;
        let mut detail: serde_json::Value =
            serde_json::from_str(&self.detail).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(obj) = detail.as_object_mut() {
            obj.insert("strike".into(), serde_json::json!(why));
        }
        self.detail = detail.to_string();
        self
    }
}

/// A stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Per-gateway sequence number, from 1, without gaps.
    pub seq: u64,
    /// The event.
    pub event: NewEvent,
    /// The previous record's hash.
    pub prev: [u8; 32],
    /// This record's hash.
    pub hash: [u8; 32],
    /// How it is hashed (format 1 or 2) and its personal part's seal.
    pub form: super::form::Form,
}

impl NewEvent {
    /// What the record's hash covers (`portvakt_wire::chain`).
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            at_ms: self.at.as_millisecond(),
            trusted: self.trusted,
            kind: self.kind.code(),
            door: self.door.as_deref(),
            holder: self.holder.as_deref(),
            credential: self.credential.as_deref(),
            detail: &self.detail,
        }
    }
}

/// The canonical bytes of a record (see `docs/audit.md`).
pub fn canonical(seq: u64, e: &NewEvent) -> Vec<u8> {
    portvakt_wire::chain::canonical(seq, &e.fields())
}

/// The hash of a record given the previous hash.
pub fn chain_hash(prev: &[u8; 32], seq: u64, e: &NewEvent) -> [u8; 32] {
    portvakt_wire::chain::chain_hash(prev, seq, &e.fields())
}

/// Where and how a chain is broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A sequence number is missing.
    #[error("record {expected} is missing (the next record is {found})")]
    Missing {
        /// The number expected.
        expected: u64,
        /// The number found.
        found: u64,
    },
    /// A record does not point at its predecessor's hash.
    #[error("record {seq} does not follow record {}: its previous-hash differs", .seq - 1)]
    Unlinked {
        /// The record.
        seq: u64,
    },
    /// A record's content does not match its hash (altered after writing).
    #[error("record {seq} was altered: its content does not match its hash")]
    Altered {
        /// The record.
        seq: u64,
    },
}

/// Verifies records in order, starting after `anchor` (the last pruned seq and its hash,
/// or `(0, GENESIS)`). Returns how many records were checked.
pub fn verify<R: std::borrow::Borrow<AuditRecord>>(
    anchor: (u64, [u8; 32]),
    records: impl IntoIterator<Item = R>,
) -> Result<u64, ChainBreak> {
    let (mut last_seq, mut last_hash) = anchor;
    let mut n = 0;
    for r in records {
        let r = r.borrow();
        if r.seq != last_seq + 1 {
            return Err(ChainBreak::Missing { expected: last_seq + 1, found: r.seq });
        }
        if r.prev != last_hash {
            return Err(ChainBreak::Unlinked { seq: r.seq });
        }
        if r.computed_hash() != r.hash || r.part_state() == super::form::PartState::Altered {
            return Err(ChainBreak::Altered { seq: r.seq });
        }
        last_seq = r.seq;
        last_hash = r.hash;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_record_kind_has_its_own_code_from_the_shared_list_and_is_found_by_it() {
        for (i, k) in KINDS.iter().enumerate() {
            assert!(!KINDS[..i].contains(k), "{k:?} twice");
            assert_eq!(EventKind::from_code(k.code()), Some(*k));
        }
    }

    fn event(i: i64) -> NewEvent {
        NewEvent {
            at: Timestamp::from_second(1_790_000_000 + i).unwrap_or(Timestamp::UNIX_EPOCH),
            trusted: true,
            kind: EventKind::AccessGranted,
            door: Some("entrance".into()),
            audience: "agaren".into(),
            holder: Some("anna".into()),
            credential: Some("anna-tag".into()),
            detail: r#"{"rule":"role"}"#.into(),
        }
    }

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut prev = GENESIS;
        (1..=n)
            .map(|seq| {
                let e = event(i64::try_from(seq).unwrap_or(0));
                let hash = chain_hash(&prev, seq, &e);
                let r = AuditRecord { seq, event: e, prev, hash, form: super::super::form::Form::V1 };
                prev = hash;
                r
            })
            .collect()
    }

    #[test]
    fn an_intact_chain_verifies() {
        assert_eq!(verify((0, GENESIS), chain(5)), Ok(5));
    }

    #[test]
    fn finds_an_altered_record_a_missing_one_and_a_relinked_one() {
        let mut c = chain(5);
        c[2].event.holder = Some("mallory".into());
        assert_eq!(verify((0, GENESIS), &c), Err(ChainBreak::Altered { seq: 3 }));
        let mut c = chain(5);
        c.remove(3);
        assert_eq!(verify((0, GENESIS), &c), Err(ChainBreak::Missing { expected: 4, found: 5 }));
        let mut c = chain(5);
        c[3].prev = [9; 32];
        assert_eq!(verify((0, GENESIS), &c), Err(ChainBreak::Unlinked { seq: 4 }));
    }

    #[test]
    fn a_pruned_chain_verifies_from_its_anchor() {
        let c = chain(6);
        assert_eq!(verify((3, c[2].hash), &c[3..]), Ok(3));
        assert!(verify((0, GENESIS), &c[3..]).is_err());
    }

    #[test]
    fn absent_and_empty_fields_encode_differently() {
        let mut a = event(0);
        let mut b = event(0);
        a.door = None;
        b.door = Some(String::new());
        assert_ne!(canonical(1, &a), canonical(1, &b));
    }

    #[test]
    fn the_format_2_encoding_matches_the_documented_test_vector() {
        // docs/audit.md, "Canonical bytes (format 2)".
        let e = NewEvent {
            at: Timestamp::from_millisecond(1_795_000_000_123).unwrap_or(Timestamp::UNIX_EPOCH),
            trusted: true,
            kind: EventKind::AccessGranted,
            door: Some("entrance".into()),
            audience: "kommunen".into(),
            holder: Some("hemtjanst-natt-5".into()),
            credential: Some("care-5".into()),
            detail: r#"{"rule":"role"}"#.into(),
        };
        let form = super::super::form::seal_for(&e, [1; 16]);
        let super::super::form::Form::V2 { commitment: Some(c), .. } = form else { panic!("a committed part") };
        assert_eq!(crate::core::hex::encode(&c), "47e4c17b102a676cbe618119e871d7d97563b2c28d93f650a21b4f676bf26915");
        let hash = super::super::form::hash_of(&GENESIS, 1, &e, &form);
        assert_eq!(crate::core::hex::encode(&hash), "a23448228e7626ff8938abf12d80aecc5a0df881f8f7c1f85517660cb2af4bc5");
    }

    #[test]
    fn the_canonical_encoding_matches_the_documented_test_vector() {
        // docs/audit.md, "Test vector".
        let e = NewEvent {
            at: Timestamp::from_millisecond(1_795_000_000_123).unwrap_or(Timestamp::UNIX_EPOCH),
            trusted: true,
            kind: EventKind::AccessDenied,
            door: Some("entrance".into()),
            audience: SITE.into(),
            holder: None,
            credential: None,
            detail: r#"{"reason":"outside_schedule"}"#.into(),
        };
        let hash = chain_hash(&GENESIS, 1, &e);
        assert_eq!(crate::core::hex::encode(&hash), TEST_VECTOR_HASH);
    }

    const TEST_VECTOR_HASH: &str = "35e912c7374bea2de3635d001d8a51eb296ae59eab64c552c4d758f45c28fb37";
}
