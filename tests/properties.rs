//! Property tests of the core: schedules and their complements, and decisions that do not
//! depend on the order credentials were issued in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::Weekday;
use portvakt::core::allowlist::Allowlist;
use portvakt::core::clock::ClockTrust;
use portvakt::core::credential::{CredentialSpec, PhoneKey, Token};
use portvakt::core::decide::{AccessRequest, AccessState, decide};
use portvakt::core::holidays::HolidayCalendar;
use portvakt::core::model::DoorIdx;
use portvakt::core::schedule::{DAY_SECONDS, HolidayRule, LocalTime, Schedule, Span, WeekWindow, WeekdaySet};
use proptest::prelude::*;

fn schedule(windows: Vec<WeekWindow>) -> Schedule {
    Schedule {
        id: "p".parse().unwrap(),
        windows,
        active: Vec::new(),
        exceptions: BTreeMap::new(),
        on_holiday: HolidayRule::Normal,
    }
}

fn days_where(pred: impl Fn(Weekday) -> bool) -> WeekdaySet {
    Weekday::Monday
        .cycle_forward()
        .take(7)
        .filter(|d| pred(*d))
        .fold(WeekdaySet::default(), |s, d| s.union(WeekdaySet::only(d)))
}

/// The complement of one window (on `days`, from `start` to `end`, possibly past
/// midnight), built as windows of its own.
fn complement(days: WeekdaySet, span: Span) -> Schedule {
    let mut w = Vec::new();
    let mut add = |set: WeekdaySet, start: u32, end: u32| {
        if start < end && !set.is_empty() {
            w.push(WeekWindow { days: set, span: Span { start, end } });
        }
    };
    if span.crosses_midnight() {
        // Day X: [0,end) is covered iff X-1 is in days; [end,start) never; [start,24) iff X in days.
        add(days_where(|x| !days.contains(x.wrapping_sub(1))), 0, span.end);
        add(WeekdaySet::ALL, span.end, span.start);
        add(days_where(|x| !days.contains(x)), span.start, DAY_SECONDS);
    } else {
        add(days, 0, span.start);
        add(days, span.end, DAY_SECONDS);
        add(days_where(|x| !days.contains(x)), 0, DAY_SECONDS);
    }
    schedule(w)
}

proptest! {
    #[test]
    fn a_window_and_its_complement_never_both_admit_and_always_one_does(
        mask in 1u8..128,
        start_min in 0u32..1440,
        end_min in 1u32..=1440,
        day in 0i32..3650,
        random_second in 0u32..DAY_SECONDS,
        pick in 0u8..3,
        nudge in 0u32..3,
    ) {
        prop_assume!(start_min != end_min);
        // Edges are where mistakes hide: test the second before, at and after them too.
        let edge = |e: u32| (e + nudge).saturating_sub(1).min(DAY_SECONDS - 1);
        let second = match pick {
            0 => random_second,
            1 => edge(start_min * 60),
            _ => edge(end_min * 60),
        };
        let days = days_where(|d| mask & (1 << d.to_monday_zero_offset()) != 0);
        let span = Span { start: start_min * 60, end: end_min * 60 };
        let s = schedule(vec![WeekWindow { days, span }]);
        let c = complement(days, span);
        let date = jiff::civil::date(2026, 1, 1).checked_add(jiff::Span::new().days(day)).unwrap();
        let at = LocalTime { date, second };
        let cal = HolidayCalendar::none();
        prop_assert!(s.admits(at, &cal) != c.admits(at, &cal), "{:?} at {:?}", span, at);
    }
}

