//! Configuration: layered loading (built-in defaults, the main file, `conf.d/*.toml` in
//! name order, `PORTVAKT__SECTION__KEY` environment variables), a raw serde form with
//! `deny_unknown_fields`, and validation into typed structs that reports every problem
//! with its key path. Secrets (the credential key, the door code) are read from files
//! named in the config and never printed.

mod authority;
mod ble;
mod buses;
mod checkpoints;
mod daemon;
mod doors;
mod fields;
mod grant;
mod load;
mod locate;
mod problems;
mod raw;
mod rights;
mod roles;
mod schedules;
mod store;
mod strict;
mod uplink;
mod validate;

use std::path::PathBuf;

use jiff::SignedDuration;

use crate::core::ids::SiteId;
use crate::core::model::SitePolicy;
use crate::core::secret::CredentialKey;

pub use authority::{AuthorityClass, AuthorityConfig, door_names};
pub use ble::{BleConfig, Rate};
pub use buses::DEFAULT_MAX_ENTRY_AGE;
pub use checkpoints::CheckpointConfig;
pub use daemon::{DEFAULT_CONTROL_SOCKET, DaemonConfig};
pub use grant::{DoorRule, SiteGrant, site_grant};
pub use load::{DEFAULT_CONFIG_PATH, LoadOptions, control_socket_of, from_layers, load};
pub use problems::{ConfigError, Problem};
pub use rights::{Granted, Rights};
pub use store::{PersonalRetention, StoreOptions};
pub use uplink::{ConfirmOn, Security, UplinkConfig, is_loopback, parse_broker, tls_client};
pub use validate::{DEFAULT_INBOX, DEFAULT_STORE_PATH, owner_policy};

/// A validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// The site's id and name.
    pub site: SiteInfo,
    /// The inbox for signed documents and the staleness limit.
    pub intake: IntakeConfig,
    /// Where the audit store lives, its size cap and retention.
    pub store: StoreOptions,
    /// The device key and how often the audit chain is checkpointed.
    pub checkpoints: CheckpointConfig,
    /// How the daemon runs.
    pub daemon: DaemonConfig,
    /// The MQTT uplink, if the site has one.
    pub uplink: Option<UplinkConfig>,
    /// Staff phones over Bluetooth LE, if served.
    pub ble: Option<BleConfig>,
    /// The authorities whose signatures the gateway accepts, each with its door scope.
    pub authorities: Vec<AuthorityConfig>,
    /// Modbus buses and their devices.
    pub buses: Vec<BusConfig>,
    /// How each door is wired, in the same order as `policy.doors`.
    pub wiring: Vec<DoorWiring>,
    /// The access policy the core decides with.
    pub policy: SitePolicy,
    /// The key for PIN and tag digests.
    pub credential_key: CredentialKey,
    /// The files that were read, in layer order.
    pub files: Vec<PathBuf>,
    /// Things that work but deserve attention (e.g. a secret file others can read).
    pub warnings: Vec<Problem>,
}

impl Config {
    /// How long `authority`'s credentials stay in use past its bundle's end (zero for an
    /// authority the config does not name).
    pub fn expiry_grace(&self, authority: &str) -> SignedDuration {
        self.authorities
            .iter()
            .find(|a| a.id.as_str() == authority)
            .map_or(SignedDuration::ZERO, |a| a.rights.expiry_grace)
    }
}

/// Credential intake settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeConfig {
    /// The directory signed documents are dropped into.
    pub inbox: PathBuf,
    /// A bundle older than this is reported stale (alarm in state and `doctor`).
    pub stale_after: SignedDuration,
    /// A bundle that ends within this long is warned about (status, state, doctor, audit).
    pub expiry_warning: SignedDuration,
}

/// The site's identity.
#[derive(Debug, Clone)]
pub struct SiteInfo {
    /// Its id, used in MQTT topics.
    pub id: SiteId,
    /// A human name ("Storgatan 12").
    pub name: String,
}

/// How a bus is reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusLink {
    /// Modbus RTU over a serial port (RS-485).
    Rtu {
        /// The serial device, preferably `/dev/serial/by-id/...`.
        device: String,
        /// Baud rate.
        baud: u32,
        /// Parity.
        parity: Parity,
        /// Stop bits (1 or 2).
        stop_bits: u8,
    },
    /// Modbus TCP.
    Tcp {
        /// `host:port`.
        address: String,
    },
    /// The simulated building, served by the daemon itself over Modbus TCP on loopback
    /// (for running without hardware: a laptop, the demo, tests).
    Sim,
}

/// Serial parity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parity {
    /// None.
    None,
    /// Even (the Modbus default).
    Even,
    /// Odd.
    Odd,
}

/// A built-in device profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// The Portvakt keypad panel register map.
    PortvaktKeypad,
    /// A generic N-channel coil relay board.
    RelayCoils,
    /// A generic discrete input module.
    DiscreteInputs,
}

impl Profile {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PortvaktKeypad => "portvakt-keypad",
            Self::RelayCoils => "relay-coils",
            Self::DiscreteInputs => "discrete-inputs",
        }
    }
}

/// One device on a bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// Modbus unit id (1 to 247).
    pub unit: u8,
    /// A name for people.
    pub name: String,
    /// Its register map.
    pub profile: Profile,
    /// Relay or input channels (1-based in config).
    pub channels: u16,
}

/// One bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusConfig {
    /// Its name.
    pub name: String,
    /// How it is reached.
    pub link: BusLink,
    /// Per-request timeout.
    pub timeout: SignedDuration,
    /// How often inputs are polled.
    pub poll_interval: SignedDuration,
    /// A keypad entry older than this when the gateway reads it is refused as stale
    /// (the person has left): panels of the current keypad map say each entry's age.
    pub max_entry_age: SignedDuration,
    /// Devices on it.
    pub devices: Vec<DeviceConfig>,
}

/// A channel of a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// Bus name.
    pub bus: String,
    /// Unit id.
    pub unit: u8,
    /// Channel (1-based).
    pub channel: u16,
    /// Whether the signal is active-low.
    pub inverted: bool,
}

/// How a door is wired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorWiring {
    /// The relay driving the strike.
    pub relay: Point,
    /// True when energising the relay unlocks (fail-secure strike).
    pub energize_to_unlock: bool,
    /// The door contact.
    pub contact: Option<Point>,
    /// The exit button.
    pub exit_button: Option<Point>,
    /// The keypad panel: bus name and unit.
    pub keypad: Option<(String, u8)>,
    /// After how long an open door raises "held open".
    pub held_open_after: SignedDuration,
}
