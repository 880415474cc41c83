//! Allowlist bundles: one per authority, replacing its previous one whole. A bundle lists
//! credentials (PINs and tags only as keyed digests) and, from the owner, laundry
//! bookings. Layout in `docs/credentials.md`.

use jiff::Timestamp;
use smol_str::SmolStr;

use super::wire::{Reader, WireError, Writer};
use crate::core::credential::{PhoneKey, Token};
use crate::core::owner_policy::OwnerPolicy;
use crate::core::secret::Digest;

/// One credential in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Credential id.
    pub id: SmolStr,
    /// Holder id.
    pub holder: SmolStr,
    /// Role.
    pub role: SmolStr,
    /// PIN digest, tag digest or phone key.
    pub token: Token,
    /// Doors it opens.
    pub doors: Vec<SmolStr>,
    /// An extra schedule.
    pub schedule: Option<SmolStr>,
    /// Not valid before.
    pub valid_from: Option<Timestamp>,
    /// Not valid from then on.
    pub valid_until: Option<Timestamp>,
}

/// A laundry booking (owner bundles only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingEntry {
    /// Who booked.
    pub holder: String,
    /// The door.
    pub door: String,
    /// Slot start.
    pub start: Timestamp,
    /// Slot end.
    pub end: Timestamp,
}

/// An allowlist bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// The issuing authority.
    pub authority: String,
    /// The site it is for.
    pub site: String,
    /// Strictly increasing per authority.
    pub version: u64,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// After this it is expired.
    pub not_after: Timestamp,
    /// Credentials.
    pub entries: Vec<Entry>,
    /// Laundry bookings.
    pub bookings: Vec<BookingEntry>,
    /// Site policy (owner only): schedules, door-code hours, free passage.
    pub policy: Option<OwnerPolicy>,
}

/// A token's kind as people write it: `pin`, `tag` or `phone`.
pub fn token_kind(t: &Token) -> &'static str {
    match t {
        Token::Pin(_) => "pin",
        Token::Tag(_) => "tag",
        Token::Phone(_) => "phone",
    }
}

/// Smallest encoded entry, for count checks.
const MIN_ENTRY: usize = 2 + 2 + 2 + 1 + 32 + 1 + 1 + 1 + 1;
const MIN_BOOKING: usize = 2 + 2 + 8 + 8;

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

pub(super) fn write_token(w: &mut Writer, t: &Token) {
    let (kind, bytes) = match t {
        Token::Pin(d) => (1, d.0),
        Token::Tag(d) => (2, d.0),
        Token::Phone(k) => (3, k.0),
    };
    w.u8(kind);
    w.bytes32(&bytes);
}

pub(super) fn read_token(r: &mut Reader<'_>) -> Result<Token, WireError> {
    let kind = r.u8("token kind")?;
    let bytes = r.bytes32("token")?;
    match kind {
        1 => Ok(Token::Pin(Digest(bytes))),
        2 => Ok(Token::Tag(Digest(bytes))),
        3 => Ok(Token::Phone(PhoneKey(bytes))),
        other => Err(r.error(format!("token kind {other}; expected 1 (PIN), 2 (tag) or 3 (phone)"))),
    }
}

impl Bundle {
    /// The canonical body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(&self.authority);
        w.str(&self.site);
        w.u64(self.version);
        w.i64(ms(self.issued_at));
        w.i64(ms(self.not_after));
        w.u32(u32::try_from(self.entries.len()).unwrap_or(u32::MAX));
        for e in &self.entries {
            w.str(&e.id);
            w.str(&e.holder);
            w.str(&e.role);
            write_token(&mut w, &e.token);
            w.u8(u8::try_from(e.doors.len()).unwrap_or(u8::MAX));
            for d in e.doors.iter().take(usize::from(u8::MAX)) {
                w.str(d);
            }
            w.opt_str(e.schedule.as_deref());
            w.opt_i64(e.valid_from.map(ms));
            w.opt_i64(e.valid_until.map(ms));
        }
        w.u32(u32::try_from(self.bookings.len()).unwrap_or(u32::MAX));
        for b in &self.bookings {
            w.str(&b.holder);
            w.str(&b.door);
            w.i64(ms(b.start));
            w.i64(ms(b.end));
        }
        match &self.policy {
            None => w.u8(0),
            Some(p) => {
                w.u8(1);
                super::site_policy::encode(&mut w, p);
            }
        }
        w.0
    }

    /// Reads body bytes strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let authority = r.str("authority")?;
        let site = r.str("site")?;
        let version = r.u64("version")?;
        let issued_at = r.time("issued_at")?;
        let not_after = r.time("not_after")?;
        let n = r.count("entries", MIN_ENTRY)?;
        let mut entries = Vec::with_capacity(n);
        for _ in 0..n {
            let id = r.small_str("entry id")?;
            let holder = r.small_str("holder")?;
            let role = r.small_str("role")?;
            let token = read_token(&mut r)?;
            let nd = r.u8("door count")?;
            let doors = (0..nd).map(|_| r.small_str("door")).collect::<Result<Vec<_>, _>>()?;
            let schedule = r.opt_str("schedule")?.map(SmolStr::from);
            let valid_from = r.opt_time("valid_from")?;
            let valid_until = r.opt_time("valid_until")?;
            entries.push(Entry { id, holder, role, token, doors, schedule, valid_from, valid_until });
        }
        let n = r.count("bookings", MIN_BOOKING)?;
        let mut bookings = Vec::with_capacity(n);
        for _ in 0..n {
            let holder = r.str("booking holder")?;
            let door = r.str("booking door")?;
            let start = r.time("booking start")?;
            let end = r.time("booking end")?;
            bookings.push(BookingEntry { holder, door, start, end });
        }
        let policy = match r.u8("policy present")? {
            0 => None,
            1 => Some(super::site_policy::decode(&mut r)?),
            other => return Err(r.error(format!("policy present byte {other}, expected 0 or 1"))),
        };
        r.finish()?;
        Ok(Self { authority, site, version, issued_at, not_after, entries, bookings, policy })
    }
}
