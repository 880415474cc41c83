//! The MQTT uplink end to end, in-process: the daemon against the in-library broker and a
//! rumqttc subscriber. Birth, retained state and door states, the event stream in order,
//! `offline` at stop; no loss through broker outages; bundles, revocations and commands
//! over MQTT; bad input refused, answered and audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::daemon::{TestDaemon, care_pin_bundle};
use common::mqtt::{Seen, Subscriber, started};
use portvakt::daemon::control::Request;
use portvakt::uplink::ack::AckBody;
use portvakt::uplink::sim_broker::SimBroker;

const P: &str = "portvakt/test-site";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The collector's key in these tests (seed 9) and its acknowledgement through `seq`.
const COLLECTOR: u8 = 9;

fn collector_env() -> [(&'static str, String); 2] {
    let key = ed25519_dalek::SigningKey::from_bytes(&[COLLECTOR; 32]).verifying_key().to_bytes();
    [
        ("PORTVAKT__UPLINK__CONFIRM", "collector".to_owned()),
        ("PORTVAKT__UPLINK__COLLECTOR_KEY", portvakt::core::hex::encode(&key)),
    ]
}

fn ack(seed: u8, site: &str, epoch: &str, through: u64, hash: &str) -> Vec<u8> {
    let body = AckBody { site: site.into(), epoch: Some(epoch.into()), through, hash: hash.into() };
    portvakt::uplink::ack::seal(&body, &ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}

async fn outbox_depth(d: &TestDaemon) -> u64 {
    let v = d.ask(&Request::Status).await.unwrap();
    v["status"]["store"]["outbox_depth"].as_u64().unwrap_or(u64::MAX)
}

async fn drained(d: &TestDaemon, secs: u64) {
    for _ in 0..secs * 20 {
        if outbox_depth(d).await == 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox still holds {} record(s) after {secs} s", outbox_depth(d).await);
}

#[test]
fn door_states_go_again_with_the_state_every_state_interval_even_unchanged() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let topic = format!("{P}/door/entrance/state");
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &topic).await;
        let d = started(&broker, &[("PORTVAKT__UPLINK__STATE_INTERVAL", "10s")]).await;
        sub.wait(&topic, 10, |_| true).await;
        let first = sub.on(&topic).len();
        for _ in 0..150 {
            if sub.on(&topic).len() > first {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let again = sub.on(&topic);
        assert!(again.len() > first, "the unchanged door state was not published again within 15 s");
        assert_eq!(again[first].json()["lock"], "locked", "the same state, again");
        assert!(broker.retained(&topic).is_some(), "still retained at the broker");
        d.stop().await.unwrap();
    });
}

#[test]
fn a_subscriber_sees_birth_state_door_states_and_every_event_in_order_then_offline() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let d = started(&broker, &[]).await;

        sub.wait(&format!("{P}/status"), 10, |s| s.text() == "online").await;
        assert_eq!(broker.retained(&format!("{P}/status")).as_deref(), Some(&b"online"[..]));
        let state = sub.wait(&format!("{P}/state"), 10, |_| true).await.json();
        assert!(broker.retained(&format!("{P}/state")).is_some(), "state is retained");
        assert_eq!(state["site"], "test-site");
        assert_eq!(state["clock"]["trust"], "trusted");
        assert!(state["buses"].as_array().is_some_and(|b| !b.is_empty()), "{state}");
        let door = sub.wait(&format!("{P}/door/entrance/state"), 10, |_| true).await.json();
        assert!(broker.retained(&format!("{P}/door/entrance/state")).is_some(), "door state is retained");
        assert_eq!(door["lock"], "locked");
        assert_eq!(door["mode"], "normal");

        d.ask(&Request::Pulse { door: "entrance".into() }).await.unwrap();
        let pulsed = sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "door.pulsed").await.json();
        assert_eq!(pulsed["door"], "entrance");
        assert_eq!(pulsed["detail"]["by"], "control socket");
        sub.wait(&format!("{P}/door/entrance/state"), 10, |s| s.json()["lock"] == "released").await;
        drained(&d, 10).await;

        d.stop().await.unwrap();
        sub.wait(&format!("{P}/status"), 10, |s| s.text() == "offline").await;
        let seqs = sub.event_seqs(&format!("{P}/events"));
        let n = seqs.len() as u64;
        assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "every event once, in order");
        let events = sub.on(&format!("{P}/events"));
        let tail: Vec<_> = events.iter().rev().take(2).rev().map(|s| s.json()["kind"].clone()).collect();
        assert_eq!(
            tail,
            ["system.stop", "audit.checkpoint"],
            "the stop record and its checkpoint are published before offline"
        );
        // The collector gets the device key's checkpoint of the chain's end.
        let checkpoint = events.last().unwrap().json();
        assert_eq!(checkpoint["detail"]["seq"].as_u64(), Some(n - 1), "{checkpoint}");
        assert_eq!(checkpoint["detail"]["key"], state["device_key"], "{checkpoint}");
        assert_eq!(broker.retained(&format!("{P}/status")).as_deref(), Some(&b"offline"[..]));
        // The retained state says the gateway stopped, and whose it is.
        let kept: serde_json::Value = serde_json::from_slice(&broker.retained(&format!("{P}/state")).unwrap()).unwrap();
        assert_eq!(kept["running"], false, "{kept}");
        assert_eq!(kept["site"], "test-site", "{kept}");
        assert_eq!(state["running"], true);
    });
}

