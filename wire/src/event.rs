//! One audit record on `events` (`docs/mqtt.md`): written by the gateway with
//! [`EventMessage`], read back by a collector with [`ReceivedEvent`]. `detail` travels as
//! the stored JSON text unchanged, so the receiver recomputes the record's hash from the
//! message alone and checks its link to the record before. `epoch` names the run of the
//! chain the record belongs to (a new store, or one restored from a backup, begins a new
//! one); it routes the record and is not covered by the hash.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::chain::{Fields, Header, chain_hash, header_hash};
use crate::hex;

/// The run of a site's chain a record belongs to: a store made anew (a box swapped, a
/// card reflashed) or restored from a backup begins a new one, so the collector keeps
/// the earlier run's records and takes the new run's numbers afresh. Absent on the wire
/// for the run a store began before epochs existed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Epoch {
    /// Its name: 32 lowercase hexadecimal digits, random when it began.
    pub id: String,
    /// The first record of the run (1 for a new store; after a restored backup, the
    /// first record the collector had not confirmed).
    pub from: u64,
}

impl Epoch {
    /// Whether `id` is a name an epoch can have (1 to 64 lowercase hexadecimal digits).
    pub fn valid_id(id: &str) -> bool {
        (1..=64).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    }
}

/// An `events` message as the gateway writes it.
#[derive(Debug, Serialize)]
pub struct EventMessage<'a> {
    /// The chain's run, if the store began one (see [`Epoch`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub epoch: Option<&'a Epoch>,
    /// The record's format: 2 (header, commitment, sealed personal part); absent for
    /// format 1 (holder and credential in clear, from before audiences).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub format: Option<u8>,
    /// Sequence number.
    pub seq: u64,
    /// When, RFC 3339 with milliseconds.
    pub at: String,
    /// Whether the clock was trusted then.
    pub trusted: bool,
    /// What happened (`access.granted`).
    pub kind: &'a str,
    /// The door, if any.
    pub door: Option<&'a str>,
    /// Whose the record is (format 2): an authority's id, or `site`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<&'a str>,
    /// The holder, if any (format 1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<&'a str>,
    /// The credential id, if any (format 1 only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credential: Option<&'a str>,
    /// The commitment to the personal part (format 2, hex), if the record has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commitment: Option<String>,
    /// The personal part sealed to the audience's reading key (`personal`, hex), when it
    /// has one and the part is still held.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub personal: Option<String>,
    /// Details (a JSON object).
    pub detail: Detail<'a>,
    /// The previous record's hash (hex).
    pub prev: String,
    /// This record's hash (hex).
    pub hash: String,
}

/// A record's detail: the stored JSON as it is, or (never for records a gateway wrote)
/// the text as a JSON string when it is not JSON.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Detail<'a> {
    /// Stored JSON, byte for byte.
    Json(&'a RawValue),
    /// Stored text that is not JSON.
    Text(&'a str),
}

impl<'a> Detail<'a> {
    /// The detail for stored text.
    pub fn of(stored: &'a str) -> Self {
        serde_json::from_str::<&RawValue>(stored).map_or(Detail::Text(stored), Detail::Json)
    }
}

impl EventMessage<'_> {
    /// The message's bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// Why an `events` message cannot be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// Not the JSON of an event message.
    #[error("not an events message: {0}")]
    Malformed(String),
    /// `at` is not an RFC 3339 time.
    #[error("record {seq}: \"at\" is not an RFC 3339 time: {at}")]
    BadTime {
        /// The record.
        seq: u64,
        /// What came.
        at: String,
    },
    /// `prev` or `hash` is not 64 hexadecimal digits.
    #[error("record {seq}: \"{field}\" is not 64 hexadecimal digits")]
    BadHash {
        /// The record.
        seq: u64,
        /// Which field.
        field: &'static str,
    },
    /// `epoch` is not an epoch (its id not 1 to 64 lowercase hexadecimal digits, or
    /// `from` past the record itself or 0).
    #[error("record {seq}: \"epoch\" is not an epoch: {why}")]
    BadEpoch {
        /// The record.
        seq: u64,
        /// What is wrong.
        why: String,
    },
    /// The fields do not belong together (a format 2 record with a holder in clear, one
    /// without an audience, a sealed part without a commitment, an unknown format).
    #[error("record {seq}: {why}")]
    Inconsistent {
        /// The record.
        seq: u64,
        /// What is wrong.
        why: &'static str,
    },
    /// The content does not hash to `hash`: altered on the way, or forged.
    #[error("record {seq}: its content does not match its hash")]
    Altered {
        /// The record.
        seq: u64,
    },
}

