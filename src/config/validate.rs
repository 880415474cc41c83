//! Validation: the merged layers, section by section, into a typed [`Config`]. Each
//! section (and each door, bus, role and schedule) is deserialized on its own, so one
//! malformed entry does not hide problems elsewhere; then every cross-reference is
//! checked. All problems are collected with their key paths.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use config::Value;
use jiff::SignedDuration;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::de::DeserializeOwned;

use super::authority::{RawAuthority, authorities, check_owner_present};
use super::problems::{ConfigError, Problems};
use super::raw::{
    RawBus, RawClock, RawCredentials, RawDaemon, RawDoor, RawDoorCode, RawHolidays, RawLockout, RawPoint, RawRole,
    RawSchedule, RawSite, RawStore,
};
use super::{BusConfig, BusLink, Config, DeviceConfig, DoorWiring, IntakeConfig, Parity, Point, Profile, SiteInfo};
use crate::core::holidays::HolidayCalendar;
use crate::core::ids::{DoorId, RoleId, ScheduleId, SiteId};
use crate::core::model::{
    Door, DoorCode, DoorIdx, DoorKind, DoorRule, DoorSet, LockoutPolicy, MAX_DOORS, Role, RoleIdx, ScheduleIdx,
    SitePolicy, UntrustedAction, UntrustedClockPolicy,
};
use crate::core::schedule::{
    DAY_SECONDS, DateRange, Exception, HolidayRule, Schedule, Span, WeekWindow, WeekdaySet, parse_time_of_day,
};
use crate::core::secret::{CredentialKey, check_pin};
use crate::store::StoreOptions;

/// Where the store lives unless the config says otherwise (systemd's StateDirectory).
pub const DEFAULT_STORE_PATH: &str = "/var/lib/portvakt/portvakt.db";

/// Where signed documents are dropped unless the config says otherwise.
pub const DEFAULT_INBOX: &str = "/var/lib/portvakt/inbox";

const SECTIONS: [&str; 15] = [
    "daemon",
    "uplink",
    "ble",
    "authorities",
    "store",
    "site",
    "holidays",
    "credentials",
    "clock",
    "keypad_lockout",
    "roles",
    "schedules",
    "buses",
    "doors",
    "door_code",
];

/// Roles every site has; `[roles.<id>]` may add more or change these.
const BUILTIN_ROLES: [(&str, bool, &str); 4] = [
    ("resident", false, "lives in the building"),
    ("home_care", false, "municipal home care staff"),
    ("contractor", false, "external contractor"),
    ("property_staff", true, "the property owner's staff"),
];

fn join(base: &str, sub: &str) -> String {
    match (base.is_empty(), sub) {
        (_, "" | ".") => base.to_owned(),
        (true, s) => s.to_owned(),
        (false, s) if s.starts_with('[') => format!("{base}{s}"),
        (false, s) => format!("{base}.{s}"),
    }
}

/// Removes the `config` crate's own " for key `...`" / " in FILE" suffixes: the path is
/// reported separately and more precisely.
fn clean(msg: &str) -> String {
    let cut = msg.find(" for key `").unwrap_or(msg.len());
    msg[..cut].to_owned()
}

fn parse<T: DeserializeOwned>(v: Value, path: &str, p: &mut Problems) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(t) => Some(t),
        Err(e) => {
            let sub = e.path().to_string();
            p.push(join(path, &sub), clean(&e.inner().to_string()));
            None
        }
    }
}

pub(super) fn duration(s: Option<&str>, default: SignedDuration, path: &str, p: &mut Problems) -> SignedDuration {
    let Some(s) = s else { return default };
    match s.parse::<SignedDuration>() {
        Ok(d) if d.is_positive() => d,
        Ok(_) => {
            p.push(path, format!("{s} must be longer than zero"));
            default
        }
        Err(_) => {
            p.push(path, format!("\"{s}\" is not a duration (write e.g. \"500ms\", \"5s\", \"15m\", \"1h 30m\")"));
            default
        }
    }
}

/// A keypad entry older than this is refused as stale unless `[[buses]] max_entry_age` says otherwise.
pub const DEFAULT_MAX_ENTRY_AGE: SignedDuration = SignedDuration::from_secs(10);

/// A duration (see [`duration`]) that must also lie within `range`.
pub(super) fn duration_within(
    value: Option<&str>,
    default: SignedDuration,
    range: (SignedDuration, SignedDuration),
    key: &str,
    p: &mut Problems,
) -> SignedDuration {
    let d = duration(value, default, key, p);
    if d < range.0 || d > range.1 {
        p.push(key, format!("{d:#} is outside {:#} to {:#}", range.0, range.1));
    }
    d
}

