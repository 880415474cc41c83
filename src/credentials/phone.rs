//! A phone presenting a certificate instead of an allowlist entry: verify it, adopt a
//! newer revocation list it carries, and turn it into a credential for the decision.

use jiff::Timestamp;

use super::registry::{Built, BundleSource, Registry};
use super::verify::{Refusal, Trust, verify_certificate};
use crate::core::credential::{Credential, PhoneKey, Token};

/// A phone's verified certificate as the decision takes it: the credential, and the issuer
/// that signed it when an authority delegated (named in the audit record).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertifiedPhone {
    /// The credential to decide with.
    pub credential: Credential,
    /// The delegated issuer's name, when an issuer signed the certificate.
    pub issuer: Option<String>,
    /// The delegation's id it signed through.
    pub delegation: Option<String>,
}

/// A verified certificate as a credential, and the revocation update it carried, if any
/// was newer than the gateway's (to be persisted and swapped in like an inbox document).
#[derive(Debug)]
pub struct Presented {
    /// The credential to decide with, and its issuer.
    pub phone: CertifiedPhone,
    /// Refused after all — by the newer revocation list the phone carried (the credential
    /// or the delegation revoked in it), or the delegation revoked by a stored list — but
    /// only once that list is taken in (without a newer list, such a refusal is the
    /// function's error).
    pub refusal: Option<Refusal>,
    /// A newer revocation list the phone carried: its bytes and the rebuilt core inputs.
    pub newer_revocations: Option<(Vec<u8>, super::revocation::RevocationList, Built)>,
}

/// Verifies a certificate and resolves it against the site.
pub fn present_certificate(
    bytes: &[u8],
    registry: &Registry,
    source: &dyn BundleSource,
    trust: &Trust<'_>,
    now: Timestamp,
    clock_trusted: bool,
) -> Result<Presented, Refusal> {
    let verified = verify_certificate(bytes, trust, now, clock_trusted)?;
    let (cert, doors) = (verified.certificate, verified.doors);
    let newer_revocations = match &cert.revocations {
        Some(carried) => match registry.check_revocations(carried, trust, source) {
            Ok((list, built)) if list.authority == cert.authority => Some((carried.clone(), list, built)),
            // Older, replayed or foreign lists are ignored: the gateway's own is newer.
            _ => None,
        },
        None => None,
    };
    let carried = newer_revocations.as_ref().map(|(_, list, _)| list);
    let delegation_revoked = verified
        .through
        .as_ref()
        .filter(|t| registry.revokes_delegation(trust, &cert.authority, t, carried))
        .map(|t| Refusal::DelegationRevoked(t.id.clone()));
    // Revoked since by the issuer that signed it (Central, for a person it disabled).
    let delegation_revoked = delegation_revoked.or_else(|| {
        verified
            .through
            .as_ref()
            .filter(|t| registry.revokes_issued(&cert.authority, t, &cert.id, &cert.phone_key))
            .map(|_| Refusal::Revoked)
    });
    // Nothing carried to take in first: refused now.
    if let (Some(refusal), None) = (&delegation_revoked, &newer_revocations) {
        return Err(refusal.clone());
    }
    let problems = |what: &str| Refusal::Unresolvable(vec![format!("certificate {}: {what}", cert.id)]);
    let role =
        cert.role.parse().ok().and_then(|r| trust.policy.role_index(&r)).ok_or_else(|| problems("unknown role"))?;
    let credential = Credential {
        id: cert.id.parse().map_err(|_| problems("bad id"))?,
        holder: cert.holder.parse().map_err(|_| problems("bad holder"))?,
        role,
        token: Token::Phone(PhoneKey(cert.phone_key)),
        doors,
        schedule: None,
        valid_from: Some(cert.not_before),
        valid_until: Some(cert.not_after),
        authority: cert.authority.parse().ok(),
    };
    // A newer list the phone carried decides too, whether or not the gateway manages to
    // store it (a full card must not let a revoked phone in).
    let carried_revokes =
        newer_revocations.as_ref().is_some_and(|(_, _, built)| built.revocations.is_revoked(&credential));
    let refusal = delegation_revoked.or_else(|| carried_revokes.then_some(Refusal::Revoked));
    let (issuer, delegation) = verified.through.map(|t| (t.issuer, t.id)).unzip();
    Ok(Presented { phone: CertifiedPhone { credential, issuer, delegation }, refusal, newer_revocations })
}
