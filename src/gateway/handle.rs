//! The gateway's mailbox: what the rest of the daemon may ask of it (a liveness ping for
//! the watchdog, the doors' state for `status`, a pulse from the control socket, new
//! access inputs after intake or reload, the clock's trust) and the cloneable [`Handle`]
//! that sends it.
//!
//! Channel: bounded at [`COMMANDS`]; senders wait (a pulse or new credentials are never
//! dropped). Observations for `watch` go out on a broadcast channel of [`OBSERVED`]
//! places: a slow watcher loses the oldest lines and is told how many, the doors never wait.
//! The doors' state is a `watch` value, replaced whenever it changes.

use tokio::sync::{broadcast, mpsc, oneshot, watch};

use crate::core::clock::{ClockState, ClockTrust};
use crate::core::credential::PhoneKey;
use crate::core::decide::Decision;
use crate::core::model::DoorMode;
use crate::core::secret::CredentialKey;
use crate::credentials::phone::CertifiedPhone;
use crate::credentials::registry::Built;
use crate::modbus::bus::BusEvent;

pub use super::audit_writer::Committed;

/// Who asked for a door to change on their say-so: in words for the record (`detail.by`),
/// and whose the record is (`docs/audit.md`, Audiences): the signing authority, or the
/// site for a local command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// In words (`mqtt: hemtjansten (cmd-17)`, `control socket`).
    pub by: String,
    /// The record's audience.
    pub audience: String,
}

impl Actor {
    /// Someone on the box (the control socket): the building's own record.
    pub fn local(by: &str) -> Self {
        Self { by: by.to_owned(), audience: crate::store::record::SITE.to_owned() }
    }

    /// An authority's signed command.
    pub fn authority(by: String, authority: &str) -> Self {
        Self { by, audience: authority.to_owned() }
    }
}

/// Commands waiting for the gateway, at most.
pub const COMMANDS: usize = 32;
/// Observations kept for slow watchers.
pub const OBSERVED: usize = 256;

/// One door as the gateway sees it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DoorStatus {
    /// The door's id.
    pub door: String,
    /// Its mode.
    pub mode: DoorMode,
    /// The strike as its relay board reports it (a confirmed write or a read-back).
    pub lock: LockState,
    /// The board does not report the strike as the gateway wants it (or cannot be read).
    pub strike_fault: bool,
    /// Whether the door stands open (`None`: no contact, or unreadable).
    pub open: Option<bool>,
    /// Whether it is held open past its limit.
    pub held_open: bool,
    /// Its keypad panel, if it has one: online, or offline (silent, or its heartbeat
    /// frozen for 3 s).
    pub panel: Option<PanelState>,
}

/// A door's keypad panel as the bus sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PanelState {
    /// It answers and its heartbeat moves.
    Online,
    /// It does not answer, or answers with a frozen heartbeat.
    Offline,
}

/// A strike as its relay board reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LockState {
    /// Locked.
    Locked,
    /// Released.
    Released,
    /// Not known: the board has not answered yet, is offline, or did not confirm a write.
    Unknown,
}

impl LockState {
    /// The word used in `status` and on MQTT.
    pub fn word(self) -> &'static str {
        match self {
            Self::Locked => "locked",
            Self::Released => "released",
            Self::Unknown => "unknown",
        }
    }
}

/// The gateway's state, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct GatewayStatus {
    /// Whether the wall clock is trusted.
    pub clock: ClockTrust,
    /// Credentials in the allowlist.
    pub credentials: usize,
    /// Every door.
    pub doors: Vec<DoorStatus>,
}

/// What happened on a bus, as the gateway saw it (for `watch`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observed {
    /// The bus's name.
    pub bus: String,
    /// What it reported.
    pub event: BusEvent,
}

/// New access inputs: credentials and the policy built from them, and the key that
/// turns entered codes into digests.
#[derive(Debug)]
pub struct NewAccess {
    /// What the credentials code built.
    pub built: Built,
    /// The site's credential key.
    pub key: CredentialKey,
    /// The access actor's build counter: a build is never replaced by an older one (an
    /// intake's build queued behind a reload's must not undo it). 0 at start.
    pub generation: u64,
}

/// What the gateway answers a phone.
#[derive(Debug)]
pub struct PhoneAnswer {
    /// The decision.
    pub decision: Decision,
    /// For a grant: whether the relay board confirmed the strike released, or why not.
    pub released: Option<Result<(), String>>,
    /// The decision's record: wait on it before telling the phone.
    pub committed: Committed,
}

