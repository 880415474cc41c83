//! Laundry bookings judged at the door: an entry opens at moment t when t is inside the
//! holder's booking (widened by the door's grace) and the door's hours allow t, judged
//! on t's own local date — its holiday, the owner's closure or shortened hours, its DST —
//! whenever the booking began. A property test holds `decide` against a small oracle
//! written here from that sentence alone; the cases owners met are examples.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use common::{at, door, site, spec, tag};
use jiff::civil::{Date, Weekday};
use jiff::{SignedDuration, Timestamp};
use portvakt::config::Config;
use portvakt::core::allowlist::Allowlist;
use portvakt::core::booking::{Booking, Bookings};
use portvakt::core::clock::ClockTrust;
use portvakt::core::decide::{AccessRequest, AccessState, Decision, DenyReason, decide};
use portvakt::core::schedule::{Exception, HolidayRule, Span, WeekWindow, WeekdaySet};
use proptest::prelude::*;

const ANNA_TAG: &str = "04:A2:19:7F";

/// The site with Anna's tag, her bookings, and the laundry's hours replaced by `hours`
/// (when given).
fn site_with(bookings: &[(Timestamp, Timestamp)], hours: Option<Hours>) -> (Config, AccessState) {
    let mut cfg = site();
    if let Some(h) = hours {
        let laundry = cfg.policy.schedules.iter_mut().find(|s| s.id.as_str() == "laundry").unwrap();
        laundry.windows = h.windows();
        laundry.on_holiday = h.on_holiday;
        laundry.exceptions = h.exceptions.clone();
    }
    let specs = vec![spec("res-tag", "resident", tag(&cfg, ANNA_TAG), &["laundry"])];
    let laundry = door(&cfg, "laundry");
    let list = bookings
        .iter()
        .map(|&(start, end)| Booking { holder: "holder-res-tag".parse().unwrap(), door: laundry, start, end })
        .collect();
    let state = AccessState {
        allowlist: Allowlist::build(&cfg.policy, specs).unwrap(),
        bookings: Bookings::new(list),
        clock: ClockTrust::Trusted,
        ..AccessState::default()
    };
    (cfg, state)
}

fn at_door(cfg: &Config, s: &AccessState, when: Timestamp) -> Decision {
    decide(&cfg.policy, s, &AccessRequest { door: door(cfg, "laundry"), token: tag(cfg, ANNA_TAG) }, when)
}

fn local(cfg: &Config, t: &str) -> Timestamp {
    at(cfg, t)
}

fn word(d: &Decision) -> String {
    match d.deny_reason() {
        None => "opens".into(),
        Some(r) => r.code().into(),
    }
}

