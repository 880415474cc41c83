//! Signed commands and documents over MQTT, end to end through the daemon: a bundle
//! and a revocation list change who gets in at once; commands are answered, and only
//! signed, fresh ones change a door; a signed command is never carried out twice, across
//! a restart or on an untrusted clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::daemon::{care_pin_bundle, care_pin_bundle_version, kommunen_revocations};
use common::mqtt::{Subscriber, started};
use common::signed::signed_command;
use portvakt::daemon::control::{Request, SimAct};
use portvakt::uplink::sim_broker::SimBroker;

const P: &str = "portvakt/test-site";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
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

        // A second pulse of the municipality's, so its visit list has two pages.
        broker.publish(&format!("{P}/cmd/door.pulse"), kommunen_command("door.pulse", "entrance", None, "p-3"), false);
        sub.wait(&reply("door.pulse"), 10, |s| s.json()["id"] == "p-3" && s.json()["ok"] == true).await;

        // The visit list is personal data: asked for unsigned, it is refused.
        broker.publish(&format!("{P}/cmd/audit.query"), &br#"{"id":"q-0","args":{"door":"entrance"}}"#[..], false);
        let r = sub.wait(&reply("audit.query"), 10, |s| s.json()["id"] == "q-0").await.json();
        assert_eq!(r["error"]["code"], "unsigned", "{r}");
        let query = |mut args: serde_json::Value, id| {
            if args.get("purpose").is_none() {
                args["purpose"] = "invoicing".into();
            }
            signed_command(("kommunen", 2), "audit.query", args, id)
        };
        // Every read of a visit list says why.
        let why_not = signed_command(("kommunen", 2), "audit.query", serde_json::json!({"door": "entrance"}), "q-w");
        broker.publish(&format!("{P}/cmd/audit.query"), why_not, false);
        sub.wait(&reply("audit.query"), 10, |s| s.json()["id"] == "q-w" && s.json()["error"]["code"] == "no_purpose")
            .await;
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
        // Its own records and the building's only: the owner's lockdown is not the municipality's to read.
        let all: Vec<&serde_json::Value> = records.iter().chain(rest).collect();
        assert!(all.iter().all(|r| r["audience"] == "kommunen" || r["audience"] == "site"), "{all:?}");
        assert!(all.iter().all(|r| r["kind"] != "door.mode"), "{all:?}");
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
