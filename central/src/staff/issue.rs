//! A shift certificate for a signed-in staff member: the phone proves it holds the key (a
//! signature over a fresh nonce from Central and the person's holder id), and Central, as
//! the issuer the municipality delegated to (`docs/credentials.md`, Delegated issuers),
//! signs a certificate for that key, for the person's team's doors within the delegation,
//! until the shift ends and never past the delegation's limits. Pure: the time, the nonce
//! and the certificate's id are passed in.

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use portvakt_wire::certificate::PhoneCertificate;
use portvakt_wire::delegation::{Delegation, issue};
use portvakt_wire::envelope::{DocType, open};
use portvakt_wire::phone_key::PhonePublicKey;

use super::roster::{Person, Team};

/// What the phone signs to prove it holds its key, before the nonce and the holder id.
pub const PROOF_CONTEXT: &[u8] = b"portvakt/shift-key/v1";

/// How far before now a certificate is valid (a phone's or gateway's clock a little
/// behind), as `portvakt-admin certify` does.
pub const EARLY: SignedDuration = SignedDuration::from_mins(5);

/// Why no certificate is issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The person was disabled.
    #[error("{0} is disabled: no new certificates")]
    Disabled(String),
    /// The signature does not prove the key.
    #[error("the phone did not prove it holds the key")]
    NoProof,
    /// The team's role is not one the delegation may give.
    #[error("team {team}'s role {role} is not delegated to Central")]
    RoleNotDelegated {
        /// The team.
        team: String,
        /// Its role.
        role: String,
    },
    /// None of the team's doors is delegated.
    #[error("none of team {0}'s doors is delegated to Central")]
    NoDoors(String),
    /// The delegation has ended, or has not begun.
    #[error("the delegation holds from {from} until {until}")]
    OutsideDelegation {
        /// It begins.
        from: Timestamp,
        /// It ends.
        until: Timestamp,
    },
    /// The shift's end is not after now.
    #[error("the shift ends at {0}, which is not after now")]
    ShiftOver(Timestamp),
}

/// Why the issuer cannot be set up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SetupError {
    /// The delegation file is not a delegation.
    #[error("the delegation: {0}")]
    NotDelegation(String),
    /// The key is not the one the delegation names.
    #[error("the issuer key is not the key delegation {0} names")]
    WrongKey(String),
}

/// Central as a delegated issuer: the delegation (whole envelope, carried in every
/// certificate) and the issuer's key.
pub struct Issuer {
    envelope: Vec<u8>,
    delegation: Delegation,
    key: SigningKey,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Issuer({} of {})", self.delegation.id, self.delegation.authority)
    }
}

/// A proven request for a shift certificate.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Who signed in.
    pub person: &'a Person,
    /// Their team.
    pub team: &'a Team,
    /// Whether Central has disabled them.
    pub enabled: bool,
    /// The phone's key.
    pub key: PhonePublicKey,
    /// The nonce Central gave this sign-in.
    pub nonce: [u8; 32],
    /// The phone's signature over [`proof_bytes`].
    pub signature: [u8; 64],
    /// When the shift ends (`None`: the longest the delegation allows).
    pub shift_end: Option<Timestamp>,
}

/// The bytes a phone signs: [`PROOF_CONTEXT`] `| nonce (32) | holder (u16 length, UTF-8)`.
pub fn proof_bytes(nonce: &[u8; 32], holder: &str) -> Vec<u8> {
    let mut w = portvakt_wire::bytes::Writer::default();
    w.raw(PROOF_CONTEXT);
    w.raw(nonce);
    w.str(holder);
    w.0
}

impl Issuer {
    /// The issuer from its delegation's envelope and its key; refuses a key the
    /// delegation does not name.
    pub fn new(envelope: Vec<u8>, key: SigningKey) -> Result<Self, SetupError> {
        let env = open(&envelope).map_err(|e| SetupError::NotDelegation(e.to_string()))?;
        if env.doc_type != DocType::Delegation {
            return Err(SetupError::NotDelegation(format!("this is a {}", env.doc_type.word())));
        }
        let delegation = Delegation::decode(env.body).map_err(|e| SetupError::NotDelegation(e.to_string()))?;
        if key.verifying_key().to_bytes() != delegation.issuer_key {
            return Err(SetupError::WrongKey(delegation.id));
        }
        Ok(Self { envelope, delegation, key })
    }

    /// The delegation.
    pub fn delegation(&self) -> &Delegation {
        &self.delegation
    }

    /// Signs `list` as the issuer: an issuer's revocation list (type 9) carrying the
    /// delegation, which gateways apply to certificates signed through it only.
    pub fn revocations(&self, list: portvakt_wire::revocation::RevocationList) -> Vec<u8> {
        portvakt_wire::revocation::issue(&self.envelope, list, &self.key)
    }

    /// The doors of `team` the delegation covers.
    pub fn doors_of(&self, team: &Team) -> Vec<String> {
        team.doors.iter().filter(|d| self.delegation.covers_door(d)).cloned().collect()
    }