fn date(s: &str, path: &str, p: &mut Problems) -> Option<Date> {
    s.parse::<Date>().map_err(|_| p.push(path, format!("\"{s}\" is not a date (write YYYY-MM-DD)"))).ok()
}

fn id<T: std::str::FromStr<Err = crate::core::ids::IdError>>(s: &str, path: &str, p: &mut Problems) -> Option<T> {
    s.parse::<T>().map_err(|e| p.push(path, e.to_string())).ok()
}

fn known(names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut v: Vec<String> = Vec::new();
    for name in names {
        let quoted = format!("\"{}\"", name.as_ref());
        if !v.contains(&quoted) {
            v.push(quoted);
        }
    }
    if v.is_empty() { "none are defined".into() } else { format!("defined: {}", v.join(", ")) }
}

/// Reads a secret file named in the config (relative to the config's directory).
/// Warns when a secret file of the gateway can be read by others than its owner and its
/// group, or written by its group. One rule, which the Debian package meets: mode 640,
/// owner root, group portvakt (the service reads it through its group), or 600.
pub(super) fn warn_if_readable_by_others(full: &Path, path: &str, w: &mut Problems) {
    if let Ok(meta) = std::fs::metadata(full)
        && meta.permissions().mode() & 0o027 != 0
    {
        let mode = meta.permissions().mode() & 0o777;
        w.push(
            path,
            format!(
                "{} is mode {mode:o}: others can read it or its group can write it; run chmod 640 on it \
                 (owner root, group portvakt) or chmod 600",
                full.display()
            ),
        );
    }
}

fn read_secret(file: &str, base: &Path, path: &str, p: &mut Problems, w: &mut Problems) -> Option<String> {
    let full = base.join(file);
    match std::fs::read_to_string(&full) {
        Ok(text) => {
            warn_if_readable_by_others(&full, path, w);
            Some(text.trim().to_owned())
        }
        Err(e) => {
            p.push(path, format!("cannot read {}: {e}", full.display()));
            None
        }
    }
}

struct Sections {
    site: Option<RawSite>,
    holidays: RawHolidays,
    credentials: Option<RawCredentials>,
    clock: RawClock,
    lockout: RawLockout,
    roles: Vec<(String, RawRole)>,
    schedules: Vec<(String, RawSchedule)>,
    buses: Vec<Option<RawBus>>,
    doors: Vec<Option<RawDoor>>,
    /// The ids of door entries that did not parse (a typo inside one): references to them
    /// are not reported again as undefined doors.
    broken_doors: Vec<String>,
    door_code: Option<RawDoorCode>,
    authorities: Vec<Option<RawAuthority>>,
    store: RawStore,
    daemon: RawDaemon,
    uplink: Option<super::uplink::RawUplink>,
    ble: Option<super::ble::RawBle>,
}

fn table_entries<T: DeserializeOwned>(v: Option<Value>, path: &str, p: &mut Problems) -> Vec<(String, T)> {
    let Some(v) = v else { return Vec::new() };
    match v.into_table() {
        Ok(t) => {
            let sorted: BTreeMap<String, Value> = t.into_iter().collect();
            sorted
                .into_iter()
                .filter_map(|(k, v)| {
                    let path = format!("{path}.{k}");
                    parse(v, &path, p).map(|t| (k, t))
                })
                .collect()
        }
        Err(_) => {
            p.push(path, "must be a table of named entries");
            Vec::new()
        }
    }
}

fn array_entries<T: DeserializeOwned>(v: Option<Value>, path: &str, p: &mut Problems) -> Vec<Option<T>> {
    let Some(v) = v else { return Vec::new() };
    match v.into_array() {
        Ok(a) => {
            a.into_iter()
                .enumerate()
                .map(|(i, v)| {
                    // Name the entry by its id (or name) too: `doors[3]` alone is hard to find.
                    let label =
                        v.clone().into_table().ok().and_then(|t| {
                            t.get("id").or_else(|| t.get("name")).and_then(|x| x.clone().into_string().ok())
                        });
                    let before = p.0.len();
                    let parsed = parse(v, &format!("{path}[{i}]"), p);
                    if let Some(label) = label {
                        for q in &mut p.0[before..] {
                            q.message = format!("{} (in \"{label}\")", q.message);
                        }
                    }
                    parsed
                })
                .collect()
        }
        Err(_) => {
            p.push(path, format!("must be a list of tables ([[{path}]])"));
            Vec::new()
        }
    }
}

