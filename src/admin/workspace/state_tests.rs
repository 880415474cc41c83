//! The workspace's verbs and its bundle, in memory: groups and narrowed credentials,
//! bookings per member, PINs as digests, hours that keep the config's rest, refusals.

use std::path::Path;

use jiff::Timestamp;

use super::Workspace;
use super::edit::EditError;
use super::files::{BookingSpec, Group, Holder, Settings};
use super::policy_file::{span, window};
use crate::core::credential::Token;
use crate::core::secret::CredentialKey;

const CONFIG: &str = include_str!("../../../config/portvakt.toml");

fn workspace(class: &str, dir: &Path) -> Workspace {
    let settings = Settings {
        authority: "owner".into(),
        class: class.into(),
        key: "owner.key".into(),
        timezone: "Europe/Stockholm".into(),
        valid_days: 30,
        reissue_every_days: 7,
        sites: std::collections::BTreeMap::new(),
    };
    let key = dir.join("site.key");
    std::fs::write(&key, "07".repeat(32)).unwrap();
    let mut ws = Workspace::new(dir, settings);
    ws.site_add("storgatan-12", Some(&key), Some(CONFIG), None).unwrap();
    ws
}

fn doors(list: &[&str]) -> super::files::Access {
    [("storgatan-12".to_owned(), list.iter().map(|d| (*d).to_owned()).collect())].into()
}

fn now() -> Timestamp {
    "2026-12-01T12:00:00Z".parse().unwrap()
}

#[test]
fn a_group_gives_its_doors_to_every_member_and_a_credential_can_narrow_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = workspace("owner", dir.path());
    ws.group_add("lgh-1101", Group { name: None, access: doors(&["entrance", "rubbish", "laundry"]) }).unwrap();
    ws.holder_add("anna", Holder { role: "resident".into(), group: Some("lgh-1101".into()), ..Holder::default() })
        .unwrap();
    ws.credential_add("anna", "anna-tag", "tag", "04:A2:19:7F", Vec::new()).unwrap();
    ws.credential_add("anna", "anna-pin", "pin", "4711", vec!["entrance".into()]).unwrap();
    let b = ws.site_bundle("storgatan-12", 1, now()).unwrap();
    assert_eq!(b.entries.len(), 2);
    assert_eq!(b.entries[0].doors, ["entrance", "rubbish", "laundry"]);
    assert_eq!(b.entries[1].doors, ["entrance"]);
    let key = CredentialKey::from_bytes([7; 32]);
    assert_eq!(b.entries[0].token, Token::Tag(key.tag("04A2197F")));
    assert_eq!(b.entries[1].token, Token::Pin(key.pin("4711")), "the digest kept is the one the gateway compares");
    let text = toml::to_string(&ws.holders).unwrap();
    assert!(!text.contains("4711"), "{text}");
}

#[test]
fn a_group_booking_is_carried_for_each_member_and_an_ended_one_is_not() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = workspace("owner", dir.path());
    ws.group_add("lgh-1101", Group { name: None, access: doors(&["entrance", "laundry"]) }).unwrap();
    for (h, uid) in [("anna", "04:A2:19:7F"), ("bo", "04:A2:19:80")] {
        ws.holder_add(h, Holder { role: "resident".into(), group: Some("lgh-1101".into()), ..Holder::default() })
            .unwrap();
        ws.credential_add(h, &format!("{h}-tag"), "tag", uid, Vec::new()).unwrap();
    }
    let slot = |start: &str, end: &str| BookingSpec {
        start: start.into(),
        end: end.into(),
        site: "storgatan-12".into(),
        door: "laundry".into(),
        group: Some("lgh-1101".into()),
        ..BookingSpec::default()
    };
    ws.booking_add(slot("2026-12-10T07:00", "2026-12-10T10:00")).unwrap();
    ws.booking_add(slot("2026-11-10T07:00", "2026-11-10T10:00")).unwrap();
    let b = ws.site_bundle("storgatan-12", 1, now()).unwrap();
    let holders: Vec<&str> = b.bookings.iter().map(|k| k.holder.as_str()).collect();
    assert_eq!(holders, ["anna", "bo"]);
    assert_eq!(b.bookings[0].start.to_string(), "2026-12-10T06:00:00Z");
    assert_eq!(
        ws.booking_add(slot("2026-12-10T07:00", "2026-12-10T10:00"))
            .unwrap_err()
            .to_string()
            .split(" is already")
            .next(),
        Some("booking \"laundry at storgatan-12 2026-12-10T07:00..2026-12-10T10:00 for lgh-1101\"")
    );
}

