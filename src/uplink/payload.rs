//! The JSON bodies the gateway publishes (schemas in `docs/mqtt.md`): an audit record on
//! `events`, a door on `door/<door>/state`, and the gateway's health on `state`. Pure:
//! each is built from values the caller collected.

use jiff::Timestamp;
use portvakt_wire::event::{Detail, Epoch, EventMessage};
use serde::Serialize;

use crate::access::BundleStatus;
use crate::core::clock::ClockTrust;
use crate::core::hex;
use crate::core::model::DoorMode;
use crate::gateway::handle::DoorStatus;
pub use crate::site::status::UpdateResult;
use crate::site::status::{BusStatus, StatusReport};
use crate::store::AuditRecord;
use crate::store::StoreHealth;
use crate::store::form::Form;

/// Where records' personal parts are sealed to: the site (bound into each seal) and the
/// authorities with their reading keys.
#[derive(Debug, Clone, Copy)]
pub struct Sealing<'a> {
    /// The gateway's site.
    pub site: &'a str,
    /// The authorities as configured.
    pub authorities: &'a [crate::config::AuthorityConfig],
}

impl Sealing<'_> {
    /// The reading key of `audience`, if it names one.
    fn key_of(&self, audience: &str) -> Option<[u8; 32]> {
        self.authorities.iter().find(|a| a.id.as_str() == audience).and_then(|a| a.reading_key)
    }

    /// Record `r`'s personal part sealed to its audience (hex), when it has one that is
    /// still held and its audience has a reading key: never in clear.
    fn sealed(&self, r: &AuditRecord) -> Option<String> {
        let Form::V2 { salt: Some(salt), .. } = r.form else { return None };
        let part = r.event.personal();
        let key = self.key_of(&r.event.audience).filter(|_| !part.is_empty())?;
        let random = match crate::credentials::keys::random_seed() {
            Ok(r) => r,
            Err(e) => {
                log::error!("record {}: its personal part is not sent: {e}", r.seq);
                return None;
            }
        };
        match portvakt_wire::personal::seal(&key, self.site, r.seq, &salt, &part, &random) {
            Ok(sealed) => Some(hex::encode(&sealed)),
            Err(e) => {
                log::error!("record {}: its personal part is not sent: {e} ({})", r.seq, r.event.audience);
                None
            }
        }
    }
}

/// The `events` payload for a record (`portvakt_wire::event`): `detail` is the stored
/// JSON text unchanged, so a collector can recompute the record's hash from the message;
/// `epoch` is the chain's run it is published in. A format 2 record carries its header
/// and commitment, and its personal part only sealed to its audience's reading key; a
/// format 1 record (from before audiences) goes as it was written.
pub fn event(r: &AuditRecord, epoch: Option<&Epoch>, sealing: &Sealing<'_>) -> Vec<u8> {
    let e = &r.event;
    let (format, audience, holder, credential, commitment, personal) = match &r.form {
        Form::V1 => (None, None, e.holder.as_deref(), e.credential.as_deref(), None, None),
        Form::V2 { commitment, .. } => (
            Some(2),
            Some(e.audience.as_str()),
            None,
            None,
            commitment.as_ref().map(|c| hex::encode(c)),
            sealing.sealed(r),
        ),
    };
    EventMessage {
        epoch,
        format,
        seq: r.seq,
        at: format!("{:.3}", e.at),
        trusted: e.trusted,
        kind: e.kind.code(),
        door: e.door.as_deref(),
        audience,
        holder,
        credential,
        commitment,
        personal,
        detail: Detail::of(&e.detail),
        prev: hex::encode(&r.prev),
        hash: hex::encode(&r.hash),
    }
    .to_bytes()
}

/// One door on `door/<door>/state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoorMessage {
    /// `locked`, `released` or `unknown`: as the relay board reports it.
    pub lock: &'static str,
    /// Whether the board does not hold the strike as the gateway wants it.
    pub strike_fault: bool,
    /// `open`, `closed`, or `unknown` (no contact, or it cannot be read).
    pub contact: &'static str,
    /// The door's mode.
    pub mode: DoorMode,
    /// `held_open`, or none.
    pub alarm: Option<&'static str>,
    /// The door's keypad panel: `online`, `offline`, or none (no panel).
    pub panel: Option<crate::gateway::handle::PanelState>,
}

