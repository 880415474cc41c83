//! Delegated issuers: kommunen lets Central's issuer key sign shift certificates for home
//! care at the entrance, up to 12 h. A gateway takes such a certificate only through a
//! valid delegation from an authority it trusts, only within it, and not once the
//! delegation is revoked or has ended. (Authorities of the test site: `common::signed`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::signed::*;
use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::delegation::{Delegation, issue};
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::phone::present_certificate;
use portvakt::credentials::revocation::RevocationList;
use portvakt::credentials::verify::Trust;

const ISSUER: u8 = 0x49;

fn delegation(authority: &str) -> Delegation {
    Delegation {
        authority: authority.into(),
        id: "central-2026".into(),
        issuer: "central".into(),
        issuer_key: key(ISSUER).verifying_key().to_bytes(),
        site: "*".into(),
        roles: vec!["home_care".into()],
        doors: vec!["entrance".into()],
        max_certificate: SignedDuration::from_hours(12),
        not_before: now() - SignedDuration::from_hours(24),
        not_after: now() + SignedDuration::from_hours(24 * 30),
    }
}

fn shift(doors: &[&str], hours: i64) -> PhoneCertificate {
    let mut c = certificate(doors, hours, None);
    c.authority = "kommunen".into();
    c.id = "shift-anna-1".into();
    c
}

/// `d` signed by `signer`, and the certificate issued through it by the issuer.
fn issued(d: &Delegation, signer: u8, cert: PhoneCertificate) -> Vec<u8> {
    let envelope = seal(DocType::Delegation, &d.encode(), &key(signer));
    issue(&envelope, cert, &key(ISSUER))
}

fn verdict(g: &Gateway, bytes: &[u8], at: Timestamp) -> String {
    match present_certificate(bytes, &g.registry, &g.store, &Trust::of(&g.cfg), at, true) {
        Ok(p) => format!("accepted, issuer {}", p.phone.issuer.unwrap_or_default()),
        Err(e) => e.code().into(),
    }
}

#[test]
fn a_shift_certificate_through_kommunens_delegation_opens_the_entrance_and_names_its_issuer() {
    let g = Gateway::new();
    let bytes = issued(&delegation("kommunen"), KOMMUNEN, shift(&["entrance"], 10));
    assert_eq!(verdict(&g, &bytes, now()), "accepted, issuer central");
    assert_eq!(present(&g, &bytes, "entrance", now()), Ok(()));
}

#[test]
fn a_certificate_from_an_issuer_without_a_delegation_is_refused() {
    let g = Gateway::new();
    // Signed by the issuer's key as if it were kommunen's own certificate.
    let plain = seal(DocType::Certificate, &shift(&["entrance"], 10).encode(), &key(ISSUER));
    assert_eq!(verdict(&g, &plain, now()), "bad_signature");
    // A delegation the issuer signed for itself.
    assert_eq!(verdict(&g, &issued(&delegation("kommunen"), ISSUER, shift(&["entrance"], 10)), now()), "bad_signature");
    // A delegation from an authority this gateway does not trust.
    let mut foreign = delegation("mallory");
    foreign.authority = "mallory".into();
    let mut cert = shift(&["entrance"], 10);
    cert.authority = "mallory".into();
    assert_eq!(verdict(&g, &issued(&foreign, MALLORY, cert), now()), "unknown_authority");
    // A true delegation, but the certificate signed by another key than the issuer's.
    let envelope = seal(DocType::Delegation, &delegation("kommunen").encode(), &key(KOMMUNEN));
    let forged = issue(&envelope, shift(&["entrance"], 10), &SigningKey::from_bytes(&[0x66; 32]));
    assert_eq!(verdict(&g, &forged, now()), "bad_signature");
}

#[test]
fn a_certificate_beyond_its_delegation_in_door_role_lifetime_or_authority_is_refused() {
    let g = Gateway::new();
    let d = delegation("kommunen");
    // The rubbish room is kommunen's, but not delegated.
    assert_eq!(verdict(&g, &issued(&d, KOMMUNEN, shift(&["rubbish"], 10)), now()), "beyond_delegation");
    assert_eq!(verdict(&g, &issued(&d, KOMMUNEN, shift(&["*"], 10)), now()), "beyond_delegation");
    let mut role = shift(&["entrance"], 10);
    role.role = "contractor".into();
    assert_eq!(verdict(&g, &issued(&d, KOMMUNEN, role), now()), "beyond_delegation");
    // 13 h against a 12 h delegation (kommunen itself may issue 168 h).
    assert_eq!(verdict(&g, &issued(&d, KOMMUNEN, shift(&["entrance"], 12)), now()), "lifetime_too_long");
    // Valid past the delegation's end.
    let mut ending = delegation("kommunen");
    ending.not_after = now() + SignedDuration::from_hours(2);
    assert_eq!(verdict(&g, &issued(&ending, KOMMUNEN, shift(&["entrance"], 10)), now()), "beyond_delegation");
    // The delegation is kommunen's; the certificate names the owner.
    let mut owners = shift(&["entrance"], 10);
    owners.authority = "owner".into();
    assert_eq!(verdict(&g, &issued(&d, KOMMUNEN, owners), now()), "beyond_delegation");
    // And the authority's own grant still holds: a delegation cannot widen it.
    let mut wide = delegation("kommunen");
    wide.roles = vec!["property_staff".into()];
    let mut staff = shift(&["entrance"], 10);
    staff.role = "property_staff".into();
    assert_eq!(verdict(&g, &issued(&wide, KOMMUNEN, staff), now()), "role_not_granted");
}