fn sections(mut root: BTreeMap<String, Value>, p: &mut Problems) -> Sections {
    for key in root.keys().filter(|k| !SECTIONS.contains(&k.as_str())) {
        p.push(key.clone(), format!("unknown section; known sections are {}", SECTIONS.join(", ")));
    }
    let mut take = |k: &str| root.remove(k);
    let raw_doors = take("doors");
    let door_ids: Vec<Option<String>> = raw_doors
        .clone()
        .and_then(|v| v.into_array().ok())
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.into_table().ok().and_then(|t| t.get("id").and_then(|i| i.clone().into_string().ok())))
        .collect();
    let doors: Vec<Option<RawDoor>> = array_entries(raw_doors, "doors", p);
    let broken_doors = doors.iter().zip(door_ids).filter(|(d, _)| d.is_none()).filter_map(|(_, id)| id).collect();
    let site = take("site");
    if site.is_none() {
        p.push("site", "missing; every gateway needs [site] with an id");
    }
    let credentials = take("credentials");
    if credentials.is_none() {
        p.push("credentials", "missing; set credentials.hash_key_file to the site's credential key file");
    }
    Sections {
        site: site.and_then(|v| parse(v, "site", p)),
        holidays: take("holidays").and_then(|v| parse(v, "holidays", p)).unwrap_or_default(),
        credentials: credentials.and_then(|v| parse(v, "credentials", p)),
        clock: take("clock").and_then(|v| parse(v, "clock", p)).unwrap_or_default(),
        lockout: take("keypad_lockout").and_then(|v| parse(v, "keypad_lockout", p)).unwrap_or_default(),
        roles: table_entries(take("roles"), "roles", p),
        schedules: table_entries(take("schedules"), "schedules", p),
        buses: array_entries(take("buses"), "buses", p),
        doors,
        broken_doors,
        door_code: take("door_code").and_then(|v| parse(v, "door_code", p)),
        authorities: array_entries(take("authorities"), "authorities", p),
        store: take("store").and_then(|v| parse(v, "store", p)).unwrap_or_default(),
        daemon: take("daemon").and_then(|v| parse(v, "daemon", p)).unwrap_or_default(),
        uplink: take("uplink").and_then(|v| parse(v, "uplink", p)),
        ble: take("ble").and_then(|v| parse(v, "ble", p)),
    }
}

fn action(s: Option<&str>, default: UntrustedAction, path: &str, p: &mut Problems) -> UntrustedAction {
    match s {
        None => default,
        Some("evaluate") => UntrustedAction::Evaluate,
        Some("ignore_time") => UntrustedAction::IgnoreTime,
        Some("deny") => UntrustedAction::Deny,
        Some(other) => {
            p.push(path, format!("\"{other}\" is not a policy; use \"evaluate\", \"ignore_time\" or \"deny\""));
            default
        }
    }
}

fn span(from: &str, to: &str, path: &str, p: &mut Problems) -> Option<Span> {
    let start = parse_time_of_day(from).map_err(|e| p.push(format!("{path}.from"), e)).ok();
    let end = parse_time_of_day(to).map_err(|e| p.push(format!("{path}.to"), e)).ok();
    let (start, end) = (start?, end?);
    if start == DAY_SECONDS {
        p.push(format!("{path}.from"), "a window cannot start at 24:00; use 00:00");
        return None;
    }
    if start == end || (start == 0 && end == 0) {
        p.push(path, format!("from and to are both {from}; write 00:00 to 24:00 for a whole day"));
        return None;
    }
    Some(Span { start, end: if end == 0 { DAY_SECONDS } else { end } })
}