/// The door message for a door's status.
pub fn door(d: &DoorStatus) -> DoorMessage {
    DoorMessage {
        lock: d.lock.word(),
        strike_fault: d.strike_fault,
        contact: match d.open {
            Some(true) => "open",
            Some(false) => "closed",
            None => "unknown",
        },
        mode: d.mode,
        alarm: d.held_open.then_some("held_open"),
        panel: d.panel,
    }
}

/// The gateway's health: the retained `state` message and `portvakt status --json` (one
/// layout, `docs/mqtt.md`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateMessage {
    /// Daemon version.
    pub version: String,
    /// Site id.
    pub site: String,
    /// `true` while the daemon runs; `false` in the last state it publishes at an orderly
    /// stop (a crash leaves the last running state and the `offline` will).
    pub running: bool,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Clock trust (`None` while the doors restart).
    pub clock: Option<ClockTrust>,
    /// Credentials in the allowlist.
    pub credentials: Option<usize>,
    /// Each door, as on `door/<door>/state` with its id.
    pub doors: Vec<DoorEntry>,
    /// Each bus's devices.
    pub buses: Vec<BusStatus>,
    /// Phones over BLE as configured (`not_configured`, `adapter <name>`, `socket`, both).
    pub ble: String,
    /// The store (`None` if it did not answer).
    pub store: Option<StoreHealth>,
    /// Records waiting for upload.
    pub outbox_depth: Option<u64>,
    /// Age of the oldest record waiting, in seconds.
    pub outbox_oldest_secs: Option<i64>,
    /// The store is over 90 % of its cap.
    pub store_nearly_full: Option<bool>,
    /// Events counted but not stored (disk or cap full).
    pub store_pending_gap: Option<u64>,
    /// Bundles in use, with their age in days.
    pub bundles: Vec<BundleState>,
    /// The last word on each authority's bundle and revocation list: taken in, or refused
    /// and why (from the inbox or over MQTT).
    pub intake: Vec<crate::access::verdicts::Verdict>,
    /// The uplink (`None`: the site has none).
    pub uplink: Option<UplinkState>,
    /// The device key (hex) whose signatures the `audit.checkpoint` records carry.
    pub device_key: Option<String>,
    /// What the config calls the site, its doors, devices and authorities (for Central's
    /// console: names, not ids).
    pub names: Option<crate::site::names::SiteNames>,
}

/// One door in `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoorEntry {
    /// The door's id.
    pub door: String,
    /// What `door/<door>/state` says of it.
    #[serde(flatten)]
    pub state: DoorMessage,
}

/// The uplink in `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UplinkState {
    /// `mqtts://host:port`.
    pub broker: String,
    /// Whether the broker accepted the connection and it still stands.
    pub connected: bool,
    /// Why the last connection failed or ended.
    pub last_error: Option<String>,
    /// Connections made since start.
    pub connections: u64,
    /// Connections made again after the first.
    pub reconnects: u64,
    /// Events the broker acknowledged since start.
    pub published: u64,
    /// The last update taken over MQTT (bundle or revocation list), and its result.
    pub last_update: Option<UpdateResult>,
    /// Collector acknowledgements refused since start (each episode audited once).
    pub acks_refused: u64,
    /// New runs of the chain begun since start, because the collector held more of the
    /// run than the store (restored from a backup).
    pub epochs_begun: u64,
}

/// One bundle in `state`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BundleState {
    /// The authority.
    pub authority: String,
    /// Bundle version.
    pub version: u64,
    /// Credentials in it.
    pub entries: usize,
    /// Issued at (RFC 3339).
    pub issued_at: String,
    /// Days since it was issued.
    pub age_days: i64,
    /// Older than `stale_after_days`.
    pub stale: bool,
    /// Its end of validity (RFC 3339).
    pub not_after: String,
    /// Hours until then (negative: expired).
    pub expires_in_hours: i64,
    /// Within `expiry_warning_days` of its end, or past it.
    pub expiring: bool,
    /// Past its end (in grace, or refused).
    pub expired: bool,
    /// Ended, but its credentials stay in use until then (`expiry_grace`), else `null`.
    pub grace_until: Option<String>,
}

