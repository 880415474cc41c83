//! Signed credentials at the gateway: a bundle built from CSV, signed and dropped into the
//! inbox admits its holder; everything tampered, unauthorised, rolled back or expired is
//! refused with its reason in the audit log; revocations and certificates work offline.
//! Authorities in the test site: `owner` (seed 0x01…, every door) and `kommunen`
//! (seed 0x02…, entrance and rubbish room). Seed 0x03… is trusted by nobody.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::signed::*;
use jiff::SignedDuration;
use portvakt::core::clock::ClockTrust;
use portvakt::core::decide::{AccessRequest, AccessState, DenyReason, ScheduleOwner, decide, decide_with};
use portvakt::credentials::bundle::{BookingEntry, Bundle};
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::phone::present_certificate;
use portvakt::credentials::registry::Registry;
use portvakt::credentials::revocation::RevocationList;
use portvakt::credentials::verify::{Refusal, Trust};
use portvakt::store::{AuditFilter, EventKind};

#[test]
fn a_bundle_built_from_csv_signed_and_dropped_in_the_inbox_admits_its_holder() {
    let mut g = Gateway::new();
    assert_eq!(g.opens("entrance", phone1(), "2026-11-24T03:00"), Err(DenyReason::UnknownCredential));
    g.drop_file("staff.pvkt", &signed(&bundle(&g.cfg, "kommunen", 1, staff_csv()), KOMMUNEN));
    assert_eq!(g.intake(), vec![("staff.pvkt".into(), "accepted".into())]);
    assert_eq!(g.opens("entrance", phone1(), "2026-11-24T03:00"), Ok(()));
    let lisa = common::tag(&g.cfg, "04:c1:7a:22:9b");
    assert_eq!(g.opens("entrance", lisa, "2026-11-24T03:00"), Ok(()));
    assert_eq!(g.opens("rubbish", lisa, "2026-11-24T03:00"), Err(DenyReason::DoorNotInScope));
    assert!(g.dir.path().join("inbox/accepted/staff.pvkt").exists());
    let audit = g.store.query(&AuditFilter::default()).unwrap();
    assert_eq!(audit[0].record.event.kind, EventKind::CredentialsAccepted);
}