#[derive(Deserialize)]
struct Raw<'a> {
    #[serde(default)]
    epoch: Option<Epoch>,
    #[serde(default)]
    format: Option<u8>,
    seq: u64,
    at: String,
    trusted: bool,
    kind: String,
    door: Option<String>,
    #[serde(default)]
    audience: Option<String>,
    #[serde(default)]
    holder: Option<String>,
    #[serde(default)]
    credential: Option<String>,
    #[serde(default)]
    commitment: Option<String>,
    #[serde(default)]
    personal: Option<String>,
    #[serde(borrow)]
    detail: &'a RawValue,
    prev: String,
    hash: String,
}

/// An `events` message as received, its hash checked against its content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedEvent {
    /// The chain's run, if the store began one.
    pub epoch: Option<Epoch>,
    /// 1 or 2 (see [`EventMessage::format`]).
    pub format: u8,
    /// Whose the record is (format 2).
    pub audience: Option<String>,
    /// The commitment to its personal part (format 2), if it has one.
    pub commitment: Option<[u8; 32]>,
    /// Its personal part, sealed to the audience's reading key, if it came.
    pub sealed: Option<Vec<u8>>,
    /// Sequence number.
    pub seq: u64,
    /// When, milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Whether the gateway's clock was trusted then.
    pub trusted: bool,
    /// The kind's code.
    pub kind: String,
    /// The door, if any.
    pub door: Option<String>,
    /// The holder, if any (format 1; for format 2, whoever opened the sealed part).
    pub holder: Option<String>,
    /// The credential id, if any (format 1; for format 2, as opened).
    pub credential: Option<String>,
    /// The detail as stored on the gateway (what the hash covers).
    pub detail: String,
    /// The previous record's hash.
    pub prev: [u8; 32],
    /// This record's hash.
    pub hash: [u8; 32],
}

impl ReceivedEvent {
    /// Reads a message and checks that its content hashes to its `hash` (the link to the
    /// record before is the receiver's to check, against what it holds).
    pub fn parse(payload: &[u8]) -> Result<Self, EventError> {
        let raw: Raw<'_> = serde_json::from_slice(payload).map_err(|e| EventError::Malformed(e.to_string()))?;
        let seq = raw.seq;
        let at_ms = raw
            .at
            .parse::<jiff::Timestamp>()
            .map_err(|_| EventError::BadTime { seq, at: raw.at.clone() })?
            .as_millisecond();
        let prev = hex::decode32(&raw.prev).ok_or(EventError::BadHash { seq, field: "prev" })?;
        let hash = hex::decode32(&raw.hash).ok_or(EventError::BadHash { seq, field: "hash" })?;
        if let Some(e) = &raw.epoch {
            let why = if !Epoch::valid_id(&e.id) {
                Some("its id is not 1 to 64 lowercase hexadecimal digits".to_owned())
            } else if e.from == 0 || e.from > seq {
                Some(format!("it begins at record {}, which is not 1 to {seq}", e.from))
            } else {
                None
            };
            if let Some(why) = why {
                return Err(EventError::BadEpoch { seq, why });
            }
        }
        let format = raw.format.unwrap_or(1);
        let inconsistent = |why| Err(EventError::Inconsistent { seq, why });
        let commitment = match raw.commitment.as_deref().map(hex::decode32) {
            None => None,
            Some(Some(c)) => Some(c),
            Some(None) => return Err(EventError::BadHash { seq, field: "commitment" }),
        };
        let sealed = match raw.personal.as_deref().map(hex::decode) {
            None => None,
            Some(Some(b)) => Some(b),
            Some(None) => return inconsistent("\"personal\" is not hexadecimal"),
        };
        match format {
            1 if raw.audience.is_some() || commitment.is_some() || sealed.is_some() => {
                return inconsistent("a format 1 record has no audience, commitment or sealed part");
            }
            2 if raw.holder.is_some() || raw.credential.is_some() => {
                return inconsistent("a format 2 record names no holder or credential in clear");
            }
            2 if raw.audience.is_none() => return inconsistent("a format 2 record has an audience"),
            2 if sealed.is_some() && commitment.is_none() => {
                return inconsistent("a sealed part needs the commitment it is held to");
            }
            1 | 2 => {}
            _ => return inconsistent("an unknown format (this reader knows 1 and 2)"),
        }
        let mut event = Self {
            epoch: raw.epoch,
            format,
            audience: raw.audience,
            commitment,
            sealed,
            seq,
            at_ms,
            trusted: raw.trusted,
            kind: raw.kind,
            door: raw.door,
            holder: raw.holder,
            credential: raw.credential,
            detail: raw.detail.get().to_owned(),
            prev,
            hash,
        };
        if event.computed_hash() != hash {
            // A stored detail that was not JSON travels as a JSON string of its text.
            match serde_json::from_str::<String>(raw.detail.get()) {
                Ok(text) if event.hash_with_detail(&text) == hash => event.detail = text,
                _ => return Err(EventError::Altered { seq }),
            }
        }
        Ok(event)
    }

