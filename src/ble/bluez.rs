//! The radio edge: the GATT service and advertisement through BlueZ (`bluer`). It picks
//! the configured adapter, powers it on, registers the service (a request characteristic
//! phones write fragments to, a response characteristic they subscribe to) and the
//! advertisement (service UUID and a four-byte site tag), keeps both handles alive, and
//! starts over — audited as `ble.adapter` — when the adapter disappears, bluetoothd
//! restarts or registration fails (capped backoff).
//!
//! BlueZ sends a local characteristic's notifications to every subscribed phone, so all
//! responses go out in one queue, whole messages one after another, in fragments sized
//! for the smallest MTU; each phone keeps the answers tagged with its own request. Writes
//! carry the phone's address, which keys its exchange and rate limit (never its identity).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bluer::adv::{Advertisement, Type};
use bluer::gatt::local::{
    Application, Characteristic, CharacteristicNotify, CharacteristicNotifyMethod, CharacteristicWrite,
    CharacteristicWriteMethod, Service,
};
use futures_util::StreamExt as _;
use sha2::{Digest as _, Sha256};
use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::frame::MIN_MTU;
use super::link::{LinkEvent, TO_PHONE};
use crate::gateway::clock::Clock;
use crate::store::{EventKind, NewEvent};

/// The Portvakt GATT service.
pub const SERVICE: Uuid = Uuid::from_u128(0x5b0e_8a40_3c1d_4f6e_9a57_7072_7476_0000);
/// Phones write request fragments here (write, or write without response).
pub const REQUEST: Uuid = Uuid::from_u128(0x5b0e_8a40_3c1d_4f6e_9a57_7072_7476_0001);
/// Phones subscribe here for response fragments (notify).
pub const RESPONSE: Uuid = Uuid::from_u128(0x5b0e_8a40_3c1d_4f6e_9a57_7072_7476_0002);
/// Manufacturer data key of the advertisement (0xFFFF: "no company", for development;
/// a product with an assigned company identifier uses that).
pub const COMPANY: u16 = 0xffff;
/// A phone that wrote nothing for this long is forgotten.
const IDLE: Duration = Duration::from_secs(60);

