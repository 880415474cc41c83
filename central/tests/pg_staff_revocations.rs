//! Central ends a disabled person's shift keys, against a real PostgreSQL and mosquitto
//! (run by `scripts/interop.sh`, which installs both): the issuer's revocation list is
//! published retained to every known site when the revoked certificates change, not
//! otherwise; its sequence rises; it is signed by the issuer and carries the delegation;
//! a certificate drops off it once it has ended; the same list goes out again after ten
//! minutes; a broker that failed gets a list above the one tried; each new list is in the
//! console's log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{count, issuer, pg};
use ed25519_dalek::{Signer as _, SigningKey};
use jiff::{SignedDuration, Timestamp};
use portvakt_central::collector::Broker;
use portvakt_central::demo::tools::{free_port, wait_port};
use portvakt_central::staff::issue::{Request, proof_bytes};
use portvakt_central::staff::revocations::round;
use portvakt_central::staff::roster::Roster;
use portvakt_central::staff::store;
use portvakt_wire::envelope::{DocType, open, signature_ok};
use portvakt_wire::phone_key::PhonePublicKey;
use portvakt_wire::revocation::IssuerRevocations;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

const ROSTER: &str = r#"{"authority":"kommunen",
  "teams":[{"id":"team-norr","name":"Hemtjänsten Norr","role":"home_care","doors":["entrance"]}],
  "people":[{"login":"anna@kommun.se","holder":"anna","name":"Anna Berg","team":"team-norr"}]}"#;

/// mosquitto on a free loopback port, stopped when dropped.
struct Mosquitto {
    child: std::process::Child,
    port: u16,
    _conf: tempfile::TempDir,
}

impl Drop for Mosquitto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn mosquitto() -> Mosquitto {
    let port = free_port().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(&conf, format!("listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")).unwrap();
    let program = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| std::path::Path::new(p).exists());
    let child = std::process::Command::new(program.expect("mosquitto (apt install mosquitto)"))
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Held from here: stopped and reaped when dropped, whatever happens next.
    let broker = Mosquitto { child, port, _conf: dir };
    wait_port("mosquitto", port, Duration::from_secs(5)).await.unwrap();
    broker
}

