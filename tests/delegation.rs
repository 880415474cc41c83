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
/// The key a delegation is re-issued to.
const NEW_ISSUER: u8 = 0x4a;

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

/// The issuer's own revocation list for `d` (type 9), signed by `signer`.
fn issuer_list(d: &Delegation, signer: u8, sequence: u64, ids: &[&str], keys: Vec<[u8; 32]>) -> Vec<u8> {
    let envelope = seal(DocType::Delegation, &d.encode(), &key(KOMMUNEN));
    let list = RevocationList {
        authority: d.authority.clone(),
        site: "*".into(),
        sequence,
        issued_at: now(),
        ids: ids.iter().map(|i| (*i).to_owned()).collect(),
        keys,
    };
    portvakt::credentials::revocation::issue(&envelope, list, &key(signer))
}

fn take(g: &mut Gateway, name: &str, bytes: &[u8]) -> String {
    g.drop_file(name, bytes);
    let outcomes = g.intake();
    outcomes.into_iter().find(|(n, _)| n == name).map(|(_, o)| o).unwrap_or_default()
}

#[test]
fn the_issuers_own_list_ends_a_certificate_it_signed_at_once_by_id_or_phone_key_and_no_other() {
    let d = delegation("kommunen");
    let anna = issued(&d, KOMMUNEN, shift(&["entrance"], 10));
    let mut bo_cert = shift(&["entrance"], 10);
    bo_cert.id = "shift-bo-2".into();
    bo_cert.holder = "bo".into();
    bo_cert.phone_key = [0x42; 32];
    let bo = issued(&d, KOMMUNEN, bo_cert);
    let mut by_id = Gateway::new();
    assert_eq!(
        take(&mut by_id, "central.pvkt", &issuer_list(&d, ISSUER, 1, &["shift-anna-1"], Vec::new())),
        "accepted"
    );
    assert_eq!(verdict(&by_id, &anna, now()), "revoked");
    assert_eq!(verdict(&by_id, &bo, now()), "accepted, issuer central");
    let mut by_key = Gateway::new();
    let anna_key = shift(&["entrance"], 10).phone_key;
    assert_eq!(take(&mut by_key, "central.pvkt", &issuer_list(&d, ISSUER, 1, &[], vec![anna_key])), "accepted");
    assert_eq!(verdict(&by_key, &anna, now()), "revoked");
    assert_eq!(verdict(&by_key, &bo, now()), "accepted, issuer central");
    // A newer list without her gives her shift back (the issuer re-enabled her).
    assert_eq!(take(&mut by_id, "central-2.pvkt", &issuer_list(&d, ISSUER, 2, &[], Vec::new())), "accepted");
    assert_eq!(verdict(&by_id, &anna, now()), "accepted, issuer central");
}

#[test]
fn the_issuers_list_reaches_no_further_than_its_own_delegation() {
    let d = delegation("kommunen");
    let mut g = Gateway::new();
    let list = issuer_list(&d, ISSUER, 1, &["shift-anna-1"], vec![shift(&["entrance"], 10).phone_key]);
    assert_eq!(take(&mut g, "central.pvkt", &list), "accepted");
    // The same id and key through another delegation of the same issuer key …
    let mut next = delegation("kommunen");
    next.id = "central-2027".into();
    assert_eq!(verdict(&g, &issued(&next, KOMMUNEN, shift(&["entrance"], 10)), now()), "accepted, issuer central");
    // … or in kommunen's own certificate: the issuer cannot touch them.
    let own = seal(DocType::Certificate, &shift(&["entrance"], 10).encode(), &key(KOMMUNEN));
    assert!(verdict(&g, &own, now()).starts_with("accepted"));
}

