//! Revocation lists: per authority, with a strictly increasing sequence, naming revoked
//! credential ids and phone keys (type 2, signed by the authority). Each list replaces the
//! authority's previous one and is applied at once. And an issuer's list (type 9): the same
//! list signed by a delegated issuer, carrying its delegation, that ends certificates it
//! signed through that delegation and nothing else (how Central blocks a disabled person's
//! shift key at once). Layout in `docs/credentials.md`.

use ed25519_dalek::SigningKey;
use jiff::Timestamp;

use crate::bytes::{Reader, WireError, Writer};
use crate::envelope::{DocType, seal};

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

/// An issuer's revocation list (type 9 body): the delegation's whole envelope, then a
/// revocation list of the delegation's authority, the envelope signed by the issuer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerRevocations<'a> {
    /// The delegation's whole signed envelope (type 7).
    pub delegation: &'a [u8],
    /// The list: certificate ids and phone keys of certificates signed through it.
    pub list: RevocationList,
}

impl<'a> IssuerRevocations<'a> {
    /// Reads a type-9 body strictly: `blob delegation_envelope | revocation list body`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let delegation = r.blob("delegation")?;
        let at = r.pos();
        let list = RevocationList::decode(&bytes[at..]).map_err(|mut e| {
            e.at += at;
            e
        })?;
        Ok(Self { delegation, list })
    }

    /// The canonical body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.blob(self.delegation);
        w.raw(&self.list.encode());
        w.0
    }
}

/// Signs `list` as the delegation's issuer: a whole type-9 envelope.
pub fn issue(delegation_envelope: &[u8], list: RevocationList, issuer: &SigningKey) -> Vec<u8> {
    let body = IssuerRevocations { delegation: delegation_envelope, list }.encode();
    seal(DocType::IssuerRevocations, &body, issuer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list() -> RevocationList {
        RevocationList {
            authority: "kommunen".into(),
            site: "*".into(),
            sequence: 7,
            issued_at: Timestamp::from_second(1_795_000_000).unwrap_or_default(),
            ids: vec!["shift-0123456789abcdef".into()],
            keys: vec![[9; 32]],
        }
    }

    #[test]
    fn an_issuers_list_reads_back_as_written_and_refuses_trailing_bytes() {
        let delegation = b"PVKT-the-delegation".to_vec();
        let body = IssuerRevocations { delegation: &delegation, list: list() }.encode();
        let read = IssuerRevocations::decode(&body);
        assert_eq!(read, Ok(IssuerRevocations { delegation: &delegation, list: list() }));
        let mut longer = body.clone();
        longer.push(0);
        assert!(IssuerRevocations::decode(&longer).is_err());
        assert!(IssuerRevocations::decode(&body[..body.len() - 1]).is_err());
    }

    #[test]
    fn an_issuers_list_is_sealed_as_type_9_and_verifies_with_the_issuers_key_only() {
        let issuer = SigningKey::from_bytes(&[3; 32]);
        let bytes = issue(b"d", list(), &issuer);
        let env = crate::envelope::open(&bytes).expect("an envelope");
        assert_eq!(env.doc_type, DocType::IssuerRevocations);
        assert!(crate::envelope::signature_ok(&env, &issuer.verifying_key().to_bytes()));
        assert!(!crate::envelope::signature_ok(&env, &SigningKey::from_bytes(&[4; 32]).verifying_key().to_bytes()));
    }
}
