//! Acceptance of signed documents at the gateway, before anything is stored: the
//! envelope, the authority (known, and its signature), the site, the version (newer than
//! the stored one: rollback and replay refused), expiry, and the authority's door scope
//! for every entry. Pure: `now` and the clock's trust are passed in.

use jiff::Timestamp;

use super::bundle::Bundle;
use super::certificate::PhoneCertificate;
use super::delegated::{Through, check_chain};
use super::envelope::{DocType, open, signature_ok};
use super::revocation::RevocationList;
use super::wire::WireError;
use crate::config::{AuthorityClass, AuthorityConfig};
use crate::core::clock::ISSUED_AHEAD_TOLERANCE;
use crate::core::ids::SiteId;
use crate::core::model::{DoorSet, SitePolicy};

/// Why a document was refused. Every refusal is audited with [`Refusal::code`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The bytes are not a well-formed document.
    #[error("malformed: {0}")]
    Malformed(WireError),
    /// A different kind of document than expected.
    #[error("this is a {found}, not a {expected}")]
    WrongType {
        /// What was expected.
        expected: &'static str,
        /// What it is.
        found: &'static str,
    },
    /// The authority is not in this gateway's configuration.
    #[error("authority \"{0}\" is not trusted by this gateway")]
    UnknownAuthority(String),
    /// The signature does not verify with the authority's key.
    #[error("the signature is not {0}'s: forged or altered")]
    BadSignature(String),
    /// Made for another site.
    #[error("made for site \"{found}\", this is \"{expected}\"")]
    WrongSite {
        /// This site.
        expected: String,
        /// The document's site.
        found: String,
    },
    /// Older than the one stored (rollback).
    #[error("version {offered} is older than the stored version {stored} (rollback)")]
    Rollback {
        /// Stored.
        stored: u64,
        /// Offered.
        offered: u64,
    },
    /// The same version again (replay).
    #[error("version {0} is already stored (replay)")]
    Replay(u64),
    /// Past its end of validity.
    #[error("expired at {0}")]
    Expired(Timestamp),
    /// Not valid yet.
    #[error("not valid before {0}")]
    NotYetValid(Timestamp),
    /// Issued later than now (beyond the tolerance for the issuer's clock).
    #[error("issued at {0}, in the future (a trusted clock reads earlier)")]
    IssuedInFuture(Timestamp),
    /// Grants doors outside the authority's scope.
    #[error("grants doors outside {authority}'s scope: {}", .entries.join(", "))]
    OutOfScope {
        /// The authority.
        authority: String,
        /// `credential: door` pairs out of scope.
        entries: Vec<String>,
    },
    /// Only the owner may send site policy.
    #[error("{0} is not the owner and may not send site policy")]
    NotOwner(String),
    /// Bookings from an authority the config does not let carry them.
    #[error("{0} may not send bookings (the config's `bookings` for it is false)")]
    BookingsNotPermitted(String),
    /// Gives roles the config does not let the authority give.
    #[error("{authority} may give only {allowed}: {}", .entries.join(", "))]
    RoleNotGranted {
        /// The authority.
        authority: String,
        /// What it may give.
        allowed: String,
        /// `credential: role` pairs beyond that.
        entries: Vec<String>,
    },
    /// Valid for longer than the authority may issue.
    #[error("valid for {lifetime:#}; {authority} may issue a {what} of at most {limit:#}")]
    LifetimeTooLong {
        /// The authority.
        authority: String,
        /// Bundle or certificate.
        what: &'static str,
        /// From issue (or not-before) to not-after.
        lifetime: jiff::SignedDuration,
        /// The config's limit.
        limit: jiff::SignedDuration,
    },
    /// Entries that do not fit this site (unknown door, role or schedule; duplicates).
    #[error("{}", .0.join("; "))]
    Unresolvable(Vec<String>),
    /// The phone key or certificate is revoked.
    #[error("revoked")]
    Revoked,
    /// A delegated certificate beyond what its delegation allows (authority, role, doors,
    /// time).
    #[error("beyond its delegation {delegation}: {what}")]
    BeyondDelegation {
        /// The delegation's id.
        delegation: String,
        /// What it exceeds.
        what: String,
    },
    /// The delegation a certificate came through has ended.
    #[error("its delegation {delegation} ended at {at}")]
    DelegationEnded {
        /// The delegation's id.
        delegation: String,
        /// When it ended.
        at: Timestamp,
    },
    /// The delegation a certificate came through is revoked (by its id or its issuer's key).
    #[error("its delegation {0} is revoked")]
    DelegationRevoked(String),
    /// Published on another authority's topic than the one that signed it.
    #[error("signed by {signed_by} but published on {topic}'s topic")]
    WrongTopic {
        /// The authority the topic names.
        topic: String,
        /// The authority in the document.
        signed_by: String,
    },
}

