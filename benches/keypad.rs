//! Keypad entry to relay write, through the real path: the simulated building (Modbus
//! TCP on loopback) → bus actor polling at the example config's interval → gateway task
//! (decision, strike) → relay write received by the simulator. 1 000 door-code entries.
//!
//! Run with `cargo bench --bench keypad`. Latency is from the moment the entry appears
//! in the panel's registers to the moment the simulator receives the relay write, so it
//! includes waiting for the next poll (on average half the poll interval).
//!
//! Two phases: quiet, then while the store's thread takes in a signed owner bundle of
//! 100 000 credentials again and again (verify, decode, index, persist, audit — the work
//! the access actor once handed the store thread for an inbox document; it now runs on
//! the actor's worker and only the writes reach the store), a deliberately heavy store
//! thread, so the door loop's independence from the store is measured, not assumed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use portvakt::config::{BusLink, LoadOptions, load};
use portvakt::core::clock::ClockTrust;
use portvakt::core::decide::AccessState;
use portvakt::gateway::clock::ManualClock;
use portvakt::gateway::doors::{EVENTS, Gateway, tag_events};
use portvakt::modbus::bus;
use portvakt::modbus::keypad::Entered;
use portvakt::modbus::sim::{SimBuilding, serve};
use portvakt::store::{Store, StoreOptions};
use portvakt::tools::time_input::parse_time;
use tokio::sync::mpsc;

#[path = "common/entries.rs"]
mod common;

const ENTRIES: usize = 1000;
const BUNDLE_ENTRIES: usize = 100_000;

/// The example owner's bundle of 100 000 credentials at `version`, signed with a bench key
/// that `cfg`'s owner is re-pointed to.
fn big_bundle(cfg: &mut portvakt::config::Config, version: u64, key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    use portvakt::credentials::bundle::Bundle;
    use portvakt::credentials::envelope::{DocType, seal};
    if let Some(owner) = cfg.authorities.iter_mut().find(|a| a.id.as_str() == "owner") {
        owner.public_key = key.verifying_key().to_bytes();
    }
    let now = jiff::Timestamp::now();
    let b = Bundle {
        authority: "owner".into(),
        site: cfg.site.id.to_string(),
        version,
        issued_at: now - SignedDuration::from_mins(1),
        not_after: now + SignedDuration::from_hours(24 * 30),
        entries: common::entries(BUNDLE_ENTRIES, &cfg.credential_key),
        bookings: Vec::new(),
        policy: None,
    };
    seal(DocType::Bundle, &b.encode(), key)
}

