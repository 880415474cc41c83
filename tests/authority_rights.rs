//! Authorities can do only what the owner granted, and validity only moves forward: the
//! roles an authority may give, the lifetimes it may issue, the commands and modes it may
//! send, revocations scoped to the revoker's own credentials, expiry judged against the
//! clock floor while the clock is untrusted, and bundles from the future refused.
//! (Authorities of the test site: see `common::signed`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::signed::*;
use jiff::{SignedDuration, Timestamp};
use portvakt::core::clock::{ClockState, ClockTrust, UntrustedReason};
use portvakt::core::decide::{AccessRequest, AccessState, DenyReason, decide};
use portvakt::core::model::DoorMode;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::intake::{IntakeProblem, process_inbox};
use portvakt::credentials::phone::present_certificate;
use portvakt::credentials::revocation::RevocationList;
use portvakt::credentials::verify::Trust;

const UNSYNCED: ClockTrust = ClockTrust::Untrusted(UntrustedReason::NotSynchronized);

fn code_of(g: &Gateway, cert: &portvakt::credentials::certificate::PhoneCertificate) -> String {
    let bytes = seal(DocType::Certificate, &cert.encode(), &key(KOMMUNEN));
    match present_certificate(&bytes, &g.registry, &g.store, &Trust::of(&g.cfg), now(), true) {
        Ok(_) => "accepted".into(),
        Err(e) => e.code().into(),
    }
}

#[test]
fn the_municipality_cannot_give_the_owners_lockdown_role_in_a_certificate_or_a_bundle() {
    let mut g = Gateway::new();
    let mut cert = certificate(&["*"], 12, None);
    cert.role = "property_staff".into();
    assert_eq!(code_of(&g, &cert), "role_not_granted");
    cert.role = "home_care".into();
    assert_eq!(code_of(&g, &cert), "accepted");

    let csv = "id,holder,role,kind,secret,doors\nstaff-9,eva,property_staff,tag,04:11:22:33,entrance\n";
    g.drop_file("1.pvkt", &signed(&bundle(&g.cfg, "kommunen", 1, csv), KOMMUNEN));
    assert_eq!(g.intake(), [("1.pvkt".to_owned(), "role_not_granted".to_owned())]);
    // The owner may give it.
    g.drop_file("2.pvkt", &signed(&bundle(&g.cfg, "owner", 1, csv), OWNER));
    assert_eq!(g.intake(), [("2.pvkt".to_owned(), "accepted".to_owned())]);
}

#[test]
fn certificates_and_bundles_longer_than_the_authority_may_issue_are_refused() {
    let mut g = Gateway::new();
    let ten_years = certificate(&["*"], 24 * 3650, None);
    assert_eq!(code_of(&g, &ten_years), "lifetime_too_long");
    assert_eq!(code_of(&g, &certificate(&["*"], 24 * 7 - 2, None)), "accepted", "a week is the default limit");

    let mut long = bundle(&g.cfg, "kommunen", 1, staff_csv());
    long.not_after = long.issued_at + SignedDuration::from_hours(24 * 91);
    g.drop_file("1.pvkt", &signed(&long, KOMMUNEN));
    assert_eq!(g.intake()[0].1, "lifetime_too_long");
}

#[test]
fn a_revocation_by_one_authority_does_not_lock_out_anothers_credential_but_the_owners_does() {
    let mut g = Gateway::new();
    let owner_csv = "id,holder,role,kind,secret,doors\n\
        res-1,anna,resident,phone,0505050505050505050505050505050505050505050505050505050505050505,entrance\n";
    g.drop_file("1.pvkt", &signed(&bundle(&g.cfg, "owner", 1, owner_csv), OWNER));
    g.drop_file("2.pvkt", &signed(&bundle(&g.cfg, "kommunen", 1, staff_csv()), KOMMUNEN));
    g.intake();
    let revoke = |authority: &str, sequence, keys: Vec<[u8; 32]>| RevocationList {
        authority: authority.into(),
        site: "*".into(),
        sequence,
        issued_at: now(),
        ids: Vec::new(),
        keys,
    };
    // The municipality names the owner's resident's phone key: it does not apply there.
    let list = revoke("kommunen", 1, vec![[5; 32], [1; 32]]);
    g.drop_file("3.pvkt", &seal(DocType::Revocations, &list.encode(), &key(KOMMUNEN)));
    assert_eq!(g.intake()[0].1, "accepted");
    assert_eq!(g.opens("entrance", common::phone(5), "2026-11-24T14:00"), Ok(()));
    assert_eq!(g.opens("entrance", common::phone(1), "2026-11-24T14:00"), Err(DenyReason::Revoked), "its own");
    // The owner's list revokes any.
    let list = revoke("owner", 1, vec![[5; 32]]);
    g.drop_file("4.pvkt", &seal(DocType::Revocations, &list.encode(), &key(OWNER)));
    assert_eq!(g.intake()[0].1, "accepted");
    assert_eq!(g.opens("entrance", common::phone(5), "2026-11-24T14:00"), Err(DenyReason::Revoked));
}

/// Takes in the inbox with the clock as the daemon sees it: untrusted, floor at `floor`.
fn intake_untrusted(g: &mut Gateway, wall: Timestamp, floor: Timestamp) -> Vec<String> {
    let clock = ClockState { trust: UNSYNCED, floor };
    let trust = Trust::of(&g.cfg);
    let outcomes = process_inbox(
        &g.dir.path().join("inbox"),
        &mut g.registry,
        &trust,
        &mut g.store,
        clock.validity_time(wall),
        clock.is_trusted(),
        |_| {},
    )
    .unwrap();
    outcomes
        .into_iter()
        .map(|o| match o.result {
            Ok(_) => "accepted".to_owned(),
            Err(IntakeProblem::Refused(r)) => r.code().to_owned(),
            Err(e) => format!("error: {e}"),
        })
        .collect()
}

