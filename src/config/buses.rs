//! `[[buses]]` and their devices validated into [`BusConfig`]s, and the points (bus, unit,
//! channel) doors are wired to.

use std::collections::{BTreeSet, HashSet};

use jiff::SignedDuration;

use super::fields::{duration, duration_within, known};
use super::problems::Problems;
use super::raw::{RawBus, RawPoint};
use super::{BusConfig, BusLink, DeviceConfig, Parity, Point, Profile};

/// A keypad entry older than this is refused as stale unless `[[buses]] max_entry_age` says otherwise.
pub const DEFAULT_MAX_ENTRY_AGE: SignedDuration = SignedDuration::from_secs(10);

pub(super) fn bus(i: usize, raw: &RawBus, p: &mut Problems) -> BusConfig {
    let path = format!("buses[{i}]");
    let link = match raw.kind.as_str() {
        "rtu" => {
            let device = raw.device.clone().unwrap_or_else(|| {
                p.push(format!("{path}.device"), "an rtu bus needs device = \"/dev/serial/by-id/...\"");
                String::new()
            });
            let parity = match raw.parity.as_deref().unwrap_or("even") {
                "none" => Parity::None,
                "even" => Parity::Even,
                "odd" => Parity::Odd,
                other => {
                    p.push(format!("{path}.parity"), format!("\"{other}\" is not a parity; use none, even or odd"));
                    Parity::Even
                }
            };
            let stop_bits = raw.stop_bits.unwrap_or(1);
            if !matches!(stop_bits, 1 | 2) {
                p.push(format!("{path}.stop_bits"), format!("{stop_bits} stop bits; use 1 or 2"));
            }
            let baud = raw.baud.unwrap_or(9600);
            if !(1200..=921_600).contains(&baud) {
                p.push(format!("{path}.baud"), format!("{baud} baud is outside 1200 to 921600"));
            }
            BusLink::Rtu { device, baud, parity, stop_bits }
        }
        "sim" => BusLink::Sim,
        "tcp" => {
            let address = raw.address.clone().unwrap_or_default();
            if address.rsplit_once(':').is_none_or(|(h, port)| h.is_empty() || port.parse::<u16>().is_err()) {
                p.push(format!("{path}.address"), format!("\"{address}\" is not host:port (e.g. \"192.0.2.10:502\")"));
            }
            BusLink::Tcp { address }
        }
        other => {
            p.push(format!("{path}.kind"), format!("\"{other}\" is not a bus kind; use \"rtu\", \"tcp\" or \"sim\""));
            BusLink::Tcp { address: String::new() }
        }
    };
    let timeout = duration(raw.timeout.as_deref(), SignedDuration::from_millis(500), &format!("{path}.timeout"), p);
    let poll_interval =
        duration(raw.poll_interval.as_deref(), SignedDuration::from_millis(50), &format!("{path}.poll_interval"), p);
    let max_entry_age = duration_within(
        raw.max_entry_age.as_deref(),
        DEFAULT_MAX_ENTRY_AGE,
        (SignedDuration::from_secs(1), SignedDuration::from_mins(10)),
        &format!("{path}.max_entry_age"),
        p,
    );
    let mut devices = Vec::new();
    let mut units = HashSet::new();
    for (j, d) in raw.devices.iter().enumerate() {
        let dp = format!("{path}.devices[{j}]");
        if !(1..=247).contains(&d.unit) {
            p.push(format!("{dp}.unit"), format!("unit {} is outside 1 to 247", d.unit));
        }
        if !units.insert(d.unit) {
            p.push(format!("{dp}.unit"), format!("unit {} is defined twice on bus \"{}\"", d.unit, raw.name));
        }
        let profile = match d.profile.as_str() {
            "portvakt-keypad" => Profile::PortvaktKeypad,
            "relay-coils" => Profile::RelayCoils,
            "discrete-inputs" => Profile::DiscreteInputs,
            other => {
                p.push(
                    format!("{dp}.profile"),
                    format!("\"{other}\" is not a profile; use portvakt-keypad, relay-coils or discrete-inputs"),
                );
                continue;
            }
        };
        let channels = d.channels.unwrap_or(if profile == Profile::PortvaktKeypad { 0 } else { 8 });
        devices.push(DeviceConfig {
            unit: d.unit,
            name: d.name.clone().unwrap_or_else(|| format!("unit {}", d.unit)),
            profile,
            channels,
        });
    }
    BusConfig { name: raw.name.clone(), link, timeout, poll_interval, max_entry_age, devices }
}

/// Checks a reference to a device (and channel) and returns the device.
pub(super) fn device<'a>(
    buses: &'a [BusConfig],
    bus: &str,
    unit: u8,
    want: Profile,
    path: &str,
    p: &mut Problems,
) -> Option<&'a DeviceConfig> {
    let Some(b) = buses.iter().find(|b| b.name == bus) else {
        p.push(
            format!("{path}.bus"),
            format!("bus \"{bus}\" is not defined ({})", known(buses.iter().map(|b| &b.name))),
        );
        return None;
    };
    let Some(d) = b.devices.iter().find(|d| d.unit == unit) else {
        p.push(format!("{path}.unit"), format!("unit {unit} is not defined on bus \"{bus}\""));
        return None;
    };
    if d.profile != want {
        p.push(
            format!("{path}.unit"),
            format!(
                "unit {unit} on bus \"{bus}\" is a {} device; this needs a {} device",
                d.profile.as_str(),
                want.as_str()
            ),
        );
        return None;
    }
    Some(d)
}

pub(super) fn point(buses: &[BusConfig], raw: &RawPoint, want: Profile, path: &str, p: &mut Problems) -> Point {
    if let Some(d) = device(buses, &raw.bus, raw.unit, want, path, p)
        && !(1..=d.channels).contains(&raw.channel)
    {
        p.push(
            format!("{path}.channel"),
            format!("channel {} is outside 1 to {} of \"{}\"", raw.channel, d.channels, d.name),
        );
    }
    Point { bus: raw.bus.clone(), unit: raw.unit, channel: raw.channel, inverted: raw.inverted }
}

pub(super) fn buses(raw: &[Option<RawBus>], problems: &mut Problems) -> Vec<BusConfig> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for (i, given) in raw.iter().enumerate() {
        let Some(given) = given else { continue };
        // Its name goes into topics, the devices table and alarms: an id like any other.
        if let Err(e) = crate::core::ids::valid(&given.name) {
            problems.push(format!("buses[{i}].name"), e.to_string());
        }
        if !names.insert(given.name.clone()) {
            problems.push(format!("buses[{i}].name"), format!("bus \"{}\" is defined twice", given.name));
        }
        out.push(bus(i, given, problems));
    }
    out
}
