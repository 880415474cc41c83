//! The durable store: order, confirmation, retention, tampering, migrations, damage, the
//! size cap, persisted state, and group commit through the actor.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::many_single_char_names)]

use jiff::{SignedDuration, Timestamp};
use portvakt::core::model::DoorMode;
use portvakt::store::actor::{self, Recorded};
use portvakt::store::record::{GENESIS, chain_hash};
use portvakt::store::schema::{self, CURRENT};
use portvakt::store::state::{DoorModeRow, LockoutRow, SignedDoc};
use portvakt::store::{Appended, AuditFilter, ChainBreak, EventKind, NewEvent, Store, StoreError, StoreOptions};
use rusqlite::Connection;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_795_000_000 + secs).unwrap()
}

fn event(i: i64, holder: &str) -> NewEvent {
    NewEvent {
        at: t(i),
        trusted: true,
        kind: EventKind::AccessGranted,
        door: Some(if i % 2 == 0 { "entrance" } else { "rubbish" }.into()),
        audience: "site".into(),
        holder: Some(holder.into()),
        credential: Some(format!("{holder}-tag")),
        detail: r#"{"rule":"role","role":"resident"}"#.into(),
    }
}

fn opts(dir: &tempfile::TempDir) -> StoreOptions {
    StoreOptions {
        path: dir.path().join("state/portvakt.db"),
        max_size_bytes: 64 << 20,
        retention: SignedDuration::from_hours(24),
        kept_locally: false,
        personal: portvakt::config::PersonalRetention::default(),
    }
}

fn stored(a: Appended) -> (u64, u64) {
    match a {
        Appended::Stored { first, last } => (first, last),
        Appended::Counted => panic!("expected stored, got counted"),
    }
}

#[test]
fn appends_get_consecutive_numbers_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&opts(&dir)).unwrap();
    assert_eq!(stored(s.append(&[event(0, "anna")]).unwrap()), (1, 1));
    assert_eq!(stored(s.append(&[event(1, "anna"), event(2, "bo"), event(3, "cia")]).unwrap()), (2, 4));
    drop(s);
    let mut s = Store::open(&opts(&dir)).unwrap();
    assert_eq!(s.head().0, 4);
    assert_eq!(stored(s.append(&[event(4, "anna")]).unwrap()), (5, 5));
    let report = s.verify().unwrap();
    assert_eq!((report.checked, report.first_break), (5, None));
}

#[test]
fn the_outbox_gives_unconfirmed_records_in_order_until_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&opts(&dir)).unwrap();
    let events: Vec<NewEvent> = (0..10).map(|i| event(i, "anna")).collect();
    s.append(&events).unwrap();
    let seqs = |v: Vec<portvakt::store::AuditRecord>| v.iter().map(|r| r.seq).collect::<Vec<_>>();
    assert_eq!(seqs(s.outbox(0, 4).unwrap()), vec![1, 2, 3, 4]);
    assert_eq!(seqs(s.outbox(4, 4).unwrap()), vec![5, 6, 7, 8]);
    // PUBACKs arrive out of order; a record leaves the outbox only when confirmed.
    assert_eq!(s.confirm(&[2, 1, 5], t(100)).unwrap(), 3);
    assert_eq!(s.confirm(&[2], t(101)).unwrap(), 0, "confirming twice changes nothing");
    assert_eq!(seqs(s.outbox(0, 100).unwrap()), vec![3, 4, 6, 7, 8, 9, 10]);
    assert_eq!(s.confirm_through(8, t(102)).unwrap(), 5);
    assert_eq!(seqs(s.outbox(0, 100).unwrap()), vec![9, 10]);
    let h = s.health().unwrap();
    assert_eq!((h.outbox_depth, h.oldest_unconfirmed, h.head_seq), (2, Some(t(8)), 10));
}

#[test]
fn retention_prunes_only_old_confirmed_records_and_the_chain_verifies_from_the_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(&opts(&dir)).unwrap();
    let events: Vec<NewEvent> = (0..10).map(|i| event(i * 3600, "anna")).collect();
    s.append(&events).unwrap();
    s.confirm_through(4, t(0)).unwrap();
    s.confirm(&[6, 7], t(0)).unwrap();
    // 30 hours later every record is past the 24 h retention; 5 is not confirmed.
    assert_eq!(s.prune_expired(t(30 * 3600)).unwrap(), 4, "pruning stops before the first unconfirmed record");
    assert_eq!(s.anchor().unwrap().0, 4);
    let left: Vec<u64> = s.query(&AuditFilter::default()).unwrap().iter().map(|r| r.record.seq).collect();
    assert_eq!(left, vec![5, 6, 7, 8, 9, 10]);
    let report = s.verify().unwrap();
    assert_eq!((report.anchor_seq, report.checked, report.first_break), (4, 6, None));
    drop(s);
    let mut s = Store::open(&opts(&dir)).unwrap();
    assert_eq!(stored(s.append(&[event(99, "bo")]).unwrap()), (11, 11));
    assert_eq!(s.verify().unwrap().first_break, None);
}

