//! The chain of a delegated certificate (type 8), checked at the gateway before the
//! certificate's own checks: the delegation (type 7) is signed by an authority this
//! gateway trusts, holds here and now, and the issuer it names signed the certificate
//! within it — the authority, a role it lists, doors it lists, no longer than its
//! `max_certificate` and not past its end. Pure: `now` and the clock's trust are passed in.
//! Revocation of the delegation (by its id or the issuer's key) is the registry's, at
//! presentation (`credentials::phone`). Also the issuer's own revocation list (type 9),
//! checked the same way: it ends certificates signed through its delegation only.

use jiff::Timestamp;

use super::delegation::{DelegatedCertificate, Delegation};
use super::envelope::{DocType, Envelope, open, signature_ok};
use super::revocation::{IssuerRevocations, RevocationList};
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

/// Opens a delegation's envelope carried at `shift` bytes into the file and checks what
/// holds whatever it is used for: signed by an authority this gateway trusts, its id a
/// credential id, its issuer named, for this site. Not its time: a certificate checks that,
/// an issuer's revocation list needs none (it only takes access away).
fn open_delegation<'t>(
    envelope: &[u8],
    trust: &'t Trust<'_>,
    shift: usize,
) -> Result<(Delegation, &'t AuthorityConfig), Refusal> {
    // Offsets in the whole file: the delegation's body starts after its own header (10).
    let at = |extra: usize| {
        move |mut e: super::wire::WireError| {
            e.at += shift + extra;
            Refusal::Malformed(e)
        }
    };
    let inner = open(envelope).map_err(at(0))?;
    if inner.doc_type != DocType::Delegation {
        return Err(Refusal::WrongType { expected: DocType::Delegation.word(), found: inner.doc_type.word() });
    }
    let d = Delegation::decode(inner.body).map_err(at(10))?;
    let authority = signed_by(trust, &d.authority, &inner)?;
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
    Ok((d, authority))
}

/// An issuer's revocation list that verified: what it ends, the topic it belongs on, and
/// under which key the registry and the store keep it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerList {
    /// `<authority>/<delegation id>`: its topic's last two levels.
    pub topic: String,
    /// `<authority>/<delegation id>/<issuer key, hex>`: one list and one sequence floor
    /// per issuer key, so a delegation re-issued to a new key keeps its lists apart from
    /// the old key's (whoever holds that one).
    pub key: String,
    /// The delegation its certificates came through.
    pub through: Through,
    /// The list.
    pub list: RevocationList,
}

/// Where the registry keeps the issuer's list of certificates signed through `through`.
pub fn issuer_list_key(authority: &str, through: &Through) -> String {
    format!("{authority}/{}/{}", through.id, portvakt_wire::hex::encode(&through.issuer_key))
}

/// Verifies an issuer's revocation list (type 9): its delegation from an authority this
/// gateway trusts (whatever its time: a list only takes access away), the issuer's
/// signature over it, the same authority, this site, and a sequence above `stored` (the
/// highest taken in under the same key).
pub fn verify_issuer_list(
    bytes: &[u8],
    trust: &Trust<'_>,
    stored: impl Fn(&str) -> Option<u64>,
) -> Result<IssuerList, Refusal> {
    let env = open(bytes).map_err(Refusal::Malformed)?;
    if env.doc_type != DocType::IssuerRevocations {
        return Err(Refusal::WrongType { expected: DocType::IssuerRevocations.word(), found: env.doc_type.word() });
    }
    let body = IssuerRevocations::decode(env.body).map_err(|mut e| {
        e.at += 10;
        Refusal::Malformed(e)
    })?;
    let (d, _) = open_delegation(body.delegation, trust, 14)?;
    if !signature_ok(&env, &d.issuer_key) {
        return Err(Refusal::BadSignature(format!("issuer {}", d.issuer)));
    }
    let list = body.list;
    if list.authority != d.authority {
        return Err(beyond(&d, format!("a revocation list of authority {}", list.authority)));
    }
    if list.site != "*" && list.site != trust.site.as_str() {
        return Err(Refusal::WrongSite { expected: trust.site.to_string(), found: list.site });
    }
    let topic = format!("{}/{}", d.authority, d.id);
    let through = Through { id: d.id, issuer: d.issuer, issuer_key: d.issuer_key };
    let key = issuer_list_key(&d.authority, &through);
    super::verify::check_version(stored(&key), list.sequence)?;
    Ok(IssuerList { topic, key, through, list })
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
    let (d, authority) = open_delegation(body.delegation, trust, 14)?;
    // The issuer signed this certificate: only now is anything in it believed.
    if !signature_ok(env, &d.issuer_key) {
        return Err(Refusal::BadSignature(format!("issuer {}", d.issuer)));
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