fn schedule(name: &str, raw: &RawSchedule, p: &mut Problems) -> Option<Schedule> {
    let path = format!("schedules.{name}");
    let sid = id::<ScheduleId>(name, &path, p);
    let mut windows = Vec::new();
    for (i, w) in raw.windows.iter().enumerate() {
        let wp = format!("{path}.windows[{i}]");
        let days = WeekdaySet::parse(&w.days).map_err(|e| p.push(format!("{wp}.days"), e)).ok();
        if let (Some(days), Some(span)) = (days, span(&w.from, &w.to, &wp, p)) {
            windows.push(WeekWindow { days, span });
        }
    }
    let mut active = Vec::new();
    for (i, r) in raw.active.iter().enumerate() {
        let rp = format!("{path}.active[{i}]");
        if let (Some(from), Some(to)) = (date(&r.from, &format!("{rp}.from"), p), date(&r.to, &format!("{rp}.to"), p)) {
            if to < from {
                p.push(rp, format!("ends ({to}) before it starts ({from})"));
            } else {
                active.push(DateRange { from, to });
            }
        }
    }
    let mut exceptions = BTreeMap::new();
    for (i, e) in raw.exceptions.iter().enumerate() {
        let ep = format!("{path}.exceptions[{i}]");
        let Some(d) = date(&e.date, &format!("{ep}.date"), p) else {
            continue;
        };
        let rule = match (e.closed, e.open.is_empty()) {
            (true, true) => Exception::Closed,
            (false, false) => Exception::Open(
                e.open
                    .iter()
                    .enumerate()
                    .filter_map(|(j, s)| span(&s.from, &s.to, &format!("{ep}.open[{j}]"), p))
                    .collect(),
            ),
            (true, false) => {
                p.push(ep, "says both closed = true and open hours; choose one");
                continue;
            }
            (false, true) => {
                p.push(ep, "needs closed = true or open = [{ from = \"HH:MM\", to = \"HH:MM\" }]");
                continue;
            }
        };
        if exceptions.insert(d, rule).is_some() {
            p.push(format!("{ep}.date"), format!("{d} is listed twice"));
        }
    }
    let on_holiday = match raw.on_holiday.as_str() {
        "normal" => HolidayRule::Normal,
        "as_sunday" => HolidayRule::AsSunday,
        "closed" => HolidayRule::Closed,
        other => {
            p.push(
                format!("{path}.on_holiday"),
                format!("\"{other}\" is not a rule; use \"normal\", \"as_sunday\" or \"closed\""),
            );
            HolidayRule::Normal
        }
    };
    if raw.windows.is_empty() && raw.exceptions.is_empty() {
        p.push(format!("{path}.windows"), "the schedule has no windows, so it is never open");
    }
    Some(Schedule { id: sid?, windows, active, exceptions, on_holiday })
}

fn bus(i: usize, raw: &RawBus, p: &mut Problems) -> BusConfig {
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
fn device<'a>(
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

fn point(buses: &[BusConfig], raw: &RawPoint, want: Profile, path: &str, p: &mut Problems) -> Point {
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

struct Names<'a> {
    roles: &'a [Role],
    schedules: &'a [(String, Option<Schedule>)],
}

impl Names<'_> {
    fn schedule(&self, name: &str, path: &str, p: &mut Problems) -> Option<ScheduleIdx> {
        match self.schedules.iter().position(|(n, _)| n == name) {
            Some(i) => u16::try_from(i).ok().map(ScheduleIdx),
            None => {
                p.push(
                    path,
                    format!("schedule \"{name}\" is not defined ({})", known(self.schedules.iter().map(|s| &s.0))),
                );
                None
            }
        }
    }

    fn role(&self, name: &str, path: &str, p: &mut Problems) -> Option<RoleIdx> {
        match self.roles.iter().position(|r| r.id.as_str() == name) {
            Some(i) => u16::try_from(i).ok().map(RoleIdx),
            None => {
                p.push(
                    path,
                    format!("role \"{name}\" is not defined ({})", known(self.roles.iter().map(|r| r.id.as_str()))),
                );
                None
            }
        }
    }
}