/// A request to the gateway.
#[derive(Debug)]
pub enum Command {
    /// Answer when the loop gets to it (the watchdog's liveness probe).
    Ping(oneshot::Sender<()>),
    /// Report the doors.
    Status(oneshot::Sender<GatewayStatus>),
    /// Release a door's strike for its pulse, on someone's say-so (audited).
    Pulse {
        /// The door's id.
        door: String,
        /// Who asked.
        by: Actor,
        /// Done (the record to wait on), or why not.
        reply: oneshot::Sender<Result<Committed, String>>,
    },
    /// First half of a mode change: store the door's new mode (sealed); the reply is the
    /// write to wait on and the change's generation for [`Command::ApplyMode`].
    StoreMode {
        /// The door's id.
        door: String,
        /// The new mode.
        mode: DoorMode,
        /// The write to wait on and the generation, or why not.
        reply: oneshot::Sender<Result<(Committed, u64), String>>,
    },
    /// Second half: the stored mode takes effect (unless a later one was stored) and is
    /// audited.
    ApplyMode {
        /// The door's id.
        door: String,
        /// The new mode.
        mode: DoorMode,
        /// Who asked.
        by: Actor,
        /// The generation [`Command::StoreMode`] answered.
        generation: u64,
        /// The record to wait on, or why not.
        reply: oneshot::Sender<Result<Committed, String>>,
    },
    /// A staff phone proved possession of `key` for `door` (BLE): decide, pulse on a
    /// grant, audit, and answer with the decision.
    Phone {
        /// The door's id as the phone named it.
        door: String,
        /// The key the phone proved.
        key: PhoneKey,
        /// The credential from a verified certificate, when the phone presented one
        /// (otherwise the key is looked up in the allowlist).
        certificate: Option<Box<CertifiedPhone>>,
        /// The decision, and whether the board confirmed the release.
        reply: oneshot::Sender<PhoneAnswer>,
    },
    /// Use these credentials and this policy from now on (modes, lockouts and the door
    /// machines are kept).
    Replace(Box<NewAccess>),
    /// The clock's trust changed.
    Clock(ClockState),
}

const STOPPED: &str = "the gateway has stopped";

/// The cloneable way to reach the gateway.
#[derive(Debug, Clone)]
pub struct Handle {
    pub(super) tx: mpsc::Sender<Command>,
    pub(super) observed: broadcast::Sender<Observed>,
    pub(super) door_states: watch::Receiver<Vec<DoorStatus>>,
}

impl Handle {
    /// Whether the gateway's loop answers.
    pub async fn ping(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Ping(tx)).await.is_ok() && rx.await.is_ok()
    }

    /// The doors' state, or `None` when the gateway has stopped.
    pub async fn status(&self) -> Option<GatewayStatus> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Status(tx)).await.ok()?;
        rx.await.ok()
    }

    /// Pulses a door's strike. When its record cannot be stored, the error says that the
    /// door was pulsed all the same.
    pub async fn pulse(&self, door: &str, by: Actor) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Pulse { door: door.to_owned(), by, reply };
        self.tx.send(cmd).await.map_err(|_| STOPPED.to_owned())?;
        let committed = rx.await.map_err(|_| STOPPED.to_owned())??;
        committed.wait().await.map_err(|e| format!("the door was pulsed, but its record could not be stored: {e}"))
    }

    /// Sets a door's mode: durable first, then in effect, then audited. Every error says
    /// what happened: nothing (the mode could not be stored, the door keeps its mode), or
    /// the mode is stored and in effect but its record could not be stored.
    pub async fn set_mode(&self, door: &str, mode: DoorMode, by: Actor) -> Result<(), String> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::StoreMode { door: door.to_owned(), mode, reply };
        self.tx.send(cmd).await.map_err(|_| STOPPED.to_owned())?;
        let (stored, generation) = rx.await.map_err(|_| STOPPED.to_owned())??;
        stored.wait().await.map_err(|e| format!("{e}; nothing changed: the door keeps its mode"))?;
        let (reply, rx) = oneshot::channel();
        let cmd = Command::ApplyMode { door: door.to_owned(), mode, by, generation, reply };
        let stopped = "the mode is stored and takes effect at the next start: the gateway has stopped";
        self.tx.send(cmd).await.map_err(|_| stopped.to_owned())?;
        let recorded = rx.await.map_err(|_| stopped.to_owned())??;
        recorded.wait().await.map_err(|e| {
            format!(
                "the door is now in {} and the mode is stored, but its record could not be stored: {e}",
                mode.word()
            )
        })
    }

    /// Decides for a phone that proved its key; `None` when the gateway has stopped.
    pub async fn phone(&self, door: &str, key: PhoneKey, certificate: Option<CertifiedPhone>) -> Option<PhoneAnswer> {
        let (reply, rx) = oneshot::channel();
        let cmd = Command::Phone { door: door.to_owned(), key, certificate: certificate.map(Box::new), reply };
        self.tx.send(cmd).await.ok()?;
        rx.await.ok()
    }

    /// Swaps in new access inputs.
    pub async fn replace(&self, access: NewAccess) -> bool {
        self.tx.send(Command::Replace(Box::new(access))).await.is_ok()
    }

    /// Tells the gateway the clock's trust and floor.
    pub async fn clock(&self, trust: ClockState) -> bool {
        self.tx.send(Command::Clock(trust)).await.is_ok()
    }

    /// Bus events from now on, for `watch`.
    pub fn observe(&self) -> broadcast::Receiver<Observed> {
        self.observed.subscribe()
    }

    /// The doors' state, changed as soon as a door's lock, contact, mode or alarm changes
    /// (the uplink publishes from it).
    pub fn door_states(&self) -> watch::Receiver<Vec<DoorStatus>> {
        self.door_states.clone()
    }
}
