//! The messages of a BLE door opening and the bytes a phone signs. Bodies use the
//! credentials' byte layout (`portvakt_wire::bytes`): big-endian integers, strings as a u16
//! length and UTF-8, keys, nonces and signatures as raw bytes. Decoding is strict: every
//! field is checked and nothing may follow the end. Layout and test vectors in
//! `docs/ble-protocol.md`.

use portvakt_wire::bytes::{Reader, WireError, Writer};
use portvakt_wire::phone_key::{P256_KEY_LEN, PhonePublicKey};

use crate::frame::frame;

/// Message type: the phone asks to open a door.
pub const OPEN: u8 = 1;
/// Message type: the gateway's challenge.
pub const CHALLENGE: u8 = 2;
/// Message type: the phone's signed answer.
pub const PROOF: u8 = 3;
/// Message type: the gateway's verdict.
pub const RESULT: u8 = 4;
/// Message type: the phone asks to open a door, naming a P-256 key (65 bytes). A gateway
/// that predates it answers `malformed`; Ed25519 phones keep sending type 1.
pub const OPEN_P256: u8 = 5;

/// What a phone signs before the nonce, site and door: a fixed context, so a signature
/// made for this purpose is never valid for another.
pub const SIGNING_CONTEXT: &[u8] = b"portvakt/ble-open/v1";

/// Longest door id accepted in a message.
pub const MAX_DOOR: usize = 64;

/// Largest certificate envelope an open request can carry whatever the door and key:
/// the message body less tag (8), the longest door (2 + 64), a P-256 key (65), the
/// presence byte and the certificate's length (1 + 4).
pub const MAX_CERTIFICATE: usize = crate::frame::MAX_BODY - (8 + 2 + MAX_DOOR + 65 + 1 + 4);

/// The phone asks to open `door`, naming its key, and may present a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    /// Chosen at random by the phone and echoed in the challenge and the verdict: over the
    /// radio notifications reach every subscribed phone, and each keeps only its own.
    pub tag: [u8; 8],
    /// The door's id.
    pub door: String,
    /// The phone's public key: Ed25519 travels in type 1, P-256 in type 5.
    pub key: PhonePublicKey,
    /// A phone certificate (a whole signed envelope), when the phone has one.
    pub certificate: Option<Vec<u8>>,
}

/// The gateway's challenge: a fresh nonce bound to the site, the door and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The open request's tag.
    pub tag: [u8; 8],
    /// Random, single use.
    pub nonce: [u8; 16],
    /// This gateway's site.
    pub site: String,
    /// The door asked for.
    pub door: String,
    /// Gateway time at issue, milliseconds since the Unix epoch.
    pub issued_ms: i64,
    /// How long the nonce is valid, in milliseconds.
    pub valid_ms: u32,
}

/// The phone's answer: the door it signed for and its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proof {
    /// The door the phone signed for.
    pub door: String,
    /// Over [`signed_bytes`]: Ed25519, or ECDSA P-256 as `r | s`.
    pub signature: [u8; 64],
}

/// The gateway's verdict on an exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict {
    /// The open request's tag (zero when no open request was read).
    pub tag: [u8; 8],
    /// What the phone shows its holder.
    pub code: Code,
}

/// What the phone shows its holder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// The door opens.
    Granted = 0,
    /// The frames did not make a well-formed message.
    Malformed = 1,
    /// A message out of turn: a proof with no challenge open (replayed, or sent twice).
    NoChallenge = 2,
    /// The nonce expired before the proof came (or the clock moved).
    Stale = 3,
    /// The proof names another door than the challenge.
    WrongDoor = 4,
    /// The signature does not verify with the phone's key.
    BadSignature = 5,
    /// Too many attempts from this phone: wait.
    RateLimited = 6,
    /// Too many phones at once: try again.
    Busy = 7,
    /// No such door at this gateway.
    UnknownDoor = 8,
    /// The key is in no allowlist and no certificate came with it.
    UnknownKey = 9,
    /// The key or certificate is revoked.
    Revoked = 10,
    /// The certificate does not verify (signer, signature, site, layout).
    BadCertificate = 11,
    /// The credential or certificate is not valid now.
    NotValidNow = 12,
    /// The credential does not include this door.
    NotInScope = 13,
    /// Not at this time (schedules, no booking).
    NotNow = 14,
    /// The door is in lockdown.
    Lockdown = 15,
    /// Refused for another reason (role, clock policy).
    Refused = 16,
    /// The gateway cannot decide now (stopping).
    Unavailable = 17,
    /// Granted, but the relay board did not confirm the strike released: the door may
    /// not open (the fault is audited; try again or use the key).
    DoorFault = 18,
}

impl Code {
    const ALL: [Self; 19] = [
        Self::Granted,
        Self::Malformed,
        Self::NoChallenge,
        Self::Stale,
        Self::WrongDoor,
        Self::BadSignature,
        Self::RateLimited,
        Self::Busy,
        Self::UnknownDoor,
        Self::UnknownKey,
        Self::Revoked,
        Self::BadCertificate,
        Self::NotValidNow,
        Self::NotInScope,
        Self::NotNow,
        Self::Lockdown,
        Self::Refused,
        Self::Unavailable,
        Self::DoorFault,
    ];

