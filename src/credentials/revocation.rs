//! Revocation lists: per authority, with a strictly increasing sequence, naming revoked
//! credential ids and phone keys. Each list replaces the authority's previous one and is
//! applied at once. Layout in `docs/credentials.md`.

use jiff::Timestamp;

use super::wire::{Reader, WireError, Writer};

/// A revocation list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationList {
    /// The issuing authority.
    pub authority: String,
    /// The site it is for (`*` for every site that trusts the authority).
    pub site: String,
    /// Strictly increasing per authority.
    pub sequence: u64,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// Revoked credential ids (of this authority's credentials).
    pub ids: Vec<String>,
    /// Revoked phone keys (whatever carries them).
    pub keys: Vec<[u8; 32]>,
}

impl RevocationList {
    /// The canonical body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(&self.authority);
        w.str(&self.site);
        w.u64(self.sequence);
        w.i64(self.issued_at.as_millisecond());
        w.u32(u32::try_from(self.ids.len()).unwrap_or(u32::MAX));
        for id in &self.ids {
            w.str(id);
        }
        w.u32(u32::try_from(self.keys.len()).unwrap_or(u32::MAX));
        for k in &self.keys {
            w.bytes32(k);
        }
        w.0
    }

    /// Reads body bytes strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let authority = r.str("authority")?;
        let site = r.str("site")?;
        let sequence = r.u64("sequence")?;
        let issued_at = r.time("issued_at")?;
        let n = r.count("revoked ids", 2)?;
        let ids = (0..n).map(|_| r.str("revoked id")).collect::<Result<Vec<_>, _>>()?;
        let n = r.count("revoked keys", 32)?;
        let keys = (0..n).map(|_| r.bytes32("revoked key")).collect::<Result<Vec<_>, _>>()?;
        r.finish()?;
        Ok(Self { authority, site, sequence, issued_at, ids, keys })
    }
}