#[test]
fn with_an_untrusted_clock_a_bundle_that_expired_before_the_floor_is_refused() {
    let mut g = Gateway::new();
    let mut old = bundle(&g.cfg, "kommunen", 1, staff_csv());
    old.not_after = now() - SignedDuration::from_hours(24 * 10);
    old.issued_at = old.not_after - SignedDuration::from_hours(24 * 30);
    g.drop_file("1.pvkt", &signed(&old, KOMMUNEN));
    // A Pi booted without time sync: the wall clock reads 1970, the floor says today.
    assert_eq!(intake_untrusted(&mut g, Timestamp::UNIX_EPOCH, now()), ["expired"]);
}

#[test]
fn with_an_untrusted_clock_an_expired_certificate_is_refused_and_a_valid_one_opens() {
    let g = Gateway::new();
    let trust = Trust::of(&g.cfg);
    let floor = now();
    let clock = ClockState { trust: UNSYNCED, floor };
    let mut expired = certificate(&["*"], 12, None);
    expired.not_before = now() - SignedDuration::from_hours(30);
    expired.not_after = now() - SignedDuration::from_hours(20);
    let bytes = seal(DocType::Certificate, &expired.encode(), &key(KOMMUNEN));
    let at = clock.validity_time(Timestamp::UNIX_EPOCH);
    let refused = present_certificate(&bytes, &g.registry, &g.store, &trust, at, false).map(|_| ()).unwrap_err();
    assert_eq!(refused.code(), "expired");
    let valid = seal(DocType::Certificate, &certificate(&["*"], 12, None).encode(), &key(KOMMUNEN));
    assert!(present_certificate(&valid, &g.registry, &g.store, &trust, at, false).is_ok());
}

#[test]
fn with_an_untrusted_clock_a_credential_past_its_end_is_refused_although_time_checks_are_skipped() {
    let mut g = Gateway::new();
    let csv = "id,holder,role,kind,secret,doors,valid_until\n\
        care-5,kim,home_care,tag,04:55:55:55,entrance,2026-11-20T00:00\n";
    g.drop_file("1.pvkt", &signed(&bundle(&g.cfg, "kommunen", 1, csv), KOMMUNEN));
    assert_eq!(g.intake()[0].1, "accepted");
    let tag = common::tag(&g.cfg, "04:55:55:55");
    let req = AccessRequest { door: common::door(&g.cfg, "entrance"), token: tag };
    // The clock reads a time before the credential's end, but is untrusted; the floor is later.
    let wall = common::at(&g.cfg, "2026-11-19T12:00");
    let untrusted = AccessState { clock: UNSYNCED, clock_floor: None, ..g.state.clone() };
    let without_floor = decide(&g.policy, &untrusted, &req, wall);
    assert!(without_floor.is_grant(), "the policy admits tags without time checks: {without_floor:?}");
    let with_floor = AccessState { clock_floor: Some(now()), ..untrusted };
    let d = decide(&g.policy, &with_floor, &req, wall);
    assert!(matches!(d.deny_reason(), Some(DenyReason::Expired { .. })), "{d:?}");
}

#[test]
fn a_bundle_issued_days_in_the_future_is_refused_by_a_trusted_clock() {
    let mut g = Gateway::new();
    let mut ahead = bundle(&g.cfg, "kommunen", 1, staff_csv());
    ahead.issued_at = now() + SignedDuration::from_hours(24 * 5);
    ahead.not_after = ahead.issued_at + SignedDuration::from_hours(24 * 30);
    g.drop_file("1.pvkt", &signed(&ahead, KOMMUNEN));
    assert_eq!(g.intake()[0].1, "issued_in_future");
    // A few minutes ahead (the issuer's clock runs fast) is fine.
    ahead.issued_at = now() + SignedDuration::from_mins(3);
    g.drop_file("2.pvkt", &signed(&ahead, KOMMUNEN));
    assert_eq!(g.intake()[0].1, "accepted");
}

#[test]
fn the_municipality_may_pulse_but_not_set_a_door_mode_and_the_owner_may() {
    use portvakt::uplink::command::{Checks, ReplayMemory, SignedBody, read, seal};
    let cfg = common::site();
    let doors: Vec<String> = cfg.policy.doors.iter().map(|d| d.id.to_string()).collect();
    let checks = Checks {
        site: "test-site",
        authorities: &cfg.authorities,
        doors: &doors,
        now: now(),
        max_age: SignedDuration::from_mins(5),
        clock_trusted: true,
    };
    let command = |authority: &str, cmd: &str, mode: Option<DoorMode>, seed: u8| {
        let body = SignedBody {
            id: format!("{authority}-{cmd}-{mode:?}"),
            site: "test-site".into(),
            authority: authority.into(),
            cmd: cmd.into(),
            issued_at: now(),
            args: serde_json::json!({ "door": "entrance", "mode": mode }),
        };
        let mut memory = ReplayMemory::default();
        read(cmd, &seal(&body, &key(seed)), &checks, &mut memory).map(|_| ()).map_err(|r| r.code)
    };
    assert_eq!(command("kommunen", "door.pulse", None, KOMMUNEN), Ok(()));
    assert_eq!(command("kommunen", "door.mode", Some(DoorMode::Lockdown), KOMMUNEN), Err("not_permitted"));
    assert_eq!(command("kommunen", "door.mode", Some(DoorMode::FreePassage), KOMMUNEN), Err("not_permitted"));
    assert_eq!(command("owner", "door.mode", Some(DoorMode::Lockdown), OWNER), Ok(()));
}
