//! The documented ways a site's store is replaced (`docs/mqtt.md`, Runs of the chain), on
//! a running gateway against the in-process broker and a collector played by the test:
//! a box swapped or a card reflashed begins its own run; a store restored from a backup
//! begins a new run when the collector's acknowledgement shows it behind, publishes its
//! unconfirmed records again under it, and never answers the collector in a loop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::daemon::TestDaemon;
use common::mqtt::{Subscriber, started};
use portvakt::daemon::control::Request;
use portvakt::uplink::ack::AckBody;
use portvakt::uplink::sim_broker::SimBroker;
use serde_json::Value;

const P: &str = "portvakt/test-site";
const COLLECTOR: u8 = 9;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A broker, the collector's view of `events`, and the gateway started against them in
/// `confirm = "collector"` mode with the collector's key.
async fn in_collector_mode() -> (SimBroker, Subscriber, TestDaemon) {
    let broker = SimBroker::start(0).await.unwrap();
    let sub = Subscriber::connect(broker.addr().port(), "collector", &format!("{P}/events")).await;
    let key = portvakt::core::hex::encode(
        &ed25519_dalek::SigningKey::from_bytes(&[COLLECTOR; 32]).verifying_key().to_bytes(),
    );
    let d = started(&broker, &[("PORTVAKT__UPLINK__CONFIRM", "collector"), ("PORTVAKT__UPLINK__COLLECTOR_KEY", &key)])
        .await;
    (broker, sub, d)
}

/// The collector's acknowledgement of `record` (an `events` message it received).
fn ack_of(record: &Value) -> Vec<u8> {
    let body = AckBody {
        site: "test-site".into(),
        epoch: record["epoch"]["id"].as_str().map(str::to_owned),
        through: record["seq"].as_u64().unwrap(),
        hash: record["hash"].as_str().unwrap().to_owned(),
    };
    portvakt::uplink::ack::seal(&body, &ed25519_dalek::SigningKey::from_bytes(&[COLLECTOR; 32]))
}

async fn uplink_state(d: &TestDaemon) -> Value {
    d.ask(&Request::Status).await.unwrap()["state"]["uplink"].clone()
}