/// Enters the door code `ENTRIES` times; each entry's latency to the relay write, and
/// each relock's: from the pulse's end to the relay write that locks.
async fn entries(sim: &SimBuilding, clock: &ManualClock) -> (Vec<Duration>, Vec<Duration>) {
    let mut lat = Vec::with_capacity(ENTRIES);
    let mut relock = Vec::with_capacity(ENTRIES);
    for _ in 0..ENTRIES {
        let seen = sim.relay_writes_timed().len();
        let t0 = Instant::now();
        sim.enter(1, Entered::Digits("2580".into()));
        let released = loop {
            let w = sim.relay_writes_timed();
            if let Some(&(_, _, _, t)) = w[seen..].iter().find(|(u, c, on, _)| (*u, *c, *on) == (2, 1, true)) {
                break t;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        lat.push(released.duration_since(t0));
        // Let the pulse end so the next entry starts from a locked door.
        let seen = sim.relay_writes_timed().len();
        let ended = Instant::now();
        clock.advance(SignedDuration::from_secs(6));
        let locked = loop {
            let w = sim.relay_writes_timed();
            if let Some(&(_, _, _, t)) = w[seen..].iter().find(|(u, c, on, _)| (*u, *c, *on) == (2, 1, false)) {
                break t;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        relock.push(locked.duration_since(ended));
    }
    lat.sort_unstable();
    relock.sort_unstable();
    (lat, relock)
}

fn report(what: &str, (lat, relock): &(Vec<Duration>, Vec<Duration>), poll: SignedDuration) {
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    let r = |p: f64| relock[((relock.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
    println!("keypad entry -> relay write, {ENTRIES} door-code entries, poll interval {poll:#}, {what}");
    println!(
        "  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (target: p99 <= poll interval + 2 ms = {:.0} ms)",
        q(0.5),
        q(0.99),
        q(1.0),
        poll.as_secs_f64() * 1e3 + 2.0
    );
    println!(
        "  relock (pulse end -> relay write): p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (the gateway ticks every 20 ms)",
        r(0.5),
        r(0.99),
        r(1.0)
    );
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        let mut cfg = load(&LoadOptions::file(concat!(env!("CARGO_MANIFEST_DIR"), "/config/portvakt.toml"))).unwrap();
        let poll = cfg.buses[0].poll_interval;
        let sim = SimBuilding::for_bus(&cfg.buses[0]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        cfg.buses[0].link = BusLink::Tcp { address: listener.local_addr().unwrap().to_string() };
        tokio::spawn(serve(sim.clone(), listener));
        let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-keypad");
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::open(&StoreOptions {
            path: dir.join("p.db"),
            max_size_bytes: 64 << 20,
            retention: SignedDuration::from_hours(24),
            kept_locally: false,
            personal: portvakt::config::PersonalRetention::default(),
        })
        .unwrap();
        let (store, _t) = portvakt::store::actor::spawn(store).unwrap();
        let clock = ManualClock::new(parse_time("2026-11-24T14:00", &cfg.policy.tz).unwrap());
        let (tx, rx) = mpsc::channel(bus::EVENTS);
        let (handle, _task) = bus::spawn(cfg.buses[0].clone(), tx);
        let (gtx, grx) = mpsc::channel(EVENTS);
        tag_events(0, rx, gtx);
        let state = AccessState { clock: ClockTrust::Trusted, ..AccessState::default() };
        let gw = Gateway::new(&cfg, state, vec![handle], store.clone(), Arc::new(clock.clone()));
        let (_gateway, _task) = gw.spawn(grx, Duration::from_millis(20), tokio_util::sync::CancellationToken::new());
        tokio::time::sleep(Duration::from_millis(300)).await;

        let quiet = entries(&sim, &clock).await;
        report("quiet", &quiet, poll);

        // The store's thread takes in a 100 000-credential bundle over and over meanwhile
        // (signed once up front; each round starts from an empty registry, so each is a
        // whole intake: verify, decode, index, persist, audit).
        let key = ed25519_dalek::SigningKey::from_bytes(&[0x42; 32]);
        let mut loaded_cfg = cfg.clone();
        let signed = big_bundle(&mut loaded_cfg, 1, &key);
        let loaded_cfg = Arc::new(loaded_cfg);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (intakes, busy) = {
            let (store, stopping, cfg) = (store.clone(), stop.clone(), loaded_cfg.clone());
            let task = tokio::spawn(async move {
                let (mut n, mut busy) = (0u64, Duration::ZERO);
                while !stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    let (cfg, bytes) = (cfg.clone(), signed.clone());
                    let took = store
                        .call(move |s| {
                            use portvakt::credentials::intake::{Expected, take_from};
                            let t0 = Instant::now();
                            let trust = portvakt::credentials::verify::Trust::of(&cfg);
                            let expected = Expected {
                                doc_type: portvakt::credentials::envelope::DocType::Bundle,
                                authority: "owner",
                            };
                            let mut registry = portvakt::credentials::registry::Registry::default();
                            let now = jiff::Timestamp::now();
                            let taken =
                                take_from(bytes, ("file", "big.pvkt"), expected, &mut registry, &trust, s, now, true);
                            assert!(taken.is_ok(), "the bundle was not taken in: {:?}", taken.err());
                            Ok(t0.elapsed())
                        })
                        .await
                        .unwrap();
                    busy += took;
                    n += 1;
                }
                (n, busy)
            });
            tokio::time::sleep(Duration::from_millis(200)).await; // the first intake is under way
            let loaded = entries(&sim, &clock).await;
            stop.store(true, std::sync::atomic::Ordering::SeqCst);
            report(
                &format!("while {BUNDLE_ENTRIES}-credential bundles are taken in on the store's thread"),
                &loaded,
                poll,
            );
            task.await.unwrap()
        };
        println!(
            "  bundles taken in meanwhile: {intakes}, the store thread busy with them {:.1} s ({:.0} ms each)",
            busy.as_secs_f64(),
            busy.as_secs_f64() * 1e3 / intakes.max(1) as f64
        );
        println!("  Modbus requests served by the simulator: {}", sim.requests());
    });
}
