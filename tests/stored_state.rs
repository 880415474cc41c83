//! What the gateway restores at start cannot be bent on the SD card: a door mode written
//! into the store by hand is refused and audited; a damaged stored bundle is dropped and
//! audited, and never lets an older validly signed one in (the rollback floor is kept
//! apart from the documents).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::daemon::{TestDaemon, care_pin_bundle_version};
use portvakt::daemon::Signal;
use portvakt::daemon::control::Request;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Stops the daemon, lets `tamper` edit the store with sqlite, and starts it again.
async fn tampered(d: TestDaemon, tamper: impl FnOnce(&rusqlite::Connection)) -> TestDaemon {
    let db = d.db();
    d.signals.send(Signal::Stop).await.unwrap();
    tokio::time::timeout(Duration::from_secs(15), d.task).await.unwrap().unwrap().unwrap();
    tamper(&rusqlite::Connection::open(&db).unwrap());
    let again = TestDaemon::start_in(d.dir, None, d.extra);
    again.notified("READY=1", 10).await;
    again
}

async fn entrance_mode(d: &TestDaemon) -> serde_json::Value {
    let status = d.ask(&Request::Status).await.unwrap();
    status["status"]["gateway"]["doors"][0]["mode"].clone()
}

#[test]
fn a_door_mode_written_into_the_store_by_hand_is_refused_and_audited() {
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        let d = tampered(d, |db| {
            db.execute("INSERT INTO door_modes (door, mode, set_at_ms) VALUES ('entrance', 'free_passage', 0)", [])
                .unwrap();
        })
        .await;
        assert_eq!(entrance_mode(&d).await, "normal", "the hand-written free passage is not applied");
        d.audited("door.mode").await;
        let db = rusqlite::Connection::open(d.db()).unwrap();
        let detail: String = db
            .query_row("SELECT detail FROM audit WHERE kind = 'door.mode' ORDER BY seq DESC LIMIT 1", [], |r| r.get(0))
            .unwrap();
        assert!(detail.contains("\"refused\"") && detail.contains("free_passage"), "{detail}");
        d.stop().await.unwrap();
    });
}

#[test]
fn a_damaged_stored_bundle_is_audited_and_an_older_one_is_refused_after_it() {
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        std::fs::write(d.inbox().join("care-5.pvkt"), care_pin_bundle_version("246810", 5)).unwrap();
        d.ask(&Request::Intake).await.unwrap();
        d.audited("credentials.accepted").await;
        let d = tampered(d, |db| {
            db.execute("UPDATE bundles SET body = substr(body, 1, 40) WHERE authority = 'kommunen'", []).unwrap();
        })
        .await;
        let db = rusqlite::Connection::open(d.db()).unwrap();
        let dropped: String = db
            .query_row(
                "SELECT detail FROM audit WHERE kind = 'credentials.refused' ORDER BY seq DESC LIMIT 1",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(dropped.contains("\"source\":\"store\""), "the dropped document is audited: {dropped}");
        // An older bundle, validly signed, does not get in behind the damaged one.
        std::fs::write(d.inbox().join("care-4.pvkt"), care_pin_bundle_version("246810", 4)).unwrap();
        let answer = d.ask(&Request::Intake).await.unwrap();
        assert!(answer["text"].as_str().unwrap().contains("rollback"), "{answer}");
        d.stop().await.unwrap();
    });
}

#[test]
fn at_a_site_with_no_uplink_the_daemon_lets_records_past_retention_go_and_the_chain_still_verifies() {
    use portvakt::store::{EventKind, NewEvent, Store, StoreOptions};
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        common::daemon::copy_dir(&common::fixture("config/good"), &dir.path().join("etc"));
        // A year of visits before this start: three older than the 180 days kept, two not.
        let now = jiff::Timestamp::now();
        let visit = |days: i64| NewEvent {
            at: now - jiff::SignedDuration::from_hours(24 * days),
            trusted: true,
            kind: EventKind::AccessGranted,
            door: Some("entrance".into()),
            audience: "site".into(),
            holder: Some("anna-lgh1101".into()),
            credential: Some("anna-tag".into()),
            detail: r#"{"rule":"role","role":"resident"}"#.into(),
        };
        let options = StoreOptions {
            path: dir.path().join("portvakt.db"),
            max_size_bytes: 16 << 20,
            retention: jiff::SignedDuration::from_hours(24 * 180),
            kept_locally: true,
            personal: portvakt::config::PersonalRetention::default(),
        };
        let mut store = Store::open(&options).unwrap();
        store.append(&[visit(365), visit(250), visit(181), visit(179), visit(2)]).unwrap();
        drop(store);

        let d = TestDaemon::start_in(dir, None, Vec::new());
        d.notified("READY=1", 10).await;
        let first = || {
            let db = rusqlite::Connection::open_with_flags(d.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
            db.query_row("SELECT MIN(seq) FROM audit", [], |r| r.get::<_, i64>(0)).unwrap()
        };
        for _ in 0..500 {
            if first() > 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(first(), 4, "the three visits past retention are gone, the rest kept");
        let store = Store::open_read_only(&d.db()).unwrap();
        let report = store.verify().unwrap();
        assert_eq!((report.anchor_seq, &report.first_break), (3, &None), "{report:?}");
        d.stop().await.unwrap();
    });
}

#[test]
fn an_orderly_stop_keeps_the_clock_floor_as_of_the_stop() {
    rt().block_on(async {
        // A trusted clock a day ahead of the machine's, so the floor can only come from it.
        let at = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24);
        let clock = portvakt::gateway::clock::ManualClock::new(at);
        let d = TestDaemon::start_on_clock(Vec::new(), std::sync::Arc::new(clock.clone()));
        d.notified("READY=1", 10).await;
        clock.advance(jiff::SignedDuration::from_mins(3));
        let db = d.db();
        d.signals.send(Signal::Stop).await.unwrap();
        tokio::time::timeout(Duration::from_secs(15), d.task).await.unwrap().unwrap().unwrap();
        let floor: i64 = rusqlite::Connection::open(&db)
            .unwrap()
            .query_row("SELECT value FROM meta WHERE key = 'clock_floor_ms'", [], |r| r.get(0))
            .unwrap();
        let stopped = (at + jiff::SignedDuration::from_mins(3)).as_millisecond();
        assert!(floor >= stopped, "the floor ({floor}) is the stop's time ({stopped}), not up to 10 min before");
        drop(d.dir);
    });
}
