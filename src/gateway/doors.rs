//! The gateway task: it owns the access state and one state machine per door, and joins
//! the buses to the core. A keypad entry becomes a decision (or a `stale_entry` refusal);
//! a grant releases the strike at once (the relay command goes out before anything else
//! and the board's confirmation is awaited), then the panel shows the outcome (the fault
//! light when the board did not confirm) and the decision goes to the ordered audit
//! writer — the loop never waits on the disk. Contact and exit-button inputs
//! drive the door machines; their events (opened, forced, held open, contact fault) are
//! audited; device outages are audited too. A staff phone that proved its key over BLE
//! is decided the same way (allowlist, or the certificate it presented). Time comes from the edge's clock.
//!
//! It runs as an actor ([`Gateway::spawn`]): bus events in, [`super::handle::Command`]s
//! in, observations out for `watch`. When cancelled it locks every strike (a started
//! pulse ends early, in the safe state), saves the keypad lockouts and stops.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{broadcast, mpsc, watch};

use super::audit_writer::{AuditWriter, Committed};
use super::clock::Clock;
use super::handle::{
    Command, DoorStatus, GatewayStatus, LockState, NewAccess, OBSERVED, Observed, PanelState, PhoneAnswer,
};
use super::strikes::{Relay, Strikes};
use crate::config::{Config, DEFAULT_MAX_ENTRY_AGE};
use crate::core::credential::{PhoneKey, Token};
use crate::core::decide::{AccessRequest, AccessState, Decision, DenyReason, decide, decide_with, handle};
use crate::core::entry_age::refuse_stale;
use crate::core::lockout::LockoutOutcome;
use crate::core::model::{DoorIdx, SitePolicy};
use crate::core::secret::CredentialKey;
use crate::credentials::phone::CertifiedPhone;
use crate::door::machine::{DoorEvent, DoorMachine, Input, Strike};
use crate::modbus::bus::{BusEvent, BusHandle};
use crate::modbus::keypad::{Entered, Feedback};
use crate::store::state::LockoutRow;
use crate::store::{EventKind, NewEvent};

mod bus_events;
mod remote;
mod run_loop;
mod wall_time;

/// Events from all buses, tagged with the bus's position in the config.
pub const EVENTS: usize = 512;

/// How long panels show feedback, in tenths of a second.
const FEEDBACK_TENTHS: u16 = 30;

/// Everything the gateway task owns.
#[derive(Debug)]
pub struct Gateway {
    policy: SitePolicy,
    state: AccessState,
    key: CredentialKey,
    machines: Vec<DoorMachine>,
    strikes: Strikes,
    keypads: HashMap<(usize, u8), DoorIdx>,
    contacts: HashMap<(usize, u8, u16), (DoorIdx, bool)>,
    exits: HashMap<(usize, u8, u16), (DoorIdx, bool)>,
    buses: Vec<BusHandle>,
    bus_names: Vec<String>,
    /// Per bus: entries older than this are refused as stale.
    max_entry_age: Vec<jiff::SignedDuration>,
    audit: AuditWriter,
    clock: Arc<dyn Clock>,
    seen_online: BTreeSet<(usize, u8)>,
    /// Devices reported offline and not back yet.
    offline: BTreeSet<(usize, u8)>,
    /// Per door: whether its free-passage window holds it released (as last told).
    scheduled_open: Vec<bool>,
    /// Wall time minus monotonic time when last looked: a change is a step of the wall clock.
    wall_offset: Option<jiff::SignedDuration>,
    observed: broadcast::Sender<Observed>,
    /// The doors' state as last told to watchers (the uplink publishes each change).
    door_states: watch::Sender<Vec<DoorStatus>>,
    /// Per door: the newest mode change handed to the store, and the newest in effect.
    mode_generation: Vec<u64>,
    mode_applied: Vec<u64>,
}

fn door_idx(i: usize) -> DoorIdx {
    DoorIdx(u8::try_from(i).unwrap_or(u8::MAX))
}

