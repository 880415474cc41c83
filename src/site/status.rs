//! The site's status report (what `portvakt status` shows and the uplink's `state`
//! message carries): version, uptime, clock trust, each door, each bus's devices,
//! the store and the bundles in use — as JSON and as text for a person on site.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::access::BundleStatus;
use crate::gateway::handle::{GatewayStatus, LockState};
use crate::store::StoreHealth;

/// Counters per device, for the state message and the installer tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeviceHealth {
    /// Requests sent.
    pub requests: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Modbus exceptions received.
    pub exceptions: u64,
    /// Replies that did not fit the device's map, or answered another request.
    pub bad_replies: u64,
    /// Garbled frames (RTU: bytes the framing could not resynchronise past).
    pub framing_errors: u64,
    /// Requests that failed on the link itself (it was reopened).
    pub link_errors: u64,
    /// Coils found not as wanted and written again (relay boards).
    pub coil_corrections: u64,
    /// Polls that found the panel's heartbeat frozen (panels).
    pub heartbeat_stalls: u64,
    /// Whether it answers now.
    pub online: bool,
    /// Last round-trip time in microseconds.
    pub last_latency_us: u64,
}

/// One bus's devices.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BusStatus {
    /// The bus's name.
    pub name: String,
    /// Its devices by unit id.
    pub devices: BTreeMap<u8, DeviceHealth>,
    /// Where the simulated building that replaces it is served over Modbus TCP
    /// (`run --simulate`, or `kind = "sim"`); absent for a real bus.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub simulated_at: Option<String>,
}

/// Everything `status` reports.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StatusReport {
    /// The daemon's version.
    pub version: String,
    /// The site's id.
    pub site: String,
    /// Seconds since start.
    pub uptime_secs: u64,
    /// Doors, clock and credentials (`None` while the doors restart).
    pub gateway: Option<GatewayStatus>,
    /// Buses.
    pub buses: Vec<BusStatus>,
    /// The store (`None` if it did not answer).
    pub store: Option<StoreHealth>,
    /// Bundles in use.
    pub bundles: Vec<BundleStatus>,
    /// The last word on each authority's bundle and revocation list (inbox or MQTT).
    pub intake: Vec<crate::access::verdicts::Verdict>,
    /// The MQTT uplink (`None` when the site has none).
    pub uplink: Option<UplinkStatus>,
    /// Phones over BLE as configured: `not_configured`, `adapter <name>`, `socket`, or
    /// both (`adapter <name> + socket`).
    pub ble: String,
    /// The device key (hex) that signs the audit chain's checkpoints (`None`: none).
    pub device_key: Option<String>,
    /// What the config calls the site, its doors, devices and authorities (`None` while
    /// the doors restart).
    pub names: Option<super::names::SiteNames>,
}

/// One door in words: mode, the strike as its board reports it, the contact, alarms.
fn door_line(d: &crate::gateway::handle::DoorStatus) -> String {
    let open = match d.open {
        Some(true) => "open",
        Some(false) => "closed",
        None => "contact unknown",
    };
    let strike = match d.lock {
        LockState::Released => "RELEASED",
        LockState::Locked => "locked",
        LockState::Unknown => "strike UNKNOWN",
    };
    let fault = if d.strike_fault { ", STRIKE FAULT (the relay board does not hold it as wanted)" } else { "" };
    let alarm = if d.held_open { ", HELD OPEN" } else { "" };
    let panel = if d.panel == Some(crate::gateway::handle::PanelState::Offline) { ", PANEL OFFLINE" } else { "" };
    format!("door       {:<10} {}, {strike}, {open}{alarm}{panel}{fault}", d.door, d.mode.word())
}

impl StatusReport {
    /// This report with what has stopped filled in from `last`, a report made while the
    /// doors ran: at an orderly stop the doors, buses and bundles are gone, and the last
    /// `state` keeps the last figures instead of saying there were none.
    #[must_use]
    pub fn keeping(mut self, last: &StatusReport) -> StatusReport {
        if self.gateway.is_none() {
            self.gateway.clone_from(&last.gateway);
        }
        if self.buses.is_empty() {
            self.buses.clone_from(&last.buses);
        }
        if self.bundles.is_empty() {
            self.bundles.clone_from(&last.bundles);
        }
        if self.intake.is_empty() {
            self.intake.clone_from(&last.intake);
        }
        if self.store.is_none() {
            self.store.clone_from(&last.store);
        }
        if self.names.is_none() {
            self.names.clone_from(&last.names);
        }
        self
    }