impl Refusal {
    /// A stable code for audit records and MQTT replies.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "malformed",
            Self::WrongType { .. } => "wrong_type",
            Self::UnknownAuthority(_) => "unknown_authority",
            Self::BadSignature(_) => "bad_signature",
            Self::WrongSite { .. } => "wrong_site",
            Self::Rollback { .. } => "rollback",
            Self::Replay(_) => "replay",
            Self::Expired(_) => "expired",
            Self::NotYetValid(_) => "not_yet_valid",
            Self::IssuedInFuture(_) => "issued_in_future",
            Self::OutOfScope { .. } => "out_of_scope",
            Self::NotOwner(_) => "not_owner",
            Self::BookingsNotPermitted(_) => "bookings_not_permitted",
            Self::RoleNotGranted { .. } => "role_not_granted",
            Self::LifetimeTooLong { .. } => "lifetime_too_long",
            Self::Unresolvable(_) => "unresolvable",
            Self::Revoked => "revoked",
            Self::WrongTopic { .. } => "wrong_topic",
            Self::BeyondDelegation { .. } => "beyond_delegation",
            Self::DelegationEnded { .. } => "delegation_ended",
            Self::DelegationRevoked(_) => "delegation_revoked",
        }
    }
}

/// What a gateway trusts: its site, its authorities and its policy.
#[derive(Debug, Clone, Copy)]
pub struct Trust<'a> {
    /// This gateway's site.
    pub site: &'a SiteId,
    /// The configured authorities.
    pub authorities: &'a [AuthorityConfig],
    /// The site policy (door names).
    pub policy: &'a SitePolicy,
}

impl<'a> Trust<'a> {
    /// What a configured gateway trusts.
    pub fn of(cfg: &'a crate::config::Config) -> Self {
        Self { site: &cfg.site.id, authorities: &cfg.authorities, policy: &cfg.policy }
    }
}

impl Trust<'_> {
    /// The authority with this id.
    pub fn authority(&self, id: &str) -> Option<&AuthorityConfig> {
        self.authorities.iter().find(|a| a.id.as_str() == id)
    }

    fn door_set<S: AsRef<str>>(&self, doors: &[S]) -> Result<DoorSet, Vec<String>> {
        let mut set = DoorSet::default();
        let mut unknown = Vec::new();
        for d in doors {
            match d.as_ref().parse().ok().and_then(|d| self.policy.door_index(&d)) {
                Some(i) => set = set.with(i),
                None => unknown.push(d.as_ref().to_owned()),
            }
        }
        if unknown.is_empty() { Ok(set) } else { Err(unknown) }
    }
}

fn expect(found: DocType, expected: DocType) -> Result<(), Refusal> {
    if found == expected { Ok(()) } else { Err(Refusal::WrongType { expected: expected.word(), found: found.word() }) }
}

pub(super) fn check_version(stored: Option<u64>, offered: u64) -> Result<(), Refusal> {
    match stored {
        Some(s) if offered == s => Err(Refusal::Replay(offered)),
        Some(s) if offered < s => Err(Refusal::Rollback { stored: s, offered }),
        _ => Ok(()),
    }
}