fn door(i: usize, raw: &RawDoor, buses: &[BusConfig], names: &Names, p: &mut Problems) -> (Option<Door>, DoorWiring) {
    let path = format!("doors[{i}]");
    let did = id::<DoorId>(&raw.id, &format!("{path}.id"), p);
    let kind = match raw.kind.as_str() {
        "entrance" => DoorKind::Entrance,
        "rubbish" => DoorKind::Rubbish,
        "laundry" => DoorKind::Laundry,
        "other" => DoorKind::Other,
        other => {
            p.push(
                format!("{path}.kind"),
                format!("\"{other}\" is not a door kind; use entrance, rubbish, laundry or other"),
            );
            DoorKind::Other
        }
    };
    let rp = format!("{path}.relay");
    if let Some(d) = device(buses, &raw.relay.bus, raw.relay.unit, Profile::RelayCoils, &rp, p)
        && !(1..=d.channels).contains(&raw.relay.channel)
    {
        p.push(
            format!("{rp}.channel"),
            format!("channel {} is outside 1 to {} of \"{}\"", raw.relay.channel, d.channels, d.name),
        );
    }
    let relay = Point { bus: raw.relay.bus.clone(), unit: raw.relay.unit, channel: raw.relay.channel, inverted: false };
    let contact = raw.contact.as_ref().map(|c| point(buses, c, Profile::DiscreteInputs, &format!("{path}.contact"), p));
    let exit_button =
        raw.exit_button.as_ref().map(|c| point(buses, c, Profile::DiscreteInputs, &format!("{path}.exit_button"), p));
    let keypad = raw.keypad.as_ref().map(|k| {
        device(buses, &k.bus, k.unit, Profile::PortvaktKeypad, &format!("{path}.keypad"), p);
        (k.bus.clone(), k.unit)
    });
    let pulse = duration(raw.pulse.as_deref(), SignedDuration::from_secs(5), &format!("{path}.pulse"), p);
    if pulse > SignedDuration::from_mins(1) {
        p.push(format!("{path}.pulse"), "a pulse longer than 1m leaves the door unlocked too long; use free_passage");
    }
    let held_open_after =
        duration(raw.held_open_after.as_deref(), SignedDuration::from_secs(60), &format!("{path}.held_open_after"), p);
    let free_passage = raw.free_passage.as_ref().and_then(|s| names.schedule(s, &format!("{path}.free_passage"), p));
    let (before, after) =
        raw.booking.as_ref().map_or((None, None), |b| (b.grace_before.as_deref(), b.grace_after.as_deref()));
    let grace_before = duration(before, SignedDuration::from_mins(10), &format!("{path}.booking.grace_before"), p);
    let grace_after = duration(after, SignedDuration::from_mins(15), &format!("{path}.booking.grace_after"), p);
    let mut rules = Vec::new();
    let mut seen = HashSet::new();
    for (j, r) in raw.access.iter().enumerate() {
        let ap = format!("{path}.access[{j}]");
        if !seen.insert(r.role.clone()) {
            p.push(format!("{ap}.role"), format!("role \"{}\" has two rules on this door; merge them", r.role));
        }
        let role = names.role(&r.role, &format!("{ap}.role"), p);
        let schedule = r.schedule.as_ref().and_then(|s| names.schedule(s, &format!("{ap}.schedule"), p));
        if let Some(role) = role
            && (r.schedule.is_none() || schedule.is_some())
        {
            rules.push(DoorRule { role, schedule, booking_required: r.booking });
        }
    }
    if raw.access.is_empty() {
        p.push(
            format!("{path}.access"),
            "no rules, so nobody but the door code opens this door; add e.g. { role = \"resident\" }",
        );
    }
    let wiring = DoorWiring {
        relay,
        energize_to_unlock: raw.relay.energize_to_unlock,
        contact,
        exit_button,
        keypad,
        held_open_after,
    };
    let door = did.map(|id| Door {
        id,
        name: raw.name.clone().unwrap_or_else(|| raw.id.clone()),
        kind,
        pulse,
        rules,
        free_passage,
        booking_grace_before: grace_before,
        booking_grace_after: grace_after,
    });
    (door, wiring)
}

fn site_zone(site: Option<&RawSite>, problems: &mut Problems) -> (Option<SiteId>, Option<TimeZone>) {
    let Some(raw) = site else { return (None, None) };
    let site_id = id::<SiteId>(&raw.id, "site.id", problems);
    let tz = TimeZone::get(&raw.timezone)
        .map_err(|_| {
            let msg = format!("\"{}\" is not an IANA time zone (e.g. \"Europe/Stockholm\")", raw.timezone);
            problems.push("site.timezone", msg);
        })
        .ok();
    (site_id, tz)
}

fn calendar(raw: &RawHolidays, problems: &mut Problems) -> HolidayCalendar {
    let mut calendar = match raw.calendar.as_str() {
        "sweden" => HolidayCalendar::swedish(raw.eves),
        "none" => HolidayCalendar::none(),
        other => {
            problems.push("holidays.calendar", format!("\"{other}\" is not a calendar; use \"sweden\" or \"none\""));
            HolidayCalendar::none()
        }
    };
    for (i, text) in raw.extra.iter().enumerate() {
        if let Some(day) = date(text, &format!("holidays.extra[{i}]"), problems) {
            calendar = calendar.with_extra(day);
        }
    }
    calendar
}