/// The retained message on `topic`, as a gateway connecting now would get it.
async fn retained(port: u16, topic: &str) -> Vec<u8> {
    let (client, mut events) = AsyncClient::new(MqttOptions::new("a-gateway", "127.0.0.1", port), 8);
    client.subscribe(topic, QoS::AtLeastOnce).await.unwrap();
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Event::Incoming(Packet::Publish(p)) = events.poll().await.unwrap() {
                assert!(p.retain, "kept by the broker for gateways that connect later");
                return p.payload.to_vec();
            }
        }
    })
    .await
    .expect("a retained list")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_persons_valid_certificates_are_published_on_the_issuers_list_until_they_end() {
    let (_pg, mut c) = pg().await;
    let broker_process = mosquitto().await;
    let broker = Broker {
        host: "127.0.0.1".into(),
        port: broker_process.port,
        tls: None,
        client_id: "central".into(),
        root: "portvakt".into(),
    };
    let now = Timestamp::now();
    let issuer = issuer(now);
    store::replace_roster(&mut c, &Roster::parse(ROSTER.as_bytes()).unwrap()).await.unwrap();
    let (person, team, enabled) = store::person(&c, "anna@kommun.se").await.unwrap().unwrap();
    let phone = SigningKey::from_bytes(&[0x31; 32]);
    let nonce = [7u8; 32];
    let signature = phone.sign(&proof_bytes(&nonce, "anna")).to_bytes();
    let key = PhonePublicKey::Ed25519(phone.verifying_key().to_bytes());
    let r = Request { person: &person, team: &team, enabled, key, nonce, signature, shift_end: None };
    let (_, cert) = issuer.shift_certificate(&r, "shift-anna-1".into(), now).unwrap();
    assert!(store::record(&c, &store::Issued { cert: &cert, team: &team.id, key_kind: key.kind() }).await.unwrap());

    // No site known yet: nowhere to publish.
    assert_eq!(round(&c, &issuer, &broker, now).await.unwrap(), None);
    c.execute("INSERT INTO sites (site) VALUES ('storgatan-12')", &[]).await.unwrap();
    let first = round(&c, &issuer, &broker, now).await.unwrap().expect("a first, empty list");
    assert!(first.ids.is_empty());
    assert_eq!(first.sites, ["storgatan-12"]);
    assert_eq!(round(&c, &issuer, &broker, now).await.unwrap(), None, "nothing changed");

    store::disable(&c, "anna", "lena", now).await.unwrap();
    let later = now + SignedDuration::from_secs(1);
    let second = round(&c, &issuer, &broker, later).await.unwrap().expect("a list with her certificate");
    assert_eq!(second.ids, ["shift-anna-1"]);
    assert!(second.sequence > first.sequence);
    let bytes = retained(broker.port, "portvakt/storgatan-12/revocations/kommunen/central-2026").await;
    let env = open(&bytes).unwrap();
    assert_eq!(env.doc_type, DocType::IssuerRevocations);
    assert!(
        signature_ok(&env, &SigningKey::from_bytes(&[0x49; 32]).verifying_key().to_bytes()),
        "the issuer signed it"
    );
    let body = IssuerRevocations::decode(env.body).unwrap();
    assert_eq!(body.list.ids, ["shift-anna-1"]);
    assert_eq!((body.list.authority.as_str(), body.list.site.as_str()), ("kommunen", "*"));
    assert_eq!(open(body.delegation).unwrap().doc_type, DocType::Delegation);

    // Unchanged: nothing until ten minutes on, then the same list again (same sequence).
    let soon = later + SignedDuration::from_mins(9);
    assert_eq!(round(&c, &issuer, &broker, soon).await.unwrap(), None);
    let again = round(&c, &issuer, &broker, later + SignedDuration::from_mins(11)).await.unwrap().expect("again");
    assert_eq!((again.sequence, again.ids.clone()), (second.sequence, second.ids.clone()));

    // Past the certificate's end it needs no list: it drops off.
    let ended = cert.not_after + SignedDuration::from_secs(1);
    let third = round(&c, &issuer, &broker, ended).await.unwrap().expect("a list without it");
    assert!(third.ids.is_empty() && third.sequence > second.sequence);
    assert_eq!(count(&c, "SELECT count(*) FROM console_log WHERE action = 'staff_revocations'").await, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_does_not_answer_gets_the_list_at_a_later_round_with_a_sequence_above_the_one_tried() {
    let (_pg, c) = pg().await;
    let port = free_port().unwrap();
    let down =
        Broker { host: "127.0.0.1".into(), port, tls: None, client_id: "central".into(), root: "portvakt".into() };
    c.execute("INSERT INTO sites (site) VALUES ('storgatan-12')", &[]).await.unwrap();
    let now = Timestamp::now();
    let issuer = issuer(now);
    assert!(round(&c, &issuer, &down, now).await.is_err());
    assert_eq!(count(&c, "SELECT count(*) FROM staff_revocation_lists WHERE published_at IS NOT NULL").await, 0);
    let tried: i64 = c.query_one("SELECT sequence FROM staff_revocation_lists", &[]).await.unwrap().get(0);
    // The clock stepped back since: the next list still goes above the one tried (some
    // gateways may have it).
    let up = mosquitto().await;
    let broker = Broker { port: up.port, ..down };
    let earlier = now - SignedDuration::from_mins(5);
    let published = round(&c, &issuer, &broker, earlier).await.unwrap().expect("published now");
    assert!(published.sequence > u64::try_from(tried).unwrap());
    // A change that fails to go out, then taken back: the list as it was is not sent again
    // below the sequence tried meanwhile; a new one goes above it.
    c.execute("INSERT INTO sites (site) VALUES ('ekvagen-3')", &[]).await.unwrap();
    assert!(round(&c, &issuer, &Broker { port, ..broker.clone() }, earlier).await.is_err());
    let tried: i64 = c.query_one("SELECT sequence FROM staff_revocation_lists", &[]).await.unwrap().get(0);
    c.execute("DELETE FROM sites WHERE site = 'ekvagen-3'", &[]).await.unwrap();
    let later = earlier + SignedDuration::from_secs(1);
    let again = round(&c, &issuer, &broker, later).await.unwrap().expect("a new list, not the old one again");
    assert!(again.sequence > u64::try_from(tried).unwrap(), "{} after {tried}", again.sequence);
}