/// Waits until `state.uplink.<key>` reaches `n`; what it is then.
async fn counted(d: &TestDaemon, key: &str, n: u64) -> u64 {
    for _ in 0..250 {
        if uplink_state(d).await[key].as_u64().unwrap_or(0) >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    uplink_state(d).await[key].as_u64().unwrap_or(0)
}

async fn outbox_depth(d: &TestDaemon) -> u64 {
    d.ask(&Request::Status).await.unwrap()["status"]["store"]["outbox_depth"].as_u64().unwrap_or(u64::MAX)
}

/// Waits (at most 5 s) until every record up to `seq` is confirmed; whether it came to that.
async fn confirmed(d: &TestDaemon, seq: u64) -> bool {
    let unconfirmed = || {
        let conn = rusqlite::Connection::open_with_flags(d.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let sql = "SELECT count(*) FROM audit WHERE seq <= ?1 AND confirmed_at_ms IS NULL";
        conn.query_row(sql, [i64::try_from(seq).unwrap()], |r| r.get::<_, i64>(0)).unwrap()
    };
    for _ in 0..250 {
        if unconfirmed() == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// The store's files (the database and its write-ahead log), as a backup takes them.
fn store_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("portvakt.db"))
        .collect()
}

/// The newest `events` message seen whose run is `epoch`.
fn newest_in(sub: &Subscriber, epoch: &str) -> Value {
    sub.on(&format!("{P}/events"))
        .into_iter()
        .map(|s| s.json())
        .filter(|v| v["epoch"]["id"] == epoch)
        .max_by_key(|v| v["seq"].as_u64())
        .expect("a record of the run")
}

#[test]
fn a_box_swapped_or_reflashed_begins_its_own_run_and_the_old_runs_acknowledgements_confirm_nothing() {
    rt().block_on(async {
        let (broker, sub, d) = in_collector_mode().await;
        d.ask(&Request::Pulse { door: "entrance".into() }).await.unwrap();
        let old = sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "door.pulsed").await.json();
        let old_run = old["epoch"]["id"].as_str().unwrap().to_owned();

        // The card reflashed: store and device key gone; the same site's config.
        let d = d
            .restart_changed(|dir| {
                for f in store_files(dir) {
                    std::fs::remove_file(f).unwrap();
                }
                std::fs::remove_file(dir.join("device.key")).unwrap();
            })
            .await;
        let first = sub
            .wait(&format!("{P}/events"), 10, |s| s.json()["epoch"]["id"].as_str().is_some_and(|e| e != old_run))
            .await
            .json();
        let new_run = first["epoch"]["id"].as_str().unwrap().to_owned();
        assert_eq!(first["epoch"]["from"], 1, "a new store's run begins at its first record: {first}");
        let seq_one = sub
            .wait(&format!("{P}/events"), 10, |s| s.json()["epoch"]["id"] == new_run.as_str() && s.json()["seq"] == 1)
            .await;
        assert_eq!(seq_one.json()["prev"], "00".repeat(32), "its first record links to the genesis hash");

        // The collector, still holding the old box's longer run, acknowledges it twenty
        // times: each counted, nothing confirmed, nothing written.
        let records = d.audit_kinds().len();
        for n in 1..=20 {
            broker.publish(&format!("{P}/events/ack"), ack_of(&old), false);
            assert_eq!(counted(&d, "acks_refused", n).await, n);
        }
        assert_eq!(d.audit_kinds().len(), records, "the old run's acknowledgements wrote records");
        assert!(d.audit_of("system.chain_epoch").is_empty(), "a new store begins no further run");
        assert!(outbox_depth(&d).await > 0);

        // Its own run's acknowledgement confirms.
        let newest = newest_in(&sub, &new_run);
        broker.publish(&format!("{P}/events/ack"), ack_of(&newest), false);
        let through = newest["seq"].as_u64().unwrap();
        assert!(confirmed(&d, through).await, "its own run's acknowledgement confirmed through {through}");
        d.stop().await.unwrap();
    });
}

#[test]
fn a_store_restored_from_a_backup_begins_a_new_run_and_the_collector_gets_its_records_again_once() {
    rt().block_on(async {
        let (broker, sub, d) = in_collector_mode().await;
        let backup = tempfile::tempdir().unwrap();
        // The backup is taken while the daemon is stopped, as docs/install.md says.
        let d = d
            .restart_changed(|dir| {
                for f in store_files(dir) {
                    std::fs::copy(&f, backup.path().join(f.file_name().unwrap())).unwrap();
                }
            })
            .await;
        for _ in 0..3 {
            d.ask(&Request::Pulse { door: "entrance".into() }).await.unwrap();
        }
        let pulsed = sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "door.pulsed").await.json();
        let run = pulsed["epoch"]["id"].as_str().unwrap().to_owned();
        let held = newest_in(&sub, &run);
        broker.publish(&format!("{P}/events/ack"), ack_of(&held), false);
        for _ in 0..250 {
            if outbox_depth(&d).await == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        // The card fails; the backup goes back on it.
        let d = d
            .restart_changed(|dir| {
                for f in store_files(dir) {
                    std::fs::remove_file(f).unwrap();
                }
                for f in std::fs::read_dir(backup.path()).unwrap() {
                    let f = f.unwrap();
                    std::fs::copy(f.path(), dir.join(f.file_name())).unwrap();
                }
            })
            .await;
        // The collector, holding the run further than the restored store, says so — again
        // at each record it receives, as a collector does, until the gateway has listened.
        for _ in 0..50 {
            broker.publish(&format!("{P}/events/ack"), ack_of(&held), false);
            if counted(&d, "epochs_begun", 1).await >= 1 {
                break;
            }
        }
        assert_eq!(counted(&d, "epochs_begun", 1).await, 1, "{}", uplink_state(&d).await);
        let begun = d.audit_of("system.chain_epoch");
        assert_eq!(begun.len(), 1, "{begun:?}");
        let detail = &begun[0]["detail"];
        assert_eq!(detail["previous"], run.as_str());
        assert!(["ahead", "wrong_hash"].contains(&detail["code"].as_str().unwrap()), "{detail}");
        let new_run = detail["epoch"].as_str().unwrap().to_owned();
        assert_ne!(new_run, run);
        let from = detail["from"].as_u64().unwrap();
        assert_eq!(from, 1, "nothing in the backup was confirmed, so the new run takes all of it");

        // Every record the store holds goes out again under the new run, from its first.
        let again = sub
            .wait(&format!("{P}/events"), 15, |s| {
                s.json()["epoch"]["id"] == new_run.as_str() && s.json()["kind"] == "system.chain_epoch"
            })
            .await
            .json();
        let seqs: std::collections::BTreeSet<u64> = sub
            .on(&format!("{P}/events"))
            .iter()
            .map(common::mqtt::Seen::json)
            .filter(|v| v["epoch"]["id"] == new_run.as_str())
            .filter_map(|v| v["seq"].as_u64())
            .collect();
        let want: std::collections::BTreeSet<u64> = (from..=again["seq"].as_u64().unwrap()).collect();
        assert!(want.is_subset(&seqs), "the new run is published whole from {from}: {seqs:?}");
        assert!(
            sub.on(&format!("{P}/events"))
                .iter()
                .any(|s| s.json()["epoch"]["id"] == new_run.as_str() && s.json()["epoch"]["from"] == from)
        );

        // The old run's acknowledgement, again and again: counted, never another run or record.
        for _ in 0..10 {
            broker.publish(&format!("{P}/events/ack"), ack_of(&held), false);
        }
        let refused_before = d.audit_of("uplink.refused").len();
        let acks = counted(&d, "acks_refused", 11).await;
        assert!(acks >= 11, "{acks}");
        assert_eq!(d.audit_of("system.chain_epoch").len(), 1, "one new run, not a loop");
        assert_eq!(d.audit_of("uplink.refused").len(), refused_before);

        // The new run's acknowledgement confirms.
        let newest = newest_in(&sub, &new_run);
        broker.publish(&format!("{P}/events/ack"), ack_of(&newest), false);
        let through = newest["seq"].as_u64().unwrap();
        assert!(confirmed(&d, through).await, "the new run's acknowledgement confirmed through {through}");
        d.stop().await.unwrap();
    });
}
