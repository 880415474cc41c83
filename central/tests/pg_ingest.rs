//! Ingest against a real PostgreSQL (a throwaway cluster per test, Debian's PostgreSQL;
//! run by `scripts/interop.sh`, which installs it): a poisoned record from one site is
//! quarantined and alarmed while every other site's records flow; a record PostgreSQL
//! refuses that the boundary let through is isolated by splitting its batch; a forced
//! door's alarm follows its latest door record by seq, in the records' transaction; two
//! collectors taking overlapping batches never deadlock; the alarm sweep waits for a batch
//! that holds a site's runs; a gateway's names are kept from its `state`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{Chain, GENESIS, NOW_MS, count, keys, message, pg};
use ed25519_dalek::SigningKey;
use portvakt_central::alarms::Rules;
use portvakt_central::collector::take_records;
use portvakt_central::{db, fleet};
use portvakt_wire::hex;

#[tokio::test(flavor = "current_thread")]
async fn a_poisoned_record_is_quarantined_and_alarmed_while_every_other_sites_records_flow() {
    let (_pg, mut c) = pg().await;
    let (mut a, mut b) = (Chain::new(), Chain::new());
    let good_a: Vec<Vec<u8>> = (0..3).map(|_| a.next("system.start", None, "{}", NOW_MS)).collect();
    let good_b: Vec<Vec<u8>> = (0..2).map(|_| b.next("system.start", None, "{}", NOW_MS)).collect();
    // The poisons, each a record whose hash is right for what it holds.
    let mut p = GENESIS;
    let before_4713_bc = jiff::civil::date(-5000, 1, 1).to_zoned(jiff::tz::TimeZone::UTC).unwrap().timestamp();
    let huge = format!("{{\"x\":\"{}\"}}", "a".repeat(1 << 20));
    let poisons = [
        message(1, &mut p, "system.start", None, "not json \0 with a NUL", NOW_MS),
        message(1, &mut GENESIS.clone(), "system.start", Some("ent\0rance"), "{}", NOW_MS),
        message(0, &mut GENESIS.clone(), "system.start", None, "{}", NOW_MS),
        message(1, &mut GENESIS.clone(), "system.start", None, "{}", before_4713_bc.as_millisecond()),
        message(1, &mut GENESIS.clone(), "system.start", None, &huge, NOW_MS),
    ];
    let mut batch: Vec<(&str, &[u8])> = Vec::new();
    batch.extend(good_a.iter().map(|m| ("site-a", &m[..])));
    batch.extend(poisons.iter().map(|m| ("site-poison", &m[..])));
    batch.extend(good_b.iter().map(|m| ("site-b", &m[..])));
    let prepared = db::Prepared::on(&c).await.unwrap();
    let acks =
        take_records(&mut c, &prepared, &keys(), &batch, jiff::Timestamp::now()).await.expect("the batch is taken");
    let acked: Vec<&str> = acks.iter().map(|a| a.site.as_str()).collect();
    assert_eq!(acked, ["site-a", "site-b"], "both good sites acknowledged");
    assert_eq!(count(&c, "SELECT count(*) FROM records WHERE site = 'site-a'").await, 3);
    assert_eq!(count(&c, "SELECT count(*) FROM records WHERE site = 'site-b'").await, 2);
    assert_eq!(count(&c, "SELECT count(*) FROM records WHERE site = 'site-poison'").await, 0);
    let reasons: Vec<String> = c
        .query("SELECT reason FROM refused WHERE site = 'site-poison' ORDER BY id", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(reasons.len(), 5, "{reasons:?}");
    for (reason, says) in reasons.iter().zip([
        "the detail holds a NUL",
        "the door holds a NUL",
        "seq 0",
        "years 1 to 9999",
        "bytes, more than",
    ]) {
        assert!(reason.contains(says), "{reason} should say {says}");
    }
    let kept = count(&c, "SELECT max(length(payload))::bigint FROM refused").await;
    assert!(kept <= 64 * 1024, "a quarantined message is kept in part: {kept} bytes");
    assert_eq!(count(&c, "SELECT max(length) FROM refused").await, i64::try_from(poisons[4].len()).unwrap());
    let alarm: String = c
        .query_one("SELECT kind FROM alarms WHERE site = 'site-poison' AND cleared_at IS NULL", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(alarm, "records_quarantined");
    // A NUL only spelled in a detail's JSON (`\u0000`, as a phone's text escaped) is text
    // PostgreSQL keeps: stored, not quarantined.
    let spelled = Chain::new().next("ble.refused", None, "{\"door_named\":\"\\u0000\"}", NOW_MS);
    take_records(&mut c, &prepared, &keys(), &[("site-c", &spelled[..])], jiff::Timestamp::now()).await.unwrap();
    assert_eq!(count(&c, "SELECT count(*) FROM records WHERE site = 'site-c'").await, 1);
    // A retained state holding a NUL is quarantined too, not the collector's batch failed.
    let state = b"{\"site\":\"site-b\",\"x\":\"\0\"}";
    let observed = portvakt_central::fleet::observe_message(
        &c,
        "site-b",
        state,
        portvakt_central::fleet::Observation::State,
        jiff::Timestamp::now(),
        &portvakt_central::alarms::Rules::default(),
    )
    .await;
    observed.expect("quarantined, not an error");
    assert_eq!(count(&c, "SELECT count(*) FROM refused WHERE site = 'site-b'").await, 1);
    // The good sites go on: their next records are taken beside more poison.
    let next = a.next("system.stop", None, "{}", NOW_MS);
    let batch: Vec<(&str, &[u8])> = vec![("site-poison", &poisons[2][..]), ("site-a", &next[..])];
    let acks = take_records(&mut c, &prepared, &keys(), &batch, jiff::Timestamp::now()).await.unwrap();
    assert_eq!(acks.len(), 1);
    assert_eq!(count(&c, "SELECT through FROM current_chains WHERE site = 'site-a'").await, 4);
}

#[tokio::test(flavor = "current_thread")]
async fn a_record_postgresql_refuses_is_isolated_by_splitting_and_the_rest_are_stored() {
    let (_pg, mut c) = pg().await;
    // A rule of this database the boundary cannot know: PostgreSQL refuses the statement.
    c.batch_execute("ALTER TABLE records ADD CONSTRAINT no_test_poison CHECK (kind <> 'test.poison')").await.unwrap();
    let mut a = Chain::new();
    let msgs: Vec<Vec<u8>> =
        (1..=9).map(|i| a.next(if i == 6 { "test.poison" } else { "system.start" }, None, "{}", NOW_MS)).collect();
    let batch: Vec<(&str, &[u8])> = msgs.iter().map(|m| ("site-a", &m[..])).collect();
    let prepared = db::Prepared::on(&c).await.unwrap();
    let acks =
        take_records(&mut c, &prepared, &keys(), &batch, jiff::Timestamp::now()).await.expect("taken, not failed");
    assert_eq!(count(&c, "SELECT count(*) FROM records").await, 8, "all but the refused one");
    let reason: String = c.query_one("SELECT reason FROM refused", &[]).await.unwrap().get(0);
    assert!(reason.contains("refused by PostgreSQL") && reason.contains("no_test_poison"), "{reason}");
    // The gap-free point stops before the hole the refused record left.
    assert_eq!(acks.len(), 1);
    assert_eq!(count(&c, "SELECT through FROM current_chains WHERE site = 'site-a'").await, 5);
}

#[tokio::test(flavor = "current_thread")]
async fn a_forced_doors_alarm_follows_its_latest_door_record_by_seq_in_the_records_transaction() {
    let (_pg, mut c) = pg().await;
    let mut a = Chain::new();
    let start = a.next("system.start", None, "{}", NOW_MS);
    let forced = a.next("door.forced_open", Some("entrance"), "{}", NOW_MS);
    let closed = a.next("door.closed", Some("entrance"), "{}", NOW_MS);
    let open_alarms =
        "SELECT count(*) FROM alarms WHERE site = 'site-a' AND kind = 'door_forced_open' AND cleared_at IS NULL";
    // Two collectors: the one with `door.closed` commits first.
    let prepared = db::Prepared::on(&c).await.unwrap();
    take_records(
        &mut c,
        &prepared,
        &keys(),
        &[("site-a", &start[..]), ("site-a", &closed[..])],
        jiff::Timestamp::now(),
    )
    .await
    .unwrap();
    take_records(&mut c, &prepared, &keys(), &[("site-a", &forced[..])], jiff::Timestamp::now()).await.unwrap();
    assert_eq!(count(&c, open_alarms).await, 0, "the door closed after it was forced: no alarm for a shut door");
    // Forced again, later by seq: the alarm is there as soon as the record is.
    let forced_again = a.next("door.forced_open", Some("entrance"), "{}", NOW_MS);
    take_records(&mut c, &prepared, &keys(), &[("site-a", &forced_again[..])], jiff::Timestamp::now()).await.unwrap();
    assert_eq!(count(&c, open_alarms).await, 1);
    // A resend of the old `door.closed` changes nothing: it is not the latest.
    take_records(&mut c, &prepared, &keys(), &[("site-a", &closed[..])], jiff::Timestamp::now()).await.unwrap();
    assert_eq!(count(&c, open_alarms).await, 1);
    let shut = a.next("door.closed", Some("entrance"), "{}", NOW_MS);
    take_records(&mut c, &prepared, &keys(), &[("site-a", &shut[..])], jiff::Timestamp::now()).await.unwrap();
    assert_eq!(count(&c, open_alarms).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alarm_sweep_waits_for_a_batch_that_holds_the_sites_runs_and_keeps_the_alarm_it_raised() {
    let (pg, mut c) = pg().await;
    let mut a = Chain::new();
    let start = a.next("system.start", None, "{}", NOW_MS);
    let prepared = db::Prepared::on(&c).await.unwrap();
    take_records(&mut c, &prepared, &keys(), &[("site-a", &start[..])], jiff::Timestamp::now()).await.unwrap();
    let open_alarms =
        "SELECT count(*) FROM alarms WHERE site = 'site-a' AND kind = 'door_forced_open' AND cleared_at IS NULL";
    // Another collector's batch holds the site's run, as ingest does until it commits, and
    // raises a forced door's alarm in it.
    let mut other = db::connect(&pg.url).await.unwrap();
    let batch = other.transaction().await.unwrap();
    batch.execute("SELECT 1 FROM chains WHERE site = 'site-a' FOR UPDATE", &[]).await.unwrap();
    batch.execute("INSERT INTO doors (site, door, forced_at) VALUES ('site-a', 'entrance', now())", &[]).await.unwrap();
    let now = jiff::Timestamp::now();
    fleet::reconcile(&batch, "site-a", now, &Rules::default()).await.unwrap();
    let mut sweeper = db::connect(&pg.url).await.unwrap();
    let sweep = tokio::spawn(async move { fleet::sweep(&mut sweeper, now, &Rules::default()).await });
    // The sweep waits on the run's lock, as PostgreSQL says (asked again at each answer).
    let waiting = "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'";
    while count(&c, waiting).await == 0 {
        assert!(!sweep.is_finished(), "the sweep did not wait for the batch's lock");
    }
    batch.commit().await.unwrap();
    sweep.await.unwrap().unwrap();
    assert_eq!(count(&c, open_alarms).await, 1, "the sweep read what the batch committed: the alarm stays open");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_collectors_taking_overlapping_batches_in_opposite_orders_never_deadlock() {
    let (pg, mut first) = pg().await;
    let mut second = db::connect(&pg.url).await.unwrap();
    let sites = ["site-a", "site-b", "site-c"];
    let mut chains: Vec<Chain> = sites.iter().map(|_| Chain::new()).collect();
    let (p1, p2) = (db::Prepared::on(&first).await.unwrap(), db::Prepared::on(&second).await.unwrap());
    for round in 0..20 {
        let mut msgs: Vec<(&str, Vec<u8>)> = Vec::new();
        for (site, chain) in sites.iter().zip(chains.iter_mut()) {
            for _ in 0..10 {
                msgs.push((site, chain.next("system.start", None, "{}", NOW_MS)));
            }
        }
        let forward: Vec<(&str, &[u8])> = msgs.iter().map(|(s, m)| (*s, &m[..])).collect();
        let backward: Vec<(&str, &[u8])> = forward.iter().rev().copied().collect();
        let (now, k) = (jiff::Timestamp::now(), keys());
        let (x, y) = tokio::join!(
            take_records(&mut first, &p1, &k, &forward, now),
            take_records(&mut second, &p2, &k, &backward, now)
        );
        x.unwrap_or_else(|e| panic!("round {round}, first collector: {e}"));
        y.unwrap_or_else(|e| panic!("round {round}, second collector: {e}"));
    }
    assert_eq!(count(&first, "SELECT count(*) FROM records").await, 600);
    assert_eq!(count(&first, "SELECT min(through) FROM current_chains").await, 200);
}

#[tokio::test(flavor = "current_thread")]
async fn a_checkpoint_that_arrived_before_its_record_is_judged_again_when_the_record_comes() {
    use portvakt_wire::checkpoint::Checkpoint;
    let (_pg, mut c) = pg().await;
    let device = SigningKey::from_bytes(&[7; 32]);
    let mut a = Chain::new();
    let commissioned = format!("{{\"public_key\":\"{}\"}}", hex::encode(&device.verifying_key().to_bytes()));
    let first = a.next("system.device_key", None, &commissioned, NOW_MS);
    let second = a.next("system.start", None, "{}", NOW_MS);
    let covered_hash = a.prev;
    let at = jiff::Timestamp::from_millisecond(NOW_MS).unwrap();
    let signed = Checkpoint::sign("site-a", 2, covered_hash, at, &device).detail().to_string();
    let checkpoint = a.next("audit.checkpoint", None, &signed, NOW_MS);
    // The checkpoint (record 3) arrives before record 2, which it covers.
    let prepared = db::Prepared::on(&c).await.unwrap();
    take_records(
        &mut c,
        &prepared,
        &keys(),
        &[("site-a", &first[..]), ("site-a", &checkpoint[..])],
        jiff::Timestamp::now(),
    )
    .await
    .unwrap();
    let outcome = "SELECT outcome FROM checkpoints WHERE site = 'site-a' AND seq = 3";
    let judged: String = c.query_one(outcome, &[]).await.unwrap().get(0);
    assert_eq!(judged, "not_stored");
    take_records(&mut c, &prepared, &keys(), &[("site-a", &second[..])], jiff::Timestamp::now()).await.unwrap();
    let judged: String = c.query_one(outcome, &[]).await.unwrap().get(0);
    assert_eq!(judged, "verified", "judged again once record 2 is stored");
}

#[tokio::test(flavor = "current_thread")]
async fn a_flood_of_bad_messages_from_one_site_is_counted_past_the_cap_not_kept_and_its_bytes_go_with_retention() {
    use portvakt_central::boundary::MAX_QUARANTINED;
    let (_pg, mut c) = pg().await;
    let junk = vec![b'x'; 2048];
    let flood: Vec<(&str, &[u8])> = (0..MAX_QUARANTINED + 5).map(|_| ("site-stolen", &junk[..])).collect();
    let prepared = db::Prepared::on(&c).await.unwrap();
    take_records(&mut c, &prepared, &keys(), &flood, jiff::Timestamp::now()).await.expect("every message is answered");
    let kept = count(&c, "SELECT count(*) FROM refused WHERE site = 'site-stolen'").await;
    assert_eq!(usize::try_from(kept).unwrap(), MAX_QUARANTINED);
    assert_eq!(count(&c, "SELECT messages FROM refused_dropped WHERE site = 'site-stolen'").await, 5);
    assert_eq!(count(&c, "SELECT bytes FROM refused_dropped WHERE site = 'site-stolen'").await, 5 * 2048);
    let open = "SELECT count(*) FROM alarms WHERE site = 'site-stolen' AND kind = 'records_quarantined' AND cleared_at IS NULL";
    assert_eq!(count(&c, open).await, 1);
    let facts = portvakt_central::fleet::facts(&c, "site-stolen").await.unwrap();
    let (n, why) = facts.quarantined.expect("quarantined");
    assert_eq!(usize::try_from(n).unwrap(), MAX_QUARANTINED + 5);
    assert!(why.contains("5 more not kept"), "{why}");
    // Past the shortest retention class, the quarantined bytes go; why and how long stay.
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(15 * 24);
    portvakt_central::retention::erase(&c, &portvakt_central::retention::Retention::default(), later).await.unwrap();
    assert_eq!(count(&c, "SELECT count(*) FROM refused WHERE length(payload) > 0").await, 0);
    assert_eq!(count(&c, "SELECT min(length) FROM refused").await, 2048);
}

#[tokio::test(flavor = "current_thread")]
async fn a_gateways_names_are_kept_from_its_state_a_state_without_them_leaves_them_and_its_alarms_keep_facts() {
    use portvakt_central::fleet::{Observation, observe};
    use portvakt_central::names::Names;
    let (_pg, c) = pg().await;
    let rules = portvakt_central::alarms::Rules::default();
    let now = jiff::Timestamp::now();
    let named = r#"{"running":true,"names":{"site":"Storgatan 12",
        "doors":[{"door":"entrance","name":"Porten"},{"door":"laundry","name":"Tvätt\u0007"}],
        "devices":[{"bus":"rs485","unit":2,"name":"reläkort"}],
        "authorities":[{"authority":"hemtjansten","name":"Solna stad, hemtjänsten"}]}}"#;
    observe(&c, "site-a", &Observation::State(named), now, &rules).await.unwrap();
    let name: Option<String> =
        c.query_one("SELECT name FROM gateways WHERE site = 'site-a'", &[]).await.unwrap().get(0);
    assert_eq!(name.as_deref(), Some("Storgatan 12"));
    let names = Names::load(&c, &["site-a"], &[]).await.unwrap();
    assert_eq!(names.door("site-a", "entrance"), Some("Porten"));
    assert_eq!(names.door("site-a", "laundry"), None, "a name with a control character is left out: the id is shown");
    assert_eq!(names.device("site-a", "rs485 unit 2"), Some("reläkort"));
    assert_eq!(names.authority("site-a", "hemtjansten"), Some("Solna stad, hemtjänsten"));

    // While its doors restart a gateway names nothing: the names it gave stand.
    let restarting =
        r#"{"running":true,"names":null,"doors":[{"door":"entrance","lock":"locked","strike_fault":true}]}"#;
    observe(&c, "site-a", &Observation::State(restarting), now, &rules).await.unwrap();
    assert_eq!(Names::load(&c, &["site-a"], &[]).await.unwrap().site("site-a"), Some("Storgatan 12"));

    // An alarm keeps what it found as facts, which the console puts in words.
    observe(&c, "site-a", &Observation::Door("entrance", r#"{"strike_fault":true}"#), now, &rules).await.unwrap();
    let detail: String = c
        .query_one("SELECT detail FROM alarms WHERE site = 'site-a' AND kind = 'strike_fault'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(
        portvakt_central::alarms::Detail::from_json(&detail),
        Some(portvakt_central::alarms::Detail::StrikeNotHeld)
    );
}
