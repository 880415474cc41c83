//! Runs of a site's chain against a real PostgreSQL (run by `scripts/interop.sh`): a box
//! swapped (a new store, its own run from record 1) and a store restored from a backup
//! (a run from its first unconfirmed record) are each taken beside the earlier run, which
//! is kept whole; acknowledgements name their run; the site's current run, its
//! `chain_restarted` alarm and `verify` follow (`docs/mqtt.md`, Runs of the chain).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Chain, NOW_MS, count, keys, message_in, pg};
use ed25519_dalek::SigningKey;
use portvakt_central::collector::take_records;
use portvakt_central::db;
use portvakt_central::{fleet, verify};
use portvakt_wire::event::Epoch;
use portvakt_wire::hex;

/// The acknowledgements published for `messages` of site-a, read back: (run, through).
async fn take(c: &mut tokio_postgres::Client, messages: &[&Vec<u8>]) -> Vec<(Option<String>, u64)> {
    let batch: Vec<(&str, &[u8])> = messages.iter().map(|m| ("site-a", &m[..])).collect();
    let prepared = db::Prepared::on(c).await.expect("prepared");
    let acks = take_records(c, &prepared, &keys(), &batch, jiff::Timestamp::now()).await.expect("taken");
    acks.into_iter()
        .map(|ack| {
            assert_eq!(ack.site, "site-a");
            (ack.epoch, ack.through)
        })
        .collect()
}

