//! The uplink against mosquitto with TLS, client certificates and an ACL confining each
//! gateway to `portvakt/<its CN>/#` (run by `scripts/interop-mqtt.sh`, which makes the
//! certificates and the broker's config; this test starts, kills and restarts the broker).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::daemon::TestDaemon;
use jiff::Timestamp;
use portvakt::daemon::control::Request;
use portvakt::uplink::ack::AckBody;
use portvakt::uplink::command::{SignedBody, seal};

/// The collector's signing key seed (its public key is the gateway's `uplink.collector_key`).
const COLLECTOR_SEED: u8 = 9;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};

const P: &str = "portvakt/test-site";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run scripts/interop-mqtt.sh"))
}

fn dir() -> PathBuf {
    PathBuf::from(env("PORTVAKT_INTEROP_MQTT_DIR"))
}

fn tls_port() -> u16 {
    env("PORTVAKT_INTEROP_MQTT_TLS_PORT").parse().unwrap()
}

struct Broker(Child);

impl Broker {
    fn start() -> Self {
        let conf = dir().join("mosquitto.conf");
        let child = Command::new(env("PORTVAKT_INTEROP_MOSQUITTO"))
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", tls_port())).is_ok() {
                return Self(child);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("mosquitto did not listen on {}; see {}/mosquitto.log", tls_port(), dir().display());
    }

    /// A crash: SIGKILL, no goodbye to anyone.
    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Broker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The daemon for test-site, connecting with `who`'s certificate.
fn gateway(who: &str, more: &[(&str, &str)]) -> TestDaemon {
    let d = dir();
    let file = |ext: &str| d.join(format!("{who}.{ext}")).display().to_string();
    let mut env = vec![
        ("PORTVAKT__UPLINK__BROKER".to_owned(), format!("mqtts://localhost:{}", tls_port())),
        ("PORTVAKT__UPLINK__CA_FILE".to_owned(), d.join("ca.crt").display().to_string()),
        ("PORTVAKT__UPLINK__CERT_FILE".to_owned(), file("crt")),
        ("PORTVAKT__UPLINK__KEY_FILE".to_owned(), file("key")),
        ("PORTVAKT__UPLINK__PREFIX".to_owned(), P.to_owned()),
    ];
    env.extend(more.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    TestDaemon::start_with(None, env)
}

type Seen = Arc<Mutex<Vec<(String, Vec<u8>)>>>;

/// What a collector took in, in order: a record is taken only when it is the next one.
type Taken = Arc<Mutex<Vec<u64>>>;

/// A TLS client with `who`'s certificate that subscribes to `filter` on every connect and
/// records what arrives; with `ack`, it acknowledges events like a collector.
fn client(who: &str, filter: &str, ack: bool) -> (AsyncClient, Seen, tokio::task::JoinHandle<()>) {
    let (c, seen, _taken, task) = collector(who, filter, ack);
    (c, seen, task)
}

fn collector(who: &str, filter: &str, ack: bool) -> (AsyncClient, Seen, Taken, tokio::task::JoinHandle<()>) {
    let d = dir();
    let read = |f: &str| std::fs::read(d.join(f)).unwrap();
    let tls = portvakt::config::tls_client(&read("ca.crt"), &read(&format!("{who}.crt")), &read(&format!("{who}.key")))
        .unwrap();
    static CLIENTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = CLIENTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut opts = MqttOptions::new(format!("{who}-test-{n}"), "localhost", tls_port());
    opts.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(tls))));
    opts.set_max_packet_size(8 << 20, 8 << 20);
    let (client, mut events) = AsyncClient::new(opts, 1024);
    let seen: Seen = Arc::default();
    let taken: Taken = Arc::default();
    let (sink, took, c, filter) = (seen.clone(), taken.clone(), client.clone(), filter.to_owned());
    let task = tokio::spawn(async move {
        let mut contiguous = 0u64;
        let mut contiguous_hash = String::new();
        let key = ed25519_dalek::SigningKey::from_bytes(&[COLLECTOR_SEED; 32]);
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    let _ = c.try_subscribe(filter.clone(), QoS::AtLeastOnce);
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    if ack && p.topic == format!("{P}/events") {
                        let record = serde_json::from_slice::<serde_json::Value>(&p.payload).unwrap();
                        let seq = record["seq"].as_u64().unwrap();
                        if seq == contiguous + 1 {
                            contiguous = seq;
                            contiguous_hash = record["hash"].as_str().unwrap().to_owned();
                            took.lock().unwrap().push(seq);
                        }
                        // Acknowledge what it has, also on a record it already took (the
                        // gateway sends again what it has no acknowledgement for), signed
                        // and bound to the record's hash.
                        if seq <= contiguous {
                            let body = AckBody {
                                site: "test-site".into(),
                                epoch: record["epoch"]["id"].as_str().map(str::to_owned),
                                through: contiguous,
                                hash: contiguous_hash.clone(),
                            };
                            let signed = portvakt::uplink::ack::seal(&body, &key);
                            let _ = c.try_publish(format!("{P}/events/ack"), QoS::AtLeastOnce, false, signed);
                        }
                    }
                    sink.lock().unwrap().push((p.topic, p.payload.to_vec()));
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    });
    (client, seen, taken, task)
}