    /// The code for a byte, if there is one.
    pub fn from_byte(b: u8) -> Option<Self> {
        Self::ALL.get(usize::from(b)).copied()
    }

    /// A stable `snake_case` word for audit records and tools.
    pub fn word(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Malformed => "malformed",
            Self::NoChallenge => "no_challenge",
            Self::Stale => "stale",
            Self::WrongDoor => "wrong_door",
            Self::BadSignature => "bad_signature",
            Self::RateLimited => "rate_limited",
            Self::Busy => "busy",
            Self::UnknownDoor => "unknown_door",
            Self::UnknownKey => "unknown_key",
            Self::Revoked => "revoked",
            Self::BadCertificate => "bad_certificate",
            Self::NotValidNow => "not_valid_now",
            Self::NotInScope => "not_in_scope",
            Self::NotNow => "not_now",
            Self::Lockdown => "lockdown",
            Self::Refused => "refused",
            Self::Unavailable => "unavailable",
            Self::DoorFault => "door_fault",
        }
    }
}

/// One message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// Phone → gateway.
    Open(Open),
    /// Gateway → phone.
    Challenge(Challenge),
    /// Phone → gateway.
    Proof(Proof),
    /// Gateway → phone.
    Result(Verdict),
}

/// Why a message body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// A type byte this version does not have.
    #[error("unknown message type {0}")]
    UnknownType(u8),
    /// The body does not match the type's layout.
    #[error("{kind} body {error}")]
    Body {
        /// The message type.
        kind: &'static str,
        /// Where and what.
        error: WireError,
    },
}

fn door(r: &mut Reader<'_>) -> Result<String, WireError> {
    let d = r.str("door")?;
    if d.is_empty() || d.len() > MAX_DOOR {
        return Err(r.error(format!("door id of {} bytes; 1 to {MAX_DOOR} expected", d.len())));
    }
    // A door id is a configured id: never a control character (a NUL would follow it into
    // the audit record and the fleet's database).
    if d.chars().any(char::is_control) {
        return Err(r.error(String::from("a door id with a control character")));
    }
    Ok(d)
}

impl Message {
    /// The type byte.
    pub fn kind(&self) -> u8 {
        match self {
            Self::Open(Open { key: PhonePublicKey::Ed25519(_), .. }) => OPEN,
            Self::Open(Open { key: PhonePublicKey::P256(_), .. }) => OPEN_P256,
            Self::Challenge(_) => CHALLENGE,
            Self::Proof(_) => PROOF,
            Self::Result(_) => RESULT,
        }
    }

    fn name(kind: u8) -> &'static str {
        match kind {
            OPEN => "open",
            OPEN_P256 => "open (P-256)",
            CHALLENGE => "challenge",
            PROOF => "proof",
            _ => "result",
        }
    }

    /// The body bytes.
    pub fn body(&self) -> Vec<u8> {
        let mut w = Writer::default();
        match self {
            Self::Open(o) => {
                w.raw(&o.tag);
                w.str(&o.door);
                match &o.key {
                    PhonePublicKey::Ed25519(k) => w.bytes32(k),
                    PhonePublicKey::P256(k) => w.raw(k),
                }
                match &o.certificate {
                    None => w.u8(0),
                    Some(c) => {
                        w.u8(1);
                        w.blob(c);
                    }
                }
            }
            Self::Challenge(c) => {
                w.raw(&c.tag);
                w.raw(&c.nonce);
                w.str(&c.site);
                w.str(&c.door);
                w.i64(c.issued_ms);
                w.u32(c.valid_ms);
            }
            Self::Proof(p) => {
                w.str(&p.door);
                w.raw(&p.signature);
            }
            Self::Result(v) => {
                w.raw(&v.tag);
                w.u8(v.code as u8);
            }
        }
        w.0
    }

    /// The whole framed message (header and body), ready to fragment.
    pub fn encode(&self) -> Vec<u8> {
        frame(self.kind(), &self.body())
    }

    /// Reads a body of the given type.
    pub fn decode(kind: u8, body: &[u8]) -> Result<Self, MessageError> {
        let mut r = Reader::new(body);
        let read = |r: &mut Reader<'_>| -> Result<Self, WireError> {
            let m = match kind {
                OPEN | OPEN_P256 => {
                    let tag = r.array("tag")?;
                    let door = door(r)?;
                    let key = if kind == OPEN {
                        PhonePublicKey::Ed25519(r.bytes32("phone key")?)
                    } else {
                        let raw: [u8; P256_KEY_LEN] = r.array("P-256 phone key")?;
                        PhonePublicKey::p256(&raw)
                            .ok_or_else(|| r.error("P-256 phone key: not uncompressed (0x04 | x | y)"))?
                    };
                    let certificate = match r.u8("certificate present")? {
                        0 => None,
                        1 => Some(r.blob("certificate")?.to_vec()),
                        other => return Err(r.error(format!("certificate present byte {other}, expected 0 or 1"))),
                    };
                    Self::Open(Open { tag, door, key, certificate })
                }
                CHALLENGE => Self::Challenge(Challenge {
                    tag: r.array("tag")?,
                    nonce: r.array("nonce")?,
                    site: r.str("site")?,
                    door: door(r)?,
                    issued_ms: r.i64("issued")?,
                    valid_ms: r.u32("valid for")?,
                }),
                PROOF => Self::Proof(Proof { door: door(r)?, signature: r.array("signature")? }),
                _ => {
                    let tag = r.array("tag")?;
                    let b = r.u8("code")?;
                    let code = Code::from_byte(b).ok_or_else(|| r.error(format!("unknown result code {b}")))?;
                    Self::Result(Verdict { tag, code })
                }
            };
            r.finish()?;
            Ok(m)
        };
        if !(OPEN..=OPEN_P256).contains(&kind) {
            return Err(MessageError::UnknownType(kind));
        }
        read(&mut r).map_err(|error| MessageError::Body { kind: Self::name(kind), error })
    }
}

