//! A door changed on someone's say-so is durable before it takes effect: a signed
//! `door.mode` whose row the store cannot write changes nothing (the door keeps its mode
//! and strike, the reply says so); one stored takes effect and is reported as set.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::daemon::TestDaemon;
use common::mqtt::{Subscriber, started};
use common::signed::signed_command;
use portvakt::daemon::control::Request;
use portvakt::uplink::sim_broker::SimBroker;

const P: &str = "portvakt/test-site";

/// A `door.mode` signed by the owner (key seed 1).
fn owner_mode(door: &str, mode: &str, id: &str) -> Vec<u8> {
    signed_command(("owner", 1), "door.mode", serde_json::json!({ "door": door, "mode": mode }), id)
}

async fn entrance_mode(d: &TestDaemon) -> serde_json::Value {
    let status = d.ask(&Request::Status).await.unwrap();
    status["status"]["gateway"]["doors"][0]["mode"].clone()
}

#[tokio::test(flavor = "current_thread")]
async fn a_mode_the_store_cannot_keep_changes_nothing_and_the_reply_says_so() {
    let broker = SimBroker::start(0).await.unwrap();
    let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
    let d = started(&broker, &[]).await;
    sub.wait(&format!("{P}/status"), 10, |s| s.text() == "online").await;
    // The store refuses door-mode rows (as a failing card would), and nothing else.
    rusqlite::Connection::open(d.db())
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER no_modes BEFORE INSERT ON door_modes BEGIN SELECT RAISE(ABORT, 'the card says no'); END;",
        )
        .unwrap();
    broker.publish(&format!("{P}/cmd/door.mode"), owner_mode("entrance", "free_passage", "m-1"), false);
    let reply = sub.wait(&format!("{P}/cmd/door.mode/reply"), 10, |s| s.json()["id"] == "m-1").await.json();
    assert_eq!(reply["ok"], false, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("nothing changed"), "{reply}");
    assert_eq!(entrance_mode(&d).await, "normal", "the door kept its mode");
    let status = d.ask(&Request::Status).await.unwrap();
    assert_eq!(status["status"]["gateway"]["doors"][0]["lock"], "locked", "{status}");
    assert_eq!(d.audited_count("door.mode"), 0, "no change happened, so none is recorded");
    // The card works again: the same change takes effect and is recorded.
    rusqlite::Connection::open(d.db()).unwrap().execute_batch("DROP TRIGGER no_modes").unwrap();
    broker.publish(&format!("{P}/cmd/door.mode"), owner_mode("entrance", "free_passage", "m-2"), false);
    let reply = sub.wait(&format!("{P}/cmd/door.mode/reply"), 10, |s| s.json()["id"] == "m-2").await.json();
    assert_eq!(reply["ok"], true, "{reply}");
    assert_eq!(entrance_mode(&d).await, "free_passage");
    assert_eq!(d.audited_count("door.mode"), 1);
    d.stop().await.unwrap();
}
