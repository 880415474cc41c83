//! The owner's questions answered from what is in force: `explain`, `check-config` and
//! `schedule` (the config with the owner's signed policy and bookings from the store).

use std::fmt::Write as _;

use anyhow::Context as _;
use jiff::Timestamp;

use portvakt::config::Config;
use portvakt::core::allowlist::{Allowlist, Revocations};
use portvakt::core::booking::Bookings;
use portvakt::core::clock::{ClockObservation, ClockTrust, UntrustedReason, assess};
use portvakt::core::credential::{PhoneKey, Token};
use portvakt::core::decide::{AccessRequest, AccessState, decide};
use portvakt::core::ids::{CredentialId, DoorId};
use portvakt::core::model::DoorMode;
use portvakt::core::secret::{check_pin, check_tag};
use portvakt::credentials::registry::{Built, Registry};
use portvakt::credentials::verify::Trust;
use portvakt::exit;
use portvakt::tools::{allowlist_file, explain, in_force, summary, time_input, week_grid};

use super::args::{ExplainArgs, Mode};
use super::{Failure, fail, open_store};

/// What the gateway decides from, as in its store: the accepted credentials and
/// revocations, the owner's site policy and the clock floor (the config's policy and
/// nothing else when there is no store yet).
pub(crate) struct Stored {
    pub(crate) built: Built,
    pub(crate) clock_floor: Option<Timestamp>,
}

pub(crate) fn stored_credentials(cfg: &Config) -> Result<Stored, Failure> {
    if !cfg.store.path.exists() {
        let built = Built {
            policy: cfg.policy.clone(),
            allowlist: Allowlist::default(),
            revocations: Revocations::default(),
            bookings: Bookings::default(),
        };
        return Ok(Stored { built, clock_floor: None });
    }
    let store = open_store(&cfg.store.path)?;
    let trust = Trust::of(cfg);
    let (_, _, built) = Registry::built_from_store(&store, &trust).map_err(|e| fail(exit::STORE, e.to_string()))?;
    let built = built.map_err(|p| fail(exit::DATA, p.join("; ")))?;
    let floor = store.clock_floor().map_err(|e| fail(exit::STORE, e.to_string()))?;
    Ok(Stored { built, clock_floor: Some(portvakt::core::clock::floor_at_least_release(floor)) })
}