/// How long after `from` a message matching `pred` was seen on `topic`, among those after
/// the first `skip`.
async fn seen_after(
    sub: &Subscriber,
    topic: &str,
    from: Instant,
    skip: usize,
    pred: impl Fn(&Seen) -> bool,
) -> Duration {
    while !sub.on(topic).iter().skip(skip).any(&pred) {
        assert!(from.elapsed() < Duration::from_secs(10), "nothing as expected on {topic}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    from.elapsed()
}

#[test]
fn a_door_change_is_published_when_it_happens_not_at_the_next_periodic_look() {
    // The periodic look runs every 2 s: a release found by it would come 0-2 s late, and
    // the relock (1 s pulse) as late again. Published on change, each takes milliseconds.
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let d = started(&broker, &[]).await;
        let topic = format!("{P}/door/gate/state");
        sub.wait(&topic, 10, |s| s.json()["lock"] == "locked").await;

        let before = sub.on(&topic).len();
        d.ask(&Request::Pulse { door: "gate".into() }).await.unwrap();
        let pulsed = Instant::now();
        let released = seen_after(&sub, &topic, pulsed, before, |s| s.json()["lock"] == "released").await;
        assert!(released < Duration::from_millis(700), "released published {released:?} after the pulse");
        let relocked = seen_after(&sub, &topic, pulsed, before + 1, |s| s.json()["lock"] == "locked").await;
        let late = relocked.saturating_sub(Duration::from_secs(1));
        assert!(late < Duration::from_millis(700), "locked again published {late:?} after the 1 s pulse ended");
        d.stop().await.unwrap();
    });
}