#[test]
fn every_tampered_or_unauthorised_document_is_refused_with_its_reason_audited() {
    let mut g = Gateway::new();
    let good = bundle(&g.cfg, "kommunen", 5, staff_csv());
    g.drop_file("a-good-v5.pvkt", &signed(&good, KOMMUNEN));
    assert_eq!(g.intake()[0].1, "accepted");

    // One bit flipped inside a phone key: still well-formed, so only the signature tells.
    let mut flipped = signed(&Bundle { version: 6, ..good.clone() }, KOMMUNEN);
    let at = flipped.windows(32).position(|w| w.iter().all(|b| *b == 1)).unwrap();
    flipped[at + 5] ^= 0x01;
    let mut other_site = good.clone();
    other_site.site = "other-site".into();
    other_site.version = 7;
    let mut stranger = good.clone();
    stranger.authority = "stranger".into();
    stranger.version = 8;
    let out_of_scope_csv = "id,holder,role,kind,secret,doors\nsneaky,kalle,home_care,pin,123456,entrance;laundry\n";
    let mut expired = good.clone();
    expired.version = 9;
    expired.not_after = now() - SignedDuration::from_hours(1);
    let mut with_bookings = good.clone();
    with_bookings.version = 10;
    with_bookings.bookings.push(BookingEntry {
        holder: "kalle".into(),
        door: "laundry".into(),
        start: now(),
        end: now() + SignedDuration::from_hours(1),
    });
    let cert = PhoneCertificate {
        authority: "kommunen".into(),
        site: "*".into(),
        id: "cert-1".into(),
        holder: "kalle".into(),
        role: "home_care".into(),
        phone_key: [9; 32],
        doors: vec!["*".into()],
        not_before: now(),
        not_after: now() + SignedDuration::from_hours(1),
        revocations: None,
    };
    let files: Vec<(&str, Vec<u8>, &str)> = vec![
        ("b-forged.pvkt", signed(&Bundle { version: 6, ..good.clone() }, MALLORY), "bad_signature"),
        ("c-flipped-bit.pvkt", flipped, "bad_signature"),
        ("d-other-site.pvkt", signed(&other_site, KOMMUNEN), "wrong_site"),
        ("e-unknown-authority.pvkt", signed(&stranger, MALLORY), "unknown_authority"),
        ("f-out-of-scope.pvkt", signed(&bundle(&g.cfg, "kommunen", 11, out_of_scope_csv), KOMMUNEN), "out_of_scope"),
        ("g-rollback.pvkt", signed(&Bundle { version: 4, ..good.clone() }, KOMMUNEN), "rollback"),
        ("h-replay.pvkt", signed(&good, KOMMUNEN), "replay"),
        ("i-expired.pvkt", signed(&expired, KOMMUNEN), "expired"),
        ("j-bookings-not-owner.pvkt", signed(&with_bookings, KOMMUNEN), "bookings_not_permitted"),
        ("k-certificate.pvkt", seal(DocType::Certificate, &cert.encode(), &key(KOMMUNEN)), "wrong_type"),
        ("l-garbage.pvkt", b"GET / HTTP/1.1\r\n".to_vec(), "malformed"),
        ("m-truncated.pvkt", signed(&good, KOMMUNEN)[..40].to_vec(), "malformed"),
    ];
    for (name, bytes, _) in &files {
        g.drop_file(name, bytes);
    }
    let outcomes = g.intake();
    for ((name, _, want), (got_name, got)) in files.iter().zip(&outcomes) {
        assert_eq!((name, *want), (&got_name.as_str(), got.as_str()), "outcome of {name}");
        assert!(g.dir.path().join("inbox/refused").join(format!("{name}.why")).exists(), "{name}.why");
    }
    // The allowlist is the good bundle's: nobody new was admitted.
    assert_eq!(g.registry.bundle_version("kommunen"), Some(5));
    assert_eq!(
        g.opens("laundry", common::pin(&g.cfg, "123456"), "2026-11-24T12:00"),
        Err(DenyReason::UnknownCredential)
    );
    // Every refusal is in the audit chain with its reason code.
    let refused: Vec<String> = g
        .store
        .query(&AuditFilter::default())
        .unwrap()
        .into_iter()
        .filter(|r| r.record.event.kind == EventKind::CredentialsRefused)
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.record.event.detail).unwrap()["reason"].to_string())
        .collect();
    let want: Vec<String> = files.iter().map(|(_, _, w)| format!("\"{w}\"")).collect();
    assert_eq!(refused, want);
}

#[test]
fn an_out_of_scope_refusal_names_the_credential_and_door() {
    let g = Gateway::new();
    let trust = Trust::of(&g.cfg);
    let csv = "id,holder,role,kind,secret,doors\nok,a,home_care,pin,111111,entrance\nbad,b,home_care,pin,222222,laundry;bikes\n";
    let err = g
        .registry
        .check_bundle(&signed(&bundle(&g.cfg, "kommunen", 1, csv), KOMMUNEN), &trust, now(), true, &g.store)
        .unwrap_err();
    assert_eq!(
        err,
        Refusal::OutOfScope { authority: "kommunen".into(), entries: vec!["bad: laundry".into(), "bad: bikes".into()] }
    );
}

#[test]
fn a_bundle_conflicting_with_another_authoritys_credential_is_refused_whole() {
    let mut g = Gateway::new();
    g.drop_file("1-kommunen.pvkt", &signed(&bundle(&g.cfg, "kommunen", 1, staff_csv()), KOMMUNEN));
    // The owner issues a credential with the same phone key under another role.
    let csv = "id,holder,role,kind,secret,doors\nowner-1,kalle,resident,phone,0101010101010101010101010101010101010101010101010101010101010101,entrance\n";
    g.drop_file("2-owner.pvkt", &signed(&bundle(&g.cfg, "owner", 1, csv), OWNER));
    let outcomes = g.intake();
    assert_eq!(outcomes[0].1, "accepted");
    assert_eq!(outcomes[1].1, "unresolvable");
    assert_eq!(g.registry.bundle_version("owner"), None);
}

