//! Keypad entry to relay write, through the real path: the simulated building (Modbus
//! TCP on loopback) → bus actor polling at the example config's interval → gateway task
//! (decision, strike) → relay write received by the simulator. 1 000 door-code entries.
//!
//! Run with `cargo bench --bench keypad`. Latency is from the moment the entry appears
//! in the panel's registers to the moment the simulator receives the relay write, so it
//! includes waiting for the next poll (on average half the poll interval).
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

const ENTRIES: usize = 1000;

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
        })
        .unwrap();
        let (store, _t) = portvakt::store::actor::spawn(store).unwrap();
        let clock = ManualClock::new(parse_time("2026-11-24T14:00", &cfg.policy.tz).unwrap());
        let (tx, rx) = mpsc::channel(bus::EVENTS);
        let (handle, _task) = bus::spawn(cfg.buses[0].clone(), tx);
        let (gtx, grx) = mpsc::channel(EVENTS);
        tag_events(0, rx, gtx);
        let state = AccessState { clock: ClockTrust::Trusted, ..AccessState::default() };
        let gw = Gateway::new(&cfg, state, vec![handle], store, Arc::new(clock.clone()));
        let (_gateway, _task) = gw.spawn(grx, Duration::from_millis(20), tokio_util::sync::CancellationToken::new());
        tokio::time::sleep(Duration::from_millis(300)).await;

        let mut lat = Vec::with_capacity(ENTRIES);
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
            clock.advance(SignedDuration::from_secs(6));
            while sim.relay(2, 1) != Some(false) {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        lat.sort_unstable();
        let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize].as_secs_f64() * 1e3;
        println!("keypad entry -> relay write, {ENTRIES} door-code entries, poll interval {poll:#}");
        println!(
            "  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms  (target: p99 <= poll interval + 2 ms = {:.0} ms)",
            q(0.5),
            q(0.99),
            q(1.0),
            poll.as_secs_f64() * 1e3 + 2.0
        );
        println!("  Modbus requests served by the simulator: {}", sim.requests());
    });
}
