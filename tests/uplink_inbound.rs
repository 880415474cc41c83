//! What arrives over MQTT that is not a command: documents retried after a passing
//! failure, odd topics refused and audited, a bounded memory of what came, and an issuer's
//! revocation list on the topic of its delegation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::daemon::{TestDaemon, care_pin_bundle};
use common::mqtt::Subscriber;
use portvakt::uplink::sim_broker::SimBroker;

const P: &str = "portvakt/test-site";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn started(broker: &SimBroker) -> TestDaemon {
    let env = vec![
        ("PORTVAKT__UPLINK__BROKER".into(), format!("mqtt://127.0.0.1:{}", broker.addr().port())),
        ("PORTVAKT__UPLINK__ALLOW_PLAINTEXT".into(), "true".into()),
    ];
    let d = TestDaemon::start_with(None, env);
    d.notified("READY=1", 10).await;
    d
}

#[test]
fn a_bundle_not_stored_for_a_passing_reason_is_taken_in_when_it_comes_again() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let d = started(&broker).await;
        sub.wait(&format!("{P}/state"), 10, |_| true).await;
        // Another writer holds the database (the store's 5 s busy timeout runs out): the
        // bundle cannot be stored this time. It lets go once the refusal has been seen.
        let db = d.db();
        let (locked_tx, locked_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let holder = std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(db).unwrap();
            conn.execute_batch("BEGIN EXCLUSIVE").unwrap();
            locked_tx.send(()).unwrap();
            let _ = release_rx.recv_timeout(Duration::from_secs(30));
            conn.execute_batch("COMMIT").unwrap();
        });
        locked_rx.recv().unwrap();
        let bundle = care_pin_bundle("864209");
        broker.publish(&format!("{P}/bundle/kommunen"), bundle.clone(), false);
        let state = sub
            .wait(&format!("{P}/state"), 25, |s| !s.json()["uplink"]["last_update"]["accepted"].is_null())
            .await
            .json();
        assert_eq!(state["uplink"]["last_update"]["accepted"], false, "{state}");
        // A time people read: to the millisecond, not the nanosecond.
        let at = state["uplink"]["last_update"]["at"].as_str().unwrap();
        assert!(at.len() <= "2026-12-02T15:43:06.337Z".len(), "{at}");
        release_tx.send(()).unwrap();
        holder.join().unwrap();
        // The same bytes again: tried again, and taken in now.
        broker.publish(&format!("{P}/bundle/kommunen"), bundle, false);
        let accepted = sub.wait(&format!("{P}/events"), 15, |s| s.json()["kind"] == "credentials.accepted").await;
        assert_eq!(accepted.json()["detail"]["topic"], format!("{P}/bundle/kommunen"));
        d.stop().await.unwrap();
    });
}

#[test]
fn a_message_on_a_topic_the_gateway_does_not_read_is_refused_and_audited() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let d = started(&broker).await;
        // The gateway subscribes after `online` and before its `state`: once `state` is
        // here, what is published next reaches it.
        sub.wait(&format!("{P}/state"), 10, |_| true).await;
        let long = "a".repeat(70);
        for topic in [format!("{P}/bundle/"), format!("{P}/cmd/"), format!("{P}/revocations/{long}")] {
            let before = d.audited_count("uplink.refused");
            broker.publish(&topic, &b"PVKT"[..], false);
            let r = d.audited_after("uplink.refused", before).await;
            assert_eq!(r["detail"]["code"], "bad_topic", "{topic}: {r}");
            assert_eq!(r["detail"]["topic"], topic.as_str());
        }
        d.stop().await.unwrap();
    });
}

/// Central's revocation list as kommunen's delegated issuer (type 9), ending `id`.
fn issuers_list(id: &str) -> Vec<u8> {
    use portvakt::credentials::revocation::{RevocationList, issue};
    let issuer = common::signed::key(0x49);
    let now = jiff::Timestamp::now();
    let envelope = common::signed::kommunen_delegation("central-1", &issuer, now);
    let list = RevocationList {
        authority: "kommunen".into(),
        site: "*".into(),
        sequence: 1,
        issued_at: now,
        ids: vec![id.into()],
        keys: Vec::new(),
    };
    issue(&envelope, list, &issuer)
}

#[test]
fn an_issuers_revocation_list_is_taken_in_on_its_delegations_topic_and_refused_on_the_authoritys_own() {
    rt().block_on(async {
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let d = started(&broker).await;
        sub.wait(&format!("{P}/state"), 10, |_| true).await;
        // Where a type-2 list of kommunen's would come: the topic does not say this one's key.
        broker.publish(&format!("{P}/revocations/kommunen"), issuers_list("shift-anna-1"), false);
        let refused = sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "credentials.refused").await;
        assert_eq!(refused.json()["detail"]["reason"], "wrong_topic", "{}", refused.text());
        let topic = format!("{P}/revocations/kommunen/central-1");
        broker.publish(&topic, issuers_list("shift-anna-1"), true);
        let accepted = sub.wait(&format!("{P}/events"), 10, |s| s.json()["kind"] == "credentials.accepted").await;
        assert_eq!(accepted.json()["detail"]["topic"], topic.as_str(), "{}", accepted.text());
        d.stop().await.unwrap();
    });
}