fn specs(n: usize, cfg: &portvakt::config::Config, doors_mask: &[u8]) -> Vec<CredentialSpec> {
    let roles = ["resident", "home_care", "contractor", "property_staff"];
    let doors = ["entrance", "rubbish", "laundry", "bikes"];
    (0..n)
        .map(|i| {
            let m = doors_mask[i % doors_mask.len()];
            let ds: Vec<&str> = doors.iter().enumerate().filter(|(j, _)| m & (1 << j) != 0).map(|(_, d)| *d).collect();
            let token = match i % 3 {
                0 => Token::Pin(cfg.credential_key.pin(&format!("{:06}", 100_000 + i))),
                1 => Token::Tag(cfg.credential_key.tag(&format!("{:08X}", 0x0400_0000 + i))),
                _ => Token::Phone(PhoneKey([u8::try_from(i % 251).unwrap(); 32])),
            };
            common::spec(&format!("c{i}"), roles[i % roles.len()], token, &ds)
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn a_decision_does_not_depend_on_the_order_of_credentials(
        n in 1usize..60,
        masks in proptest::collection::vec(1u8..16, 1..8),
        seed in any::<u64>(),
        ask in 0usize..60,
        door in 0u8..4,
        minute in 0i64..(60 * 24 * 14),
    ) {
        let cfg = common::site();
        let list = specs(n, &cfg, &masks);
        let mut shuffled = list.clone();
        // Fisher-Yates with a simple LCG from the seed: a deterministic permutation.
        let mut x = seed;
        for i in (1..shuffled.len()).rev() {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let j = usize::try_from(x >> 33).unwrap() % (i + 1);
            shuffled.swap(i, j);
        }
        let token = list[ask % n].token;
        let now = Timestamp::from_second(1_795_000_000 + minute * 60).unwrap();
        let req = AccessRequest { door: DoorIdx(door), token };
        let decide_with = |l: Vec<CredentialSpec>| {
            let s = AccessState { allowlist: Allowlist::build(&cfg.policy, l).unwrap(), clock: ClockTrust::Trusted, ..AccessState::default() };
            decide(&cfg.policy, &s, &req, now)
        };
        prop_assert_eq!(decide_with(list), decide_with(shuffled));
    }
}

fn signed_bundle(cfg: &portvakt::config::Config) -> Vec<u8> {
    use portvakt::credentials::bundle::{Bundle, Entry};
    let entries = (0..20)
        .map(|i| Entry {
            id: format!("c{i}").into(),
            holder: format!("h{i}").into(),
            role: "home_care".into(),
            token: Token::Phone(PhoneKey([u8::try_from(i).unwrap(); 32])),
            doors: vec!["entrance".into()],
            schedule: None,
            valid_from: None,
            valid_until: None,
        })
        .collect();
    let b = Bundle {
        authority: "kommunen".into(),
        site: cfg.site.id.to_string(),
        version: 1,
        issued_at: Timestamp::from_second(1_795_000_000).unwrap(),
        not_after: Timestamp::from_second(1_797_000_000).unwrap(), // 23 days: within kommunen's 90
        entries,
        bookings: Vec::new(),
        policy: None,
    };
    portvakt::credentials::envelope::seal(
        portvakt::credentials::envelope::DocType::Bundle,
        &b.encode(),
        &ed25519_dalek::SigningKey::from_bytes(&[2; 32]),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn any_mutation_of_a_signed_bundle_is_refused(
        position in any::<proptest::sample::Index>(),
        xor in 1u8..=255,
        cut in any::<proptest::sample::Index>(),
        extra in proptest::collection::vec(any::<u8>(), 1..8),
        how in 0u8..3,
    ) {
        use portvakt::credentials::verify::{Trust, verify_bundle};
        let cfg = common::site();
        let trust = Trust::of(&cfg);
        let now = Timestamp::from_second(1_796_000_000).unwrap();
        let original = signed_bundle(&cfg);
        prop_assert!(verify_bundle(&original, &trust, |_| None, now, true).is_ok());
        let mut m = original.clone();
        match how {
            0 => m[position.index(original.len())] ^= xor,
            1 => m.truncate(cut.index(original.len())),
            _ => m.extend_from_slice(&extra),
        }
        prop_assert!(verify_bundle(&m, &trust, |_| None, now, true).is_err());
    }
}

proptest! {
    #[test]
    fn keypad_replies_of_any_shape_never_panic_and_good_ones_round_trip(
        regs in proptest::collection::vec(any::<u16>(), 0..16),
        digits in "[0-9]{1,12}",
        seq in any::<u16>(),
    ) {
        use portvakt::modbus::keypad::{Entered, decode_poll, encode_poll};
        let _ = decode_poll(&regs);
        let entered = Entered::Digits(digits);
        let decoded = decode_poll(&encode_poll(1, 1, Some((seq, &entered)))).map(|p| p.entry);
        prop_assert_eq!(decoded, Ok(Some((seq, entered))));
    }
}
