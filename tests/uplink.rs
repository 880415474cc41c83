//! The MQTT uplink end to end, in-process: the daemon against the in-library broker and a
//! rumqttc subscriber. Birth, retained state and door states, the event stream in order,
//! `offline` at stop; no loss through broker outages; bundles, revocations and commands
//! over MQTT; bad input refused, answered and audited.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::daemon::{TestDaemon, care_pin_bundle, care_pin_bundle_version, kommunen_revocations};
use common::mqtt::{Seen, Subscriber};
use jiff::Timestamp;
use portvakt::daemon::control::{Request, SimAct};
use portvakt::uplink::ack::AckBody;
use portvakt::uplink::command::{SignedBody, seal};
use portvakt::uplink::sim_broker::SimBroker;

const P: &str = "portvakt/test-site";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

fn uplink_env(port: u16, more: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("PORTVAKT__UPLINK__BROKER".to_owned(), format!("mqtt://127.0.0.1:{port}")),
        ("PORTVAKT__UPLINK__ALLOW_PLAINTEXT".to_owned(), "true".to_owned()),
    ];
    env.extend(more.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

async fn started(broker: &SimBroker, more: &[(&str, &str)]) -> TestDaemon {
    let d = TestDaemon::start_with(None, uplink_env(broker.addr().port(), more));
    d.notified("READY=1", 10).await;
    d
}

fn kommunen_command(cmd: &str, door: &str, mode: Option<&str>, id: &str) -> Vec<u8> {
    signed_command(("kommunen", 2), cmd, door_args(door, mode), id)
}

fn door_args(door: &str, mode: Option<&str>) -> serde_json::Value {
    match mode {
        Some(m) => serde_json::json!({ "door": door, "mode": m }),
        None => serde_json::json!({ "door": door }),
    }
}

/// A command signed by the authority with this id and key seed (owner 1, kommunen 2).
fn signed_command((authority, seed): (&str, u8), cmd: &str, args: serde_json::Value, id: &str) -> Vec<u8> {
    let body = SignedBody {
        id: id.into(),
        site: "test-site".into(),
        authority: authority.into(),
        cmd: cmd.into(),
        issued_at: Timestamp::now(),
        args,
    };
    seal(&body, &ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
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

fn ack(seed: u8, site: &str, through: u64, hash: &str) -> Vec<u8> {
    let body = AckBody { site: site.into(), through, hash: hash.into() };
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
fn a_bundle_and_a_revocation_over_mqtt_change_who_gets_in_at_once() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let d = started(&broker, &[]).await;
        sub.wait(&format!("{P}/status"), 10, |s| s.text() == "online").await;

        broker.publish(&format!("{P}/bundle/kommunen"), care_pin_bundle("864209"), true);
        let accepted = sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "credentials.accepted").await;
        assert_eq!(accepted.json()["detail"]["topic"], format!("{P}/bundle/kommunen"));
        let state =
            sub.wait(&format!("{P}/state"), 10, |s| s.json()["uplink"]["last_update"]["accepted"] == true).await;
        assert_eq!(state.json()["credentials"], 1);
        d.ask(&Request::Sim { door: "entrance".into(), act: SimAct::Code("864209".into()) }).await.unwrap();
        sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "access.granted").await;

        broker.publish(&format!("{P}/revocations/kommunen"), kommunen_revocations(1, &["care-5"]), false);
        sub.wait(&format!("{P}/events"), 10, |s| s.json()["detail"]["document"] == "revocations").await;
        d.ask(&Request::Sim { door: "entrance".into(), act: SimAct::Code("864209".into()) }).await.unwrap();
        let denied = sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "access.denied").await;
        assert_eq!(denied.json()["detail"]["reason"], "revoked", "{}", denied.text());

        // Signed by kommunen but published on the owner's topic; garbage on a bundle topic.
        broker.publish(&format!("{P}/bundle/owner"), care_pin_bundle_version("111111", 2), false);
        let refused = sub.wait(&format!("{P}/events"), 10, |s| s.json()["detail"]["reason"] == "wrong_topic").await;
        assert_eq!(refused.json()["kind"], "credentials.refused");
        broker.publish(&format!("{P}/bundle/kommunen"), &b"PVKT\x01garbage"[..], false);
        sub.wait(&format!("{P}/events"), 10, |s| s.json()["detail"]["reason"] == "malformed").await;
        let v = d.ask(&Request::Status).await.unwrap();
        assert_eq!(v["status"]["gateway"]["credentials"], 1, "refused documents change nothing");
        d.stop().await.unwrap();
    });
}