    /// What a format 1 record's hash covers.
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            at_ms: self.at_ms,
            trusted: self.trusted,
            kind: &self.kind,
            door: self.door.as_deref(),
            holder: self.holder.as_deref(),
            credential: self.credential.as_deref(),
            detail: &self.detail,
        }
    }

    /// What a format 2 record's hash covers.
    pub fn header(&self) -> Header<'_> {
        Header {
            at_ms: self.at_ms,
            trusted: self.trusted,
            kind: &self.kind,
            door: self.door.as_deref(),
            audience: self.audience.as_deref().unwrap_or_default(),
            commitment: self.commitment.as_ref(),
            detail: &self.detail,
        }
    }

    /// The hash of this content after `prev`, by its format.
    pub fn computed_hash(&self) -> [u8; 32] {
        self.hash_with_detail(&self.detail)
    }

    fn hash_with_detail(&self, detail: &str) -> [u8; 32] {
        if self.format == 2 {
            header_hash(&self.prev, self.seq, &Header { detail, ..self.header() })
        } else {
            chain_hash(&self.prev, self.seq, &Fields { detail, ..self.fields() })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::GENESIS;

    fn message(detail: &str) -> Vec<u8> {
        let fields = Fields {
            at_ms: 1_795_000_000_481,
            trusted: true,
            kind: "access.granted",
            door: Some("entrance"),
            holder: Some("hemtjanst-natt-5"),
            credential: Some("care-5"),
            detail,
        };
        let hash = chain_hash(&GENESIS, 1, &fields);
        EventMessage {
            epoch: None,
            format: None,
            audience: None,
            commitment: None,
            personal: None,
            seq: 1,
            at: format!("{:.3}", jiff::Timestamp::from_millisecond(fields.at_ms).unwrap()),
            trusted: true,
            kind: fields.kind,
            door: fields.door,
            holder: fields.holder,
            credential: fields.credential,
            detail: Detail::of(detail),
            prev: hex::encode(&GENESIS),
            hash: hex::encode(&hash),
        }
        .to_bytes()
    }

    #[test]
    fn a_message_the_gateway_wrote_is_read_back_with_its_hash_checked_and_detail_byte_for_byte() {
        let detail = r#"{"rule":"role",  "pulse":5000}"#;
        let e = ReceivedEvent::parse(&message(detail)).unwrap();
        assert_eq!((e.seq, e.at_ms, e.detail.as_str()), (1, 1_795_000_000_481, detail));
        assert_eq!(e.computed_hash(), e.hash);
    }

    #[test]
    fn an_epoch_travels_beside_the_record_outside_its_hash_and_a_bad_one_is_refused() {
        let plain = String::from_utf8(message("{}")).unwrap();
        let with = |epoch: &str| plain.replacen('{', &format!("{{\"epoch\":{epoch},"), 1);
        let e = ReceivedEvent::parse(with(r#"{"id":"0a1b","from":1}"#).as_bytes()).unwrap();
        assert_eq!(e.epoch, Some(Epoch { id: "0a1b".into(), from: 1 }));
        assert_eq!(ReceivedEvent::parse(plain.as_bytes()).unwrap().epoch, None);
        for bad in
            [r#"{"id":"0A1B","from":1}"#, r#"{"id":"","from":1}"#, r#"{"id":"ab","from":2}"#, r#"{"id":"ab","from":0}"#]
        {
            assert!(matches!(ReceivedEvent::parse(with(bad).as_bytes()), Err(EventError::BadEpoch { .. })), "{bad}");
        }
        assert!(matches!(
            ReceivedEvent::parse(with(r#"{"id":"ab","from":1,"x":1}"#).as_bytes()),
            Err(EventError::Malformed(_))
        ));
    }

    fn message_v2(audience: &str, personal: Option<&str>) -> Vec<u8> {
        let c = [0xcc; 32];
        let header = Header {
            at_ms: 1_795_000_000_481,
            trusted: true,
            kind: "access.granted",
            door: Some("entrance"),
            audience,
            commitment: Some(&c),
            detail: "{}",
        };
        let hash = header_hash(&GENESIS, 1, &header);
        EventMessage {
            epoch: None,
            format: Some(2),
            seq: 1,
            at: format!("{:.3}", jiff::Timestamp::from_millisecond(header.at_ms).unwrap()),
            trusted: true,
            kind: header.kind,
            door: header.door,
            audience: Some(audience),
            holder: None,
            credential: None,
            commitment: Some(hex::encode(&c)),
            personal: personal.map(str::to_owned),
            detail: Detail::of("{}"),
            prev: hex::encode(&GENESIS),
            hash: hex::encode(&hash),
        }
        .to_bytes()
    }

    #[test]
    fn a_format_2_record_verifies_from_its_header_and_names_no_one_in_clear() {
        let bytes = message_v2("hemtjansten", Some("00ff"));
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert!(!text.contains("holder") && !text.contains("credential"), "{text}");
        let e = ReceivedEvent::parse(&bytes).unwrap();
        assert_eq!(
            (e.format, e.audience.as_deref(), e.sealed.as_deref()),
            (2, Some("hemtjansten"), Some(&[0, 255][..]))
        );
        assert_eq!(e.commitment, Some([0xcc; 32]));
        let moved = text.replace("hemtjansten", "agaren");
        assert_eq!(
            ReceivedEvent::parse(moved.as_bytes()),
            Err(EventError::Altered { seq: 1 }),
            "the audience is hashed"
        );
        let with_holder = text.replacen('{', "{\"holder\":\"x\",", 1);
        assert!(matches!(ReceivedEvent::parse(with_holder.as_bytes()), Err(EventError::Inconsistent { .. })));
        let no_audience = text.replace("\"audience\":\"hemtjansten\",", "");
        assert!(matches!(ReceivedEvent::parse(no_audience.as_bytes()), Err(EventError::Inconsistent { .. })));
        let v3 = text.replace("\"format\":2", "\"format\":3");
        assert!(matches!(ReceivedEvent::parse(v3.as_bytes()), Err(EventError::Inconsistent { .. })));
    }

    #[test]
    fn a_stored_detail_that_is_not_json_travels_as_a_string_and_still_verifies() {
        let e = ReceivedEvent::parse(&message("not json")).unwrap();
        assert_eq!(e.detail, "not json");
    }

    #[test]
    fn an_altered_record_and_garbage_are_refused_with_what_is_wrong() {
        let altered = String::from_utf8(message("{}")).unwrap().replace("entrance", "rubbish");
        assert_eq!(ReceivedEvent::parse(altered.as_bytes()), Err(EventError::Altered { seq: 1 }));
        assert!(matches!(ReceivedEvent::parse(b"{\"seq\":1}"), Err(EventError::Malformed(_))));
        let bad_time = String::from_utf8(message("{}")).unwrap().replace("2026", "20x6");
        assert!(matches!(ReceivedEvent::parse(bad_time.as_bytes()), Err(EventError::BadTime { .. })));
    }
}