/// The four bytes that tell a phone app which site a gateway serves: SHA-256 of the
/// site id, first four bytes.
pub fn site_tag(site: &str) -> [u8; 4] {
    let h = Sha256::digest(site.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// What the radio edge needs.
pub struct Radio {
    /// `default` or an adapter name such as `hci0`.
    pub adapter: String,
    /// The site (for the advertisement).
    pub site: String,
    /// Where link events go.
    pub events: mpsc::Sender<LinkEvent>,
    /// For `ble.adapter` audit records.
    pub store: crate::store::Handle,
    /// For audit timestamps.
    pub clock: Arc<dyn Clock>,
    /// The clock's trust, for audit records.
    pub trust: tokio::sync::watch::Receiver<crate::core::clock::ClockState>,
}

type Seen = Arc<Mutex<HashMap<String, Instant>>>;

fn application(
    events: mpsc::Sender<LinkEvent>,
    seen: Seen,
    to_phones: mpsc::Sender<Vec<u8>>,
    from_actor: Arc<tokio::sync::Mutex<mpsc::Receiver<Vec<u8>>>>,
) -> Application {
    let write = CharacteristicWriteMethod::Fun(Box::new(move |bytes, req| {
        let events = events.clone();
        let seen = seen.clone();
        let to_phones = to_phones.clone();
        Box::pin(async move {
            let peer = req.device_address.to_string();
            let new = seen.lock().is_ok_and(|mut s| s.insert(peer.clone(), Instant::now()).is_none());
            if new {
                let connected = LinkEvent::Connected { peer: peer.clone(), mtu: MIN_MTU, to_phone: to_phones };
                events.send(connected).await.map_err(|_| bluer::gatt::local::ReqError::Failed)?;
            }
            events.send(LinkEvent::Fragment { peer, bytes }).await.map_err(|_| bluer::gatt::local::ReqError::Failed)
        })
    }));
    let notify = CharacteristicNotifyMethod::Fun(Box::new(move |mut notifier| {
        let from_actor = from_actor.clone();
        Box::pin(async move {
            let mut queue = from_actor.lock().await;
            while let Some(fragment) = queue.recv().await {
                if notifier.notify(fragment).await.is_err() {
                    break;
                }
            }
        })
    }));
    Application {
        services: vec![Service {
            uuid: SERVICE,
            primary: true,
            characteristics: vec![
                Characteristic {
                    uuid: REQUEST,
                    write: Some(CharacteristicWrite {
                        write: true,
                        write_without_response: true,
                        method: write,
                        ..Default::default()
                    }),
                    ..Default::default()
                },
                Characteristic {
                    uuid: RESPONSE,
                    notify: Some(CharacteristicNotify { notify: true, method: notify, ..Default::default() }),
                    ..Default::default()
                },
            ],
            ..Default::default()
        }],
        ..Default::default()
    }
}

impl Radio {
    async fn audit(&self, detail: serde_json::Value) {
        let trusted = self.trust.borrow().is_trusted();
        let event = NewEvent::system(EventKind::BleAdapter, self.clock.now(), trusted, None, &detail);
        if let Err(e) = self.store.append(event).await {
            log::error!("audit record not stored: {e}");
        }
    }

    /// Serves until cancelled or the adapter is lost; says why it stopped.
    async fn serve_once(&self, cancel: &CancellationToken) -> Result<(), String> {
        let session = bluer::Session::new().await.map_err(|e| format!("bluetoothd: {e}"))?;
        let adapter = if self.adapter == "default" {
            session.default_adapter().await.map_err(|e| format!("no default adapter: {e}"))?
        } else {
            session.adapter(&self.adapter).map_err(|e| format!("adapter {}: {e}", self.adapter))?
        };
        let name = adapter.name().to_owned();
        adapter.set_powered(true).await.map_err(|e| format!("{name}: cannot power on: {e}"))?;
        let session_events = session.events().await.map_err(|e| format!("bluetoothd events: {e}"))?;
        let mut session_events = std::pin::pin!(session_events);
        let seen: Seen = Arc::default();
        let (to_phones, from_actor) = mpsc::channel(TO_PHONE);
        let app =
            application(self.events.clone(), seen.clone(), to_phones, Arc::new(tokio::sync::Mutex::new(from_actor)));
        let _app = adapter.serve_gatt_application(app).await.map_err(|e| format!("{name}: GATT registration: {e}"))?;
        let advertisement = Advertisement {
            advertisement_type: Type::Peripheral,
            service_uuids: BTreeSet::from([SERVICE]),
            manufacturer_data: BTreeMap::from([(COMPANY, site_tag(&self.site).to_vec())]),
            discoverable: Some(true),
            ..Default::default()
        };
        let _adv = adapter.advertise(advertisement).await.map_err(|e| format!("{name}: advertising: {e}"))?;
        log::info!("ble: serving on {name} ({})", adapter.address().await.map(|a| a.to_string()).unwrap_or_default());
        self.audit(serde_json::json!({ "adapter": name, "state": "serving" })).await;
        let mut check = tokio::time::interval(Duration::from_secs(10));
        loop {
            tokio::select! {
                () = cancel.cancelled() => return Ok(()),
                event = session_events.next() => match event {
                    Some(bluer::SessionEvent::AdapterRemoved(gone)) if gone == name => return Err(format!("{name} was removed")),
                    Some(_) => {}
                    None => return Err("bluetoothd went away".into()),
                },
                _ = check.tick() => {
                    match adapter.is_powered().await {
                        Ok(true) => {}
                        Ok(false) => {
                            log::warn!("ble: {name} was powered off; powering it on again");
                            adapter.set_powered(true).await.map_err(|e| format!("{name}: cannot power on: {e}"))?;
                        }
                        Err(e) => return Err(format!("{name}: {e}")),
                    }
                    let idle: Vec<String> = seen
                        .lock()
                        .map(|mut s| {
                            let gone: Vec<String> = s.iter().filter(|(_, t)| t.elapsed() > IDLE).map(|(p, _)| p.clone()).collect();
                            for p in &gone { s.remove(p); }
                            gone
                        })
                        .unwrap_or_default();
                    for peer in idle {
                        let _ = self.events.send(LinkEvent::Disconnected { peer }).await;
                    }
                }
            }
        }
    }

    /// Serves phones over the radio until `cancel`, starting over after any loss.
    pub async fn run(self, cancel: CancellationToken) {
        let mut delay = Duration::from_secs(1);
        let mut last_error: Option<String> = None;
        loop {
            match self.serve_once(&cancel).await {
                Ok(()) => return,
                Err(why) => {
                    log::warn!("ble: {why}; trying again in {delay:?}");
                    if last_error.as_ref() != Some(&why) {
                        self.audit(serde_json::json!({ "adapter": self.adapter, "state": "lost", "why": why })).await;
                        last_error = Some(why);
                    }
                }
            }
            tokio::select! {
                () = cancel.cancelled() => return,
                () = tokio::time::sleep(delay) => {}
            }
            delay = (delay * 2).min(Duration::from_secs(30));
        }
    }
}
