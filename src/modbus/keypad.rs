//! The Portvakt keypad profile (docs/modbus-keypad.md): decoding one poll of the panel's
//! input registers into its heartbeat and oldest waiting entry, and the registers the
//! gateway writes back (acknowledge, feedback). Pure; a reply that does not fit the map is
//! an error naming the register, never a panic.

use std::fmt::Write as _;

use crate::core::credential::Token;
use crate::core::secret::CredentialKey;

/// Input registers read per poll (addresses 0 to 11: the map with the entry's age).
pub const POLL_REGISTERS: u16 = 12;
/// Input registers of panels of the first map (addresses 0 to 10: no entry age).
pub const POLL_REGISTERS_V1: u16 = 11;
/// A heartbeat unchanged for this long means the panel is hung (docs/modbus-keypad.md).
pub const HEARTBEAT_STALE: std::time::Duration = std::time::Duration::from_secs(3);
/// Holding register the gateway writes the acknowledged sequence to.
pub const ACK_REGISTER: u16 = 0;
/// Holding register of the feedback (followed by its duration).
pub const FEEDBACK_REGISTER: u16 = 1;

/// What a person entered at the panel.
#[derive(Clone, PartialEq, Eq)]
pub enum Entered {
    /// Digits typed (a PIN or the door code).
    Digits(String),
    /// A tag's UID, as upper-case hex.
    Tag(String),
}

impl std::fmt::Debug for Entered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            // Never print a PIN, not even in debug output.
            Self::Digits(d) => write!(f, "Digits({} digits)", d.len()),
            Self::Tag(t) => write!(f, "Tag({t})"),
        }
    }
}

impl Entered {
    /// The token to decide with (digits and UIDs are hashed at once).
    pub fn token(&self, key: &CredentialKey) -> Token {
        match self {
            Self::Digits(d) => Token::Pin(key.pin(d)),
            Self::Tag(t) => Token::Tag(key.tag(t)),
        }
    }
}

/// One poll of the panel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanelPoll {
    /// The heartbeat counter.
    pub heartbeat: u16,
    /// Entries waiting.
    pub queue_depth: u16,
    /// The oldest waiting entry and its sequence number.
    pub entry: Option<(u16, Entered)>,
    /// Seconds since the oldest waiting entry was made (saturating at 65535); `None` from
    /// a panel of the first map, which cannot tell.
    pub entry_age_secs: Option<u16>,
}

/// A reply that does not fit the keypad map.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad keypad reply at register {register}: {what}")]
pub struct BadReply {
    /// The register (protocol address).
    pub register: u16,
    /// What is wrong.
    pub what: String,
}

fn bad(register: u16, what: impl Into<String>) -> BadReply {
    BadReply { register, what: what.into() }
}

/// Decodes registers 0 to 11 (or 0 to 10 from a panel of the first map).
pub fn decode_poll(regs: &[u16]) -> Result<PanelPoll, BadReply> {
    if regs.len() != usize::from(POLL_REGISTERS) && regs.len() != usize::from(POLL_REGISTERS_V1) {
        return Err(bad(0, format!("{} registers, expected {POLL_REGISTERS} (or {POLL_REGISTERS_V1})", regs.len())));
    }
    let entry_age_secs = regs.get(11).copied();
    let regs = &regs[..usize::from(POLL_REGISTERS_V1)];
    let (heartbeat, queue_depth, seq, kind, len) = (regs[0], regs[1], regs[2], regs[3], regs[4]);
    if queue_depth > 8 {
        return Err(bad(1, format!("queue depth {queue_depth}, at most 8")));
    }
    let bytes: Vec<u8> = regs[5..].iter().flat_map(|r| r.to_be_bytes()).collect();
    let entry = match (queue_depth, kind) {
        (0, _) => None,
        (_, 1) => {
            if !(1..=12).contains(&len) {
                return Err(bad(4, format!("{len} digits, expected 1 to 12")));
            }
            let digits = &bytes[..usize::from(len)];
            if let Some(i) = digits.iter().position(|b| !b.is_ascii_digit()) {
                let register = 5 + u16::try_from(i / 2).unwrap_or(0);
                return Err(bad(register, format!("byte {:#04x} is not a digit", digits[i])));
            }
            Some((seq, Entered::Digits(String::from_utf8_lossy(digits).into_owned())))
        }
        (_, 2) => {
            if !(4..=10).contains(&len) {
                return Err(bad(4, format!("{len} UID bytes, expected 4 to 10")));
            }
            let uid = bytes[..usize::from(len)].iter().fold(String::new(), |mut s, b| {
                let _ = write!(s, "{b:02X}");
                s
            });
            Some((seq, Entered::Tag(uid)))
        }
        (_, other) => return Err(bad(3, format!("entry kind {other}, expected 1 (digits) or 2 (tag)"))),
    };
    Ok(PanelPoll { heartbeat, queue_depth, entry_age_secs: entry.as_ref().and(entry_age_secs), entry })
}