#[test]
fn a_delegation_that_ended_or_is_not_yet_valid_admits_no_one() {
    let g = Gateway::new();
    let bytes = issued(&delegation("kommunen"), KOMMUNEN, shift(&["entrance"], 10));
    let after = now() + SignedDuration::from_hours(24 * 30);
    assert_eq!(verdict(&g, &bytes, after), "delegation_ended");
    let mut later = delegation("kommunen");
    later.not_before = now() + SignedDuration::from_hours(1);
    later.not_after = now() + SignedDuration::from_hours(48);
    let mut cert = shift(&["entrance"], 10);
    cert.not_before = now() + SignedDuration::from_hours(1);
    cert.not_after = now() + SignedDuration::from_hours(11);
    assert_eq!(verdict(&g, &issued(&later, KOMMUNEN, cert), now()), "not_yet_valid");
}

fn revoke(g: &mut Gateway, authority: (&str, u8), ids: &[&str], keys: Vec<[u8; 32]>) {
    let list = RevocationList {
        authority: authority.0.into(),
        site: "*".into(),
        sequence: 1,
        issued_at: now(),
        ids: ids.iter().map(|i| (*i).to_owned()).collect(),
        keys,
    };
    g.drop_file("rev.pvkt", &seal(DocType::Revocations, &list.encode(), &key(authority.1)));
    assert_eq!(g.intake(), [("rev.pvkt".to_owned(), "accepted".to_owned())]);
}

#[test]
fn revoking_the_delegation_by_id_or_the_issuers_key_ends_every_certificate_it_issued() {
    let bytes = issued(&delegation("kommunen"), KOMMUNEN, shift(&["entrance"], 10));
    let mut by_id = Gateway::new();
    revoke(&mut by_id, ("kommunen", KOMMUNEN), &["central-2026"], Vec::new());
    assert_eq!(verdict(&by_id, &bytes, now()), "delegation_revoked");
    let mut by_key = Gateway::new();
    revoke(&mut by_key, ("kommunen", KOMMUNEN), &[], vec![key(ISSUER).verifying_key().to_bytes()]);
    assert_eq!(verdict(&by_key, &bytes, now()), "delegation_revoked");
    // The owner may revoke anyone's.
    let mut by_owner = Gateway::new();
    revoke(&mut by_owner, ("owner", OWNER), &["central-2026"], Vec::new());
    assert_eq!(verdict(&by_owner, &bytes, now()), "delegation_revoked");
    let mut owner_by_key = Gateway::new();
    revoke(&mut owner_by_key, ("owner", OWNER), &[], vec![key(ISSUER).verifying_key().to_bytes()]);
    assert_eq!(verdict(&owner_by_key, &bytes, now()), "delegation_revoked");
    // A list naming another delegation's id ends nothing of this one.
    let mut other = Gateway::new();
    revoke(&mut other, ("kommunen", KOMMUNEN), &["central-2025"], Vec::new());
    assert_eq!(verdict(&other, &bytes, now()), "accepted, issuer central");
}

#[test]
fn a_list_the_phone_carries_ends_the_delegation_even_where_nothing_was_stored_and_decides_alone() {
    let g = Gateway::new();
    let list = RevocationList {
        authority: "kommunen".into(),
        site: "*".into(),
        sequence: 9,
        issued_at: now(),
        ids: vec!["central-2026".into()],
        keys: Vec::new(),
    };
    let carried = seal(DocType::Revocations, &list.encode(), &key(KOMMUNEN));
    let mut cert = shift(&["entrance"], 10);
    cert.revocations = Some(carried);
    let bytes = issued(&delegation("kommunen"), KOMMUNEN, cert);
    // The certificate passes, the list comes along, and the refusal waits only for it to
    // be taken in: it holds whether or not the gateway can store the list.
    let p = present_certificate(&bytes, &g.registry, &g.store, &Trust::of(&g.cfg), now(), true).unwrap();
    assert!(p.newer_revocations.is_some());
    assert_eq!(p.refusal.map(|r| r.code()), Some("delegation_revoked"));
}

#[test]
fn a_delegation_whose_id_is_not_a_credential_id_is_refused() {
    let g = Gateway::new();
    let mut odd = delegation("kommunen");
    odd.id = "Central 2026".into();
    assert_eq!(verdict(&g, &issued(&odd, KOMMUNEN, shift(&["entrance"], 10)), now()), "unresolvable");
}