    /// The bundles in use, and the last refusal of each authority's documents.
    fn documents_lines(&self, out: &mut String) {
        if self.bundles.is_empty() {
            let _ = writeln!(out, "bundles    none yet: only the door code and the config's rules apply");
        }
        for b in &self.bundles {
            let _ = writeln!(
                out,
                "bundle     {} version {}, {} credential(s), issued {}, expires {}{}{}",
                b.authority,
                b.info.version,
                b.info.entries,
                b.info.issued_at,
                b.info.not_after,
                if b.stale { ", STALE" } else { "" },
                match (b.expiring, b.expires_in_hours) {
                    (false, _) => String::new(),
                    (true, _) if b.expired => match b.grace_until {
                        Some(until) => format!(
                            ", EXPIRED: its credentials stay in use until {until} (expiry_grace): ask {} for a new bundle",
                            b.authority
                        ),
                        None => ", EXPIRED: its credentials are refused".to_owned(),
                    },
                    (true, h) =>
                        format!(", EXPIRES in {} d {} h: ask {} for a new bundle", h / 24, h % 24, b.authority),
                }
            );
        }
        for v in self.intake.iter().filter(|v| !v.accepted) {
            let _ = writeln!(
                out,
                "REFUSED    {} of {}{} at {} ({}): {}",
                v.document,
                v.authority,
                v.version.map(|n| format!(" version {n}")).unwrap_or_default(),
                v.at,
                v.source,
                v.message
            );
        }
    }

    fn store_line(&self) -> String {
        let Some(s) = &self.store else { return "store      DID NOT ANSWER".into() };
        // Without an uplink nothing is uploaded: the records are kept here.
        let outbox = if self.uplink.is_some() {
            format!("{} waiting for upload", s.outbox_depth)
        } else {
            "kept locally (no uplink)".to_owned()
        };
        format!(
            "store      {} of {} MiB used, {} record(s), {outbox}{}",
            s.used_bytes >> 20,
            s.max_bytes >> 20,
            s.head_seq,
            if s.nearly_full { ", NEARLY FULL" } else { "" }
        )
    }

    /// The report in words, for a person on site.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let up = self.uptime_secs;
        let _ = writeln!(
            out,
            "portvakt {} at {}, up {}h {:02}m {:02}s",
            self.version,
            self.site,
            up / 3600,
            up / 60 % 60,
            up % 60
        );
        match &self.gateway {
            None => {
                let _ = writeln!(out, "doors      restarting");
            }
            Some(g) => {
                let clock = match g.clock {
                    crate::core::clock::ClockTrust::Trusted => "trusted".to_owned(),
                    crate::core::clock::ClockTrust::Untrusted(why) => format!("NOT trusted: {}", why.words()),
                };
                let _ = writeln!(out, "clock      {clock}");
                let _ = writeln!(out, "allowlist  {} credential(s)", g.credentials);
                for d in &g.doors {
                    let _ = writeln!(out, "{}", door_line(d));
                }
            }
        }
        for b in &self.buses {
            if let Some(at) = &b.simulated_at {
                let _ = writeln!(out, "bus        {} is the simulated building on modbus tcp://{at}", b.name);
            }
            for (unit, h) in &b.devices {
                let state = if h.online { "online " } else { "OFFLINE" };
                let _ = writeln!(
                    out,
                    "device     {}/{unit:<3} {state} {} requests, {} timeouts, {} exceptions, {} bad replies, {} framing \
                     errors, {} link errors, {} coil corrections, {} frozen heartbeats, last {}.{} ms",
                    b.name,
                    h.requests,
                    h.timeouts,
                    h.exceptions,
                    h.bad_replies,
                    h.framing_errors,
                    h.link_errors,
                    h.coil_corrections,
                    h.heartbeat_stalls,
                    h.last_latency_us / 1000,
                    h.last_latency_us % 1000 / 100
                );
            }
        }
        let _ = writeln!(out, "{}", self.store_line());
        match &self.uplink {
            None => {
                let _ = writeln!(out, "uplink     none configured");
            }
            Some(u) if u.connected => {
                let _ = writeln!(out, "uplink     connected to {}, {} event(s) published", u.broker, u.published);
            }
            Some(u) => {
                let why = u.last_error.as_deref().unwrap_or("connecting");
                let _ = writeln!(out, "uplink     NOT CONNECTED to {}: {why}", u.broker);
            }
        }
        self.documents_lines(&mut out);
        out
    }
}

/// The uplink's condition, for `status` and `doctor`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UplinkStatus {
    /// `mqtts://host:port`.
    pub broker: String,
    /// Whether the broker accepted the connection and it still stands.
    pub connected: bool,
    /// Why the last connection failed or ended.
    pub last_error: Option<String>,
    /// Connections made since start.
    pub connections: u64,
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

/// The result of an update received over MQTT.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct UpdateResult {
    /// The topic it came on.
    pub topic: String,
    /// When.
    pub at: String,
    /// Accepted, or refused.
    pub accepted: bool,
    /// What was taken in, or why not.
    pub message: String,
}