/// The bytes a phone signs to open `door` at `site` with `nonce`:
/// [`SIGNING_CONTEXT`] `| nonce (16) | site (u16 length, UTF-8) | door (u16 length, UTF-8)`.
pub fn signed_bytes(nonce: &[u8; 16], site: &str, door: &str) -> Vec<u8> {
    let mut w = Writer::default();
    w.raw(SIGNING_CONTEXT);
    w.raw(nonce);
    w.str(site);
    w.str(door);
    w.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(m: &Message) {
        let framed = m.encode();
        assert_eq!(Message::decode(framed[1], &framed[4..]).as_ref(), Ok(m));
    }

    #[test]
    fn every_message_reads_back_as_written() {
        round_trip(&Message::Open(Open {
            tag: [3; 8],
            door: "entrance".into(),
            key: PhonePublicKey::Ed25519([9; 32]),
            certificate: None,
        }));
        round_trip(&Message::Open(Open {
            tag: [3; 8],
            door: "entrance".into(),
            key: PhonePublicKey::Ed25519([9; 32]),
            certificate: Some(vec![1, 2, 3]),
        }));
        let mut p256 = [4u8; P256_KEY_LEN];
        p256[1] = 7;
        let p256 = PhonePublicKey::p256(&p256).unwrap_or(PhonePublicKey::Ed25519([0; 32]));
        let open = Message::Open(Open { tag: [3; 8], door: "entrance".into(), key: p256, certificate: None });
        assert_eq!(open.kind(), OPEN_P256);
        round_trip(&open);
        round_trip(&Message::Challenge(Challenge {
            tag: [3; 8],
            nonce: [5; 16],
            site: "brf-eken".into(),
            door: "entrance".into(),
            issued_ms: 1_764_000_000_000,
            valid_ms: 5000,
        }));
        round_trip(&Message::Proof(Proof { door: "entrance".into(), signature: [4; 64] }));
        for code in Code::ALL {
            round_trip(&Message::Result(Verdict { tag: [3; 8], code }));
            assert_eq!(Code::from_byte(code as u8), Some(code));
        }
    }

    #[test]
    fn trailing_bytes_bad_flags_unknown_types_and_long_doors_are_refused() {
        let mut open = Message::Open(Open {
            tag: [3; 8],
            door: "entrance".into(),
            key: PhonePublicKey::Ed25519([9; 32]),
            certificate: None,
        })
        .body();
        open.push(0);
        assert!(Message::decode(OPEN, &open).unwrap_err().to_string().contains("unexpected bytes"));
        let mut flag = Message::Open(Open {
            tag: [3; 8],
            door: "e".into(),
            key: PhonePublicKey::Ed25519([9; 32]),
            certificate: None,
        })
        .body();
        *flag.last_mut().unwrap() = 2;
        assert!(Message::decode(OPEN, &flag).is_err());
        assert_eq!(Message::decode(9, &[]), Err(MessageError::UnknownType(9)));
        let mut compressed = Message::Open(Open {
            tag: [3; 8],
            door: "e".into(),
            key: PhonePublicKey::P256([4; 65]),
            certificate: None,
        })
        .body();
        compressed[11] = 2; // the key's first byte, after tag (8) and door (2 + 1)
        assert!(Message::decode(OPEN_P256, &compressed).unwrap_err().to_string().contains("not uncompressed"));
        let long = Message::Proof(Proof { door: "x".repeat(65), signature: [0; 64] }).body();
        assert!(Message::decode(PROOF, &long).unwrap_err().to_string().contains("door id of 65 bytes"));
        assert!(
            Message::decode(RESULT, &[0, 0, 0, 0, 0, 0, 0, 0, 200])
                .unwrap_err()
                .to_string()
                .contains("unknown result code 200")
        );
        assert!(Message::decode(PROOF, &[0, 1, b'e', 1, 2]).unwrap_err().to_string().contains("signature"));
    }
}