/// Feedback shown on the panel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feedback {
    /// Green.
    Granted,
    /// Red.
    Refused,
    /// Red blinking.
    LockedOut,
    /// The gateway has a fault.
    Fault,
}

/// The feedback and duration registers (addresses 1 and 2).
pub fn feedback_registers(f: Feedback, tenths: u16) -> [u16; 2] {
    let code = match f {
        Feedback::Granted => 1,
        Feedback::Refused => 2,
        Feedback::LockedOut => 3,
        Feedback::Fault => 4,
    };
    [code, tenths]
}

/// Encodes a panel state as its input registers of the current map, the oldest entry
/// `age_secs` old (the simulator, and tests).
pub fn encode_poll_aged(heartbeat: u16, queue_depth: u16, entry: Option<(u16, &Entered)>, age_secs: u16) -> [u16; 12] {
    let mut regs = [0u16; 12];
    regs[..11].copy_from_slice(&encode_poll(heartbeat, queue_depth, entry));
    regs[11] = if entry.is_some() { age_secs } else { 0 };
    regs
}

/// Encodes a panel state as its input registers of the first map (no entry age).
pub fn encode_poll(heartbeat: u16, queue_depth: u16, entry: Option<(u16, &Entered)>) -> [u16; 11] {
    let mut regs = [0u16; 11];
    regs[0] = heartbeat;
    regs[1] = queue_depth;
    if let Some((seq, e)) = entry {
        let (kind, data): (u16, Vec<u8>) = match e {
            Entered::Digits(d) => (1, d.bytes().collect()),
            Entered::Tag(t) => {
                (2, (0..t.len() / 2).filter_map(|i| u8::from_str_radix(t.get(2 * i..2 * i + 2)?, 16).ok()).collect())
            }
        };
        regs[2] = seq;
        regs[3] = kind;
        regs[4] = u16::try_from(data.len().min(12)).unwrap_or(12);
        for (i, pair) in data.chunks(2).take(6).enumerate() {
            regs[5 + i] = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        }
    }
    regs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_typed_digits_and_tags_and_an_empty_queue() {
        let pin = Entered::Digits("2580".into());
        assert_eq!(
            decode_poll(&encode_poll(7, 1, Some((42, &pin)))),
            Ok(PanelPoll { heartbeat: 7, queue_depth: 1, entry: Some((42, pin)), entry_age_secs: None })
        );
        let tag = Entered::Tag("04A2197F".into());
        assert_eq!(decode_poll(&encode_poll(8, 2, Some((43, &tag)))).map(|p| p.entry), Ok(Some((43, tag))));
        assert_eq!(decode_poll(&encode_poll(9, 0, None)).map(|p| p.entry), Ok(None));
    }

    #[test]
    fn refuses_replies_that_do_not_fit_the_map_naming_the_register() {
        assert_eq!(decode_poll(&[0; 5]).map_err(|e| e.register), Err(0));
        let mut r = encode_poll(1, 1, Some((1, &Entered::Digits("12".into()))));
        r[3] = 9;
        assert_eq!(decode_poll(&r).map_err(|e| e.register), Err(3));
        r[3] = 1;
        r[4] = 13;
        assert_eq!(decode_poll(&r).map_err(|e| e.register), Err(4));
        r[4] = 4;
        r[6] = u16::from_be_bytes([b'x', b'1']);
        assert_eq!(decode_poll(&r).map_err(|e| e.register), Err(6));
        let mut r = encode_poll(1, 9, None);
        r[1] = 9;
        assert_eq!(decode_poll(&r).map_err(|e| e.register), Err(1));
    }

    #[test]
    fn the_current_map_carries_the_entrys_age_and_the_first_map_does_not() {
        let tag = Entered::Tag("04A2197F".into());
        let aged = decode_poll(&encode_poll_aged(1, 1, Some((5, &tag)), 20)).unwrap();
        assert_eq!((aged.entry, aged.entry_age_secs), (Some((5, tag.clone())), Some(20)));
        assert_eq!(decode_poll(&encode_poll(1, 1, Some((5, &tag)))).unwrap().entry_age_secs, None);
        assert_eq!(decode_poll(&encode_poll_aged(1, 0, None, 20)).unwrap().entry_age_secs, None, "no entry, no age");
    }

    #[test]
    fn a_pin_never_shows_in_debug_output() {
        assert_eq!(format!("{:?}", Entered::Digits("2580".into())), "Digits(4 digits)");
    }

    #[test]
    fn feedback_codes_follow_the_map() {
        assert_eq!(feedback_registers(Feedback::LockedOut, 30), [3, 30]);
    }
}
