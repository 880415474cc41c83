//! Real sites: each the gateway's own SQLite store (its actor and file under `--dir`,
//! reopened after a SIGKILL) and its uplink actor in collector mode — the code path of
//! `portvakt run` from a committed record to the broker and back — with access records
//! appended as the doors would. A site's last committed record is its store's head.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use portvakt::access;
use portvakt::config::{Config, ConfirmOn, Security, UplinkConfig};
use portvakt::core::ids::SiteId;
use portvakt::credentials::registry::Registry;
use portvakt::gateway::clock::SystemClock;
use portvakt::site::reach::Reach;
use portvakt::store::{EventKind, NewEvent, Store, StoreOptions};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::{Counts, Link};

fn event(seq: u64) -> NewEvent {
    NewEvent {
        at: Timestamp::now(),
        trusted: true,
        kind: EventKind::AccessGranted,
        door: Some("entrance".into()),
        audience: "site".into(),
        holder: Some(format!("holder-{}", seq % 40)),
        credential: Some(format!("tag-{}", seq % 40)),
        detail: r#"{"kind":"tag","pulse":5000,"role":"resident","rule":"role"}"#.into(),
    }
}

/// One real site: opens (or reopens) its store, runs its uplink, appends a record every
/// `interval` while `stop` is false, and reports its head and what is confirmed.
#[allow(clippy::too_many_arguments)]
pub async fn site(
    base: Arc<Config>,
    link: Link,
    site: String,
    dir: &Path,
    interval: Duration,
    counts: Arc<Counts>,
    mut stop: watch::Receiver<bool>,
    cancel: CancellationToken,
) -> Result<(), String> {
    let store = Store::open(&StoreOptions {
        path: dir.join(format!("{site}.db")),
        max_size_bytes: 1 << 30,
        retention: SignedDuration::from_hours(24 * 30),
        kept_locally: false,
        personal: portvakt::config::PersonalRetention::default(),
    })
    .map_err(|e| format!("{site}: {e}"))?;
    let (store, _thread) = portvakt::store::actor::spawn(store).map_err(|e| format!("{site}: {e}"))?;
    let mut cfg = (*base).clone();
    cfg.site.id = SiteId::new(&site).map_err(|e| format!("{site}: {e}"))?;
    let (tls, host, port) = portvakt_wire::broker::parse_broker(&link.broker).map_err(|e| format!("{site}: {e}"))?;
    let security = match (&link.tls, tls) {
        (Some(client), true) => Security::Tls { client: client.clone(), fingerprint: [0; 32] },
        _ => Security::Plaintext,
    };
    cfg.uplink = Some(UplinkConfig {
        host,
        port,
        security,
        prefix: format!("portvakt/{site}"),
        client_id: format!("fleet-{site}"),
        keep_alive: SignedDuration::from_secs(20),
        state_every: SignedDuration::from_mins(5),
        confirm: ConfirmOn::Collector,
        collector_key: Some(link.collector_key),
        max_packet: 1 << 20,
        command_max_age: SignedDuration::from_mins(5),
    });
    let cfg = Arc::new(cfg);
    let (_trust_tx, trust) = watch::channel(portvakt::core::clock::ClockState::trusted());
    let start = access::Start {
        cfg: cfg.clone(),
        registry: Registry::default(),
        store: store.clone(),
        clock: Arc::new(SystemClock),
        trust: trust.clone(),
    };
    let (access, _updates, access_task) = access::spawn(start, cancel.clone());
    tokio::spawn(access_task);
    let (status_tx, status) = watch::channel(None);
    let reach = Reach {
        site: site.clone(),
        doors: watch::channel(None).1,
        store: store.clone(),
        access,
        started: Instant::now(),
        trust,
        uplink: status,
        ble: "not_configured".into(),
        device_key: None,
    };
    let (reload, _r) = mpsc::channel(1);
    let (_h, run) =
        portvakt::uplink::spawn(portvakt::uplink::Start { cfg, reach, reload, status: status_tx }, cancel.clone());
    tokio::spawn(run);
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut report = tokio::time::interval(Duration::from_millis(500));
    let mut producing = true;
    let mut confirmed = 0;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return Ok(()),
            _ = stop.changed() => producing = !*stop.borrow(),
            _ = tick.tick(), if producing => {
                let head = *store.head().borrow();
                if store.append(event(head + 1)).await.is_ok() {
                    counts.produced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            _ = report.tick() => {
                let head = *store.head().borrow();
                counts.head(&site, head);
                if let Ok(h) = store.health().await {
                    let through = head.saturating_sub(h.outbox_depth);
                    if through > confirmed {
                        counts.acked.fetch_add(through - confirmed, std::sync::atomic::Ordering::Relaxed);
                        confirmed = through;
                    }
                    counts.through(&site, through);
                }
            }
        }
    }
}