#[test]
fn at_a_site_kept_locally_retention_prunes_every_old_record_judged_by_trusted_times_only() {
    let dir = tempfile::tempdir().unwrap();
    let o = StoreOptions { kept_locally: true, ..opts(&dir) };
    let mut s = Store::open(&o).unwrap();
    // Hourly records, none confirmed (no uplink); record 5 was stamped by a clock that
    // was wrong (far in the past), record 8 by one far ahead.
    let mut events: Vec<NewEvent> = (0..10).map(|i| event(i * 3600, "anna")).collect();
    events[4] = NewEvent { at: t(-400 * 24 * 3600), trusted: false, ..event(4 * 3600, "anna") };
    events[7] = NewEvent { at: t(400 * 24 * 3600), trusted: false, ..event(7 * 3600, "anna") };
    s.append(&events).unwrap();
    // At 30.5 h the trusted records 1–4 and 6–7 are past the 24 h retention, and the one
    // stamped in the past goes with them; the rest stay, the one stamped ahead included.
    assert_eq!(s.prune_expired(t(30 * 3600 + 1800)).unwrap(), 7);
    let left: Vec<u64> = s.query(&AuditFilter::default()).unwrap().iter().map(|r| r.record.seq).collect();
    assert_eq!(left, vec![8, 9, 10]);
    let report = s.verify().unwrap();
    assert_eq!((report.anchor_seq, report.checked, report.first_break), (7, 3, None));
    // A store with an uplink keeps the same unconfirmed records: they are its outbox.
    let other = tempfile::tempdir().unwrap();
    let mut s = Store::open(&opts(&other)).unwrap();
    s.append(&(0..10).map(|i| event(i * 3600, "anna")).collect::<Vec<_>>()).unwrap();
    assert_eq!(s.prune_expired(t(30 * 3600 + 1800)).unwrap(), 0);
}

#[test]
fn at_a_site_kept_locally_the_cap_prunes_the_oldest_records_and_nothing_new_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let o = StoreOptions { max_size_bytes: 96 * 1024, kept_locally: true, ..opts(&dir) };
    let mut s = Store::open(&o).unwrap();
    let mut i = 0;
    for _ in 0..40 {
        let batch: Vec<NewEvent> = (0..50).map(|k| event(i + k, "anna")).collect();
        i += 50;
        assert_ne!(s.append(&batch).unwrap(), Appended::Counted, "a new record was refused at {i}");
    }
    assert!(s.anchor().unwrap().0 > 0, "old records were pruned for space");
    let h = s.health().unwrap();
    assert_eq!(h.pending_gap, 0);
    let all = s.query(&AuditFilter::default()).unwrap();
    let granted = all.iter().filter(|r| r.record.event.kind == EventKind::AccessGranted).count() as u64;
    let alarms = all.iter().filter(|r| r.record.event.kind == EventKind::StoreAlarm).count() as u64;
    assert!(alarms > 0, "pruning for space leaves an alarm record");
    // Every record ever appended is either still here or before the anchor.
    assert_eq!(s.anchor().unwrap().0 + granted + alarms, h.head_seq);
    assert_eq!(all.last().map(|r| r.record.event.at), Some(t(1999)));
    assert_eq!(s.verify().unwrap().first_break, None);
}

#[test]
fn verify_finds_an_altered_and_a_deleted_record() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(&dir);
    let mut s = Store::open(&o).unwrap();
    s.append(&(0..6).map(|i| event(i, "anna")).collect::<Vec<_>>()).unwrap();
    drop(s);
    let c = Connection::open(&o.path).unwrap();
    c.execute("UPDATE audit SET holder = 'mallory' WHERE seq = 3", []).unwrap();
    let s = Store::open(&o).unwrap();
    assert_eq!(s.verify().unwrap().first_break, Some(ChainBreak::Altered { seq: 3 }));
    drop(s);
    c.execute("UPDATE audit SET holder = 'anna' WHERE seq = 3", []).unwrap();
    c.execute("DELETE FROM audit WHERE seq = 5", []).unwrap();
    let s = Store::open(&o).unwrap();
    assert_eq!(s.verify().unwrap().first_break, Some(ChainBreak::Missing { expected: 5, found: 6 }));
}