    /// Checks the request and signs the certificate `id` for it at `now`: its whole
    /// envelope (type 8), and the certificate.
    pub fn shift_certificate(
        &self,
        r: &Request<'_>,
        id: String,
        now: Timestamp,
    ) -> Result<(Vec<u8>, PhoneCertificate), Refusal> {
        let d = &self.delegation;
        if !r.enabled {
            return Err(Refusal::Disabled(r.person.holder.clone()));
        }
        if !r.key.verify(&proof_bytes(&r.nonce, &r.person.holder), &r.signature) {
            return Err(Refusal::NoProof);
        }
        if !d.roles.contains(&r.team.role) {
            return Err(Refusal::RoleNotDelegated { team: r.team.id.clone(), role: r.team.role.clone() });
        }
        let doors = self.doors_of(r.team);
        if doors.is_empty() {
            return Err(Refusal::NoDoors(r.team.id.clone()));
        }
        let not_before = (now - EARLY).max(d.not_before);
        if now < d.not_before || now >= d.not_after {
            return Err(Refusal::OutsideDelegation { from: d.not_before, until: d.not_after });
        }
        let longest = not_before + d.max_certificate;
        let not_after = r.shift_end.unwrap_or(longest).min(longest).min(d.not_after);
        if not_after <= now {
            return Err(Refusal::ShiftOver(not_after));
        }
        let cert = PhoneCertificate {
            authority: d.authority.clone(),
            site: "*".into(),
            id,
            holder: r.person.holder.clone(),
            role: r.team.role.clone(),
            phone_key: r.key.id(),
            doors,
            not_before,
            not_after,
            revocations: None,
        };
        Ok((issue(&self.envelope, cert.clone(), &self.key), cert))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portvakt_wire::envelope::seal;

    fn at(h: i64) -> Timestamp {
        Timestamp::from_second(1_796_000_000 + h * 3600).unwrap_or_default()
    }

    fn issuer(doors: &[&str]) -> Issuer {
        let key = SigningKey::from_bytes(&[0x49; 32]);
        let d = Delegation {
            authority: "kommunen".into(),
            id: "central-2026".into(),
            issuer: "central".into(),
            issuer_key: key.verifying_key().to_bytes(),
            site: "*".into(),
            roles: vec!["home_care".into()],
            doors: doors.iter().map(|d| (*d).to_owned()).collect(),
            max_certificate: SignedDuration::from_hours(12),
            not_before: at(-24),
            not_after: at(24),
        };
        let envelope = seal(DocType::Delegation, &d.encode(), &SigningKey::from_bytes(&[2; 32]));
        Issuer::new(envelope, key).unwrap_or_else(|e| panic!("{e}"))
    }

    fn team() -> Team {
        Team {
            id: "team-norr".into(),
            name: "Hemtjänsten Norr".into(),
            role: "home_care".into(),
            doors: vec!["entrance".into(), "laundry".into()],
        }
    }

    fn person() -> Person {
        Person { login: "anna@kommun.se".into(), holder: "anna".into(), name: "Anna".into(), team: "team-norr".into() }
    }

    /// A phone key and its proof over `nonce` for anna.
    fn proven(nonce: [u8; 32]) -> (PhonePublicKey, [u8; 64]) {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let sig = ed25519_dalek::Signer::sign(&key, &proof_bytes(&nonce, "anna")).to_bytes();
        (PhonePublicKey::Ed25519(key.verifying_key().to_bytes()), sig)
    }

    #[test]
    fn a_proven_key_gets_a_certificate_for_the_teams_delegated_doors_until_the_shift_ends() {
        let (team, person) = (team(), person());
        let (key, signature) = proven([1; 32]);
        let r = Request {
            person: &person,
            team: &team,
            enabled: true,
            key,
            nonce: [1; 32],
            signature,
            shift_end: Some(at(8)),
        };
        let (bytes, cert) = issuer(&["entrance", "rubbish"])
            .shift_certificate(&r, "shift-1".into(), at(0))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((cert.doors, cert.not_after, cert.holder.as_str()), (vec!["entrance".to_owned()], at(8), "anna"));
        assert_eq!(open(&bytes).map(|e| e.doc_type).ok(), Some(DocType::DelegatedCertificate));
        // A shift asked for longer than the delegation allows ends at its limit.
        let long = Request { shift_end: Some(at(20)), ..r.clone() };
        let (_, cert) =
            issuer(&["*"]).shift_certificate(&long, "shift-2".into(), at(0)).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cert.not_after.duration_since(cert.not_before), SignedDuration::from_hours(12));
    }

    #[test]
    fn no_certificate_without_proof_for_a_disabled_person_or_outside_the_delegation() {
        let (team, person) = (team(), person());
        let (key, signature) = proven([1; 32]);
        let r =
            Request { person: &person, team: &team, enabled: true, key, nonce: [2; 32], signature, shift_end: None };
        let i = issuer(&["*"]);
        assert_eq!(i.shift_certificate(&r, "s".into(), at(0)).err(), Some(Refusal::NoProof));
        let r = Request { nonce: [1; 32], enabled: false, ..r };
        assert!(matches!(i.shift_certificate(&r, "s".into(), at(0)), Err(Refusal::Disabled(_))));
        let r = Request { enabled: true, ..r };
        assert!(matches!(i.shift_certificate(&r, "s".into(), at(30)), Err(Refusal::OutsideDelegation { .. })));
        assert!(matches!(issuer(&["rubbish"]).shift_certificate(&r, "s".into(), at(0)), Err(Refusal::NoDoors(_))));
        let r = Request { shift_end: Some(at(-1)), ..r };
        assert!(matches!(i.shift_certificate(&r, "s".into(), at(0)), Err(Refusal::ShiftOver(_))));
    }

    #[test]
    fn an_issuer_key_the_delegation_does_not_name_is_refused_at_start() {
        let envelope = issuer(&["*"]).envelope;
        let err = Issuer::new(envelope, SigningKey::from_bytes(&[0x50; 32])).err();
        assert_eq!(err, Some(SetupError::WrongKey("central-2026".into())));
    }
}
