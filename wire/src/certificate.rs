//! Phone certificates: short-lived credentials for one phone key, signed by an authority
//! (type 3) or by an issuer it delegated to ([`crate::delegation`], type 8), so a gateway
//! that has not yet received the newest bundle still admits a staff member. A certificate
//! may carry the authority's newest signed revocation list, which is how revocations reach
//! a gateway without coverage. Layout in `docs/credentials.md`.

use jiff::Timestamp;

use crate::bytes::{Reader, WireError, Writer};

/// A phone certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneCertificate {
    /// The issuing authority.
    pub authority: String,
    /// The site it is for, or `*` for every site that trusts the authority.
    pub site: String,
    /// A unique id for this certificate (for audit and revocation by id).
    pub id: String,
    /// The holder.
    pub holder: String,
    /// The holder's role.
    pub role: String,
    /// The phone key's id ([`crate::phone_key::PhonePublicKey::id`]): an Ed25519 key
    /// itself, or the SHA-256 of a P-256 key.
    pub phone_key: [u8; 32],
    /// Door ids it opens, or `*` for every door in the authority's scope.
    pub doors: Vec<String>,
    /// Not valid before.
    pub not_before: Timestamp,
    /// Not valid from then on.
    pub not_after: Timestamp,
    /// The authority's newest signed revocation list (a whole envelope), if carried.
    pub revocations: Option<Vec<u8>>,
}

impl PhoneCertificate {
    /// The canonical body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(&self.authority);
        w.str(&self.site);
        w.str(&self.id);
        w.str(&self.holder);
        w.str(&self.role);
        w.bytes32(&self.phone_key);
        w.u8(u8::try_from(self.doors.len()).unwrap_or(u8::MAX));
        for d in self.doors.iter().take(usize::from(u8::MAX)) {
            w.str(d);
        }
        w.i64(self.not_before.as_millisecond());
        w.i64(self.not_after.as_millisecond());
        match &self.revocations {
            None => w.u8(0),
            Some(b) => {
                w.u8(1);
                w.blob(b);
            }
        }
        w.0
    }

    /// Reads body bytes strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let authority = r.str("authority")?;
        let site = r.str("site")?;
        let id = r.str("certificate id")?;
        let holder = r.str("holder")?;
        let role = r.str("role")?;
        let phone_key = r.bytes32("phone key")?;
        let nd = r.u8("door count")?;
        let doors = (0..nd).map(|_| r.str("door")).collect::<Result<Vec<_>, _>>()?;
        let not_before = r.time("not_before")?;
        let not_after = r.time("not_after")?;
        let revocations = match r.u8("revocations present")? {
            0 => None,
            1 => Some(r.blob("revocations")?.to_vec()),
            other => return Err(r.error(format!("revocations present byte {other}, expected 0 or 1"))),
        };
        r.finish()?;
        Ok(Self { authority, site, id, holder, role, phone_key, doors, not_before, not_after, revocations })
    }
}