fn kinds(seen: &Seen) -> Vec<String> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|(t, _)| t == &format!("{P}/events"))
        .filter_map(|(_, p)| serde_json::from_slice::<serde_json::Value>(p).ok()?["kind"].as_str().map(String::from))
        .collect()
}

async fn eventually(secs: u64, what: &str, mut check: impl FnMut() -> bool) {
    for _ in 0..secs * 20 {
        if check() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("not within {secs} s: {what}");
}

#[test]
fn mosquitto_sub_shows_birth_state_door_states_and_the_event_stream_over_tls() {
    let _broker = Broker::start();
    let d = dir();
    let mut sub = Command::new("mosquitto_sub")
        .args(["-h", "localhost", "-p", &tls_port().to_string(), "-t", &format!("{P}/#"), "-v", "-i", "collector-cli"])
        .arg("--cafile")
        .arg(d.join("ca.crt"))
        .arg("--cert")
        .arg(d.join("collector.crt"))
        .arg("--key")
        .arg(d.join("collector.key"))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let lines: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = lines.clone();
    let stdout = sub.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    rt().block_on(async {
        let gw = gateway("test-site", &[]);
        gw.notified("READY=1", 10).await;
        gw.ask(&Request::Pulse { door: "entrance".into() }).await.unwrap();
        let has = |prefix: &str, needle: &str| {
            lines.lock().unwrap().iter().any(|l| l.starts_with(prefix) && l.contains(needle))
        };
        eventually(15, "birth, state, door state and events", || {
            has(&format!("{P}/status "), "online")
                && has(&format!("{P}/state "), "\"site\":\"test-site\"")
                && has(&format!("{P}/door/entrance/state "), "\"lock\"")
                && has(&format!("{P}/events "), "\"kind\":\"system.start\"")
                && has(&format!("{P}/events "), "\"kind\":\"door.pulsed\"")
        })
        .await;
        gw.stop().await.unwrap();
        eventually(10, "offline at stop", || has(&format!("{P}/status "), "offline")).await;
    });
    let _ = sub.kill();
    let _ = sub.wait();
    for l in lines.lock().unwrap().iter().take(12) {
        println!("mosquitto_sub: {}", &l[..l.len().min(160)]);
    }
}

#[test]
fn another_sites_certificate_can_neither_read_nor_command_under_this_prefix() {
    let _broker = Broker::start();
    rt().block_on(async {
        let gw = gateway("test-site", &[]);
        gw.notified("READY=1", 10).await;
        let (_c, collector, _t1) = client("collector", &format!("{P}/#"), false);
        let (intruder, stolen, _t2) = client("other-site", &format!("{P}/#"), false);
        let (_c3, own, _t3) = client("other-site", "portvakt/other-site/#", false);
        eventually(10, "the collector sees the gateway", || {
            collector.lock().unwrap().iter().any(|(t, p)| t == &format!("{P}/status") && p == b"online")
        })
        .await;
        // A correctly signed command, but sent with another site's certificate.
        let body = SignedBody {
            id: "intruder-1".into(),
            site: "test-site".into(),
            authority: "kommunen".into(),
            cmd: "door.pulse".into(),
            issued_at: Timestamp::now(),
            args: serde_json::json!({ "door": "entrance" }),
        };
        let signed = seal(&body, &ed25519_dalek::SigningKey::from_bytes(&[2; 32]));
        intruder.publish(format!("{P}/cmd/door.pulse"), QoS::AtLeastOnce, false, signed).await.unwrap();
        intruder.publish("portvakt/other-site/hello", QoS::AtLeastOnce, false, "mine").await.unwrap();
        eventually(10, "the other site's own prefix works (control)", || {
            own.lock().unwrap().iter().any(|(t, _)| t == "portvakt/other-site/hello")
        })
        .await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert!(stolen.lock().unwrap().is_empty(), "read under another prefix: {:?}", stolen.lock().unwrap().len());
        assert!(!kinds(&collector).iter().any(|k| k == "door.pulsed"), "the intruder's command got through");
        assert!(!gw.audit_kinds().iter().any(|k| k == "door.pulsed"));
        gw.stop().await.unwrap();
    });
    drop(_broker);
    // A fresh broker (no retained messages): the gateway itself with the wrong certificate.
    let _broker = Broker::start();
    rt().block_on(async {
        let gw = gateway("other-site", &[]);
        gw.notified("READY=1", 10).await;
        let (_c, collector, _t) = client("collector", &format!("{P}/#"), false);
        tokio::time::sleep(Duration::from_secs(3)).await;
        assert!(collector.lock().unwrap().is_empty(), "a gateway published under a prefix not its own");
        gw.stop().await.unwrap();
    });
}

#[test]
fn through_mosquitto_crashes_and_flapping_the_collector_gets_every_sequence_number_in_order() {
    let mut broker = Some(Broker::start());
    rt().block_on(async {
        let (_c, seen, taken, _t) = collector("collector", &format!("{P}/events"), true);
        let collector_key = ed25519_dalek::SigningKey::from_bytes(&[COLLECTOR_SEED; 32]).verifying_key();
        let collector_key = portvakt::core::hex::encode(collector_key.as_bytes());
        let gw = gateway(
            "test-site",
            &[("PORTVAKT__UPLINK__CONFIRM", "collector"), ("PORTVAKT__UPLINK__COLLECTOR_KEY", &collector_key)],
        );
        gw.notified("READY=1", 10).await;
        let socket = gw.socket();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let pulses = tokio::spawn(async move {
            let mut n = 0u32;
            while !*stop_rx.borrow() {
                let req = Request::Pulse { door: "entrance".into() };
                if portvakt::daemon::client::request(&socket, &req).await.is_ok() {
                    n += 1;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            n
        });
        // A long outage, then the broker flapping every couple of seconds.
        for (up, down) in [(2000, 5000), (1500, 1000), (1500, 1000), (1500, 1000), (1500, 1000)] {
            tokio::time::sleep(Duration::from_millis(up)).await;
            broker.take().unwrap().kill();
            tokio::time::sleep(Duration::from_millis(down)).await;
            broker = Some(Broker::start());
        }
        tokio::time::sleep(Duration::from_millis(1000)).await;
        stop_tx.send(true).unwrap();
        let n = pulses.await.unwrap();
        let status = || async { gw.ask(&Request::Status).await.unwrap()["status"]["store"].clone() };
        for _ in 0..600 {
            if status().await["outbox_depth"] == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let store = status().await;
        let head = store["head_seq"].as_u64().unwrap();
        let taken = taken.lock().unwrap().clone();
        let deliveries = seen.lock().unwrap().len();
        assert_eq!(store["outbox_depth"], 0, "the collector confirmed everything; it took {} of {head}", taken.len());
        assert_eq!(taken, (1..=head).collect::<Vec<_>>(), "the collector took every record, in order");
        assert!(head > u64::from(n), "{n} pulses, {head} records");
        println!(
            "{n} pulses during 1 long outage and 4 flaps: {head} records, {deliveries} deliveries ({} again), none missing",
            deliveries - taken.len()
        );
        gw.stop().await.unwrap();
    });
}