#[test]
fn an_issuers_list_not_signed_by_its_issuer_of_another_authority_or_not_newer_is_refused_and_changes_nothing() {
    let d = delegation("kommunen");
    let anna = issued(&d, KOMMUNEN, shift(&["entrance"], 10));
    let mut g = Gateway::new();
    // Signed by another key than the delegation names.
    let forged = issuer_list(&d, OWNER, 1, &["shift-anna-1"], Vec::new());
    assert!(take(&mut g, "forged.pvkt", &forged).contains("bad_signature"));
    // A list in the name of another authority than the delegation's.
    let envelope = seal(DocType::Delegation, &d.encode(), &key(KOMMUNEN));
    let owners = RevocationList {
        authority: "owner".into(),
        site: "*".into(),
        sequence: 1,
        issued_at: now(),
        ids: vec!["anna-tag".into()],
        keys: Vec::new(),
    };
    let widened = portvakt::credentials::revocation::issue(&envelope, owners, &key(ISSUER));
    assert!(take(&mut g, "widened.pvkt", &widened).contains("beyond_delegation"));
    assert_eq!(verdict(&g, &anna, now()), "accepted, issuer central");
    // An older list after a newer one.
    assert_eq!(take(&mut g, "new.pvkt", &issuer_list(&d, ISSUER, 5, &[], Vec::new())), "accepted");
    assert!(take(&mut g, "old.pvkt", &issuer_list(&d, ISSUER, 4, &["shift-anna-1"], Vec::new())).contains("rollback"));
    assert_eq!(verdict(&g, &anna, now()), "accepted, issuer central");
}

#[test]
fn an_issuers_list_is_kept_in_the_store_and_holds_after_a_restart() {
    let d = delegation("kommunen");
    let anna = issued(&d, KOMMUNEN, shift(&["entrance"], 10));
    let mut g = Gateway::new();
    assert_eq!(take(&mut g, "central.pvkt", &issuer_list(&d, ISSUER, 3, &["shift-anna-1"], Vec::new())), "accepted");
    let (restored, refused) =
        portvakt::credentials::registry::Registry::from_store(&g.store, &Trust::of(&g.cfg)).unwrap();
    assert!(refused.is_empty(), "{refused:?}");
    g.registry = restored;
    assert_eq!(verdict(&g, &anna, now()), "revoked");
    // And its sequence floor holds: the same list again is a replay.
    assert!(take(&mut g, "again.pvkt", &issuer_list(&d, ISSUER, 3, &[], Vec::new())).contains("replay"));
}

#[test]
fn a_delegation_reissued_to_a_new_key_keeps_its_list_apart_from_the_old_keys() {
    let old = delegation("kommunen");
    let mut new = delegation("kommunen");
    new.issuer_key = key(NEW_ISSUER).verifying_key().to_bytes();
    let anna = {
        let envelope = seal(DocType::Delegation, &new.encode(), &key(KOMMUNEN));
        issue(&envelope, shift(&["entrance"], 10), &key(NEW_ISSUER))
    };
    let mut g = Gateway::new();
    assert_eq!(
        take(&mut g, "new-1.pvkt", &issuer_list(&new, NEW_ISSUER, 1, &["shift-anna-1"], Vec::new())),
        "accepted"
    );
    assert_eq!(verdict(&g, &anna, now()), "revoked");
    // Whoever still holds the old key signs an empty list with the highest sequence there is.
    assert_eq!(take(&mut g, "old.pvkt", &issuer_list(&old, ISSUER, u64::MAX, &[], Vec::new())), "accepted");
    assert_eq!(verdict(&g, &anna, now()), "revoked", "the old key's list is not the new key's");
    assert_eq!(
        take(&mut g, "new-2.pvkt", &issuer_list(&new, NEW_ISSUER, 2, &["shift-anna-1"], Vec::new())),
        "accepted"
    );
}

#[test]
fn a_list_through_a_revoked_delegation_is_refused() {
    let d = delegation("kommunen");
    let mut g = Gateway::new();
    revoke(&mut g, ("kommunen", KOMMUNEN), &[], vec![key(ISSUER).verifying_key().to_bytes()]);
    assert!(take(&mut g, "central.pvkt", &issuer_list(&d, ISSUER, 1, &[], Vec::new())).contains("delegation_revoked"));
}