impl Gateway {
    /// Wires the doors of `cfg` to its buses (handles in config order).
    pub fn new(
        cfg: &Config,
        state: AccessState,
        buses: Vec<BusHandle>,
        store: crate::store::Handle,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let bus_index = |name: &str| cfg.buses.iter().position(|b| b.name == name).unwrap_or(usize::MAX);
        let mut g = Self {
            policy: cfg.policy.clone(),
            state,
            key: cfg.credential_key.clone(),
            machines: Vec::new(),
            strikes: Strikes::default(),
            keypads: HashMap::new(),
            contacts: HashMap::new(),
            exits: HashMap::new(),
            buses,
            bus_names: cfg.buses.iter().map(|b| b.name.clone()).collect(),
            max_entry_age: cfg.buses.iter().map(|b| b.max_entry_age).collect(),
            audit: AuditWriter::new(store),
            clock,
            seen_online: BTreeSet::new(),
            offline: BTreeSet::new(),
            scheduled_open: vec![false; cfg.policy.doors.len()],
            wall_offset: None,
            observed: broadcast::channel(OBSERVED).0,
            door_states: watch::channel(Vec::new()).0,
            mode_generation: vec![0; cfg.policy.doors.len()],
            mode_applied: vec![0; cfg.policy.doors.len()],
        };
        for (i, (door, w)) in cfg.policy.doors.iter().zip(&cfg.wiring).enumerate() {
            let idx = door_idx(i);
            g.machines.push(DoorMachine::new(w.held_open_after, door.pulse));
            let bus_timeout = cfg
                .buses
                .iter()
                .find(|b| b.name == w.relay.bus)
                .map_or(Duration::from_millis(500), |b| b.timeout.unsigned_abs());
            g.strikes.push(Relay {
                bus: bus_index(&w.relay.bus),
                unit: w.relay.unit,
                channel: w.relay.channel,
                energize_to_unlock: w.energize_to_unlock,
                confirm_within: bus_timeout * 2 + Duration::from_millis(100),
            });
            if let Some((bus, unit)) = &w.keypad {
                g.keypads.insert((bus_index(bus), *unit), idx);
            }
            if let Some(p) = &w.contact {
                g.contacts.insert((bus_index(&p.bus), p.unit, p.channel), (idx, p.inverted));
            }
            if let Some(p) = &w.exit_button {
                g.exits.insert((bus_index(&p.bus), p.unit, p.channel), (idx, p.inverted));
            }
        }
        g
    }

    /// Takes new credentials and policy; door modes, lockouts and clock trust stay.
    fn replace(&mut self, access: NewAccess) {
        let NewAccess { built, key, .. } = access;
        self.policy = built.policy;
        self.state.allowlist = built.allowlist;
        self.state.revocations = built.revocations;
        self.state.bookings = built.bookings;
        self.key = key;
    }

    fn save_lockouts(&mut self) {
        let rows: Vec<LockoutRow> = self
            .state
            .lockout
            .snapshot()
            .into_iter()
            .filter_map(|(door, locked_until, streak)| {
                self.door_name(door).map(|door| LockoutRow { door, locked_until, streak })
            })
            .collect();
        self.audit.save_lockouts(rows);
    }

    fn status(&self) -> GatewayStatus {
        let doors = self
            .machines
            .iter()
            .enumerate()
            .map(|(i, m)| DoorStatus {
                door: self.door_name(door_idx(i)).unwrap_or_default(),
                mode: self.state.mode(door_idx(i)),
                lock: match self.strikes.reported(i) {
                    Some(Strike::Locked) => LockState::Locked,
                    Some(Strike::Released) => LockState::Released,
                    None => LockState::Unknown,
                },
                strike_fault: self.strikes.reported(i) != Some(m.strike()),
                open: (self.contacts.values().any(|(d, _)| usize::from(d.0) == i) && m.contact_readable())
                    .then(|| m.is_open()),
                held_open: m.held_open(),
                panel: self.keypads.iter().find(|(_, d)| usize::from(d.0) == i).map(|(device, _)| {
                    if self.offline.contains(device) { PanelState::Offline } else { PanelState::Online }
                }),
            })
            .collect();
        GatewayStatus { clock: self.state.clock, credentials: self.state.allowlist.len(), doors }
    }

    /// Tells watchers the doors' state when it differs from what they were last told.
    fn publish_door_states(&self) {
        let now = self.status().doors;
        self.door_states.send_if_modified(|told| {
            let changed = *told != now;
            if changed {
                *told = now;
            }
            changed
        });
    }

    async fn command(&mut self, cmd: Command) {
        match cmd {
            Command::Ping(reply) => {
                let _ = reply.send(());
            }
            Command::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Command::Pulse { door, by, reply } => {
                let result = self.pulse(&door, &by).await;
                let _ = reply.send(result);
            }
            Command::StoreMode { door, mode, reply } => {
                let _ = reply.send(self.store_mode(&door, mode));
            }
            Command::ApplyMode { door, mode, by, generation, reply } => {
                let result = self.apply_mode(&door, mode, &by, generation).await;
                let _ = reply.send(result);
            }
            Command::Phone { door, key, certificate, reply } => {
                let decision = self.on_phone(&door, key, certificate.as_deref()).await;
                let _ = reply.send(decision);
            }
            Command::Replace(access) => self.replace(*access),
            Command::Clock(c) => {
                self.state.clock = c.trust;
                self.state.clock_floor = Some(c.floor);
            }
        }
    }