fn bundle(b: &BundleStatus, now: Timestamp) -> BundleState {
    BundleState {
        authority: b.authority.clone(),
        version: b.info.version,
        entries: b.info.entries,
        issued_at: b.info.issued_at.to_string(),
        age_days: now.duration_since(b.info.issued_at).as_hours() / 24,
        stale: b.stale,
        not_after: b.info.not_after.to_string(),
        expires_in_hours: b.expires_in_hours,
        expiring: b.expiring,
        expired: b.expired,
        grace_until: b.grace_until.map(|t| t.to_string()),
    }
}

/// The state message from a status report (`running: true`).
pub fn state(report: &StatusReport, now: Timestamp) -> StateMessage {
    let store = report.store.as_ref();
    StateMessage {
        version: report.version.clone(),
        site: report.site.clone(),
        running: true,
        uptime_secs: report.uptime_secs,
        clock: report.gateway.as_ref().map(|g| g.clock),
        credentials: report.gateway.as_ref().map(|g| g.credentials),
        doors: report
            .gateway
            .iter()
            .flat_map(|g| &g.doors)
            .map(|d| DoorEntry { door: d.door.clone(), state: door(d) })
            .collect(),
        buses: report.buses.clone(),
        ble: report.ble.clone(),
        store: report.store.clone(),
        outbox_depth: store.map(|s| s.outbox_depth),
        outbox_oldest_secs: store.and_then(|s| s.oldest_unconfirmed).map(|t| now.duration_since(t).as_secs()),
        store_nearly_full: store.map(|s| s.nearly_full),
        store_pending_gap: store.map(|s| s.pending_gap),
        bundles: report.bundles.iter().map(|b| bundle(b, now)).collect(),
        intake: report.intake.clone(),
        uplink: report.uplink.as_ref().map(|u| UplinkState {
            broker: u.broker.clone(),
            connected: u.connected,
            last_error: u.last_error.clone(),
            connections: u.connections,
            reconnects: u.connections.saturating_sub(1),
            published: u.published,
            last_update: u.last_update.clone(),
            acks_refused: u.acks_refused,
            epochs_begun: u.epochs_begun,
        }),
        device_key: report.device_key.clone(),
        names: report.names.clone(),
    }
}