/// Writes two records the way schema version `v` stored them.
fn write_old_records(c: &Connection, v: u32) {
    let mut prev = GENESIS;
    for seq in 1..=2u64 {
        let e = event(i64::try_from(seq).unwrap(), "old");
        let hash = chain_hash(&prev, seq, &e);
        let sql = "INSERT INTO audit (seq, at_ms, trusted, kind, door, holder, credential, detail, prev, hash)
                   VALUES (?1, ?2, 1, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
        c.execute(
            sql,
            rusqlite::params![
                i64::try_from(seq).unwrap(),
                e.at.as_millisecond(),
                e.kind.code(),
                e.door,
                e.holder,
                e.credential,
                e.detail,
                &prev[..],
                &hash[..]
            ],
        )
        .unwrap();
        prev = hash;
    }
    if v >= 2 {
        c.execute("UPDATE audit SET confirmed_at_ms = 1 WHERE seq = 1", []).unwrap();
    }
}

#[test]
fn migrates_from_every_earlier_schema_version_keeping_the_records() {
    for v in 0..CURRENT {
        let dir = tempfile::tempdir().unwrap();
        let o = opts(&dir);
        std::fs::create_dir_all(o.path.parent().unwrap()).unwrap();
        let mut c = Connection::open(&o.path).unwrap();
        assert_eq!(schema::migrate_to(&mut c, v).ok(), Some(v));
        if v >= 1 {
            write_old_records(&c, v);
        }
        drop(c);
        let mut s = Store::open(&o).unwrap();
        assert_eq!(schema::version(&Connection::open(&o.path).unwrap()).unwrap(), CURRENT, "from version {v}");
        let kept = if v >= 1 { 2 } else { 0 };
        assert_eq!(s.head().0, kept, "from version {v}");
        let (first, _) = stored(s.append(&[event(50, "new")]).unwrap());
        assert_eq!(first, kept + 1);
        assert_eq!(s.verify().unwrap().first_break, None, "from version {v}");
        s.raise_clock_floor(t(0)).unwrap();
        let outbox: Vec<u64> = s.outbox(0, 10).unwrap().iter().map(|r| r.seq).collect();
        let expect: Vec<u64> = if v >= 2 {
            vec![2, 3]
        } else if v == 1 {
            vec![1, 2, 3]
        } else {
            vec![1]
        };
        assert_eq!(outbox, expect, "from version {v}");
    }
}

#[test]
fn refuses_a_database_written_by_a_newer_version() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(&dir);
    drop(Store::open(&o).unwrap());
    Connection::open(&o.path).unwrap().pragma_update(None, "user_version", CURRENT + 1).unwrap();
    let err = Store::open(&o).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { found, .. } if found == CURRENT + 1), "{err}");
    assert!(err.is_unusable());
    assert!(Store::open_read_only(&o.path).is_err());
}

#[test]
fn a_file_that_is_not_a_database_is_reported_as_damaged_with_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(&dir);
    std::fs::create_dir_all(o.path.parent().unwrap()).unwrap();
    std::fs::write(&o.path, vec![0x5a; 8192]).unwrap();
    let err = Store::open(&o).unwrap_err();
    assert!(err.is_unusable(), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("portvakt.db") && text.contains("Move it aside"), "{text}");
}

#[test]
fn a_truncated_database_gives_a_clear_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(&dir);
    let mut s = Store::open(&o).unwrap();
    for chunk in 0..20 {
        s.append(&(0..200).map(|i| event(chunk * 200 + i, "anna")).collect::<Vec<_>>()).unwrap();
    }
    // Fold the WAL into the main file so the truncation hits real data.
    s.health().unwrap();
    drop(s);
    let c = Connection::open(&o.path).unwrap();
    c.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    drop(c);
    let len = std::fs::metadata(&o.path).unwrap().len();
    let f = std::fs::OpenOptions::new().write(true).open(&o.path).unwrap();
    f.set_len(len / 3).unwrap();
    drop(f);
    let outcome = Store::open(&o).and_then(|s| s.verify());
    match outcome {
        Err(e) => assert!(e.is_unusable(), "{e:?}"),
        Ok(report) => assert!(report.first_break.is_some() || report.checked < 4000, "{report:?}"),
    }
}

