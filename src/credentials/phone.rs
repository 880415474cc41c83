//! A phone presenting a certificate instead of an allowlist entry: verify it, adopt a
//! newer revocation list it carries, and turn it into a credential for the decision.

use jiff::Timestamp;

use super::delegated::Through;
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
}

/// A verified certificate as a credential, and the revocation update it carried, if any
/// was newer than the gateway's (to be persisted and swapped in like an inbox document).
#[derive(Debug)]
pub struct Presented {
    /// The credential to decide with, and its issuer.
    pub phone: CertifiedPhone,
    /// The delegation it came through, when an issuer signed it.
    pub through: Option<Through>,
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
    // Against the lists stored now; a newer list the phone carried is judged again once
    // taken in (the access actor), so a refusal here never keeps that list out.
    if let Some(through) = &verified.through
        && registry.revokes_delegation(trust, &cert.authority, through, None)
    {
        return Err(Refusal::DelegationRevoked(through.id.clone()));
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
    let issuer = verified.through.as_ref().map(|t| t.issuer.clone());
    Ok(Presented { phone: CertifiedPhone { credential, issuer }, through: verified.through, newer_revocations })
}
