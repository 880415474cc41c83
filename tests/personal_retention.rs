//! Retention classes on the gateway (`docs/audit.md`, Retention classes), on virtual time
//! (`now` passed in): a resident's passage keeps its personal part for
//! `store.residents_days`, a staff visit for `store.staff_days` after the collector
//! confirmed it; then holder, credential and salt are gone — from the rows and from the
//! database's bytes on disk — while headers and commitments stay and the chain verifies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jiff::{SignedDuration, Timestamp};
use portvakt::config::{PersonalRetention, StoreOptions};
use portvakt::store::{AuditFilter, EventKind, NewEvent, Store};

const DAY: SignedDuration = SignedDuration::from_hours(24);

fn options(dir: &tempfile::TempDir) -> StoreOptions {
    StoreOptions {
        path: dir.path().join("portvakt.db"),
        max_size_bytes: 64 << 20,
        retention: SignedDuration::from_hours(180 * 24),
        kept_locally: false,
        personal: PersonalRetention { residents: DAY * 14, staff: DAY * 2, staff_audiences: vec!["kommunen".into()] },
    }
}

fn entry(at: Timestamp, audience: &str, holder: &str, credential: &str) -> NewEvent {
    NewEvent {
        holder: Some(holder.into()),
        credential: Some(credential.into()),
        ..NewEvent::system(
            EventKind::AccessGranted,
            at,
            true,
            Some("entrance".into()),
            &serde_json::json!({"rule":"role"}),
        )
    }
    .for_audience(audience)
}

fn holders(store: &Store) -> Vec<Option<String>> {
    store.query(&AuditFilter::default()).unwrap().into_iter().map(|r| r.record.event.holder).collect()
}

/// Whether `needle` is anywhere in the store's files (the database and its log).
fn on_disk(dir: &tempfile::TempDir, needle: &str) -> bool {
    std::fs::read_dir(dir.path()).unwrap().any(|f| {
        let bytes = std::fs::read(f.unwrap().path()).unwrap_or_default();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[test]
fn fifteen_days_after_a_residents_entry_nothing_personal_of_it_remains_and_the_chain_still_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&options(&dir)).unwrap();
    let t0: Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
    let opened = NewEvent::system(EventKind::DoorOpened, t0, true, Some("entrance".into()), &serde_json::json!({}));
    store
        .append(&[
            entry(t0, "owner", "anna-lgh-1101", "tag-1101-a"),
            entry(t0, "kommunen", "hemtjanst-natt-5", "care-5"),
            opened,
        ])
        .unwrap();
    let (head, _) = store.head();
    store.confirm_through(head, t0 + SignedDuration::from_mins(10)).unwrap();
    assert!(on_disk(&dir, "anna-lgh-1101"), "the search finds what is there");

    assert_eq!(store.erase_personal(t0 + DAY).unwrap(), 0, "nothing is due after a day");
    assert_eq!(store.erase_personal(t0 + DAY * 3).unwrap(), 1, "the staff visit, two days after its confirmation");
    assert_eq!(holders(&store), [Some("anna-lgh-1101".into()), None, None]);
    assert_eq!(store.erase_personal(t0 + DAY * 13).unwrap(), 0, "the resident's passage is kept 14 days");
    assert_eq!(store.erase_personal(t0 + DAY * 15).unwrap(), 1);
    assert_eq!(holders(&store), [None, None, None]);
    let credentials: Vec<_> =
        store.query(&AuditFilter::default()).unwrap().into_iter().map(|r| r.record.event.credential).collect();
    assert_eq!(credentials, [None, None, None]);
    for name in ["anna-lgh-1101", "tag-1101-a", "hemtjanst-natt-5", "care-5"] {
        assert!(!on_disk(&dir, name), "{name} is still in the store's files");
    }

    let report = store.verify().unwrap();
    assert_eq!((report.first_break.clone(), report.checked, report.erased), (None, 3, 2), "{report:?}");
    let text = portvakt::tools::audit_view::render_verify("portvakt.db", &report);
    assert!(text.contains("chain intact") && text.contains("2 personal part(s) erased"), "{text}");
    assert_eq!(store.erase_personal(t0 + DAY * 30).unwrap(), 0, "erased once");
}

#[test]
fn an_unconfirmed_staff_visit_keeps_its_personal_part_until_the_collector_has_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&options(&dir)).unwrap();
    let t0: Timestamp = "2026-12-01T08:00:00Z".parse().unwrap();
    store.append(&[entry(t0, "kommunen", "hemtjanst-natt-5", "care-5")]).unwrap();
    assert_eq!(store.erase_personal(t0 + DAY * 30).unwrap(), 0, "not confirmed: it has not reached the municipality");
    let (head, _) = store.head();
    store.confirm_through(head, t0 + DAY * 30).unwrap();
    assert_eq!(store.erase_personal(t0 + DAY * 31).unwrap(), 0);
    assert_eq!(store.erase_personal(t0 + DAY * 33).unwrap(), 1);
}
