//! What the edges of a running site reach (the control socket, the uplink, the BLE
//! edge): the current doors, the store, the access actor, the clock's trust and the
//! uplink's condition; and the status report collected from them.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::status::{BusStatus, StatusReport, UplinkStatus};
use super::view::DoorsView;
use crate::access;

/// What the edges reach.
#[derive(Clone)]
pub struct Reach {
    /// The site's id (also while the doors restart or stop).
    pub site: String,
    /// The running doors (`None` while they restart or stop).
    pub doors: watch::Receiver<Option<Arc<DoorsView>>>,
    /// The store.
    pub store: crate::store::Handle,
    /// The access actor.
    pub access: access::Handle,
    /// When the daemon started.
    pub started: Instant,
    /// The clock's trust.
    pub trust: watch::Receiver<crate::core::clock::ClockState>,
    /// The uplink's condition (`None` without an uplink).
    pub uplink: watch::Receiver<Option<UplinkStatus>>,
    /// The device key's public half, which signs the audit chain's checkpoints (`None`
    /// without one).
    pub device_key: Option<[u8; 32]>,
    /// What `[ble]` serves, in the state message's words ([`ble_words`]), from the start's
    /// configuration (the transports are started once; kept while the doors stop).
    pub ble: String,
}

fn current(reach: &Reach) -> Option<Arc<DoorsView>> {
    reach.doors.borrow().clone()
}

/// Collects the status report.
pub async fn status(reach: &Reach) -> StatusReport {
    let view = current(reach);
    let gateway = match &view {
        Some(v) => v.gateway.status().await,
        None => None,
    };
    let mut buses = Vec::new();
    if let Some(v) = &view {
        for (name, handle) in &v.buses {
            let simulated_at = v.sims.iter().any(|(n, _)| n == name).then(|| simulated_address(v, name)).flatten();
            let devices = handle.health().await.unwrap_or_default();
            buses.push(BusStatus { name: name.clone(), devices, simulated_at });
        }
    }
    StatusReport {
        version: env!("CARGO_PKG_VERSION").into(),
        site: view.as_ref().map_or_else(|| reach.site.clone(), |v| v.cfg.site.id.to_string()),
        uptime_secs: reach.started.elapsed().as_secs(),
        gateway,
        buses,
        store: reach.store.health().await.ok(),
        bundles: reach.access.bundles().await,
        intake: reach.access.verdicts().await,
        uplink: reach.uplink.borrow().clone(),
        ble: reach.ble.clone(),
        device_key: reach.device_key.map(|k| crate::core::hex::encode(&k)),
        names: view.as_ref().map(|v| super::names::SiteNames::of(&v.cfg)),
    }
}

/// The loopback address a simulated bus is served on (the running config's TCP link).
fn simulated_address(view: &DoorsView, bus: &str) -> Option<String> {
    view.cfg.buses.iter().find(|b| b.name == bus).and_then(|b| match &b.link {
        crate::config::BusLink::Tcp { address } => Some(address.clone()),
        _ => None,
    })
}

/// What `[ble]` serves, in the words of the state message.
pub fn ble_words(ble: Option<&crate::config::BleConfig>) -> String {
    match ble.map(|b| (b.adapter.as_deref(), b.socket.is_some())) {
        None | Some((None, false)) => "not_configured".into(),
        Some((None, true)) => "socket".into(),
        Some((Some(a), false)) => format!("adapter {a}"),
        Some((Some(a), true)) => format!("adapter {a} + socket"),
    }
}
