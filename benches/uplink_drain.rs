//! Outbox drain to mosquitto on loopback: how fast the uplink publishes committed audit
//! records at QoS 1 (broker PUBACK → confirmed in the store), against mosquitto's own
//! `mosquitto_pub -q 1 -l` sending the same number of messages of the same size, in the
//! same run. The bench starts its own mosquitto (plain MQTT on a free loopback port).
//!   `cargo bench --bench uplink_drain [-- EVENTS]`   (needs mosquitto and mosquitto-clients)
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::io::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use portvakt::access;
use portvakt::config::{LoadOptions, UplinkConfig};
use portvakt::credentials::registry::Registry;
use portvakt::gateway::clock::SystemClock;
use portvakt::site::reach::Reach;
use portvakt::store::{EventKind, NewEvent, Store, StoreOptions};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

const RUNS: usize = 3;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn mosquitto(port: u16) -> Child {
    let bin = ["/usr/sbin/mosquitto", "/usr/bin/mosquitto"].into_iter().find(|p| std::path::Path::new(p).exists());
    let child = Command::new(bin.expect("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)"))
        .args(["-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut child = child;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("mosquitto did not start");
}

/// An access decision's worth of record (about the size of a real one).
fn event(i: u64) -> NewEvent {
    let detail =
        serde_json::json!({"kind": "pin", "pulse": 5000, "role": "home_care", "rule": "role", "schedule": null});
    NewEvent {
        at: Timestamp::now(),
        trusted: true,
        kind: EventKind::AccessGranted,
        door: Some("entrance".into()),
        audience: "site".into(),
        holder: Some(format!("hemtjanst-natt-{}", i % 50)),
        credential: Some(format!("care-{}", i % 50)),
        detail: detail.to_string(),
    }
}

/// Seconds for the uplink to have `n` committed records acknowledged by the broker.
fn drain_once(n: u64, port: u16) -> (f64, usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&StoreOptions {
        path: dir.path().join("bench.db"),
        max_size_bytes: 1 << 30,
        retention: SignedDuration::from_hours(24),
        kept_locally: false,
        personal: portvakt::config::PersonalRetention::default(),
    })
    .unwrap();
    let batch: Vec<NewEvent> = (0..512).map(event).collect();
    let mut written = 0;
    while written < n {
        let k = usize::try_from((n - written).min(512)).unwrap();
        store.append(&batch[..k]).unwrap();
        written += k as u64;
    }
    let sample = portvakt::uplink::payload::event(
        &store.outbox(0, 1).unwrap()[0],
        store.epoch(),
        &portvakt::uplink::payload::Sealing { site: "bench", authorities: &[] },
    )
    .len();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let secs = rt.block_on(async {
        let (store, _thread) = portvakt::store::actor::spawn(store).unwrap();
        let mut cfg = portvakt::config::load(&LoadOptions::file("config/portvakt.toml")).unwrap();
        cfg.uplink = Some(UplinkConfig::plaintext(port, "bench-site"));
        cfg.intake.inbox = dir.path().join("inbox");
        let cfg = Arc::new(cfg);
        let stop = CancellationToken::new();
        let (_trust_tx, trust) = watch::channel(portvakt::core::clock::ClockState::trusted());
        let start = access::Start {
            cfg: cfg.clone(),
            registry: Registry::default(),
            store: store.clone(),
            clock: Arc::new(SystemClock),
            trust: trust.clone(),
        };
        let (access, _updates, access_task) = access::spawn(start, stop.clone());
        tokio::spawn(access_task);
        let (status_tx, mut status) = watch::channel(None);
        let reach = Reach {
            site: "bench".into(),
            doors: watch::channel(None).1,
            store: store.clone(),
            access,
            started: Instant::now(),
            trust,
            uplink: status.clone(),
            ble: "not_configured".into(),
            device_key: None,
        };
        let (reload, _r) = mpsc::channel(1);
        let started = Instant::now();
        let (_h, run) =
            portvakt::uplink::spawn(portvakt::uplink::Start { cfg, reach, reload, status: status_tx }, stop.clone());
        let task = tokio::spawn(run);
        loop {
            let published =
                status.borrow_and_update().as_ref().map_or(0, |s: &portvakt::uplink::UplinkStatus| s.published);
            if published >= n {
                break;
            }
            status.changed().await.unwrap();
        }
        let secs = started.elapsed().as_secs_f64();
        stop.cancel();
        task.await.unwrap();
        let left = store.health().await.unwrap().outbox_depth;
        assert_eq!(left, 0, "every acknowledged record is confirmed in the store");
        secs
    });
    (secs, sample)
}

/// Seconds for `mosquitto_pub -q 1 -l` to send `n` lines of `size` bytes.
fn mosquitto_pub_once(n: u64, size: usize, port: u16) -> f64 {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let line = "x".repeat(size);
    for _ in 0..n {
        writeln!(f, "{line}").unwrap();
    }
    f.flush().unwrap();
    drop(f);
    let started = Instant::now();
    let status = Command::new("mosquitto_pub")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-q", "1", "-t", "bench/pub", "-l"])
        .stdin(std::fs::File::open(&path).unwrap())
        .status()
        .expect("mosquitto_pub is not installed (apt-get install mosquitto-clients)");
    assert!(status.success());
    started.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let n: u64 = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(50_000);
    let port = free_port();
    let mut broker = mosquitto(port);
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    let mut size = 0;
    for _ in 0..RUNS {
        let (secs, s) = drain_once(n, port);
        size = s;
        ours.push(n as f64 / secs);
        theirs.push(n as f64 / mosquitto_pub_once(n, size, port));
    }
    let _ = broker.kill();
    let _ = broker.wait();
    let (o, t) = (median(ours.clone()), median(theirs.clone()));
    println!("{n} records of {size} bytes to mosquitto on loopback, QoS 1, {RUNS} runs each (interleaved)");
    println!("uplink outbox drain   median {o:>8.0} events/s   runs {ours:.0?}");
    println!("mosquitto_pub -q 1 -l median {t:>8.0} msgs/s     runs {theirs:.0?}");
    println!("ratio uplink / mosquitto_pub: {:.2}", o / t);
}