fn untrusted_policy(raw: &RawClock, problems: &mut Problems) -> UntrustedClockPolicy {
    let given = &raw.while_untrusted;
    let default = UntrustedClockPolicy::default();
    let mut pick = |value: Option<&String>, fallback, key: &str| {
        action(value.map(String::as_str), fallback, &format!("clock.while_untrusted.{key}"), problems)
    };
    UntrustedClockPolicy {
        phone: pick(given.phone.as_ref(), default.phone, "phone"),
        tag: pick(given.tag.as_ref(), default.tag, "tag"),
        pin: pick(given.pin.as_ref(), default.pin, "pin"),
        door_code: pick(given.door_code.as_ref(), default.door_code, "door_code"),
    }
}

fn lockout_policy(raw: &RawLockout, problems: &mut Problems) -> LockoutPolicy {
    let default = LockoutPolicy::default();
    let lockout = LockoutPolicy {
        max_failures: raw.max_failures.unwrap_or(default.max_failures),
        window: duration(raw.window.as_deref(), default.window, "keypad_lockout.window", problems),
        base: duration(raw.first_lockout.as_deref(), default.base, "keypad_lockout.first_lockout", problems),
        max: duration(raw.max_lockout.as_deref(), default.max, "keypad_lockout.max_lockout", problems),
    };
    if lockout.max_failures == 0 {
        problems.push("keypad_lockout.max_failures", "must be at least 1");
    }
    if lockout.max < lockout.base {
        problems.push("keypad_lockout.max_lockout", "is shorter than first_lockout");
    }
    lockout
}

fn roles(raw: &[(String, RawRole)], problems: &mut Problems) -> Vec<Role> {
    let mut roles: Vec<Role> = BUILTIN_ROLES
        .iter()
        .filter_map(|(name, lockdown_override, description)| {
            RoleId::new(*name).ok().map(|id| Role {
                id,
                lockdown_override: *lockdown_override,
                description: (*description).to_owned(),
            })
        })
        .collect();
    for (name, given) in raw {
        let Some(role_id) = id::<RoleId>(name, &format!("roles.{name}"), problems) else { continue };
        if let Some(existing) = roles.iter_mut().find(|r| r.id == role_id) {
            existing.lockdown_override = given.lockdown_override;
            if let Some(text) = &given.description {
                existing.description.clone_from(text);
            }
        } else {
            roles.push(Role {
                id: role_id,
                lockdown_override: given.lockdown_override,
                description: given.description.clone().unwrap_or_default(),
            });
        }
    }
    roles
}

fn buses(raw: &[Option<RawBus>], problems: &mut Problems) -> Vec<BusConfig> {
    let mut out = Vec::new();
    let mut names = BTreeSet::new();
    for (i, given) in raw.iter().enumerate() {
        let Some(given) = given else { continue };
        if !names.insert(given.name.clone()) {
            problems.push(format!("buses[{i}].name"), format!("bus \"{}\" is defined twice", given.name));
        }
        out.push(bus(i, given, problems));
    }
    out
}

fn doors(
    raw: &[Option<RawDoor>],
    buses: &[BusConfig],
    names: &Names,
    problems: &mut Problems,
) -> (Vec<Door>, Vec<DoorWiring>) {
    let mut doors = Vec::new();
    let mut wiring = Vec::new();
    let mut ids = BTreeSet::new();
    let mut relays = HashSet::new();
    if raw.is_empty() {
        problems.push("doors", "no doors are defined; add at least one [[doors]]");
    }
    if raw.len() > MAX_DOORS {
        problems.push("doors", format!("{} doors; one gateway serves at most {MAX_DOORS}", raw.len()));
    }
    for (i, given) in raw.iter().enumerate() {
        let Some(given) = given else { continue };
        if !ids.insert(given.id.clone()) {
            problems.push(format!("doors[{i}].id"), format!("door \"{}\" is defined twice", given.id));
        }
        if !relays.insert((given.relay.bus.clone(), given.relay.unit, given.relay.channel)) {
            problems.push(format!("doors[{i}].relay"), "this relay channel already drives another door");
        }
        let (built, wire) = door(i, given, buses, names, problems);
        doors.extend(built);
        wiring.push(wire);
    }
    (doors, wiring)
}