impl StateMessage {
    /// What decides "changed": everything but counters that move all the time (uptime,
    /// outbox figures, Modbus request counts and latencies).
    pub fn significant(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            // Doors go on their own topics; the store's and uplink's counters move all the time.
            for k in ["uptime_secs", "outbox_depth", "outbox_oldest_secs", "doors", "store"] {
                o.remove(k);
            }
            if let Some(u) = &self.uplink {
                o.insert(
                    "uplink".into(),
                    serde_json::json!({ "last_update": u.last_update, "reconnects": u.reconnects }),
                );
            }
            let online: Vec<(String, Vec<(u8, bool)>)> = self
                .buses
                .iter()
                .map(|b| (b.name.clone(), b.devices.iter().map(|(u, h)| (*u, h.online)).collect()))
                .collect();
            o.insert("buses".into(), serde_json::to_value(online).unwrap_or_default());
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{EventKind, NewEvent};

    const NO_KEYS: Sealing<'static> = Sealing { site: "test-site", authorities: &[] };

    fn stored(e: NewEvent, form: Form) -> AuditRecord {
        let hash = crate::store::form::hash_of(&[1; 32], 7, &e, &form);
        AuditRecord { seq: 7, prev: [1; 32], hash, event: e, form }
    }

    #[test]
    fn an_event_message_carries_the_stored_detail_text_unchanged() {
        let at: Timestamp = "2026-11-24T14:00:00.250Z".parse().expect("time");
        let e =
            NewEvent::system(EventKind::DoorPulsed, at, true, Some("entrance".into()), &serde_json::json!({"by": "x"}));
        let r = stored(e, Form::V2 { salt: None, commitment: None });
        let epoch = Epoch { id: "0a".repeat(16), from: 3 };
        let text = String::from_utf8(event(&r, Some(&epoch), &NO_KEYS)).expect("utf-8");
        assert!(text.contains(r#""detail":{"by":"x"}"#), "{text}");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["epoch"], serde_json::json!({"id": "0a".repeat(16), "from": 3}));
        let unnamed: serde_json::Value = serde_json::from_slice(&event(&r, None, &NO_KEYS)).expect("json");
        assert!(unnamed.get("epoch").is_none(), "a store's first run from before epochs travels without one");
        assert_eq!((v["format"].as_u64(), v["audience"].as_str()), (Some(2), Some("site")));
        assert_eq!(v["seq"], 7);
        assert_eq!(v["kind"], "door.pulsed");
        assert_eq!(v["at"], "2026-11-24T14:00:00.250Z");
        assert_eq!(v["door"], "entrance");
        assert_eq!(v["prev"], hex::encode(&[1; 32]));
        let back = portvakt_wire::event::ReceivedEvent::parse(text.as_bytes()).expect("a collector reads it");
        assert_eq!(back.hash, r.hash);
    }

    fn visit(audience: &str) -> NewEvent {
        let at: Timestamp = "2026-11-24T03:12:09.481Z".parse().expect("time");
        NewEvent {
            holder: Some("hemtjanst-natt-5".into()),
            credential: Some("care-5".into()),
            ..NewEvent::system(EventKind::AccessGranted, at, true, Some("entrance".into()), &serde_json::json!({}))
        }
        .for_audience(audience)
    }

    #[test]
    fn a_personal_part_leaves_only_sealed_to_its_audiences_reading_key_and_never_in_clear() {
        let (private, public) = portvakt_wire::personal::reading_pair(&[5; 32]);
        let mut cfg = crate::config::AuthorityConfig {
            id: "hemtjansten".parse().expect("id"),
            name: "Hemtjänsten".into(),
            class: crate::config::AuthorityClass::Municipality,
            public_key: [1; 32],
            reading_key: Some(public),
            doors: crate::core::model::DoorSet::default(),
            rights: crate::config::Rights::default_for(crate::config::AuthorityClass::Municipality),
        };
        let keys = [cfg.clone()];
        let sealing = Sealing { site: "test-site", authorities: &keys };
        let e = visit("hemtjansten");
        let r = stored(e.clone(), crate::store::form::seal_for(&e, [3; 16]));
        let text = String::from_utf8(event(&r, None, &sealing)).expect("utf-8");
        assert!(!text.contains("hemtjanst-natt-5") && !text.contains("care-5"), "{text}");
        let back = portvakt_wire::event::ReceivedEvent::parse(text.as_bytes()).expect("a collector reads it");
        let Form::V2 { commitment: Some(c), .. } = r.form else { panic!("a committed part") };
        let opened =
            portvakt_wire::personal::open(&private, "test-site", 7, &c, back.sealed.as_deref().expect("sealed"));
        assert_eq!(opened.expect("opens").holder.as_deref(), Some("hemtjanst-natt-5"));

        // Without a reading key the part stays on the gateway; only the commitment leaves.
        cfg.reading_key = None;
        let keys = [cfg];
        let text =
            String::from_utf8(event(&r, None, &Sealing { site: "test-site", authorities: &keys })).expect("utf-8");
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert!(v.get("personal").is_none() && v["commitment"].is_string(), "{text}");
        // Another authority's key never seals it.
        let e = visit("agaren");
        let r = stored(e.clone(), crate::store::form::seal_for(&e, [3; 16]));
        let v: serde_json::Value = serde_json::from_slice(&event(&r, None, &sealing)).expect("json");
        assert!(v.get("personal").is_none(), "sealed to the owner's key or none, never to the municipality's");
    }

    #[test]
    fn a_format_1_record_from_before_audiences_travels_as_it_was_written() {
        let e = visit("site");
        let r = stored(e, Form::V1);
        let v: serde_json::Value = serde_json::from_slice(&event(&r, None, &NO_KEYS)).expect("json");
        assert_eq!((v["holder"].as_str(), v.get("format"), v.get("audience")), (Some("hemtjanst-natt-5"), None, None));
    }

    #[test]
    fn a_door_message_says_lock_contact_mode_and_alarm_in_words() {
        let d = DoorStatus {
            door: "entrance".into(),
            mode: DoorMode::Lockdown,
            lock: crate::gateway::handle::LockState::Unknown,
            strike_fault: true,
            open: None,
            held_open: true,
            panel: Some(crate::gateway::handle::PanelState::Offline),
        };
        let v = serde_json::to_value(door(&d)).expect("json");
        assert_eq!(
            v,
            serde_json::json!({"lock": "unknown", "strike_fault": true, "contact": "unknown", "mode": "lockdown",
                               "alarm": "held_open", "panel": "offline"})
        );
    }
}