#[test]
fn the_last_will_says_offline_when_the_gateway_vanishes() {
    // The broker on a runtime of its own; the daemon's runtime is dropped like a crash.
    let broker_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let broker = broker_rt.block_on(SimBroker::start(0)).unwrap();
    let daemon_rt = rt();
    let status = format!("{P}/status");
    let _dir = daemon_rt.block_on(async {
        let d = started(&broker, &[]).await;
        for _ in 0..500 {
            if broker.retained(&status).as_deref() == Some(b"online") {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(broker.retained(&status).as_deref(), Some(&b"online"[..]));
        d.dir
    });
    drop(daemon_rt);
    for _ in 0..500 {
        if broker.retained(&status).as_deref() == Some(b"offline") {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    panic!("no offline will");
}

/// Pulses the entrance every `every` until `stop` says so; returns how many.
async fn pulse_stream(socket: std::path::PathBuf, every: Duration, stop: tokio::sync::watch::Receiver<bool>) -> u32 {
    let mut n = 0;
    while !*stop.borrow() {
        let req = Request::Pulse { door: "entrance".into() };
        if portvakt::daemon::client::request(&socket, &req).await.is_ok() {
            n += 1;
        }
        tokio::time::sleep(every).await;
    }
    n
}

#[test]
fn through_broker_outages_and_flapping_the_broker_receives_every_sequence_number_in_order() {
    rt().block_on(async {
        let mut broker = SimBroker::start(0).await.unwrap();
        let port = broker.addr().port();
        let d = started(&broker, &[]).await;
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let pulses = tokio::spawn(pulse_stream(d.socket(), Duration::from_millis(20), stop_rx));
        let mut logs = Vec::new();
        // One long outage, then flapping every second or so.
        for (up, down) in [(1500, 3000), (800, 700), (600, 900), (700, 500)] {
            tokio::time::sleep(Duration::from_millis(up)).await;
            logs.push(broker.events_received(&format!("{P}/events")));
            broker.stop();
            tokio::time::sleep(Duration::from_millis(down)).await;
            broker = SimBroker::start(port).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        stop_tx.send(true).unwrap();
        let n = pulses.await.unwrap();
        assert!(n > 100, "only {n} pulses");
        drained(&d, 30).await;
        logs.push(broker.events_received(&format!("{P}/events")));

        let seqs: Vec<u64> = logs
            .iter()
            .flatten()
            .map(|p| serde_json::from_slice::<serde_json::Value>(p).unwrap()["seq"].as_u64().unwrap())
            .collect();
        let mut first_seen = Vec::new();
        for s in &seqs {
            if !first_seen.contains(s) {
                first_seen.push(*s);
            }
        }
        let head = *first_seen.iter().max().unwrap();
        assert_eq!(first_seen, (1..=head).collect::<Vec<_>>(), "none missing, first arrivals in order");
        assert!(head > u64::from(n), "every pulse is an event");
        let dups = seqs.len() - first_seen.len();
        assert!(dups < 5 * 256, "{dups} duplicates: at most a window per reconnect");
        d.stop().await.unwrap();
    });
}

#[test]
fn subscriptions_the_broker_refuses_are_asked_again_so_bundles_still_arrive() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        broker.refuse_subscribes("portvakt-", 2);
        let _d = started(&broker, &[]).await;
        sub.wait(&format!("{P}/status"), 10, |s| s.text() == "online").await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            broker.publish(&format!("{P}/bundle/kommunen"), care_pin_bundle("864209"), false);
            let taken = sub.on(&format!("{P}/events")).iter().any(|s| s.json()["kind"] == "credentials.accepted");
            if taken {
                break;
            }
            assert!(Instant::now() < deadline, "the gateway never subscribed after the refusals");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
}

#[test]
fn with_collector_acknowledgement_events_stay_in_the_outbox_until_the_collector_confirms() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let env = collector_env();
        let more: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let d = started(&broker, &more).await;
        d.ask(&Request::Pulse { door: "entrance".into() }).await.unwrap();
        let pulsed = sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "door.pulsed").await.json();
        let seq = pulsed["seq"].as_u64().unwrap();
        let hash = pulsed["hash"].as_str().unwrap().to_owned();
        let epoch = pulsed["epoch"]["id"].as_str().expect("a new store's records name its run").to_owned();
        assert_eq!(pulsed["epoch"]["from"], 1, "{pulsed}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(outbox_depth(&d).await >= seq, "published but not confirmed");

        // Unsigned, forged, or for another site: refused, audited, nothing confirmed.
        let topic = format!("{P}/events/ack");
        let refusals = [
            (format!("{{\"through\": {seq}}}").into_bytes(), "unsigned"),
            (ack(3, "test-site", &epoch, seq, &hash), "bad_signature"),
            (ack(COLLECTOR, "other-site", &epoch, seq, &hash), "wrong_site"),
        ];
        for (payload, code) in refusals {
            let before = d.audited_count("uplink.refused");
            broker.publish(&topic, payload, false);
            let r = d.audited_after("uplink.refused", before).await;
            assert_eq!(r["detail"]["code"], code, "{r}");
        }
        // Of another run of the chain: counted, nothing confirmed, nothing written.
        let records = d.audit_kinds().len();
        broker.publish(&topic, ack(COLLECTOR, "test-site", &"0b".repeat(16), seq, &hash), false);
        for _ in 0..250 {
            if d.ask(&Request::Status).await.unwrap()["state"]["uplink"]["acks_refused"].as_u64() == Some(4) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(d.ask(&Request::Status).await.unwrap()["state"]["uplink"]["acks_refused"], 4);
        assert_eq!(d.audit_kinds().len(), records, "an acknowledgement of another run wrote a record");
        assert_eq!(unconfirmed_through(&d, seq), seq, "a refused acknowledgement confirmed records");
        broker.publish(&topic, ack(COLLECTOR, "test-site", &epoch, seq, &hash), false);
        assert!(confirmed(&d, seq).await, "the collector's acknowledgement did not confirm");
        assert!(outbox_depth(&d).await > 0, "the refusals after {seq} were not acknowledged");
        d.stop().await.unwrap();
    });
}

/// Waits (at most 5 s, as the daemon's store says) until every record up to `seq` is
/// confirmed; whether it came to that.
async fn confirmed(d: &TestDaemon, seq: u64) -> bool {
    for _ in 0..250 {
        if unconfirmed_through(d, seq) == 0 {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// How many records up to `seq` are not confirmed yet.
fn unconfirmed_through(d: &TestDaemon, seq: u64) -> u64 {
    let conn = rusqlite::Connection::open_with_flags(d.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let sql = "SELECT count(*) FROM audit WHERE seq <= ?1 AND confirmed_at_ms IS NULL";
    conn.query_row(sql, [i64::try_from(seq).unwrap()], |r| r.get::<_, i64>(0)).unwrap().try_into().unwrap()
}
