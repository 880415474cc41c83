//! Starts what `[ble]` asks for under the supervisor's task tracker: the BLE actor, the
//! simulated socket transport and/or the BlueZ radio edge, all stopped by one
//! cancellation token (before the doors stop). Returns where reloads send new settings.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use super::actor::{self, settings};
use super::bluez::Radio;
use super::exchange::Settings;
use super::link::EVENTS;
use crate::config::Config;
use crate::gateway::clock::Clock;
use crate::site::reach::Reach;

/// Starts BLE if configured; the sender takes new settings on reload (`None` stops
/// nothing: transports change only at the next start).
pub async fn start(
    cfg: &Config,
    reach: &Reach,
    clock: Arc<dyn Clock>,
    tracker: &TaskTracker,
    cancel: &CancellationToken,
) -> Result<watch::Sender<Option<Settings>>, String> {
    let (tx, rx) = watch::channel(None);
    let (Some(ble), Some(settings)) = (&cfg.ble, settings(cfg)) else { return Ok(tx) };
    let (events, events_rx) = mpsc::channel(EVENTS);
    if let Some(path) = &ble.socket {
        let listener = crate::site::local_socket::bind(path).await.map_err(|e| format!("BLE socket: {e}"))?;
        log::info!("ble: simulated transport on {}", path.display());
        tracker.spawn(super::socket::serve(listener, path.clone(), events.clone(), cancel.clone()));
    }
    if let Some(adapter) = &ble.adapter {
        let radio = Radio {
            adapter: adapter.clone(),
            site: cfg.site.id.to_string(),
            events: events.clone(),
            store: reach.store.clone(),
            clock: clock.clone(),
            trust: reach.trust.clone(),
        };
        tracker.spawn(radio.run(cancel.clone()));
    }
    drop(events);
    let start = actor::Start { settings, reach: reach.into(), clock, reconfigure: rx };
    tracker.spawn(actor::run(start, events_rx, cancel.clone()));
    Ok(tx)
}