/// The door code's text, hours and doors (the text is hashed once the key is known).
fn door_code(
    raw: &RawDoorCode,
    (doors, broken): (&[Option<RawDoor>], &[String]),
    base: &Path,
    names: &Names,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> Option<(String, ScheduleIdx, DoorSet)> {
    let code = read_secret(&raw.code_file, base, "door_code.code_file", problems, warnings);
    if let Some(text) = &code
        && let Err(e) = check_pin(text)
    {
        problems.push("door_code.code_file", format!("the door code in the file is not valid: {e}"));
    }
    let schedule = names.schedule(&raw.schedule, "door_code.schedule", problems);
    let defined: Vec<&RawDoor> = doors.iter().flatten().collect();
    let mut set = DoorSet::default();
    for (i, name) in raw.doors.iter().enumerate() {
        let path = format!("door_code.doors[{i}]");
        match defined.iter().position(|d| &d.id == name) {
            Some(j) if defined[j].keypad.is_none() => {
                problems.push(path, format!("door \"{name}\" has no keypad to enter the code on"));
            }
            Some(j) => set = set.with(DoorIdx(u8::try_from(j).unwrap_or(u8::MAX))),
            None if broken.contains(name) => {}
            None => problems
                .push(path, format!("door \"{name}\" is not defined ({})", known(defined.iter().map(|d| &d.id)))),
        }
    }
    Some((code?, schedule?, set))
}

/// Where signed documents are dropped, and when a bundle counts as stale.
fn intake_options(raw: Option<&RawCredentials>, base: &Path, problems: &mut Problems) -> IntakeConfig {
    let inbox = raw.and_then(|r| r.inbox.as_deref()).map_or_else(|| PathBuf::from(DEFAULT_INBOX), |p| base.join(p));
    let days = raw.and_then(|r| r.stale_after_days).unwrap_or(14);
    if !(1..=365).contains(&days) {
        problems.push("credentials.stale_after_days", format!("{days} days is outside 1 to 365"));
    }
    let warn = raw.and_then(|r| r.expiry_warning_days).unwrap_or(7);
    if !(1..=90).contains(&warn) {
        problems.push("credentials.expiry_warning_days", format!("{warn} days is outside 1 to 90"));
    }
    IntakeConfig {
        inbox,
        stale_after: SignedDuration::from_hours(i64::from(days) * 24),
        expiry_warning: SignedDuration::from_hours(i64::from(warn) * 24),
    }
}

/// Where the store lives and how big it may grow.
fn store_options(raw: &RawStore, base: &Path, problems: &mut Problems) -> StoreOptions {
    let path = raw.path.as_deref().map_or_else(|| PathBuf::from(DEFAULT_STORE_PATH), |p| base.join(p));
    let mib = raw.max_size_mib.unwrap_or(256);
    if !(8..=1_048_576).contains(&mib) {
        problems.push("store.max_size_mib", format!("{mib} MiB is outside 8 to 1048576"));
    }
    let days = raw.retention_days.unwrap_or(180);
    if !(1..=3650).contains(&days) {
        problems.push("store.retention_days", format!("{days} days is outside 1 to 3650"));
    }
    StoreOptions {
        path,
        max_size_bytes: mib.saturating_mul(1 << 20),
        retention: SignedDuration::from_hours(i64::from(days) * 24),
    }
}

pub(super) fn validate(root: BTreeMap<String, Value>, base: &Path, files: Vec<PathBuf>) -> Result<Config, ConfigError> {
    let mut problems = Problems::default();
    let mut warnings = Problems::default();
    let sections = sections(root, &mut problems);
    let (site_id, tz) = site_zone(sections.site.as_ref(), &mut problems);
    let calendar = calendar(&sections.holidays, &mut problems);
    let credential_key = sections.credentials.as_ref().and_then(|c| {
        let text = read_secret(&c.hash_key_file, base, "credentials.hash_key_file", &mut problems, &mut warnings)?;
        CredentialKey::from_hex(&text).map_err(|e| problems.push("credentials.hash_key_file", e.to_string())).ok()
    });
    let untrusted = untrusted_policy(&sections.clock, &mut problems);
    let intake = intake_options(sections.credentials.as_ref(), base, &mut problems);
    let store = store_options(&sections.store, base, &mut problems);
    let checkpoints = super::checkpoints::checkpoint_options(&sections.store, &store.path, base, &mut problems);
    let daemon = super::daemon::daemon_options(&sections.daemon, &sections.clock, base, &mut problems);
    let uplink = site_id.as_ref().and_then(|site| {
        super::uplink::uplink_options(sections.uplink.as_ref(), site.as_str(), base, &mut problems, &mut warnings)
    });
    let ble = super::ble::ble_options(sections.ble.as_ref(), base, &mut problems);
    let lockout = lockout_policy(&sections.lockout, &mut problems);
    let roles = roles(&sections.roles, &mut problems);
    let schedules: Vec<(String, Option<Schedule>)> =
        sections.schedules.iter().map(|(name, raw)| (name.clone(), schedule(name, raw, &mut problems))).collect();
    let buses = buses(&sections.buses, &mut problems);
    let names = Names { roles: &roles, schedules: &schedules };
    let (doors, wiring) = doors(&sections.doors, &buses, &names, &mut problems);
    let door_names: Vec<String> = sections.doors.iter().flatten().map(|d| d.id.clone()).collect();
    // A door whose entry did not parse is already reported; naming it elsewhere is not a
    // second problem (the configuration is refused anyway, so its place does not matter).
    let named: Vec<String> = door_names.iter().chain(&sections.broken_doors).cloned().collect();
    let authorities = authorities(&sections.authorities, &named, &roles, &mut problems);
    check_owner_present(&authorities, &mut warnings);
    let door_code = sections.door_code.as_ref().and_then(|raw| {
        door_code(raw, (&sections.doors, &sections.broken_doors), base, &names, &mut problems, &mut warnings)
    });

    // Every Option below is Some when there are no problems; matching keeps this
    // panic-free all the same.
    let (Some(site_id), Some(tz), Some(key), true) = (site_id, tz, credential_key, problems.0.is_empty()) else {
        if problems.0.is_empty() {
            problems.push("", "the configuration is incomplete");
        }
        return Err(ConfigError::Invalid(problems.0));
    };
    let door_code = door_code.map(|(code, schedule, doors)| DoorCode { digest: key.door_code(&code), schedule, doors });
    let policy = SitePolicy {
        site: site_id.clone(),
        tz,
        calendar,
        schedules: schedules.into_iter().filter_map(|(_, s)| s).collect(),
        roles,
        doors,
        door_code,
        lockout,
        untrusted,
    };
    let site = SiteInfo { id: site_id, name: sections.site.and_then(|s| s.name).unwrap_or_default() };
    Ok(Config {
        site,
        authorities,
        intake,
        store,
        checkpoints,
        daemon,
        uplink,
        ble,
        buses,
        wiring,
        policy,
        credential_key: key,
        files,
        warnings: warnings.0,
    })
}

/// The owner's policy file (`portvakt-admin bundle build --policy`): `[schedules.<id>]`
/// as in the config, `[door_code] schedule = "<id>"`, and `[free_passage]` with
/// `<door> = "<schedule>"` (or `""` to turn free passage off at that door).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwnerPolicy {
    #[serde(default)]
    schedules: BTreeMap<String, Value>,
    door_code: Option<RawOwnerDoorCode>,
    #[serde(default)]
    free_passage: BTreeMap<String, String>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOwnerDoorCode {
    schedule: String,
}

/// Reads an owner's policy file; every problem is reported with its key path.
pub fn owner_policy(text: &str) -> Result<crate::core::owner_policy::OwnerPolicy, Vec<super::Problem>> {
    let mut problems = Problems::default();
    let value = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .map_err(|e| vec![super::Problem { path: String::new(), message: e.to_string() }])?;
    let Some(raw) = parse::<RawOwnerPolicy>(value.cache, "", &mut problems) else { return Err(problems.0) };
    let mut schedules = Vec::new();
    for (name, v) in raw.schedules {
        let path = format!("schedules.{name}");
        if let Some(rs) = parse::<RawSchedule>(v, &path, &mut problems)
            && let Some(s) = schedule(&name, &rs, &mut problems)
        {
            schedules.push(s);
        }
    }
    let door_code_schedule =
        raw.door_code.and_then(|d| id::<ScheduleId>(&d.schedule, "door_code.schedule", &mut problems));
    let mut free_passage = Vec::new();
    for (door, s) in raw.free_passage {
        let path = format!("free_passage.{door}");
        let door_id = id::<DoorId>(&door, &path, &mut problems);
        let schedule = if s.is_empty() { Some(None) } else { id::<ScheduleId>(&s, &path, &mut problems).map(Some) };
        if let (Some(d), Some(s)) = (door_id, schedule) {
            free_passage.push((d, s));
        }
    }
    if problems.0.is_empty() {
        Ok(crate::core::owner_policy::OwnerPolicy { schedules, door_code_schedule, free_passage })
    } else {
        Err(problems.0)
    }
}