/// Refuses a document valid from `from` to `to` for longer than the authority may issue.
fn within_lifetime(
    authority: &AuthorityConfig,
    what: &'static str,
    from: Timestamp,
    to: Timestamp,
    limit: jiff::SignedDuration,
) -> Result<(), Refusal> {
    let lifetime = to.duration_since(from);
    if lifetime > limit {
        return Err(Refusal::LifetimeTooLong { authority: authority.id.to_string(), what, lifetime, limit });
    }
    Ok(())
}

pub(super) fn signed_by<'t>(
    trust: &'t Trust<'_>,
    authority: &str,
    env: &super::envelope::Envelope<'_>,
) -> Result<&'t AuthorityConfig, Refusal> {
    let a = trust.authority(authority).ok_or_else(|| Refusal::UnknownAuthority(authority.to_owned()))?;
    if signature_ok(env, &a.public_key) { Ok(a) } else { Err(Refusal::BadSignature(authority.to_owned())) }
}

/// Verifies a bundle for this gateway. `stored` is the authority's stored version.
pub fn verify_bundle(
    bytes: &[u8],
    trust: &Trust<'_>,
    stored: impl Fn(&str) -> Option<u64>,
    now: Timestamp,
    clock_trusted: bool,
) -> Result<Bundle, Refusal> {
    let env = open(bytes).map_err(Refusal::Malformed)?;
    expect(env.doc_type, DocType::Bundle)?;
    let bundle = Bundle::decode(env.body).map_err(|mut e| {
        e.at += 10; // offsets in the whole file: the body starts after the 10-byte header
        Refusal::Malformed(e)
    })?;
    let authority = signed_by(trust, &bundle.authority, &env)?;
    if bundle.site != trust.site.as_str() {
        return Err(Refusal::WrongSite { expected: trust.site.to_string(), found: bundle.site });
    }
    check_version(stored(&bundle.authority), bundle.version)?;
    // `now` is the validity time (`core::clock::validity_time`): never earlier than the
    // floor, so expiry is judged whatever the clock's trust.
    if now >= bundle.not_after {
        return Err(Refusal::Expired(bundle.not_after));
    }
    // Only a trusted clock can say a bundle comes from the future.
    if clock_trusted && bundle.issued_at > now + ISSUED_AHEAD_TOLERANCE {
        return Err(Refusal::IssuedInFuture(bundle.issued_at));
    }
    within_lifetime(authority, "bundle", bundle.issued_at, bundle.not_after, authority.rights.max_bundle)?;
    let beyond: Vec<String> = bundle
        .entries
        .iter()
        .filter(|e| !authority.rights.may_give(&e.role))
        .map(|e| format!("{}: {}", e.id, e.role))
        .collect();
    if !beyond.is_empty() {
        return Err(Refusal::RoleNotGranted {
            authority: bundle.authority.clone(),
            allowed: authority.rights.roles_text(),
            entries: beyond,
        });
    }
    let mut out_of_scope = Vec::new();
    let mut unknown = Vec::new();
    for e in &bundle.entries {
        match trust.door_set(&e.doors) {
            Ok(set) if set.is_subset_of(authority.doors) => {}
            Ok(set) => {
                for d in set.iter().filter(|d| !authority.doors.contains(*d)) {
                    let name = trust.policy.door(d).map_or("?", |d| d.id.as_str());
                    out_of_scope.push(format!("{}: {name}", e.id));
                }
            }
            Err(doors) => unknown.push(format!("credential {}: door(s) {} not defined", e.id, doors.join(", "))),
        }
    }
    if !out_of_scope.is_empty() {
        return Err(Refusal::OutOfScope { authority: bundle.authority.clone(), entries: out_of_scope });
    }
    if bundle.policy.is_some() && authority.class != AuthorityClass::Owner {
        return Err(Refusal::NotOwner(bundle.authority.clone()));
    }
    if !bundle.bookings.is_empty() && !authority.rights.bookings {
        return Err(Refusal::BookingsNotPermitted(bundle.authority.clone()));
    }
    if !unknown.is_empty() {
        return Err(Refusal::Unresolvable(unknown));
    }
    Ok(bundle)
}