pub(crate) fn explain_cmd(cfg: &Config, a: &ExplainArgs) -> Result<String, Failure> {
    // The same inputs the daemon decides from: with the store's revocations and floor.
    let (effective, allowlist, bookings, revocations, clock_floor) = match &a.allowlist {
        Some(p) => {
            let t = allowlist_file::load(cfg, &p.display().to_string()).map_err(|e| fail(exit::DATA, e.to_string()))?;
            (cfg.policy.clone(), t.allowlist, t.bookings, Revocations::default(), None)
        }
        None => {
            let s = stored_credentials(cfg)?;
            (s.built.policy, s.built.allowlist, s.built.bookings, s.built.revocations, s.clock_floor)
        }
    };
    let policy = &effective;
    let door_id: DoorId = a.door.parse().map_err(|e| fail(exit::USAGE, format!("--door: {e}")))?;
    let door = policy.door_index(&door_id).ok_or_else(|| {
        let known: Vec<&str> = policy.doors.iter().map(|d| d.id.as_str()).collect();
        fail(exit::USAGE, format!("--door: no door \"{door_id}\" (doors: {})", known.join(", ")))
    })?;
    let now = match &a.at {
        Some(s) => time_input::parse_time(s, &policy.tz).map_err(|e| fail(exit::USAGE, format!("--at: {e}")))?,
        None => Timestamp::now(),
    };
    let key = &cfg.credential_key;
    let token = if let Some(pin) = &a.pin {
        check_pin(pin).map_err(|e| fail(exit::USAGE, format!("--pin: {e}")))?;
        Token::Pin(key.pin(pin))
    } else if let Some(tag) = &a.tag {
        check_tag(tag).map_err(|e| fail(exit::USAGE, format!("--tag: {e}")))?;
        Token::Tag(key.tag(tag))
    } else {
        let s = a.phone.as_deref().unwrap_or_default();
        match PhoneKey::from_hex(s) {
            Some(k) => Token::Phone(k),
            None => {
                let id: CredentialId = s.parse().map_err(|e| fail(exit::USAGE, format!("--phone: {e}")))?;
                match allowlist.by_id(&id).map(|c| c.token) {
                    Some(t @ Token::Phone(_)) => t,
                    _ => {
                        return Err(fail(
                            exit::USAGE,
                            format!("--phone: no phone credential \"{id}\" in the allowlist"),
                        ));
                    }
                }
            }
        }
    };
    let mut state = AccessState {
        allowlist,
        bookings,
        revocations,
        clock_floor,
        clock: if a.untrusted_clock {
            ClockTrust::Untrusted(UntrustedReason::NotSynchronized)
        } else if a.trusted_clock {
            ClockTrust::Trusted
        } else if a.at.is_none() {
            // Now, as the daemon judges it: a clock that reads earlier than the floor (a
            // time the gateway has already seen, kept in its store) is not trusted.
            assess(ClockObservation { wall: now, synchronized: true, floor: clock_floor, jumped: false })
        } else {
            // Another moment (a past incident, a booking to come): as on a trusted clock
            // then; a moment before the floor gets a note below.
            ClockTrust::Trusted
        },
        ..AccessState::default()
    };
    state.set_mode(
        door,
        match a.mode {
            Mode::Normal => DoorMode::Normal,
            Mode::FreePassage => DoorMode::FreePassage,
            Mode::Lockdown => DoorMode::Lockdown,
        },
    );
    let decision = decide(policy, &state, &AccessRequest { door, token }, now);
    if a.json {
        let mut v = serde_json::to_value(&decision).context("encoding the decision")?;
        if let Some(obj) = v.as_object_mut() {
            obj.insert("at".into(), serde_json::Value::String(now.to_string()));
            obj.insert("explanation".into(), explain::reason_words(policy, &state.allowlist, &decision).into());
        }
        return Ok(format!("{}\n", serde_json::to_string_pretty(&v).context("encoding the decision")?));
    }
    let mut out = explain::render(policy, &state.allowlist, &decision, &door_id, now);
    if let Some(floor) = clock_floor.filter(|f| now < *f && !a.trusted_clock && !a.untrusted_clock) {
        let said = if a.at.is_some() {
            "--at is before the gateway's clock floor {floor} (a time it has already seen): judged as on a trusted \
             clock then; a clock that read it now would not be trusted"
        } else {
            "the clock reads earlier than the gateway's clock floor {floor} (a time it has already seen): the daemon \
             does not trust it either; --trusted-clock judges it as on a trusted clock"
        };
        let _ = writeln!(out, "note:      {}", said.replace("{floor}", &floor.to_string()));
    }
    Ok(out)
}

/// The config's summary, then what the owner's signed policy in the store changes.
pub(crate) fn check_config_cmd(cfg: &Config) -> String {
    let mut out = summary::render(cfg);
    // A store that cannot be read is doctor's business; the config itself is fine.
    if let Ok(stored) = stored_credentials(cfg) {
        for line in in_force::owner_changes(&cfg.policy, &stored.built.policy) {
            let _ = writeln!(out, "in force   {line}");
        }
    }
    out
}

pub(crate) fn schedule_cmd(cfg: &Config, door: Option<&String>, week: Option<&String>) -> Result<String, Failure> {
    // What is in force: the config with the owner's signed policy from the store.
    let stored = stored_credentials(cfg)?;
    let policy = &stored.built.policy;
    let only = match door {
        Some(d) => Some(
            d.parse::<DoorId>()
                .ok()
                .and_then(|d| policy.door_index(&d))
                .ok_or_else(|| fail(exit::USAGE, format!("--door: no door \"{d}\"")))?,
        ),
        None => None,
    };
    let monday = match week {
        Some(w) => week_grid::parse_week(w).map_err(|e| fail(exit::USAGE, format!("--week: {e}")))?,
        None => {
            let today = Timestamp::now().to_zoned(policy.tz.clone()).date();
            let iso = today.iso_week_date();
            jiff::civil::ISOWeekDate::new(iso.year(), iso.week(), jiff::civil::Weekday::Monday)
                .map_or(today, jiff::civil::ISOWeekDate::date)
        }
    };
    let mut out = week_grid::render(policy, monday, only);
    for line in in_force::owner_changes(&cfg.policy, policy) {
        let _ = writeln!(out, "in force: {line}");
    }
    Ok(out)
}
