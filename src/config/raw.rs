//! The raw configuration: exactly what an installer writes in TOML, with
//! `deny_unknown_fields` everywhere and plain strings for times, durations and ids.
//! [`super::validate`] turns it into typed structs and reports every problem.

use serde::Deserialize;

/// `[site]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSite {
    pub id: String,
    pub name: Option<String>,
    #[serde(default = "default_timezone")]
    pub timezone: String,
}

fn default_timezone() -> String {
    "Europe/Stockholm".into()
}

/// `[holidays]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHolidays {
    #[serde(default = "default_calendar")]
    pub calendar: String,
    #[serde(default = "yes")]
    pub eves: bool,
    #[serde(default)]
    pub extra: Vec<String>,
}

impl Default for RawHolidays {
    fn default() -> Self {
        Self { calendar: default_calendar(), eves: true, extra: Vec::new() }
    }
}

fn default_calendar() -> String {
    "sweden".into()
}

fn yes() -> bool {
    true
}

/// `[credentials]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCredentials {
    pub hash_key_file: String,
    pub inbox: Option<String>,
    pub stale_after_days: Option<u32>,
    pub expiry_warning_days: Option<u32>,
}

/// `[daemon]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDaemon {
    pub control_socket: Option<String>,
    pub log_level: Option<String>,
    pub intake_interval: Option<String>,
}

/// `[store]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStore {
    pub path: Option<String>,
    pub max_size_mib: Option<u64>,
    pub retention_days: Option<u32>,
    pub residents_days: Option<u32>,
    pub staff_days: Option<u32>,
    pub device_key: Option<String>,
    pub checkpoint_interval: Option<String>,
}

/// `[clock]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawClock {
    #[serde(default)]
    pub while_untrusted: RawUntrusted,
    pub synchronized_flag: Option<String>,
    pub jump_tolerance: Option<String>,
}

/// `[clock.while_untrusted]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUntrusted {
    pub phone: Option<String>,
    pub tag: Option<String>,
    pub pin: Option<String>,
    pub door_code: Option<String>,
}

/// `[keypad_lockout]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLockout {
    pub max_failures: Option<u32>,
    pub window: Option<String>,
    pub first_lockout: Option<String>,
    pub max_lockout: Option<String>,
}

/// `[roles.<id>]`
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRole {
    #[serde(default)]
    pub lockdown_override: bool,
    pub description: Option<String>,
}

/// `[schedules.<id>]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    #[serde(default)]
    pub windows: Vec<RawWindow>,
    #[serde(default)]
    pub active: Vec<RawDateRange>,
    #[serde(default)]
    pub exceptions: Vec<RawException>,
    #[serde(default = "default_on_holiday")]
    pub on_holiday: String,
}

fn default_on_holiday() -> String {
    "normal".into()
}

/// One week-day window.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWindow {
    pub days: String,
    pub from: String,
    pub to: String,
}

/// A span within a day, for exceptions.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpan {
    pub from: String,
    pub to: String,
}

/// An inclusive date range.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDateRange {
    pub from: String,
    pub to: String,
}

/// A date that replaces the week-day windows.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawException {
    pub date: String,
    #[serde(default)]
    pub closed: bool,
    #[serde(default)]
    pub open: Vec<RawSpan>,
}

/// `[[buses]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBus {
    pub name: String,
    pub kind: String,
    pub device: Option<String>,
    pub address: Option<String>,
    pub baud: Option<u32>,
    pub parity: Option<String>,
    pub stop_bits: Option<u8>,
    pub timeout: Option<String>,
    pub poll_interval: Option<String>,
    pub max_entry_age: Option<String>,
    #[serde(default)]
    pub devices: Vec<RawDevice>,
}

/// `[[buses.devices]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDevice {
    pub unit: u8,
    pub name: Option<String>,
    pub profile: String,
    pub channels: Option<u16>,
}

/// A reference to a channel of a device on a bus.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPoint {
    pub bus: String,
    pub unit: u8,
    pub channel: u16,
    #[serde(default)]
    pub inverted: bool,
}

/// A door's relay.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRelay {
    pub bus: String,
    pub unit: u8,
    pub channel: u16,
    #[serde(default = "yes")]
    pub energize_to_unlock: bool,
}

/// A door's keypad panel.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawKeypad {
    pub bus: String,
    pub unit: u8,
}

/// A door's booking grace.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBooking {
    pub grace_before: Option<String>,
    pub grace_after: Option<String>,
}

/// One access rule of a door.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    pub role: String,
    pub schedule: Option<String>,
    #[serde(default)]
    pub booking: bool,
}

/// `[[doors]]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDoor {
    pub id: String,
    pub name: Option<String>,
    #[serde(default = "default_kind")]
    pub kind: String,
    pub relay: RawRelay,
    pub contact: Option<RawPoint>,
    pub exit_button: Option<RawPoint>,
    pub keypad: Option<RawKeypad>,
    pub pulse: Option<String>,
    pub held_open_after: Option<String>,
    pub free_passage: Option<String>,
    pub booking: Option<RawBooking>,
    #[serde(default)]
    pub access: Vec<RawRule>,
}

fn default_kind() -> String {
    "other".into()
}

/// `[door_code]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDoorCode {
    pub code_file: String,
    pub schedule: String,
    pub doors: Vec<String>,
}
