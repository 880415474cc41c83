//! The audit chain's anchor: the device key made at first start, checkpoints signed with
//! it while records come in and at stop, and `portvakt audit verify` finding a store cut
//! short or rewritten — which the links alone cannot show — against a checkpoint a
//! collector kept.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::daemon::{TestDaemon, portvakt_cli};
use portvakt::daemon::control::Request;

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// A daemon that made its device key, pulsed the entrance and stopped; the store's
/// newest checkpoint (the record a collector got in `events`) is returned as JSON.
fn stopped_daemon() -> (TestDaemon, serde_json::Value) {
    rt().block_on(async {
        let d = TestDaemon::start_with(None, vec![("PORTVAKT__STORE__CHECKPOINT_INTERVAL".into(), "1s".into())]);
        d.notified("READY=1", 10).await;
        d.ask(&Request::Pulse { door: "entrance".into() }).await.unwrap();
        // A checkpoint while running (the interval), then the last one at stop.
        d.audited_after("audit.checkpoint", 0).await;
        let (dir, notify, signals, task, extra) = (d.dir, d.notify, d.signals, d.task, d.extra);
        signals.send(portvakt::daemon::Signal::Stop).await.unwrap();
        tokio::time::timeout(Duration::from_secs(15), task).await.unwrap().unwrap().unwrap();
        let (signals, _rx) = tokio::sync::mpsc::channel(1);
        let d = TestDaemon { dir, notify, signals, task: tokio::spawn(async { Ok(()) }), extra };
        let last = d.audit_of("audit.checkpoint").last().cloned().unwrap();
        (d, last)
    })
}

fn verify(d: &TestDaemon, more: &[&str]) -> (Option<i32>, String) {
    let db = d.db().display().to_string();
    let mut args = vec!["audit", "verify", "--db", db.as_str()];
    args.extend_from_slice(more);
    let (code, out, err) = portvakt_cli(d.dir.path(), &d.config_path(), &args, &[]);
    (code, out + &err)
}

fn sql(d: &TestDaemon) -> rusqlite::Connection {
    rusqlite::Connection::open(d.db()).unwrap()
}

#[test]
fn the_device_key_is_made_once_and_every_checkpoint_is_signed_with_it() {
    let (d, last) = stopped_daemon();
    let made = d.audit_of("system.device_key");
    assert_eq!(made.len(), 1, "one commissioning record");
    let key = made[0]["detail"]["public_key"].as_str().unwrap().to_owned();
    let checkpoints = d.audit_of("audit.checkpoint");
    assert!(checkpoints.len() >= 2, "one while running, one at stop: {checkpoints:?}");
    assert!(checkpoints.iter().all(|c| c["detail"]["key"] == key.as_str()));
    // The last one covers the stop record just before it, and is the newest record.
    let stop = d.audit_of("system.stop").last().cloned().unwrap();
    assert_eq!(last["detail"]["seq"], stop["seq"]);
    let kinds = d.audit_kinds();
    assert_eq!(kinds.last().map(String::as_str), Some("audit.checkpoint"));
    let (code, out) = verify(&d, &[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("chain intact") && out.contains("matches the store"), "{out}");
    // The doctor names it, for the hand-over record.
    let (_, doctor, _) = portvakt_cli(d.dir.path(), &d.config_path(), &["doctor"], &[]);
    let line = doctor.lines().find(|l| l.contains("device key")).unwrap_or_else(|| panic!("{doctor}"));
    assert!(line.contains(&key) && line.contains("ok"), "{line}");
    let named = |name: &str| doctor.lines().find(|l| l.split_whitespace().nth(1) == Some(name)).map(str::to_owned);
    let line = named("checkpoint").unwrap_or_else(|| panic!("{doctor}"));
    assert!(line.contains("matches the store"), "{line}");
    let line = named("outbox").unwrap_or_else(|| panic!("{doctor}"));
    assert!(line.contains("kept locally (no uplink)"), "{line}");
}

#[test]
fn a_store_cut_short_passes_its_own_links_but_not_the_collectors_checkpoint() {
    let (d, last) = stopped_daemon();
    let kept = d.dir.path().join("kept.json");
    std::fs::write(
        &kept,
        serde_json::to_vec(&serde_json::json!({"kind": "audit.checkpoint", "detail": last["detail"]})).unwrap(),
    )
    .unwrap();
    let kept = kept.display().to_string();
    assert_eq!(verify(&d, &["--against", &kept]).0, Some(0), "before the cut");

    // Root on the box deletes the newest records: the remaining chain links up.
    let covered = last["detail"]["seq"].as_i64().unwrap();
    sql(&d).execute("DELETE FROM audit WHERE seq >= ?1", [covered - 2]).unwrap();
    let (code, out) = verify(&d, &[]);
    assert!(out.contains("chain intact"), "{out}");
    let (code_against, against) = verify(&d, &["--against", &kept]);
    assert_eq!(code_against, Some(65), "{against}");
    assert!(against.contains("TRUNCATED"), "{against}");
    // The store alone cannot tell: its surviving checkpoints cover records it still has.
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn a_store_rewritten_with_its_hashes_recomputed_is_found_against_the_collectors_checkpoint() {
    let (d, last) = stopped_daemon();
    let kept = d.dir.path().join("kept.json");
    std::fs::write(&kept, serde_json::to_vec(&last["detail"]).unwrap()).unwrap();
    let kept = kept.display().to_string();
    let covered = last["detail"]["seq"].as_u64().unwrap();

    // Rewrite the covered record's detail and recompute its hash (the links stay whole),
    // and drop the checkpoint after it, as someone with root could.
    let conn = sql(&d);
    conn.execute("DELETE FROM audit WHERE seq > ?1", [i64::try_from(covered).unwrap()]).unwrap();
    let store = portvakt::store::Store::open_read_only(&d.db()).unwrap();
    let filter = portvakt::store::AuditFilter::default();
    let mut rec = store.query(&filter).unwrap().into_iter().map(|r| r.record).find(|r| r.seq == covered).unwrap();
    drop(store);
    rec.event.detail = r#"{"why":"nothing happened here"}"#.into();
    rec.hash = [0; 32];
    let hash = rec.computed_hash();
    conn.execute(
        "UPDATE audit SET detail = ?1, hash = ?2 WHERE seq = ?3",
        rusqlite::params![rec.event.detail, hash.to_vec(), i64::try_from(covered).unwrap()],
    )
    .unwrap();
    drop(conn);
    let (_, alone) = verify(&d, &[]);
    assert!(alone.contains("chain intact"), "the links alone pass: {alone}");
    let (code, out) = verify(&d, &["--against", &kept]);
    assert_eq!(code, Some(65), "{out}");
    assert!(out.contains("REWRITTEN"), "{out}");
}

#[test]
fn a_forged_or_malformed_collector_checkpoint_is_said_so() {
    let (d, last) = stopped_daemon();
    let mut forged = last["detail"].clone();
    let other = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key().to_bytes();
    forged["key"] = portvakt::core::hex::encode(&other).into();
    let file = d.dir.path().join("forged.json");
    std::fs::write(&file, serde_json::to_vec(&forged).unwrap()).unwrap();
    let (code, out) = verify(&d, &["--against", &file.display().to_string()]);
    assert_eq!(code, Some(65), "{out}");
    assert!(out.contains("DOES NOT VERIFY"), "{out}");
    std::fs::write(&file, b"not a checkpoint").unwrap();
    let (code, out) = verify(&d, &["--against", &file.display().to_string()]);
    assert_eq!(code, Some(65), "{out}");
    assert!(out.contains("not a checkpoint"), "{out}");
}
