//! The test site's gateway over real Modbus TCP against the simulated building, with a
//! manual clock and a temporary store; the laundry strike is fail-safe (energised to
//! lock), the others fail-secure, as in the field.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use jiff::SignedDuration;
use portvakt::config::BusLink;
use portvakt::core::allowlist::Allowlist;
use portvakt::core::clock::ClockTrust;
use portvakt::core::decide::AccessState;
use portvakt::gateway::clock::ManualClock;
use portvakt::gateway::doors::{EVENTS, Gateway, tag_events};
use portvakt::gateway::handle::{DoorStatus, Handle};
use portvakt::modbus::bus;
use portvakt::modbus::sim::{SimBuilding, serve};
use portvakt::store::{AuditFilter, EventKind, Store, StoreOptions, StoredRecord};
use tokio::sync::mpsc;

pub struct Site {
    pub sim: SimBuilding,
    pub clock: ManualClock,
    pub store: portvakt::store::Handle,
    pub gateway: Handle,
    pub stop: tokio_util::sync::CancellationToken,
    pub _dir: tempfile::TempDir,
}

impl Site {
    /// One door's state as the gateway reports it.
    pub async fn door(&self, id: &str) -> DoorStatus {
        let status = self.gateway.status().await.unwrap();
        status.doors.into_iter().find(|d| d.door == id).unwrap()
    }

    /// Every audit record of `kind`.
    pub async fn records(&self, kind: EventKind) -> Vec<StoredRecord> {
        let all = self.store.query(AuditFilter::default()).await.unwrap();
        all.into_iter().filter(|r| r.record.event.kind == kind).collect()
    }
}

/// The test site with Anna's tag for the entrance.
pub async fn site() -> Site {
    let cfg = super::site();
    let allowlist = Allowlist::build(
        &cfg.policy,
        vec![super::spec("anna-tag", "resident", super::tag(&cfg, "04:A2:19:7F"), &["entrance"])],
    )
    .unwrap();
    site_with(AccessState { allowlist, clock: ClockTrust::Trusted, ..AccessState::default() }, None).await
}

/// The test site with `state`, and optionally an existing store directory.
pub async fn site_with(state: AccessState, dir: Option<tempfile::TempDir>) -> Site {
    let mut cfg = super::site();
    cfg.wiring[2].energize_to_unlock = false; // the laundry: fail-safe
    let sim = SimBuilding::for_bus(&cfg.buses[0]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    cfg.buses[0].link = BusLink::Tcp { address: listener.local_addr().unwrap().to_string() };
    cfg.buses[0].poll_interval = SignedDuration::from_millis(20);
    cfg.buses[0].timeout = SignedDuration::from_millis(200);
    tokio::spawn(serve(sim.clone(), listener));
    let dir = dir.unwrap_or_else(|| tempfile::tempdir().unwrap());
    let store = Store::open(&StoreOptions {
        path: dir.path().join("portvakt.db"),
        max_size_bytes: 16 << 20,
        retention: SignedDuration::from_hours(24),
        kept_locally: false,
        personal: portvakt::config::PersonalRetention::default(),
    })
    .unwrap();
    let (store, _thread) = portvakt::store::actor::spawn(store).unwrap();
    let clock = ManualClock::new(super::at(&cfg, "2026-11-24T14:00"));
    let (bus_tx, bus_rx) = mpsc::channel(bus::EVENTS);
    let (handle, _task) = bus::spawn(cfg.buses[0].clone(), bus_tx);
    let (gw_tx, gw_rx) = mpsc::channel(EVENTS);
    tag_events(0, bus_rx, gw_tx);
    let gateway = Gateway::new(&cfg, state, vec![handle], store.clone(), Arc::new(clock.clone()));
    let stop = tokio_util::sync::CancellationToken::new();
    let (gateway, _task) = gateway.spawn(gw_rx, Duration::from_millis(20), stop.clone());
    Site { sim, clock, store, gateway, stop, _dir: dir }
}

/// Waits (at most 5 s) for `cond`.
pub async fn until(what: &str, cond: impl Fn() -> bool) {
    let waited = tokio::time::timeout(Duration::from_secs(5), async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

/// Waits (at most 5 s) until a record of `kind` is in the audit log.
pub async fn audited(store: &portvakt::store::Handle, kind: EventKind) {
    let found = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let records = store.query(AuditFilter::default()).await.unwrap();
            if records.iter().any(|r| r.record.event.kind == kind) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(found.is_ok(), "no {kind:?} record in the audit log");
}

pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Waits (at most `within`) until the async `cond` holds.
pub async fn eventually<F: Future<Output = bool>>(what: &str, within: Duration, mut cond: impl FnMut() -> F) {
    let waited = tokio::time::timeout(within, async {
        while !cond().await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "not within {within:?}: {what}");
}