#[test]
fn revocations_apply_at_once_by_key_everywhere_and_by_id_only_for_the_issuer() {
    let mut g = Gateway::new();
    let owner_csv = "id,holder,role,kind,secret,doors\nres-1,anna,resident,tag,04:A2:19:7F,entrance\n";
    g.drop_file("1.pvkt", &signed(&bundle(&g.cfg, "owner", 1, owner_csv), OWNER));
    g.drop_file("2.pvkt", &signed(&bundle(&g.cfg, "kommunen", 1, staff_csv()), KOMMUNEN));
    g.intake();
    let list = RevocationList {
        authority: "kommunen".into(),
        site: "*".into(),
        sequence: 1,
        issued_at: now(),
        ids: vec!["care-2".into(), "res-1".into()],
        keys: vec![[1; 32]],
    };
    g.drop_file("3-revocations.pvkt", &seal(DocType::Revocations, &list.encode(), &key(KOMMUNEN)));
    assert_eq!(g.intake()[0].1, "accepted");
    assert_eq!(g.opens("entrance", phone1(), "2026-11-24T14:00"), Err(DenyReason::Revoked), "lost phone blocked");
    let lisa = common::tag(&g.cfg, "04:c1:7a:22:9b");
    assert_eq!(g.opens("entrance", lisa, "2026-11-24T14:00"), Err(DenyReason::Revoked), "own credential by id");
    let anna = common::tag(&g.cfg, "04:A2:19:7F");
    assert_eq!(g.opens("entrance", anna, "2026-11-24T14:00"), Ok(()), "the municipality cannot revoke the owner's");
    // The same sequence again is a replay.
    g.drop_file("4-again.pvkt", &seal(DocType::Revocations, &list.encode(), &key(KOMMUNEN)));
    assert_eq!(g.intake()[0].1, "replay");
}

#[test]
fn accepted_documents_survive_a_restart_and_an_altered_one_is_dropped() {
    let mut g = Gateway::new();
    g.drop_file("1.pvkt", &signed(&bundle(&g.cfg, "kommunen", 3, staff_csv()), KOMMUNEN));
    g.intake();
    let trust = Trust::of(&g.cfg);
    let stored: Vec<Vec<u8>> = g.store.bundles().unwrap().into_iter().map(|d| d.body).collect();
    let (reg, dropped) = Registry::restore(&stored, &[], &trust);
    assert!(dropped.is_empty());
    assert_eq!(reg.bundle_version("kommunen"), Some(3));
    let built = reg.build_with(&trust, &stored, Vec::new(), None).unwrap();
    assert!(built.allowlist.by_token(&phone1()).is_some());
    // Someone with the SD card adds a credential to the stored bytes.
    let mut altered = stored[0].clone();
    let n = altered.len();
    altered[n - 70] ^= 0x20;
    let (reg, dropped) = Registry::restore(&[altered], &[], &trust);
    assert_eq!(reg.bundle_version("kommunen"), None);
    assert!(matches!(dropped[0], Refusal::BadSignature(_) | Refusal::Malformed(_)), "{dropped:?}");
}

#[test]
fn a_new_staff_member_with_a_certificate_gets_in_before_any_bundle_arrives() {
    let g = Gateway::new();
    let night = common::at(&g.cfg, "2026-11-25T02:30");
    let cert = seal(DocType::Certificate, &certificate(&["*"], 24, None).encode(), &key(KOMMUNEN));
    assert_eq!(present(&g, &cert, "entrance", night), Ok(()));
    assert_eq!(present(&g, &cert, "rubbish", night), Ok(()));
    // The municipality has no scope for the laundry room, whatever the certificate says.
    let greedy = seal(DocType::Certificate, &certificate(&["laundry", "entrance"], 24, None).encode(), &key(KOMMUNEN));
    assert_eq!(present(&g, &greedy, "laundry", night), Err("door_not_in_scope".into()));
    assert_eq!(present(&g, &greedy, "entrance", night), Ok(()));
    // Expired, not yet valid, forged.
    let later = now() + SignedDuration::from_hours(30);
    assert_eq!(present(&g, &cert, "entrance", later), Err("expired".into()));
    assert_eq!(present(&g, &cert, "entrance", now() - SignedDuration::from_hours(5)), Err("not_yet_valid".into()));
    let forged = seal(DocType::Certificate, &certificate(&["*"], 24, None).encode(), &key(MALLORY));
    assert_eq!(present(&g, &forged, "entrance", night), Err("bad_signature".into()));
}