#[test]
fn the_cases_owners_met_are_judged_at_the_door() {
    let cfg = site();
    let l = |t| local(&cfg, t);
    // The fixture's laundry: mon-sat 07-22, sun 10-20, holidays as Sunday; grace 10 min
    // before and 15 after.
    let cases: Vec<((&str, &str), &str, &str)> = vec![
        // A 06:00-09:00 slot when the laundry opens at 07:00: open at 08:00, not at 06:30.
        (("2026-11-24T06:00", "2026-11-24T09:00"), "2026-11-24T08:00", "opens"),
        (("2026-11-24T06:00", "2026-11-24T09:00"), "2026-11-24T06:30", "outside_schedule"),
        // A Sunday 09:00-12:00 slot: Sunday hours start at 10:00.
        (("2026-11-29T09:00", "2026-11-29T12:00"), "2026-11-29T10:30", "opens"),
        (("2026-11-29T09:00", "2026-11-29T12:00"), "2026-11-29T09:30", "outside_schedule"),
        // A 20:00-23:00 slot: the laundry closes at 22:00.
        (("2026-11-24T20:00", "2026-11-24T23:00"), "2026-11-24T21:30", "opens"),
        (("2026-11-24T20:00", "2026-11-24T23:00"), "2026-11-24T22:40", "outside_schedule"),
        // From Saturday 21:00 across the spring DST change, into Sunday: Sunday's hours.
        (("2026-03-28T21:00", "2026-03-29T12:00"), "2026-03-29T11:00", "opens"),
        (("2026-03-28T21:00", "2026-03-29T12:00"), "2026-03-29T09:00", "outside_schedule"),
        // Within the booking's grace, inside the hours.
        (("2026-11-24T13:00", "2026-11-24T15:00"), "2026-11-24T12:52", "opens"),
        (("2026-11-24T13:00", "2026-11-24T15:00"), "2026-11-24T15:14", "opens"),
        (("2026-11-24T13:00", "2026-11-24T15:00"), "2026-11-24T15:16", "no_booking"),
    ];
    let mut wrong = Vec::new();
    for ((start, end), when, want) in cases {
        let (cfg, s) = site_with(&[(l(start), l(end))], None);
        let got = word(&at_door(&cfg, &s, l(when)));
        if got != want {
            wrong.push(format!("booking {start}-{end} at {when}: want {want}, got {got}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn a_refusal_on_easter_sunday_names_easter_sunday_not_the_day_the_booking_began() {
    let cfg = site();
    let (cfg, s) = site_with(&[(local(&cfg, "2026-04-04T21:00"), local(&cfg, "2026-04-05T12:00"))], None);
    let d = at_door(&cfg, &s, local(&cfg, "2026-04-05T09:00"));
    let Some(DenyReason::OutsideSchedule { holiday, .. }) = d.deny_reason() else { panic!("{d:?}") };
    assert_eq!(*holiday, Some("Påskdagen"), "{d:?}");
    assert!(at_door(&cfg, &s, local(&cfg, "2026-04-05T11:00")).is_grant());
}

#[test]
fn a_day_the_owner_shortened_is_judged_by_its_own_hours() {
    let cfg0 = site();
    let shortened = Date::new(2026, 12, 3).unwrap();
    let hours = Hours {
        weekdays: (7, 22),
        sunday: (10, 20),
        on_holiday: HolidayRule::AsSunday,
        exceptions: BTreeMap::from([(shortened, Exception::Open(vec![Span { start: 8 * 3600, end: 14 * 3600 }]))]),
    };
    let booking = (local(&cfg0, "2026-12-03T13:00"), local(&cfg0, "2026-12-03T16:00"));
    let (cfg, s) = site_with(&[booking], Some(hours));
    assert!(at_door(&cfg, &s, local(&cfg, "2026-12-03T13:30")).is_grant());
    let late = at_door(&cfg, &s, local(&cfg, "2026-12-03T14:30"));
    assert_eq!(word(&late), "outside_schedule");
    // What decided is named: the owner's hours for that day.
    let said = portvakt::tools::explain::reason_words(&cfg.policy, &s.allowlist, &late);
    assert!(said.contains("The owner has set other hours for this day"), "{said}");
}

/// Laundry hours as the property test draws them: one window Monday to Saturday, one on
/// Sundays (whole hours, not past midnight), a holiday rule, and per-date exceptions.
#[derive(Debug, Clone)]
struct Hours {
    weekdays: (u32, u32),
    sunday: (u32, u32),
    on_holiday: HolidayRule,
    exceptions: BTreeMap<Date, Exception>,
}

impl Hours {
    fn windows(&self) -> Vec<WeekWindow> {
        let span = |(from, to): (u32, u32)| Span { start: from * 3600, end: to * 3600 };
        vec![
            WeekWindow { days: WeekdaySet::parse("mon-sat").unwrap(), span: span(self.weekdays) },
            WeekWindow { days: WeekdaySet::parse("sun").unwrap(), span: span(self.sunday) },
        ]
    }
}

/// The oracle: the rule in docs/credentials.md, written out with nothing of the gateway's
/// but the site's holiday calendar (which days are holidays is not what is tested here).
fn oracle(cfg: &Config, hours: &Hours, booking: (Timestamp, Timestamp), t: Timestamp) -> bool {
    let (grace_before, grace_after) = (SignedDuration::from_mins(10), SignedDuration::from_mins(15));
    let in_booking = booking.0 - grace_before <= t && t < booking.1 + grace_after;
    let z = t.to_zoned(cfg.policy.tz.clone());
    let (date, second) = (
        z.date(),
        u32::try_from(z.time().hour()).unwrap() * 3600
            + u32::try_from(z.time().minute()).unwrap() * 60
            + u32::try_from(z.time().second()).unwrap(),
    );
    let inside = |(from, to): (u32, u32)| from * 3600 <= second && second < to * 3600;
    let open = match hours.exceptions.get(&date) {
        Some(Exception::Closed) => false,
        Some(Exception::Open(spans)) => spans.iter().any(|s| s.start <= second && second < s.end),
        None => {
            let holiday = cfg.policy.calendar.holiday(date).is_some();
            match (holiday, hours.on_holiday) {
                (true, HolidayRule::Closed) => false,
                (true, HolidayRule::AsSunday) => inside(hours.sunday),
                _ if date.weekday() == Weekday::Sunday => inside(hours.sunday),
                _ => inside(hours.weekdays),
            }
        }
    };
    in_booking && open
}

/// Days around the spring and autumn DST changes, Easter and Christmas 2026.
fn a_day() -> impl Strategy<Value = Date> {
    prop_oneof![
        (0i32..21).prop_map(|d| Date::new(2026, 3, 20).unwrap().checked_add(jiff::Span::new().days(d)).unwrap()),
        (0i32..14).prop_map(|d| Date::new(2026, 10, 20).unwrap().checked_add(jiff::Span::new().days(d)).unwrap()),
        (0i32..12).prop_map(|d| Date::new(2026, 12, 20).unwrap().checked_add(jiff::Span::new().days(d)).unwrap()),
    ]
}

fn some_hours() -> impl Strategy<Value = Hours> {
    let window = (5u32..12, 14u32..24);
    let rule = prop_oneof![Just(HolidayRule::Normal), Just(HolidayRule::AsSunday), Just(HolidayRule::Closed)];
    let exception = prop_oneof![
        Just(Exception::Closed),
        (6u32..12, 12u32..20).prop_map(|(a, b)| Exception::Open(vec![Span { start: a * 3600, end: b * 3600 }])),
    ];
    (window.clone(), window, rule, proptest::option::of((a_day(), exception))).prop_map(
        |(weekdays, sunday, on_holiday, exception)| Hours {
            weekdays,
            sunday,
            on_holiday,
            exceptions: exception.into_iter().collect(),
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn a_laundry_entry_is_decided_as_the_oracle_says(
        hours in some_hours(),
        day in a_day(),
        start_min in 0i64..(24 * 60),
        length_min in 30i64..(6 * 60),
        offset_min in -90i64..(8 * 60),
    ) {
        let cfg = site();
        let midnight = day.to_zoned(cfg.policy.tz.clone()).unwrap().timestamp();
        let start = midnight + SignedDuration::from_mins(start_min);
        let booking = (start, start + SignedDuration::from_mins(length_min));
        let t = start + SignedDuration::from_mins(offset_min);
        let (cfg, s) = site_with(&[booking], Some(hours.clone()));
        let decision = at_door(&cfg, &s, t);
        prop_assert_eq!(decision.is_grant(), oracle(&cfg, &hours, booking, t), "{:?} at {}: {:?}", hours, t, decision);
    }
}

/// A running gateway on a manual clock, the owner's bundle with Anna's laundry bookings
/// taken in: her tag at the laundry's reader opens or stays shut as the hours of that
/// moment say.
#[tokio::test(flavor = "current_thread")]
async fn a_running_gateway_judges_laundry_bookings_at_the_door() {
    use common::daemon::TestDaemon;
    use common::signed::{OWNER, bundle, signed};
    use portvakt::credentials::bundle::BookingEntry;
    use portvakt::daemon::control::{Request, SimAct};
    use portvakt::gateway::clock::ManualClock;

    let cfg = site();
    let l = |t| local(&cfg, t);
    let clock = ManualClock::new(l("2027-02-02T08:00"));
    let d = TestDaemon::start_on_clock(Vec::new(), std::sync::Arc::new(clock.clone()));
    d.notified("READY=1", 10).await;
    let residents = "id,holder,role,kind,secret,doors\nanna-tag,anna,resident,tag,04:C1:7A:22:01,laundry\n";
    let mut b = bundle(&cfg, "owner", 1, residents);
    (b.issued_at, b.not_after) = (l("2027-02-01T12:00"), l("2027-04-30T12:00"));
    let booking =
        |start, end| BookingEntry { holder: "anna".into(), door: "laundry".into(), start: l(start), end: l(end) };
    b.bookings = vec![
        booking("2027-02-02T06:00", "2027-02-02T09:00"),
        booking("2027-02-02T20:00", "2027-02-02T23:00"),
        // Saturday 21:00 into Sunday noon, across the change to summer time (2027-03-28).
        booking("2027-03-27T21:00", "2027-03-28T12:00"),
    ];
    std::fs::write(d.inbox().join("owner.pvkt"), signed(&b, OWNER)).unwrap();
    d.ask(&Request::Intake).await.unwrap();
    d.audited("credentials.accepted").await;
    let tag = Request::Sim { door: "laundry".into(), act: SimAct::Tag("04:C1:7A:22:01".into()) };
    let mut seen = Vec::new();
    for (when, want) in [
        ("2027-02-02T08:00", "access.granted"),
        ("2027-02-02T22:40", "access.denied"),
        ("2027-03-28T09:30", "access.denied"),
        ("2027-03-28T11:00", "access.granted"),
    ] {
        clock.set(l(when));
        let before = d.audited_count(want);
        d.ask(&tag).await.unwrap();
        let record = d.audited_after(want, before).await;
        seen.push((when, want, record["detail"]["reason"].clone()));
    }
    assert_eq!(seen[1].2, "outside_schedule", "{seen:?}");
    assert_eq!(seen[2].2, "outside_schedule", "{seen:?}");
    d.stop().await.unwrap();
}