    fn door_name(&self, door: DoorIdx) -> Option<String> {
        self.policy.door(door).map(|d| d.id.to_string())
    }

    fn event(&self, kind: EventKind, door: Option<DoorIdx>, detail: &serde_json::Value, now: Timestamp) -> NewEvent {
        let door = door.and_then(|d| self.door_name(d));
        NewEvent::system(kind, now, self.state.clock.is_trusted(), door, detail)
    }

    /// Records an event of the gateway's own (never waits on the disk).
    fn system_event(&mut self, kind: EventKind, door: Option<DoorIdx>, detail: &serde_json::Value, now: Timestamp) {
        let event = self.event(kind, door, detail, now);
        self.audit.record(event);
    }

    /// Carries out a decision at `door`: a grant releases the strike for its pulse, and
    /// the board's confirmation (or why not) comes back; a refusal does nothing.
    async fn carry_out(&mut self, decision: &Decision, door: DoorIdx, now: Timestamp) -> Option<Result<(), String>> {
        match decision {
            Decision::Grant { pulse, .. } => Some(self.released(door, Input::Grant(*pulse), now).await),
            Decision::Deny { .. } => None,
        }
    }

    /// Feeds a door's machine and, for a grant, says whether its board confirmed the
    /// strike released (it may have been released already: then its reading decides).
    async fn released(&mut self, door: DoorIdx, input: Input, now: Timestamp) -> Result<(), String> {
        match self.drive(door, input, now).await {
            Some(outcome) => outcome,
            None if self.strikes.reported(usize::from(door.0)) == Some(Strike::Released) => Ok(()),
            None => Err("the relay board does not report the strike released".into()),
        }
    }

    /// Feeds a door machine (on monotonic time) and carries out what it says; `now` is the
    /// wall time its events are audited with. Returns the board's answer when the strike
    /// was driven.
    async fn drive(&mut self, door: DoorIdx, input: Input, now: Timestamp) -> Option<Result<(), String>> {
        let mono = self.clock.monotonic();
        let machine = self.machines.get_mut(usize::from(door.0))?;
        let out = machine.step(input, mono);
        let mut driven = None;
        if let Some(strike) = out.strike {
            driven = Some(self.strikes.set(&self.buses, usize::from(door.0), strike).await);
        }
        // What the board reports decides how an opening is recorded: a door that opens
        // while its board reports the strike locked (a write it lost) was forced, whatever
        // the gateway asked for; one that opens unasked while the board reports it released
        // (a coil stuck or set behind the gateway's back) is forced with that said.
        let reported = self.strikes.reported(usize::from(door.0));
        for e in out.events {
            let (kind, detail) = match e {
                DoorEvent::Opened if reported == Some(Strike::Locked) => {
                    (EventKind::DoorForcedOpen, serde_json::json!({"strike": "locked as the relay board reports it"}))
                }
                DoorEvent::Opened => (EventKind::DoorOpened, serde_json::json!({})),
                DoorEvent::ForcedOpen if reported == Some(Strike::Released) => {
                    (EventKind::DoorForcedOpen, serde_json::json!({"strike": "released as the relay board reports it"}))
                }
                DoorEvent::ForcedOpen => (EventKind::DoorForcedOpen, serde_json::json!({})),
                DoorEvent::Closed => (EventKind::DoorClosed, serde_json::json!({})),
                DoorEvent::HeldOpen => (EventKind::DoorHeldOpen, serde_json::json!({})),
                DoorEvent::ContactFault => (EventKind::DoorContactFault, serde_json::json!({"readable": false})),
                DoorEvent::ContactRestored => (EventKind::DoorContactFault, serde_json::json!({"readable": true})),
            };
            self.system_event(kind, Some(door), &detail, now);
        }
        driven
    }