#[test]
fn a_certificate_carries_revocations_to_a_gateway_without_coverage() {
    let g = Gateway::new();
    let night = common::at(&g.cfg, "2026-11-25T02:30");
    // Another phone's certificate carries the list that revokes phone 77.
    let list = RevocationList {
        authority: "kommunen".into(),
        site: "*".into(),
        sequence: 4,
        issued_at: now(),
        ids: Vec::new(),
        keys: vec![[77; 32]],
    };
    let list_bytes = seal(DocType::Revocations, &list.encode(), &key(KOMMUNEN));
    let mut carrier = certificate(&["*"], 24, Some(list_bytes));
    carrier.id = "cert-88".into();
    carrier.phone_key = [88; 32];
    let carrier = seal(DocType::Certificate, &carrier.encode(), &key(KOMMUNEN));
    let trust = Trust::of(&g.cfg);
    let p = present_certificate(&carrier, &g.registry, &g.store, &trust, night, true).unwrap();
    let (_, adopted, built) = p.newer_revocations.expect("the carried list is newer than none");
    assert_eq!(adopted.sequence, 4);
    let state = AccessState { clock: ClockTrust::Trusted, revocations: built.revocations, ..AccessState::default() };
    let lost = seal(DocType::Certificate, &certificate(&["*"], 24, None).encode(), &key(KOMMUNEN));
    let p = present_certificate(&lost, &g.registry, &g.store, &trust, night, true).unwrap();
    let req = AccessRequest { door: common::door(&g.cfg, "entrance"), token: p.phone.credential.token };
    assert_eq!(
        decide_with(&g.cfg.policy, &state, &req, &p.phone.credential, night).deny_reason(),
        Some(&DenyReason::Revoked)
    );
}

fn owner_policy(text: &str) -> portvakt::core::owner_policy::OwnerPolicy {
    portvakt::config::owner_policy(text).unwrap()
}

#[test]
fn the_owners_signed_policy_changes_door_code_hours_and_free_passage_remotely() {
    let mut g = Gateway::new();
    let resident = "id,holder,role,kind,secret,doors\nres-1,anna,resident,pin,4711,entrance\n";
    g.drop_file("1.pvkt", &signed(&bundle(&g.cfg, "owner", 1, resident), OWNER));
    g.intake();
    let code = common::pin(&g.cfg, "1357");
    assert_eq!(
        g.opens("entrance", code, "2026-11-24T23:30"),
        Err(DenyReason::OutsideSchedule {
            schedule: "day".parse().unwrap(),
            owner: ScheduleOwner::DoorCode,
            holiday: None,
            exception: None
        })
    );
    assert!(g.state.allowlist.by_id(&"res-1".parse().unwrap()).is_some());
    let mut b = bundle(&g.cfg, "owner", 2, resident);
    b.policy = Some(owner_policy(
        "[schedules.late]\nwindows = [{ days = \"mon-sun\", from = \"06:00\", to = \"24:00\" }]\n\
         [door_code]\nschedule = \"late\"\n[free_passage]\nentrance = \"\"\n",
    ));
    g.drop_file("2.pvkt", &signed(&b, OWNER));
    assert_eq!(g.intake()[0].1, "accepted");
    assert_eq!(g.opens("entrance", code, "2026-11-24T23:30"), Ok(()), "the door code now works until midnight");
    // Free passage (weekdays 10:00-10:30 in the config) is off: the door code decides.
    let req = AccessRequest { door: common::door(&g.cfg, "entrance"), token: common::pin(&g.cfg, "4711") };
    let d = decide(&g.policy, &g.state, &req, common::at(&g.cfg, "2026-11-24T10:15"));
    assert!(matches!(d.grant_rule(), Some(portvakt::core::decide::GrantRule::Role { .. })), "{d:?}");
}

#[test]
fn only_the_owner_may_send_site_policy_and_a_bad_one_is_refused_whole() {
    let mut g = Gateway::new();
    let mut from_city = bundle(&g.cfg, "kommunen", 1, staff_csv());
    from_city.policy = Some(owner_policy("[door_code]\nschedule = \"day\"\n"));
    g.drop_file("1-city.pvkt", &signed(&from_city, KOMMUNEN));
    let mut unknown = bundle(&g.cfg, "owner", 1, "id,holder,role,kind,secret,doors\n");
    unknown.policy = Some(owner_policy("[door_code]\nschedule = \"nights\"\n[free_passage]\ngarage = \"day\"\n"));
    g.drop_file("2-owner.pvkt", &signed(&unknown, OWNER));
    let outcomes = g.intake();
    assert_eq!(outcomes[0].1, "not_owner");
    assert_eq!(outcomes[1].1, "unresolvable");
    let why = std::fs::read_to_string(g.dir.path().join("inbox/refused/2-owner.pvkt.why")).unwrap();
    assert!(
        why.contains("schedule \"nights\" is not defined") && why.contains("door \"garage\" is not defined"),
        "{why}"
    );
}