async fn open_alarms(c: &tokio_postgres::Client) -> Vec<String> {
    let rows = c.query("SELECT kind FROM alarms WHERE site = 'site-a' AND cleared_at IS NULL ORDER BY kind", &[]);
    rows.await.unwrap().iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_box_swapped_begins_its_own_run_beside_the_old_one_and_the_fleet_shows_the_replacement() {
    let (_pg, mut c) = pg().await;
    let mut old = Chain::new();
    let old_records: Vec<Vec<u8>> = (0..5).map(|_| old.next("system.start", None, "{}", NOW_MS)).collect();
    let refs: Vec<&Vec<u8>> = old_records.iter().collect();
    assert_eq!(take(&mut c, &refs).await, [(None, 5)]);
    fleet::reconcile(&c, "site-a", jiff::Timestamp::now(), &portvakt_central::alarms::Rules::default()).await.unwrap();
    assert!(!open_alarms(&c).await.contains(&"chain_restarted".to_owned()), "a site's first run replaces nothing");

    // The new box: its own run, from record 1 after the genesis hash.
    let run = "5e".repeat(16);
    let mut new = Chain::in_run(&run);
    let new_records: Vec<Vec<u8>> =
        (0..3).map(|_| new.next("door.opened", Some("entrance"), "{}", NOW_MS + 60_000)).collect();
    let refs: Vec<&Vec<u8>> = new_records.iter().collect();
    assert_eq!(take(&mut c, &refs).await, [(Some(run.clone()), 3)], "acknowledged in its own run");
    assert_eq!(count(&c, "SELECT count(*) FROM records WHERE site = 'site-a'").await, 8, "the old run's records kept");
    assert_eq!(count(&c, "SELECT count(*) FROM equivocations").await, 0, "record 1 of a new run is no second story");
    let current: String = c.query_one("SELECT epoch FROM sites WHERE site = 'site-a'", &[]).await.unwrap().get(0);
    assert_eq!(current, run);
    fleet::reconcile(&c, "site-a", jiff::Timestamp::now(), &portvakt_central::alarms::Rules::default()).await.unwrap();
    assert!(open_alarms(&c).await.contains(&"chain_restarted".to_owned()), "{:?}", open_alarms(&c).await);
    let line = portvakt_central::fleet_view::sites(&c, None).await.unwrap();
    assert_eq!(line[0].through, 3, "the fleet shows the current run's point");

    // The old run's record again (still in a broker queue): a duplicate in its own run,
    // acknowledged there; the current run stays the new one.
    assert_eq!(take(&mut c, &[&old_records[4]]).await, [(None, 5)]);
    let current: String = c.query_one("SELECT epoch FROM sites WHERE site = 'site-a'", &[]).await.unwrap().get(0);
    assert_eq!(current, run);

    let report = verify::site(&c, "site-a").await.unwrap();
    assert_eq!(report.runs.len(), 2);
    assert!(report.intact(), "{}", report.render("site-a"));
    let text = report.render("site-a");
    assert!(text.contains("run 2 of 2 (current)"), "{text}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_restored_from_a_backup_begins_a_run_at_its_first_unconfirmed_record_and_links_from_there() {
    use portvakt_wire::checkpoint::Checkpoint;
    let (_pg, mut c) = pg().await;
    let device = SigningKey::from_bytes(&[7; 32]);
    let commissioned = format!("{{\"public_key\":\"{}\"}}", hex::encode(&device.verifying_key().to_bytes()));
    let mut chain = Chain::new();
    let mut records = vec![chain.next("system.device_key", None, &commissioned, NOW_MS)];
    records.extend((0..2).map(|_| chain.next("system.start", None, "{}", NOW_MS)));
    // The backup is taken here: records 1-3 confirmed by then, 4-6 not yet.
    let at_backup = (chain.prev, chain.seq);
    records.extend((0..7).map(|_| chain.next("door.opened", Some("entrance"), "{}", NOW_MS)));
    let refs: Vec<&Vec<u8>> = records.iter().collect();
    assert_eq!(take(&mut c, &refs).await, [(None, 10)]);

    // Restored: the store continues from record 3 and, shown behind the collector, begins
    // run B from its first unconfirmed record, 4; what it writes from 4 on differs.
    let run = Epoch { id: "b0".repeat(16), from: 4 };
    let mut restored = Chain { prev: at_backup.0, seq: at_backup.1, epoch: Some(run.clone()) };
    let mut again: Vec<Vec<u8>> =
        (0..4).map(|_| restored.next("door.closed", Some("entrance"), "{}", NOW_MS + 1_000)).collect();
    let covered = (restored.prev, restored.seq);
    let at = jiff::Timestamp::from_millisecond(NOW_MS + 2_000).unwrap();
    let signed = Checkpoint::sign("site-a", covered.1, covered.0, at, &device).detail().to_string();
    again.push(restored.next("audit.checkpoint", None, &signed, NOW_MS + 2_000));

    // Record 6 of run B first, alone: nothing to acknowledge before its first record is here.
    assert_eq!(take(&mut c, &[&again[2]]).await, [], "no point in run B yet");
    let refs: Vec<&Vec<u8>> = again.iter().collect();
    assert_eq!(take(&mut c, &refs).await, [(Some(run.id.clone()), 8)], "run B whole from 4, its first prev as it came");
    assert_eq!(count(&c, "SELECT count(*) FROM equivocations").await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM records WHERE site = 'site-a' AND epoch = ''").await, 10);
    let first_seq: i64 = c.query_one("SELECT first_seq FROM chains WHERE epoch <> ''", &[]).await.unwrap().get(0);
    assert_eq!(first_seq, 4);
    let judged: String = c.query_one("SELECT outcome FROM checkpoints WHERE epoch <> ''", &[]).await.unwrap().get(0);
    assert_eq!(judged, "verified", "signed with the key the earlier run commissioned");

    let report = verify::site(&c, "site-a").await.unwrap();
    assert!(report.intact(), "{}", report.render("site-a"));
    assert_eq!(report.runs[1].gaps, [], "run B counted from its first record, not from 1");

    // A record of run B whose link is forged breaks run B there, and only run B.
    let mut forged_prev = [3u8; 32];
    let forged = message_in(Some(&run), 9, &mut forged_prev, "door.opened", Some("entrance"), "{}", NOW_MS + 3_000);
    assert_eq!(take(&mut c, &[&forged]).await, [(Some(run.id.clone()), 8)]);
    let report = verify::site(&c, "site-a").await.unwrap();
    assert!(report.runs[0].intact() && !report.runs[1].intact(), "{}", report.render("site-a"));
}
