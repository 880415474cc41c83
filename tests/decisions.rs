//! Access decisions on the test site: every grant rule and every refusal reason, as an
//! owner would check them (times are Stockholm local time; 2026-11-24 is a Tuesday).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{at, door, phone, pin, site, spec, tag};
use portvakt::config::Config;
use portvakt::core::allowlist::{Allowlist, AllowlistError};
use portvakt::core::booking::{Booking, Bookings};
use portvakt::core::clock::{ClockTrust, UntrustedReason};
use portvakt::core::credential::{PhoneKey, Token};
use portvakt::core::decide::{
    AccessRequest, AccessState, Decision, DenyReason, GrantRule, ScheduleOwner, decide, handle,
};
use portvakt::core::lockout::LockoutOutcome;
use portvakt::core::model::{DoorIdx, DoorMode};

fn state(cfg: &Config) -> AccessState {
    let mut night_only = spec("night-only", "resident", tag(cfg, "04:00:00:04"), &["entrance"]);
    night_only.schedule = Some("night".parse().unwrap());
    let mut expired = spec("expired", "resident", tag(cfg, "04:00:00:01"), &["entrance"]);
    expired.valid_until = Some(at(cfg, "2026-01-01T00:00"));
    let mut future = spec("future", "resident", tag(cfg, "04:00:00:02"), &["entrance"]);
    future.valid_from = Some(at(cfg, "2027-01-01T00:00"));
    let specs = vec![
        spec("res-tag", "resident", tag(cfg, "04:A2:19:7F"), &["entrance", "rubbish", "laundry", "bikes"]),
        spec("res-pin", "resident", pin(cfg, "4711"), &["entrance"]),
        spec("care-phone", "home_care", phone(1), &["entrance", "rubbish"]),
        spec("revoked-phone", "home_care", phone(2), &["entrance"]),
        spec("care-laundry", "home_care", phone(3), &["laundry"]),
        spec("contractor", "contractor", tag(cfg, "04:11:22:33"), &["rubbish"]),
        spec("staff", "property_staff", pin(cfg, "9001"), &["entrance", "rubbish", "laundry", "bikes"]),
        spec("revoked-id", "resident", tag(cfg, "04:00:00:03"), &["entrance"]),
        spec("bike-admin", "bike_admin", tag(cfg, "04:00:00:05"), &["bikes"]),
        night_only,
        expired,
        future,
    ];
    let mut s = AccessState {
        allowlist: Allowlist::build(&cfg.policy, specs).unwrap(),
        clock: ClockTrust::Trusted,
        ..AccessState::default()
    };
    s.revocations.revoke_key(PhoneKey([2; 32]));
    s.revocations.revoke_id("revoked-id".parse().unwrap());
    let anna = "holder-res-tag".parse().unwrap();
    let laundry = door(cfg, "laundry");
    s.bookings = Bookings::new(vec![
        Booking { holder: anna, door: laundry, start: at(cfg, "2026-11-24T07:00"), end: at(cfg, "2026-11-24T10:00") },
        // A slot the booking system should not have sold: it starts after laundry hours.
        Booking {
            holder: "holder-res-tag".parse().unwrap(),
            door: laundry,
            start: at(cfg, "2026-11-26T22:30"),
            end: at(cfg, "2026-11-26T23:30"),
        },
    ]);
    s
}

fn ask(cfg: &Config, s: &AccessState, d: &str, token: Token, when: &str) -> Decision {
    decide(&cfg.policy, s, &AccessRequest { door: door(cfg, d), token }, at(cfg, when))
}

fn reason(d: &Decision) -> String {
    match d {
        Decision::Grant { rule, .. } => format!("grant {rule:?}"),
        Decision::Deny { reason, .. } => format!("deny {}", reason.code()),
    }
}

