//! Delegated issuing: an authority signs a **delegation** (type 7) that lets an issuer key
//! sign phone certificates within limits — which roles, which doors, how long each
//! certificate may be, and for how long the delegation itself holds — so the authority's
//! own key can stay offline. A certificate the issuer signs travels as a **delegated
//! certificate** (type 8): the delegation's whole envelope, then a certificate body, the
//! envelope signed by the issuer. A gateway needs nothing but its trusted authorities to
//! check the chain, offline. Layout and checks in `docs/credentials.md`.

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};

use crate::bytes::{Reader, WireError, Writer};
use crate::certificate::PhoneCertificate;
use crate::envelope::{DocType, seal};

/// The longest certificate a delegation lets its issuer sign unless it says otherwise:
/// one shift.
pub const DEFAULT_MAX_CERTIFICATE: SignedDuration = SignedDuration::from_hours(12);

/// An authority's delegation of certificate issuing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegation {
    /// The delegating authority (as in the gateway's config).
    pub authority: String,
    /// A unique id among the authority's credentials: revoking it ends the delegation.
    pub id: String,
    /// The issuer's name, for audit records (say `central-kommunen`).
    pub issuer: String,
    /// The issuer's Ed25519 public key.
    pub issuer_key: [u8; 32],
    /// The site it holds for, or `*` for every site that trusts the authority.
    pub site: String,
    /// Roles the issuer may give.
    pub roles: Vec<String>,
    /// Doors the issuer may grant, or `*` for the authority's whole scope at each site.
    pub doors: Vec<String>,
    /// The longest certificate the issuer may sign (`not_after - not_before`).
    pub max_certificate: SignedDuration,
    /// Not valid before.
    pub not_before: Timestamp,
    /// Not valid from then on.
    pub not_after: Timestamp,
}

fn short_list(w: &mut Writer, items: &[String]) {
    w.u8(u8::try_from(items.len()).unwrap_or(u8::MAX));
    for item in items.iter().take(usize::from(u8::MAX)) {
        w.str(item);
    }
}

impl Delegation {
    /// The canonical body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.str(&self.authority);
        w.str(&self.id);
        w.str(&self.issuer);
        w.bytes32(&self.issuer_key);
        w.str(&self.site);
        short_list(&mut w, &self.roles);
        short_list(&mut w, &self.doors);
        w.i64(i64::try_from(self.max_certificate.as_millis()).unwrap_or(i64::MAX));
        w.i64(self.not_before.as_millisecond());
        w.i64(self.not_after.as_millisecond());
        w.0
    }

    /// Reads body bytes strictly.
    pub fn decode(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let authority = r.str("authority")?;
        let id = r.str("delegation id")?;
        let issuer = r.str("issuer")?;
        let issuer_key = r.bytes32("issuer key")?;
        let site = r.str("site")?;
        let n = r.u8("role count")?;
        let roles = (0..n).map(|_| r.str("role")).collect::<Result<Vec<_>, _>>()?;
        let n = r.u8("door count")?;
        let doors = (0..n).map(|_| r.str("door")).collect::<Result<Vec<_>, _>>()?;
        let ms = r.i64("max_certificate")?;
        if ms <= 0 {
            return Err(r.error(format!("max_certificate: {ms} ms; a positive length expected")));
        }
        let max_certificate = SignedDuration::from_millis(ms);
        let not_before = r.time("not_before")?;
        let not_after = r.time("not_after")?;
        r.finish()?;
        Ok(Self { authority, id, issuer, issuer_key, site, roles, doors, max_certificate, not_before, not_after })
    }

    /// Whether it lets the issuer grant `door` (by id, or all with `*`).
    pub fn covers_door(&self, door: &str) -> bool {
        self.doors.iter().any(|d| d == "*" || d == door)
    }
}

/// A phone certificate signed by an issuer, with the delegation that allows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedCertificate<'a> {
    /// The delegation's whole signed envelope (type 7).
    pub delegation: &'a [u8],
    /// The certificate.
    pub certificate: PhoneCertificate,
}

impl<'a> DelegatedCertificate<'a> {
    /// Reads a type-8 body strictly: `blob delegation_envelope | certificate body`.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let delegation = r.blob("delegation")?;
        let at = r.pos();
        let certificate = PhoneCertificate::decode(&bytes[at..]).map_err(|mut e| {
            e.at += at;
            e
        })?;
        Ok(Self { delegation, certificate })
    }

    /// The canonical body bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut w = Writer::default();
        w.blob(self.delegation);
        w.raw(&self.certificate.encode());
        w.0
    }
}

/// Signs `certificate` as the delegation's issuer: a whole type-8 envelope.
pub fn issue(delegation_envelope: &[u8], certificate: PhoneCertificate, issuer: &SigningKey) -> Vec<u8> {
    let body = DelegatedCertificate { delegation: delegation_envelope, certificate }.encode();
    seal(DocType::DelegatedCertificate, &body, issuer)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delegation() -> Delegation {
        Delegation {
            authority: "kommunen".into(),
            id: "central-1".into(),
            issuer: "central".into(),
            issuer_key: [5; 32],
            site: "*".into(),
            roles: vec!["home_care".into()],
            doors: vec!["entrance".into(), "rubbish".into()],
            max_certificate: DEFAULT_MAX_CERTIFICATE,
            not_before: Timestamp::from_second(1_790_000_000).unwrap_or_default(),
            not_after: Timestamp::from_second(1_800_000_000).unwrap_or_default(),
        }
    }

    #[test]
    fn a_delegation_reads_back_as_written_and_refuses_trailing_bytes_and_a_zero_length() {
        let d = delegation();
        assert_eq!(Delegation::decode(&d.encode()), Ok(d.clone()));
        let mut longer = d.encode();
        longer.push(0);
        assert!(Delegation::decode(&longer).is_err());
        let zero = Delegation { max_certificate: SignedDuration::ZERO, ..d };
        let err = Delegation::decode(&zero.encode()).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("max_certificate"), "{err}");
    }

    #[test]
    fn a_delegated_certificate_reads_back_with_offsets_in_the_whole_body() {
        let certificate = PhoneCertificate {
            authority: "kommunen".into(),
            site: "*".into(),
            id: "shift-1".into(),
            holder: "anna".into(),
            role: "home_care".into(),
            phone_key: [9; 32],
            doors: vec!["entrance".into()],
            not_before: Timestamp::from_second(1_795_000_000).unwrap_or_default(),
            not_after: Timestamp::from_second(1_795_040_000).unwrap_or_default(),
            revocations: None,
        };
        let body = DelegatedCertificate { delegation: b"env", certificate: certificate.clone() }.encode();
        let read = DelegatedCertificate::decode(&body).map(|d| (d.delegation.to_vec(), d.certificate));
        assert_eq!(read, Ok((b"env".to_vec(), certificate)));
        let err = DelegatedCertificate::decode(&body[..body.len() - 1]).err().map_or(0, |e| e.at);
        assert!(err > 7, "the offset counts from the body's start: {err}");
    }
}
