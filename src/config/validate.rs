//! Validation: the merged layers, section by section, into a typed [`Config`]. Each
//! section (and each door, bus, role and schedule) is deserialized on its own, so one
//! malformed entry does not hide problems elsewhere; then every cross-reference is
//! checked. All problems are collected with their key paths.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use config::Value;
use jiff::SignedDuration;
use jiff::tz::TimeZone;

use super::StoreOptions;
use super::authority::{RawAuthority, authorities, check_owner_present};
use super::buses::buses;
use super::doors::{Names, door_code, doors};
use super::fields::{array_entries, date, duration, id, parse, read_secret, table_entries};
use super::problems::{ConfigError, Problems};
use super::raw::{
    RawBus, RawClock, RawCredentials, RawDaemon, RawDoor, RawDoorCode, RawHolidays, RawLockout, RawRole, RawSchedule,
    RawSite, RawStore,
};
use super::roles::roles;
use super::schedules::schedule;
use super::{Config, IntakeConfig, SiteInfo};
use crate::core::holidays::HolidayCalendar;
use crate::core::ids::{DoorId, ScheduleId, SiteId};
use crate::core::model::{DoorCode, LockoutPolicy, SitePolicy, UntrustedAction, UntrustedClockPolicy};
use crate::core::schedule::Schedule;
use crate::core::secret::CredentialKey;

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
    let residents = raw.residents_days.unwrap_or(14);
    if !(1..=90).contains(&residents) {
        problems.push("store.residents_days", format!("{residents} days is outside 1 to 90"));
    }
    let staff = raw.staff_days.unwrap_or(2);
    if staff > 30 {
        problems.push("store.staff_days", format!("{staff} days is outside 0 to 30"));
    }
    let day = |n: u32| SignedDuration::from_hours(i64::from(n) * 24);
    StoreOptions {
        path,
        max_size_bytes: mib.saturating_mul(1 << 20),
        retention: day(days),
        kept_locally: true, // until the uplink is known (see `validate`)
        personal: super::store::PersonalRetention {
            residents: day(residents),
            staff: day(staff),
            staff_audiences: Vec::new(), // until the authorities are known (see `validate`)
        },
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
    let mut store = store_options(&sections.store, base, &mut problems);
    let checkpoints = super::checkpoints::checkpoint_options(&sections.store, &store.path, base, &mut problems);
    let daemon = super::daemon::daemon_options(&sections.daemon, &sections.clock, base, &mut problems);
    let uplink = site_id.as_ref().and_then(|site| {
        super::uplink::uplink_options(sections.uplink.as_ref(), site.as_str(), base, &mut problems, &mut warnings)
    });
    store.kept_locally = uplink.is_none();
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
    // A municipality's visits are kept only until its Central has them: that is, when its
    // records' names reach it (a reading key) and a record leaves the outbox only on the
    // collector's word. Otherwise they are kept like residents' passages.
    let collector = uplink.as_ref().is_some_and(|u| u.confirm == super::uplink::ConfirmOn::Collector);
    store.personal.staff_audiences = authorities
        .iter()
        .filter(|a| a.class == super::authority::AuthorityClass::Municipality && a.reading_key.is_some() && collector)
        .map(|a| a.id.to_string())
        .collect();
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
        .map_err(|e| vec![super::Problem { message: e.to_string(), ..super::Problem::default() }])?;
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
