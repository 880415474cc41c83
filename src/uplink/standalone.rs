//! The uplink beside a door subsystem without the supervisor: `portvakt demo --mqtt URL`
//! publishes its scripted day to a real broker this way. An access actor is started for
//! the uplink's bundle and status paths; reloads are not offered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::actor::{Start, spawn};
use crate::access;
use crate::config::{Config, Security, UplinkConfig, is_loopback, parse_broker};
use crate::core::clock::ClockState;
use crate::credentials::registry::Registry;
use crate::gateway::clock::Clock;
use crate::site::reach::Reach;
use crate::site::status::UplinkStatus;
use crate::site::view::DoorsView;

/// The uplink settings for `--mqtt URL`: plain MQTT to a loopback broker, or `mqtts://`
/// with the certificates of the config's `[uplink]`.
pub fn for_url(cfg: &Config, url: &str) -> Result<UplinkConfig, String> {
    let (tls, host, port) = parse_broker(url)?;
    let site = cfg.site.id.as_str();
    if tls {
        let mut up = cfg
            .uplink
            .clone()
            .filter(|u| matches!(u.security, Security::Tls { .. }))
            .ok_or("mqtts:// needs the CA, certificate and key of an [uplink] section in the config")?;
        up.host = host;
        up.port = port;
        return Ok(up);
    }
    if !is_loopback(&host) {
        return Err(format!("plain MQTT goes to a loopback broker only, not to {host}; use mqtts://"));
    }
    let mut up = UplinkConfig::plaintext(port, site);
    up.host = host;
    Ok(up)
}

/// A running standalone uplink.
pub struct Standalone {
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
    status: watch::Receiver<Option<UplinkStatus>>,
    store: crate::store::Handle,
}

/// Starts the uplink (and an access actor) for `cfg`, whose `uplink` must be set.
pub fn start(cfg: Arc<Config>, view: Arc<DoorsView>, store: crate::store::Handle, clock: Arc<dyn Clock>) -> Standalone {
    let stop = CancellationToken::new();
    let (_trust_tx, trust) = watch::channel(ClockState::trusted());
    let access_start = access::Start {
        cfg: cfg.clone(),
        registry: Registry::default(),
        store: store.clone(),
        clock,
        trust: trust.clone(),
    };
    let (access, mut updates, access_task) = access::spawn(access_start, stop.clone());
    let gateway = view.gateway.clone();
    tokio::spawn(async move {
        let forward = async {
            while let Some(a) = updates.recv().await {
                gateway.replace(a).await;
            }
        };
        if let (Err(e), ()) = tokio::join!(access_task, forward) {
            log::error!("the access actor ended: {e}");
        }
    });
    let (status_tx, status) = watch::channel(None);
    let (reload, _refused) = mpsc::channel(1);
    let reach = Reach {
        site: cfg.site.id.to_string(),
        doors: watch::channel(Some(view)).1,
        store: store.clone(),
        access,
        started: Instant::now(),
        trust,
        uplink: status.clone(),
        // The demo's store is thrown away: nothing to anchor.
        ble: crate::site::reach::ble_words(cfg.ble.as_ref()),
        device_key: None,
    };
    let (_handle, run) = spawn(Start { cfg, reach, reload, status: status_tx }, stop.clone());
    Standalone { stop, task: tokio::spawn(run), status, store }
}

impl Standalone {
    /// Waits (at most `within`) until the outbox is empty, then stops the uplink (which
    /// publishes `offline`); returns its last condition.
    pub async fn finish(self, within: Duration) -> Option<UplinkStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if self.store.health().await.is_ok_and(|h| h.outbox_depth == 0) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let last = self.status.borrow().clone();
        self.stop.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.task).await;
        last
    }
}