#[test]
fn at_the_cap_confirmed_records_go_first_then_new_events_are_counted_and_recorded_as_a_gap() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&dir);
    o.max_size_bytes = 96 * 1024;
    let mut s = Store::open(&o).unwrap();
    // Fill while the uplink confirms everything: the cap is reached, confirmed records are
    // pruned to make room, nothing is counted.
    let mut i = 0;
    for _ in 0..40 {
        let batch: Vec<NewEvent> = (0..50).map(|k| event(i + k, "anna")).collect();
        i += 50;
        let (_, last) = stored(s.append(&batch).unwrap());
        s.confirm_through(last, t(i)).unwrap();
    }
    assert!(s.anchor().unwrap().0 > 0, "confirmed records were pruned for space");
    assert_eq!(s.verify().unwrap().first_break, None);
    // Now the uplink is down: unconfirmed events fill the store, then are counted.
    let mut counted = 0;
    for _ in 0..100 {
        let batch: Vec<NewEvent> = (0..10).map(|k| event(i + k, "bo")).collect();
        i += 10;
        if s.append(&batch).unwrap() == Appended::Counted {
            counted += 10;
        }
    }
    assert!(counted > 0, "the cap was never reached");
    let h = s.health().unwrap();
    assert_eq!(h.pending_gap, counted);
    assert!(h.nearly_full, "{h:?}");
    // The uplink comes back and confirms: space returns, the gap is recorded first.
    let head = s.head().0;
    s.confirm_through(head, t(i)).unwrap();
    let (first, last) = stored(s.append(&[event(i, "cia")]).unwrap());
    assert_eq!(first, last);
    let all = s.query(&AuditFilter::default()).unwrap();
    let alarm = |name: &str| {
        all.iter().any(|r| r.record.event.kind == EventKind::StoreAlarm && r.record.event.detail.contains(name))
    };
    assert!(alarm("\"retention_shortened\""), "pruning for space leaves an alarm record");
    // The gap record is written in the same transaction, in front of the new event
    // (store alarms may stand between them).
    let newest = s.query(&AuditFilter { limit: Some(4), ..AuditFilter::default() }).unwrap();
    let gap = newest.iter().find(|r| r.record.event.kind == EventKind::Gap).expect("a gap record");
    let detail: serde_json::Value = serde_json::from_str(&gap.record.event.detail).unwrap();
    assert_eq!(detail["not_stored"], counted);
    let between: Vec<EventKind> = newest
        .iter()
        .filter(|r| r.record.seq > gap.record.seq && r.record.seq < first)
        .map(|r| r.record.event.kind)
        .collect();
    assert!(gap.record.seq < first, "gap {} event {first}", gap.record.seq);
    assert!(between.iter().all(|k| *k == EventKind::StoreAlarm), "{between:?}");
    assert_eq!(newest.last().map(|r| r.record.seq), Some(first));
    assert_eq!(s.health().unwrap().pending_gap, 0);
    assert_eq!(s.verify().unwrap().first_break, None);
}

#[test]
fn a_nearly_full_store_raises_an_alarm_record_and_clears_it_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mut o = opts(&dir);
    o.max_size_bytes = 96 * 1024;
    let mut s = Store::open(&o).unwrap();
    let mut i = 0;
    while !s.health().unwrap().nearly_full {
        s.append(&(0..10).map(|k| event(i + k, "anna")).collect::<Vec<_>>()).unwrap();
        i += 10;
        assert!(i < 10_000, "never nearly full");
    }
    s.append(&[event(i, "anna")]).unwrap();
    let alarms = |s: &Store| -> Vec<String> {
        s.query(&AuditFilter::default())
            .unwrap()
            .into_iter()
            .filter(|r| r.record.event.kind == EventKind::StoreAlarm)
            .map(|r| serde_json::from_str::<serde_json::Value>(&r.record.event.detail).unwrap()["alarm"].to_string())
            .collect()
    };
    assert_eq!(alarms(&s), vec!["\"nearly_full\""]);
    // The uplink confirms everything; retention passes; space returns.
    s.confirm_through(s.head().0, t(i)).unwrap();
    assert!(s.prune_expired(t(i + 48 * 3600)).unwrap() > 0);
    s.append(&[event(i + 1, "anna")]).unwrap();
    assert_eq!(alarms(&s), vec!["\"nearly_full_cleared\""], "the raise was pruned; the clearing is recorded");
    assert!(!s.health().unwrap().nearly_full);
    assert_eq!(s.verify().unwrap().first_break, None);
}