    async fn on_entry(&mut self, bus: usize, unit: u8, entered: &Entered, age_secs: Option<u16>) {
        let Some(&door) = self.keypads.get(&(bus, unit)) else {
            log::warn!("entry from panel {unit} on bus {bus}, which no door uses");
            return;
        };
        let now = self.clock.now();
        self.follow_wall_steps(now);
        let req = AccessRequest { door, token: entered.token(&self.key) };
        let max_age = self.max_entry_age.get(bus).copied().unwrap_or(DEFAULT_MAX_ENTRY_AGE);
        let (decision, lockout) = match refuse_stale(&self.policy, &self.state, &req, age_secs, max_age) {
            Some(stale) => (stale, None),
            None => handle(&self.policy, &mut self.state, &req, now),
        };
        // The strike first: unlock latency is bounded by the bus, not by the audit log.
        let released = self.carry_out(&decision, door, now).await;
        let feedback = match (&decision, lockout) {
            (Decision::Grant { .. }, _) if released.as_ref().is_some_and(Result::is_err) => Feedback::Fault,
            (Decision::Grant { .. }, _) => Feedback::Granted,
            (_, Some(LockoutOutcome::LockedUntil(_)))
            | (Decision::Deny { reason: DenyReason::KeypadLockedOut { .. }, .. }, _) => Feedback::LockedOut,
            _ => Feedback::Refused,
        };
        if let Some(b) = self.buses.get(bus) {
            b.feedback(unit, feedback, FEEDBACK_TENTHS).await;
        }
        self.audit.record(decision_event(&decision, released.as_ref(), now));
        if let Some(LockoutOutcome::LockedUntil(until)) = lockout {
            let detail = serde_json::json!({ "until": until.to_string() });
            self.system_event(EventKind::KeypadLockedOut, Some(door), &detail, now);
            self.save_lockouts();
        }
    }

    async fn on_phone(&mut self, door: &str, key: PhoneKey, certificate: Option<&CertifiedPhone>) -> PhoneAnswer {
        let now = self.clock.now();
        // An unknown door gets an index no door has: the core refuses it as unknown.
        let idx = door.parse().ok().and_then(|d| self.policy.door_index(&d)).unwrap_or(DoorIdx(u8::MAX));
        let req = AccessRequest { door: idx, token: Token::Phone(key) };
        let decision = match certificate {
            Some(c) => decide_with(&self.policy, &self.state, &req, &c.credential, now),
            None => decide(&self.policy, &self.state, &req, now),
        };
        let released = self.carry_out(&decision, idx, now).await;
        let mut committed = Committed::default();
        let mut event = decision_event(&decision, released.as_ref(), now);
        if let Some(c) = certificate {
            for (key, value) in [("issuer", &c.issuer), ("delegation", &c.delegation)] {
                if let Some(value) = value {
                    event = event.with_detail(key, value);
                }
            }
        }
        self.audit.record_into(event, &mut committed);
        PhoneAnswer { decision, released, committed }
    }

    /// Lets time pass for every door (pulses end, held-open alarms fire).
    pub async fn tick(&mut self) {
        let now = self.clock.now();
        for i in 0..self.machines.len() {
            self.drive(door_idx(i), Input::Tick, now).await;
        }
    }

    /// Locks every strike and applies the stored door modes (at start).
    pub async fn start(&mut self) {
        self.lock_all("start").await;
        let now = self.clock.now();
        self.follow_wall_steps(now);
        for i in 0..self.machines.len() {
            let door = door_idx(i);
            let mode = self.state.mode(door);
            self.drive(door, Input::Mode(mode), now).await;
        }
    }

    /// Locks every strike, whatever its door machine thinks (at start and stop: the safe
    /// state); a strike its board does not confirm is logged (the bus keeps trying).
    async fn lock_all(&mut self, when: &str) {
        for (door, why) in self.strikes.lock_all(&self.buses).await {
            let name = self.door_name(door_idx(door)).unwrap_or_default();
            log::error!("door {name}: strike not confirmed locked at {when}: {why}");
        }
    }
}

/// The audit record of a decision: a grant whose release the relay board did not confirm
/// is recorded as `access.strike_failed` with why, not as a plain grant.
fn decision_event(decision: &Decision, released: Option<&Result<(), String>>, now: Timestamp) -> NewEvent {
    let event = NewEvent::from_decision(decision, now);
    match released {
        Some(Err(why)) => event.strike_failed(why),
        _ => event,
    }
}

/// Forwards one bus's events to the gateway, tagged with the bus's index.
pub fn tag_events(
    bus: usize,
    mut from: mpsc::Receiver<BusEvent>,
    to: mpsc::Sender<(usize, BusEvent)>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(e) = from.recv().await {
            if to.send((bus, e)).await.is_err() {
                break;
            }
        }
    })
}