/// Verifies a revocation list. `stored` is the authority's stored sequence.
pub fn verify_revocations(
    bytes: &[u8],
    trust: &Trust<'_>,
    stored: impl Fn(&str) -> Option<u64>,
) -> Result<RevocationList, Refusal> {
    let env = open(bytes).map_err(Refusal::Malformed)?;
    expect(env.doc_type, DocType::Revocations)?;
    let list = RevocationList::decode(env.body).map_err(Refusal::Malformed)?;
    signed_by(trust, &list.authority, &env)?;
    if list.site != "*" && list.site != trust.site.as_str() {
        return Err(Refusal::WrongSite { expected: trust.site.to_string(), found: list.site });
    }
    check_version(stored(&list.authority), list.sequence)?;
    Ok(list)
}

/// A phone certificate that verified, with the doors it may open here and the delegation
/// it came through, if an issuer signed it.
#[derive(Debug, Clone)]
pub struct VerifiedCertificate {
    /// The certificate.
    pub certificate: PhoneCertificate,
    /// Its doors within the authority's scope at this site.
    pub doors: DoorSet,
    /// The delegation, when an issuer signed it (type 8).
    pub through: Option<Through>,
}

/// Verifies a phone certificate, signed by an authority (type 3) or by an issuer through
/// its delegation (type 8, the chain checked first: [`super::delegated::check_chain`]):
/// signature, site, validity, the authority's rights. The authority's scope for the door
/// asked for is applied in the decision.
pub fn verify_certificate(
    bytes: &[u8],
    trust: &Trust<'_>,
    now: Timestamp,
    clock_trusted: bool,
) -> Result<VerifiedCertificate, Refusal> {
    let env = open(bytes).map_err(Refusal::Malformed)?;
    let (cert, authority, through) = match env.doc_type {
        DocType::DelegatedCertificate => {
            let (cert, authority, through) = check_chain(&env, trust, now, clock_trusted)?;
            (cert, authority, Some(through))
        }
        other => {
            expect(other, DocType::Certificate)?;
            let cert = PhoneCertificate::decode(env.body).map_err(Refusal::Malformed)?;
            let authority = signed_by(trust, &cert.authority, &env)?;
            (cert, authority, None)
        }
    };
    if cert.site != "*" && cert.site != trust.site.as_str() {
        return Err(Refusal::WrongSite { expected: trust.site.to_string(), found: cert.site });
    }
    if clock_trusted && now < cert.not_before {
        return Err(Refusal::NotYetValid(cert.not_before));
    }
    if now >= cert.not_after {
        return Err(Refusal::Expired(cert.not_after));
    }
    let limit = authority.rights.max_certificate;
    within_lifetime(authority, "phone certificate", cert.not_before, cert.not_after, limit)?;
    if !authority.rights.may_give(&cert.role) {
        return Err(Refusal::RoleNotGranted {
            authority: cert.authority.clone(),
            allowed: authority.rights.roles_text(),
            entries: vec![format!("{}: {}", cert.id, cert.role)],
        });
    }
    let doors = if cert.doors.iter().any(|d| d == "*") {
        authority.doors
    } else {
        // Doors this site does not have are simply not granted here (a certificate is
        // meant for many buildings); doors outside the scope are cut to the scope.
        let mut set = DoorSet::default();
        for d in &cert.doors {
            if let Some(i) = d.parse().ok().and_then(|d| trust.policy.door_index(&d)) {
                set = set.with(i);
            }
        }
        DoorSet::from_bits(set.bits() & authority.doors.bits())
    };
    Ok(VerifiedCertificate { certificate: cert, doors, through })
}