#[test]
fn a_booking_for_someone_without_the_door_is_a_problem_and_no_bundle_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = workspace("owner", dir.path());
    ws.holder_add("erik", Holder { role: "property_staff".into(), access: doors(&["entrance"]), ..Holder::default() })
        .unwrap();
    ws.credential_add("erik", "erik-tag", "tag", "04:11:22:33", Vec::new()).unwrap();
    let b = BookingSpec {
        start: "2026-12-10T07:00".into(),
        end: "2026-12-10T10:00".into(),
        site: "storgatan-12".into(),
        door: "laundry".into(),
        holder: Some("erik".into()),
        ..BookingSpec::default()
    };
    ws.booking_add(b).unwrap();
    let problems = ws.site_bundle("storgatan-12", 1, now()).unwrap_err();
    assert!(problems[0].contains("nobody it is for has the door laundry"), "{problems:?}");
}

#[test]
fn closing_a_date_keeps_the_configs_windows_and_a_window_the_gateway_would_refuse_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = workspace("owner", dir.path());
    ws.holiday_add("storgatan-12", "2026-12-26", &["laundry-hours".into()], Vec::new()).unwrap();
    ws.holiday_add("storgatan-12", "2026-12-31", &["laundry-hours".into()], vec![span("08:00-14:00").unwrap()])
        .unwrap();
    let laundry = &ws.policies["storgatan-12"].schedules["laundry-hours"];
    assert_eq!(
        laundry.describe(),
        "mon-sat 07:00-22:00, sun 10:00-20:00; holidays as Sunday; closed 2026-12-24; closed 2026-12-26; 2026-12-31 only 08:00-14:00"
    );
    let before = ws.policies.clone();
    let e = ws.door_code_hours("storgatan-12", vec![window("mon-sun 07:00-25:00").unwrap()], None).unwrap_err();
    assert!(e.to_string().contains("the hours for storgatan-12"), "{e}");
    assert_eq!(ws.policies, before, "nothing changed");
    let e = ws.holiday_add("storgatan-12", "2026-12-26", &["no-such".into()], Vec::new()).unwrap_err();
    assert!(matches!(e, EditError::Unknown { what: "schedule", .. }), "{e}");
}

#[test]
fn a_credential_id_in_use_or_once_revoked_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = workspace("owner", dir.path());
    ws.holder_add("anna", Holder { role: "resident".into(), access: doors(&["entrance"]), ..Holder::default() })
        .unwrap();
    ws.credential_add("anna", "anna-tag", "tag", "04:A2:19:7F", Vec::new()).unwrap();
    let e = ws.credential_add("anna", "anna-tag", "tag", "04:A2:19:70", Vec::new()).unwrap_err();
    assert!(matches!(e, EditError::Exists { .. }), "{e}");
    ws.credential_remove("anna-tag", true).unwrap();
    let e = ws.credential_add("anna", "anna-tag", "tag", "04:A2:19:70", Vec::new()).unwrap_err();
    assert!(e.to_string().contains("was revoked"), "{e}");
    let e = ws.credential_add("anna", "anna-pin", "pin", "12", Vec::new()).unwrap_err();
    assert_eq!(e.to_string(), "--pin: a PIN is 4 to 8 digits");
    let e = ws
        .holder_add("bo", Holder { role: "resident".into(), access: doors(&["garage"]), ..Holder::default() })
        .unwrap_err();
    assert!(e.to_string().contains("storgatan-12 has no such door (its doors: entrance, rubbish, laundry)"), "{e}");
}

#[test]
fn only_the_owner_books_or_sets_hours() {
    let dir = tempfile::tempdir().unwrap();
    let mut ws = workspace("municipality", dir.path());
    let e = ws.door_code_hours("storgatan-12", vec![window("mon-sun 07:00-21:00").unwrap()], None).unwrap_err();
    assert!(e.to_string().contains("from the owner only"), "{e}");
    let b = BookingSpec { site: "storgatan-12".into(), door: "laundry".into(), ..BookingSpec::default() };
    assert!(ws.booking_add(b).unwrap_err().to_string().contains("from the owner only"));
}