#[test]
fn commands_are_answered_and_only_signed_fresh_ones_change_a_door() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let d = started(&broker, &[]).await;
        sub.wait(&format!("{P}/status"), 10, |s| s.text() == "online").await;
        let reply = |name: &str| format!("{P}/cmd/{name}/reply");

        broker.publish(&format!("{P}/cmd/status"), &br#"{"id":"s-1"}"#[..], false);
        let r = sub.wait(&reply("status"), 10, |s| s.json()["id"] == "s-1").await.json();
        assert_eq!(r["ok"], true);
        assert_eq!(r["result"]["site"], "test-site");

        broker.publish(&format!("{P}/cmd/door.pulse"), &br#"{"id":"u-1","args":{"door":"entrance"}}"#[..], false);
        let r = sub.wait(&reply("door.pulse"), 10, |s| s.json()["id"] == "u-1").await.json();
        assert_eq!((r["ok"].clone(), r["error"]["code"].clone()), (false.into(), "unsigned".into()));
        d.audited("uplink.refused").await;

        let signed = kommunen_command("door.pulse", "entrance", None, "p-1");
        broker.publish(&format!("{P}/cmd/door.pulse"), signed.clone(), false);
        let r = sub.wait(&reply("door.pulse"), 10, |s| s.json()["id"] == "p-1").await.json();
        assert_eq!(r["ok"], true, "{r}");
        let pulsed = sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "door.pulsed").await.json();
        assert_eq!(pulsed["detail"]["by"], "mqtt: kommunen (p-1)");
        broker.publish(&format!("{P}/cmd/door.pulse"), signed, false);
        sub.wait(&reply("door.pulse"), 10, |s| s.json()["error"]["code"] == "replayed").await;

        let outside = kommunen_command("door.pulse", "laundry", None, "p-2");
        broker.publish(&format!("{P}/cmd/door.pulse"), outside, false);
        sub.wait(&reply("door.pulse"), 10, |s| s.json()["error"]["code"] == "out_of_scope").await;

        // The municipality may not put a door in lockdown; the owner may.
        let lockdown = kommunen_command("door.mode", "entrance", Some("lockdown"), "m-0");
        broker.publish(&format!("{P}/cmd/door.mode"), lockdown, false);
        sub.wait(&reply("door.mode"), 10, |s| s.json()["error"]["code"] == "not_permitted").await;
        let lockdown = signed_command(("owner", 1), "door.mode", door_args("entrance", Some("lockdown")), "m-1");
        broker.publish(&format!("{P}/cmd/door.mode"), lockdown, false);
        sub.wait(&reply("door.mode"), 10, |s| s.json()["id"] == "m-1" && s.json()["ok"] == true).await;
        sub.wait(&format!("{P}/door/entrance/state"), 10, |s| s.json()["mode"] == "lockdown").await;
        d.audited("door.mode").await;

        // The visit list is personal data: asked for unsigned, it is refused.
        broker.publish(&format!("{P}/cmd/audit.query"), &br#"{"id":"q-0","args":{"door":"entrance"}}"#[..], false);
        let r = sub.wait(&reply("audit.query"), 10, |s| s.json()["id"] == "q-0").await.json();
        assert_eq!(r["error"]["code"], "unsigned", "{r}");
        let query = |args, id| signed_command(("kommunen", 2), "audit.query", args, id);
        broker.publish(&format!("{P}/cmd/audit.query"), query(serde_json::json!({"door": "laundry"}), "q-x"), false);
        sub.wait(&reply("audit.query"), 10, |s| s.json()["error"]["code"] == "out_of_scope").await;
        let first = query(serde_json::json!({"door": "entrance", "limit": 1}), "q-1");
        broker.publish(&format!("{P}/cmd/audit.query"), first, false);
        let page = sub.wait(&reply("audit.query"), 10, |s| s.json()["id"] == "q-1").await.json();
        let records = page["result"]["records"].as_array().unwrap();
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["door"], "entrance");
        let next = page["result"]["next_after"].as_u64().unwrap_or_else(|| panic!("{page}"));
        let more = query(serde_json::json!({"door": "entrance", "after_seq": next, "limit": 100}), "q-2");
        broker.publish(&format!("{P}/cmd/audit.query"), more, false);
        let page2 = sub.wait(&reply("audit.query"), 10, |s| s.json()["id"] == "q-2").await.json();
        let rest = page2["result"]["records"].as_array().unwrap();
        assert!(!rest.is_empty() && rest.iter().all(|r| r["seq"].as_u64().unwrap() > next && r["door"] == "entrance"));
        assert_eq!(page2["result"]["next_after"], serde_json::Value::Null);

        broker.publish(&format!("{P}/cmd/status"), &b"{oops"[..], false);
        sub.wait(&reply("status"), 10, |s| s.json()["error"]["code"] == "malformed").await;
        broker.publish(&format!("{P}/cmd/open.sesame"), &br#"{"id":"x"}"#[..], false);
        sub.wait(&reply("open.sesame"), 10, |s| s.json()["error"]["code"] == "unknown_command").await;
        d.audited_after("audit.queried", 1).await;
        let reads: Vec<_> = d.audit_of("audit.queried").iter().map(|r| r["detail"]["by"].clone()).collect();
        assert_eq!(reads, ["mqtt: kommunen (q-1)", "mqtt: kommunen (q-2)"]);
        broker.publish(&format!("{P}/cmd/reload"), &br#"{"id":"r-0"}"#[..], false);
        sub.wait(&reply("reload"), 10, |s| s.json()["id"] == "r-0" && s.json()["error"]["code"] == "unsigned").await;
        let by_kommunen = signed_command(("kommunen", 2), "reload", serde_json::json!({}), "r-k");
        broker.publish(&format!("{P}/cmd/reload"), by_kommunen, false);
        sub.wait(&reply("reload"), 10, |s| s.json()["error"]["code"] == "not_permitted").await;
        let by_owner = signed_command(("owner", 1), "reload", serde_json::json!({}), "r-1");
        broker.publish(&format!("{P}/cmd/reload"), by_owner, false);
        let r = sub.wait(&reply("reload"), 10, |s| s.json()["id"] == "r-1").await.json();
        assert_eq!(r["result"]["reloaded"], true, "{r}");
        d.audited("config.reloaded").await;
        d.stop().await.unwrap();
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
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(outbox_depth(&d).await >= seq, "published but not confirmed");

        // Unsigned, forged, for another site, of another chain, or ahead: refused, audited, nothing confirmed.
        let topic = format!("{P}/events/ack");
        let refusals = [
            (format!("{{\"through\": {seq}}}").into_bytes(), "unsigned"),
            (ack(3, "test-site", seq, &hash), "bad_signature"),
            (ack(COLLECTOR, "other-site", seq, &hash), "wrong_site"),
            (ack(COLLECTOR, "test-site", seq, &"00".repeat(32)), "wrong_hash"),
            (ack(COLLECTOR, "test-site", seq + 1000, &hash), "ahead"),
        ];
        for (payload, code) in refusals {
            let before = d.audited_count("uplink.refused");
            broker.publish(&topic, payload, false);
            let r = d.audited_after("uplink.refused", before).await;
            assert_eq!(r["detail"]["code"], code, "{r}");
        }
        assert_eq!(unconfirmed_through(&d, seq), seq, "a refused acknowledgement confirmed records");
        broker.publish(&topic, ack(COLLECTOR, "test-site", seq, &hash), false);
        for _ in 0..200 {
            if unconfirmed_through(&d, seq) == 0 {
                assert!(outbox_depth(&d).await > 0, "the refusals after {seq} were not acknowledged");
                d.stop().await.unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the collector's acknowledgement did not confirm");
    });
}

/// Waits until a `state` came after the `nth` `online` (the gateway subscribes before it
/// publishes `state` on a connection).
async fn subscribed(sub: &Subscriber, nth: usize) {
    let (status, state) = (format!("{P}/status"), format!("{P}/state"));
    for _ in 0..1000 {
        let all = sub.all();
        let online = all.iter().enumerate().filter(|(_, s)| s.topic == status && s.text() == "online").nth(nth - 1);
        if let Some((at, _)) = online
            && all[at..].iter().any(|s| s.topic == state)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no state after online number {nth} within 10 s");
}

/// How many records up to `seq` are not confirmed yet.
fn unconfirmed_through(d: &TestDaemon, seq: u64) -> u64 {
    let conn = rusqlite::Connection::open_with_flags(d.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let sql = "SELECT count(*) FROM audit WHERE seq <= ?1 AND confirmed_at_ms IS NULL";
    conn.query_row(sql, [i64::try_from(seq).unwrap()], |r| r.get::<_, i64>(0)).unwrap().try_into().unwrap()
}

/// Waits until `topic` has carried `text` at least `times` times.
async fn seen_times(sub: &Subscriber, topic: &str, text: &str, times: usize) {
    for _ in 0..1000 {
        if sub.on(topic).iter().filter(|s| s.text() == text).count() >= times {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{topic} did not say {text} {times} times");
}

#[test]
fn a_signed_command_is_never_carried_out_twice_across_a_restart_nor_on_an_untrusted_clock() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let d = started(&broker, &[]).await;
        let status = format!("{P}/status");
        let reply = format!("{P}/cmd/door.pulse/reply");
        seen_times(&sub, &status, "online", 1).await;
        // `state` follows the subscriptions on the same connection: once it is seen, the
        // broker has them.
        subscribed(&sub, 1).await;
        let captured = kommunen_command("door.pulse", "entrance", None, "p-9");
        broker.publish(&format!("{P}/cmd/door.pulse"), captured.clone(), false);
        sub.wait(&reply, 10, |s| s.json()["id"] == "p-9" && s.json()["ok"] == true).await;

        // Restarted (the memory in RAM is gone), the same captured command is refused.
        let d = d.restart().await;
        seen_times(&sub, &status, "online", 2).await;
        subscribed(&sub, 2).await;
        broker.publish(&format!("{P}/cmd/door.pulse"), captured, false);
        sub.wait(&reply, 10, |s| s.json()["error"]["code"] == "replayed").await;
        let pulses = d.audit_kinds().iter().filter(|k| *k == "door.pulsed").count();
        assert_eq!(pulses, 1, "carried out once");

        // Without time sync, no signed command is fresh enough to judge.
        std::fs::remove_file(d.dir.path().join("synchronized")).unwrap();
        for _ in 0..300 {
            let v = d.ask(&Request::Status).await.unwrap();
            if v["status"]["gateway"]["clock"]["trust"] == "untrusted" {
                // In words, not `NotSynchronized`.
                let text = v["text"].as_str().unwrap();
                assert!(text.contains("clock      NOT trusted: time sync has not confirmed the clock"), "{text}");
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let fresh = kommunen_command("door.pulse", "entrance", None, "p-10");
        broker.publish(&format!("{P}/cmd/door.pulse"), fresh, false);
        sub.wait(&reply, 10, |s| s.json()["error"]["code"] == "untrusted_clock").await;
        d.stop().await.unwrap();
    });
}