#[test]
fn state_is_restored_after_a_reopen_and_the_clock_floor_never_moves_back() {
    let dir = tempfile::tempdir().unwrap();
    let o = opts(&dir);
    let s = Store::open(&o).unwrap();
    let doc = |a: &str, v| SignedDoc { authority: a.into(), version: v, body: vec![1, 2, 3], stored_at: t(0) };
    s.put_bundle(&doc("owner", 7)).unwrap();
    s.put_bundle(&doc("owner", 8)).unwrap();
    s.put_bundle(&doc("kommunen", 3)).unwrap();
    s.put_revocation_list(&doc("kommunen", 12)).unwrap();
    s.save_lockouts(&[LockoutRow { door: "entrance".into(), locked_until: Some(t(30)), streak: 2 }]).unwrap();
    let key = portvakt::core::secret::CredentialKey::from_bytes([9; 32]);
    s.set_door_mode(&DoorModeRow::sealed(&key, "bikes", DoorMode::Lockdown, t(1))).unwrap();
    s.raise_clock_floor(t(500)).unwrap();
    s.raise_clock_floor(t(100)).unwrap();
    drop(s);
    let s = Store::open(&o).unwrap();
    let bundles: Vec<(String, u64)> = s.bundles().unwrap().into_iter().map(|d| (d.authority, d.version)).collect();
    assert_eq!(bundles, vec![("kommunen".into(), 3), ("owner".into(), 8)]);
    assert_eq!(s.revocation_lists().unwrap()[0].version, 12);
    assert_eq!(s.lockouts().unwrap().0[0].streak, 2);
    let modes: Vec<(String, DoorMode)> =
        s.door_modes().unwrap().into_iter().map(|r| (r.door.clone(), r.verified(&key).unwrap())).collect();
    assert_eq!(modes, vec![("bikes".into(), DoorMode::Lockdown)]);
    assert_eq!(s.version_floors().unwrap().bundles["owner"], 8);
    // The restored lockout still locks the keypad in the core.
    let row = &s.lockouts().unwrap().0[0];
    let door = portvakt::core::model::DoorIdx(0);
    let lockout = portvakt::core::lockout::KeypadLockout::restore([(door, row.locked_until, row.streak)]);
    assert_eq!(lockout.locked_until(door, t(10)), Some(t(30)));
    assert_eq!(lockout.locked_until(door, t(30)), None);
    assert_eq!(s.clock_floor().unwrap(), Some(t(500)));
}

#[test]
fn concurrent_appends_through_the_actor_share_transactions_and_all_get_numbers() {
    let dir = tempfile::tempdir().unwrap();
    let (handle, thread) = actor::spawn(Store::open(&opts(&dir)).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let seqs = rt.block_on(async {
        let tasks: Vec<_> = (0..2000)
            .map(|i| {
                let h = handle.clone();
                tokio::spawn(async move { h.append(event(i, "anna")).await })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            match task.await.unwrap().unwrap() {
                Recorded::Stored(seq) => seqs.push(seq),
                Recorded::Counted => panic!("nothing should be counted"),
            }
        }
        seqs
    });
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (1..=2000).collect::<Vec<u64>>(), "every event got its own number, none lost");
    let health = rt.block_on(handle.health()).unwrap();
    assert!(health.commits < 2000, "group commit: {} transactions for 2000 events", health.commits);
    assert_eq!(rt.block_on(handle.verify()).unwrap().first_break, None);
    drop(handle);
    thread.join().unwrap();
}

#[test]
fn whoever_is_told_a_record_is_stored_already_sees_the_head_past_it() {
    // The uplink's last drain reads the head right after `system.stop` is stored: an
    // answer ahead of the head left that record unpublished.
    let dir = tempfile::tempdir().unwrap();
    let (handle, thread) = actor::spawn(Store::open(&opts(&dir)).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let head = handle.head();
    rt.block_on(async {
        for i in 0..500 {
            let Recorded::Stored(seq) = handle.append(event(i, "anna")).await.unwrap() else { panic!("counted") };
            assert!(*head.borrow() >= seq, "record {seq} answered before the head moved");
        }
    });
    drop(handle);
    thread.join().unwrap();
}

#[test]
fn an_access_decision_becomes_a_record_without_the_pin() {
    use portvakt::core::clock::ClockTrust;
    use portvakt::core::credential::TokenKind;
    use portvakt::core::decide::{Decision, DenyReason};
    let d = Decision::Deny {
        door: Some("entrance".parse().unwrap()),
        reason: DenyReason::UnknownCredential,
        who: None,
        kind: TokenKind::Pin,
        clock: ClockTrust::Trusted,
    };
    let e = NewEvent::from_decision(&d, t(0));
    assert_eq!(e.kind, EventKind::AccessDenied);
    assert_eq!(e.door.as_deref(), Some("entrance"));
    assert_eq!(e.detail, r#"{"kind":"pin","reason":"unknown_credential"}"#);
}