#[test]
fn each_case_gets_the_expected_decision_and_reason() {
    let cfg = site();
    let s = state(&cfg);
    let p = |x| pin(&cfg, x);
    let t = |x| tag(&cfg, x);
    let cases: Vec<(&str, Token, &str, &str)> = vec![
        // door code: works by day, not at night (night mode), only where it is configured
        ("entrance", p("1357"), "2026-11-24T14:00", "grant DoorCode"),
        ("entrance", p("1357"), "2026-11-24T23:30", "deny outside_schedule"),
        ("bikes", p("1357"), "2026-11-24T14:00", "deny door_code_not_for_this_door"),
        ("entrance", p("0000"), "2026-11-24T14:00", "deny unknown_credential"),
        // residents' tags work around the clock
        ("entrance", t("04:A2:19:7F"), "2026-11-24T03:00", "grant Role"),
        ("entrance", t("04:a2:19:7f"), "2026-11-24T23:30", "grant Role"),
        ("entrance", t("04:99:99:99"), "2026-11-24T23:30", "deny unknown_credential"),
        // validity and revocation
        ("entrance", t("04:00:00:01"), "2026-11-24T14:00", "deny expired"),
        ("entrance", t("04:00:00:02"), "2026-11-24T14:00", "deny not_valid_yet"),
        ("entrance", phone(2), "2026-11-24T14:00", "deny revoked"),
        ("entrance", t("04:00:00:03"), "2026-11-24T14:00", "deny revoked"),
        // home care: day and night on its doors, never the laundry
        ("entrance", phone(1), "2026-11-24T03:10", "grant Role"),
        ("rubbish", phone(1), "2026-12-25T02:00", "grant Role"),
        ("laundry", phone(1), "2026-11-24T14:00", "deny door_not_in_scope"),
        ("laundry", phone(3), "2026-11-24T14:00", "deny role_not_allowed"),
        // contractors: weekdays 07-16, closed on holidays, only the rubbish room
        ("rubbish", t("04:11:22:33"), "2026-11-24T10:00", "grant Role"),
        ("rubbish", t("04:11:22:33"), "2026-11-28T10:00", "deny outside_schedule"),
        ("rubbish", t("04:11:22:33"), "2026-12-25T10:00", "deny outside_schedule"),
        ("entrance", t("04:11:22:33"), "2026-11-24T10:00", "deny door_not_in_scope"),
        // a credential's own schedule narrows the door's rule
        ("entrance", t("04:00:00:04"), "2026-11-24T14:00", "deny outside_schedule"),
        ("entrance", t("04:00:00:04"), "2026-11-24T23:00", "grant Role"),
        // laundry: the booking holder only, within grace (10 min before, 15 after), and
        // within the laundry's hours at that moment (they start at 07:00)
        ("laundry", t("04:A2:19:7F"), "2026-11-24T06:55", "deny outside_schedule"),
        ("laundry", t("04:A2:19:7F"), "2026-11-24T07:05", "grant Booking"),
        ("laundry", t("04:A2:19:7F"), "2026-11-24T06:45", "deny no_booking"),
        ("laundry", t("04:A2:19:7F"), "2026-11-24T10:10", "grant Booking"),
        ("laundry", t("04:A2:19:7F"), "2026-11-24T10:20", "deny no_booking"),
        ("laundry", t("04:A2:19:7F"), "2026-11-25T08:00", "deny no_booking"),
        ("laundry", t("04:A2:19:7F"), "2026-11-26T22:45", "deny outside_schedule"),
        ("laundry", p("9001"), "2026-11-24T03:00", "grant Role"),
        // free passage hours at the entrance: Monday to Friday 10:00-10:30
        ("entrance", p("4711"), "2026-11-24T10:15", "grant FreePassage"),
        ("entrance", p("1357"), "2026-11-24T10:15", "grant FreePassage"),
    ];
    let mut failures = Vec::new();
    for (d, token, when, want) in cases {
        let got = reason(&ask(&cfg, &s, d, token, when));
        if !got.starts_with(want) {
            failures.push(format!("{d} at {when}: want {want}, got {got}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn a_refusal_by_holiday_names_the_holiday_and_the_schedule() {
    let cfg = site();
    let s = state(&cfg);
    let d = ask(&cfg, &s, "rubbish", tag(&cfg, "04:11:22:33"), "2026-12-25T10:00");
    assert_eq!(
        d.deny_reason(),
        Some(&DenyReason::OutsideSchedule {
            schedule: "weekdays".parse().unwrap(),
            owner: ScheduleOwner::DoorRule,
            holiday: Some("Juldagen"),
            exception: None
        })
    );
}

#[test]
fn the_door_code_refused_at_night_is_the_door_code_schedule() {
    let cfg = site();
    let d = ask(&cfg, &state(&cfg), "entrance", pin(&cfg, "1357"), "2026-11-24T23:30");
    assert!(
        matches!(d.deny_reason(), Some(DenyReason::OutsideSchedule { owner: ScheduleOwner::DoorCode, .. })),
        "{d:?}"
    );
}

#[test]
fn lockdown_admits_only_roles_that_override_it() {
    let cfg = site();
    let mut s = state(&cfg);
    s.set_mode(door(&cfg, "bikes"), DoorMode::Lockdown);
    assert_eq!(
        ask(&cfg, &s, "bikes", tag(&cfg, "04:A2:19:7F"), "2026-11-24T14:00").deny_reason(),
        Some(&DenyReason::Lockdown)
    );
    assert_eq!(
        ask(&cfg, &s, "bikes", tag(&cfg, "04:00:00:05"), "2026-11-24T14:00").deny_reason(),
        Some(&DenyReason::Lockdown)
    );
    let staff = ask(&cfg, &s, "bikes", pin(&cfg, "9001"), "2026-11-24T14:00");
    assert!(matches!(staff.grant_rule(), Some(GrantRule::LockdownOverride { .. })), "{staff:?}");
    // other doors are unaffected
    assert!(ask(&cfg, &s, "entrance", tag(&cfg, "04:A2:19:7F"), "2026-11-24T14:00").is_grant());
}

#[test]
fn free_passage_mode_opens_for_any_known_credential_in_scope() {
    let cfg = site();
    let mut s = state(&cfg);
    s.set_mode(door(&cfg, "bikes"), DoorMode::FreePassage);
    let d = ask(&cfg, &s, "bikes", tag(&cfg, "04:A2:19:7F"), "2026-11-24T03:00");
    assert_eq!(d.grant_rule(), Some(&GrantRule::FreePassage { schedule: None }));
}

#[test]
fn an_unknown_door_is_refused() {
    let cfg = site();
    let s = state(&cfg);
    let d =
        decide(&cfg.policy, &s, &AccessRequest { door: DoorIdx(60), token: phone(1) }, at(&cfg, "2026-11-24T14:00"));
    assert_eq!(d.deny_reason(), Some(&DenyReason::UnknownDoor));
}

#[test]
fn wrong_codes_lock_the_keypad_and_it_reopens_after_the_lockout() {
    let cfg = site();
    let mut s = state(&cfg);
    let entrance = door(&cfg, "entrance");
    let req = |token| AccessRequest { door: entrance, token };
    let t0 = at(&cfg, "2026-11-24T14:00");
    let mut last = None;
    for i in 0..3 {
        let (d, outcome) =
            handle(&cfg.policy, &mut s, &req(pin(&cfg, "0000")), t0 + jiff::SignedDuration::from_secs(i));
        assert_eq!(d.deny_reason(), Some(&DenyReason::UnknownCredential));
        last = outcome;
    }
    assert!(matches!(last, Some(LockoutOutcome::LockedUntil(_))), "{last:?}");
    let t1 = t0 + jiff::SignedDuration::from_secs(10);
    let (d, _) = handle(&cfg.policy, &mut s, &req(pin(&cfg, "1357")), t1);
    assert!(
        matches!(d.deny_reason(), Some(DenyReason::KeypadLockedOut { .. })),
        "the right code is refused during lockout: {d:?}"
    );
    let (d, _) = handle(&cfg.policy, &mut s, &req(tag(&cfg, "04:A2:19:7F")), t1);
    assert!(d.is_grant(), "tags are not blocked by a keypad lockout: {d:?}");
    let (d, _) = handle(&cfg.policy, &mut s, &req(pin(&cfg, "1357")), t0 + jiff::SignedDuration::from_secs(33));
    assert!(d.is_grant(), "the keypad reopens after 30 s: {d:?}");
    let other = AccessRequest { door: door(&cfg, "laundry"), token: pin(&cfg, "9001") };
    assert!(handle(&cfg.policy, &mut s, &other, t1).0.is_grant(), "the laundry keypad was never locked");
}

#[test]
fn an_untrusted_clock_follows_the_policy_per_kind_and_is_recorded() {
    let cfg = site();
    let mut s = state(&cfg);
    s.clock = ClockTrust::Untrusted(UntrustedReason::BeforeFloor);
    // A clock at 1970: phone keys and tags (ignore_time) still open their doors.
    let phone_at_1970 = ask(&cfg, &s, "entrance", phone(1), "1970-01-01T00:05");
    assert!(matches!(phone_at_1970.grant_rule(), Some(GrantRule::UntrustedClockPolicy { .. })), "{phone_at_1970:?}");
    assert!(matches!(
        phone_at_1970,
        Decision::Grant { clock: ClockTrust::Untrusted(UntrustedReason::BeforeFloor), .. }
    ));
    assert!(
        ask(&cfg, &s, "rubbish", tag(&cfg, "04:11:22:33"), "1970-01-04T03:00").is_grant(),
        "ignore_time skips the contractor's hours"
    );
    // ...but revocation and scope still hold.
    assert_eq!(ask(&cfg, &s, "entrance", phone(2), "1970-01-01T00:05").deny_reason(), Some(&DenyReason::Revoked));
    assert_eq!(ask(&cfg, &s, "laundry", phone(1), "1970-01-01T00:05").deny_reason(), Some(&DenyReason::DoorNotInScope));
    // The door code (deny) stays off; a booking cannot be checked without time.
    assert!(matches!(
        ask(&cfg, &s, "entrance", pin(&cfg, "1357"), "2026-11-24T14:00").deny_reason(),
        Some(DenyReason::UntrustedClock { .. })
    ));
    assert!(matches!(
        ask(&cfg, &s, "laundry", tag(&cfg, "04:A2:19:7F"), "2026-11-24T08:00").deny_reason(),
        Some(DenyReason::UntrustedClock { .. })
    ));
    // PINs are evaluated with the clock as it is, and the decision says so.
    let pin_by_day = ask(&cfg, &s, "entrance", pin(&cfg, "4711"), "2026-11-24T14:00");
    assert!(
        matches!(pin_by_day, Decision::Grant { rule: GrantRule::Role { .. }, clock: ClockTrust::Untrusted(_), .. }),
        "{pin_by_day:?}"
    );
}

#[test]
fn the_allowlist_refuses_duplicates_the_door_code_and_unknown_names_all_at_once() {
    let cfg = site();
    let mut bad_schedule = spec("e", "resident", tag(&cfg, "04:00:00:09"), &["entrance"]);
    bad_schedule.schedule = Some("never".parse().unwrap());
    let specs = vec![
        spec("a", "resident", pin(&cfg, "4711"), &["entrance"]),
        spec("b", "resident", pin(&cfg, "4711"), &["entrance"]),
        spec("a", "resident", pin(&cfg, "2222"), &["entrance"]),
        spec("c", "resident", pin(&cfg, "1357"), &["entrance"]),
        spec("d", "janitor", tag(&cfg, "04:00:00:08"), &["garage"]),
        bad_schedule,
    ];
    let errors = Allowlist::build(&cfg.policy, specs).unwrap_err();
    let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
    assert!(matches!(errors[0], AllowlistError::DuplicateToken { .. }), "{text:?}");
    assert!(errors.iter().any(|e| matches!(e, AllowlistError::DuplicateId { .. })), "{text:?}");
    assert!(errors.iter().any(|e| matches!(e, AllowlistError::PinIsDoorCode { .. })), "{text:?}");
    assert!(errors.iter().any(|e| matches!(e, AllowlistError::UnknownRole { .. })), "{text:?}");
    assert!(errors.iter().any(|e| matches!(e, AllowlistError::UnknownDoor { .. })), "{text:?}");
    assert!(errors.iter().any(|e| matches!(e, AllowlistError::UnknownSchedule { .. })), "{text:?}");
}
