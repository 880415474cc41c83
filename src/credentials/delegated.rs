//! The chain of a delegated certificate (type 8), checked at the gateway before the
//! certificate's own checks: the delegation (type 7) is signed by an authority this
//! gateway trusts, holds here and now, and the issuer it names signed the certificate
//! within it — the authority, a role it lists, doors it lists, no longer than its
//! `max_certificate` and not past its end. Pure: `now` and the clock's trust are passed in.
//! Revocation of the delegation (by its id or the issuer's key) is the registry's, at
//! presentation (`credentials::phone`).

use jiff::Timestamp;

use super::delegation::{DelegatedCertificate, Delegation};
use super::envelope::{DocType, Envelope, open, signature_ok};
use super::verify::{Refusal, Trust, signed_by};
use crate::config::AuthorityConfig;

/// The delegation a certificate came through: what the audit record names and what a
/// revocation list can end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Through {
    /// The delegation's id (among the authority's credential ids).
    pub id: String,
    /// The issuer's name.
    pub issuer: String,
    /// The issuer's public key.
    pub issuer_key: [u8; 32],
}

fn beyond(d: &Delegation, what: String) -> Refusal {
    Refusal::BeyondDelegation { delegation: d.id.clone(), what }
}

/// Opens and checks the chain of a type-8 envelope: the certificate (not yet checked
/// against the authority's own rights), its authority and the delegation it came through.
pub fn check_chain<'t>(
    env: &Envelope<'_>,
    trust: &'t Trust<'_>,
    now: Timestamp,
    clock_trusted: bool,
) -> Result<(super::certificate::PhoneCertificate, &'t AuthorityConfig, Through), Refusal> {
    let body = DelegatedCertificate::decode(env.body).map_err(|mut e| {
        e.at += 10; // offsets in the whole file: the body starts after the 10-byte header
        Refusal::Malformed(e)
    })?;
    // Offsets in the whole file: the delegation starts after the header (10) and its
    // length (4), its body after its own header (10).
    let at = |shift: usize| {
        move |mut e: super::wire::WireError| {
            e.at += shift;
            Refusal::Malformed(e)
        }
    };
    let inner = open(body.delegation).map_err(at(14))?;
    if inner.doc_type != DocType::Delegation {
        return Err(Refusal::WrongType { expected: DocType::Delegation.word(), found: inner.doc_type.word() });
    }
    let d = Delegation::decode(inner.body).map_err(at(24))?;
    let authority = signed_by(trust, &d.authority, &inner)?;
    // The issuer signed this certificate: only now is anything in it believed.
    if !signature_ok(env, &d.issuer_key) {
        return Err(Refusal::BadSignature(format!("issuer {}", d.issuer)));
    }
    // Its id is revoked like a credential's, and its issuer's name goes into audit records.
    let named = |s: &str| (1..=64).contains(&s.len()) && !s.chars().any(char::is_control);
    if d.id.parse::<crate::core::ids::CredentialId>().is_err() || !named(&d.issuer) {
        return Err(Refusal::Unresolvable(vec![format!(
            "delegation {:?} of issuer {:?}: the id must be a credential id (a-z 0-9 - _) and the issuer's name 1 to 64 characters",
            d.id, d.issuer
        )]));
    }
    if d.site != "*" && d.site != trust.site.as_str() {
        return Err(Refusal::WrongSite { expected: trust.site.to_string(), found: d.site });
    }
    if now >= d.not_after {
        return Err(Refusal::DelegationEnded { delegation: d.id, at: d.not_after });
    }
    if clock_trusted && now < d.not_before {
        return Err(Refusal::NotYetValid(d.not_before));
    }
    let cert = body.certificate;
    if cert.authority != d.authority {
        return Err(beyond(&d, format!("the certificate names authority {}", cert.authority)));
    }
    if cert.not_before < d.not_before || cert.not_after > d.not_after {
        let (from, until) = (cert.not_before, cert.not_after);
        return Err(beyond(
            &d,
            format!("valid {from} to {until}, outside the delegation's {} to {}", d.not_before, d.not_after),
        ));
    }
    let lifetime = cert.not_after.duration_since(cert.not_before);
    if lifetime > d.max_certificate {
        return Err(Refusal::LifetimeTooLong {
            authority: format!("issuer {} (delegation {})", d.issuer, d.id),
            what: "phone certificate",
            lifetime,
            limit: d.max_certificate,
        });
    }
    if !d.roles.contains(&cert.role) {
        return Err(beyond(&d, format!("role {}", cert.role)));
    }
    let outside: Vec<&str> = cert.doors.iter().filter(|door| !d.covers_door(door)).map(String::as_str).collect();
    if !outside.is_empty() {
        return Err(beyond(&d, format!("door(s) {}", outside.join(", "))));
    }
    Ok((cert, authority, Through { id: d.id, issuer: d.issuer, issuer_key: d.issuer_key }))
}
