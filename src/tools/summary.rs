//! The short summary `portvakt check-config` prints for a good configuration: what the
//! installer wired and what the owner decided, so both can confirm it at a glance.

use std::fmt::Write as _;

use crate::config::{BusConfig, BusLink, Config, Parity};
use crate::core::model::{SitePolicy, UntrustedAction};

use super::explain::describe_schedule;

fn bus_lines(out: &mut String, bus: &BusConfig) {
    let link = match &bus.link {
        BusLink::Rtu { device, baud, parity, stop_bits } => {
            let parity = match parity {
                Parity::None => 'N',
                Parity::Even => 'E',
                Parity::Odd => 'O',
            };
            format!("RTU {device} {baud} 8{parity}{stop_bits}")
        }
        BusLink::Tcp { address } => format!("TCP {address}"),
        BusLink::Sim => "the simulated building".into(),
    };
    let _ = writeln!(
        out,
        "bus        {} ({link}), timeout {:#}, poll every {:#}",
        bus.name, bus.timeout, bus.poll_interval
    );
    for device in &bus.devices {
        let channels = if device.channels > 0 { format!(" ({} channels)", device.channels) } else { String::new() };
        let _ = writeln!(
            out,
            "             unit {:>3}  {:<16} {}{channels}",
            device.unit,
            device.profile.as_str(),
            device.name
        );
    }
}

pub(crate) fn door_lines(out: &mut String, cfg: &Config) {
    let policy = &cfg.policy;
    for (door, wiring) in policy.doors.iter().zip(&cfg.wiring) {
        // What a power cut does to the door, as the wiring says (docs/install.md).
        let strike = if wiring.energize_to_unlock {
            "fail-secure: coil on unlocks, locked without power"
        } else {
            "fail-safe: coil on locks, OPEN without power"
        };
        let mut parts =
            vec![format!("relay {}/{}/{} ({strike})", wiring.relay.bus, wiring.relay.unit, wiring.relay.channel)];
        if wiring.contact.is_some() {
            parts.push("contact".into());
        }
        if wiring.exit_button.is_some() {
            parts.push("exit button".into());
        }
        if let Some((bus, unit)) = &wiring.keypad {
            parts.push(format!("keypad {bus}/{unit}"));
        }
        let _ = writeln!(
            out,
            "door       {} \"{}\" ({}): {}; pulse {:#}",
            door.id,
            door.name,
            door.kind.as_str(),
            parts.join(", "),
            door.pulse
        );
        for rule in &door.rules {
            let role = policy.role(rule.role).map_or("?", |r| r.id.as_str());
            let when = rule
                .schedule
                .and_then(|s| policy.schedule(s))
                .map_or_else(|| "at all times".to_owned(), |s| s.id.to_string());
            let booking = if rule.booking_required { ", with a booking" } else { "" };
            let _ = writeln!(out, "             {role:<15} {when}{booking}");
        }
        if let Some(free) = door.free_passage.and_then(|s| policy.schedule(s)) {
            let _ = writeln!(out, "             free passage    {}", free.id);
        }
    }
}

fn policy_lines(out: &mut String, policy: &SitePolicy) {
    if let Some(code) = &policy.door_code {
        let doors: Vec<&str> = code.doors.iter().filter_map(|d| policy.door(d)).map(|d| d.id.as_str()).collect();
        let hours = policy.schedule(code.schedule).map_or("?", |s| s.id.as_str());
        let _ = writeln!(out, "door code  on {} during {hours}", doors.join(", "));
    }
    let roles: Vec<String> = policy
        .roles
        .iter()
        .map(|r| if r.lockdown_override { format!("{} (enters in lockdown)", r.id) } else { r.id.to_string() })
        .collect();
    let _ = writeln!(out, "roles      {}", roles.join(", "));
    for schedule in &policy.schedules {
        let _ = writeln!(out, "schedule   {:<20} {}", schedule.id.as_str(), describe_schedule(schedule));
    }
    let untrusted = &policy.untrusted;
    let word = UntrustedAction::as_str;
    let _ = writeln!(
        out,
        "clock      while untrusted: phone {}, tag {}, pin {}, door code {}",
        word(untrusted.phone),
        word(untrusted.tag),
        word(untrusted.pin),
        word(untrusted.door_code)
    );
    let lockout = &policy.lockout;
    let _ = writeln!(
        out,
        "lockout    {} wrong entries within {:#} lock a keypad for {:#}, doubling up to {:#}",
        lockout.max_failures, lockout.window, lockout.base, lockout.max
    );
}

/// The summary text.
pub fn render(cfg: &Config) -> String {
    let mut out = String::new();
    let files: Vec<String> = cfg.files.iter().map(|f| f.display().to_string()).collect();
    let _ = writeln!(out, "configuration OK ({})", files.join(", "));
    let zone = cfg.policy.tz.iana_name().unwrap_or("(fixed offset)");
    let _ = writeln!(out, "site       {} \"{}\", time zone {zone}", cfg.site.id, cfg.site.name);
    match &cfg.uplink {
        Some(up) => {
            let confirm = match up.confirm {
                crate::config::ConfirmOn::Puback => "the broker's PUBACK",
                crate::config::ConfirmOn::Collector => "the collector's acknowledgement",
            };
            let _ =
                writeln!(out, "uplink     {} under {}/, records leave the outbox on {confirm}", up.url(), up.prefix);
        }
        None => {
            let _ = writeln!(out, "uplink     none: the gateway works offline only");
        }
    }
    for a in &cfg.authorities {
        let doors = crate::config::door_names(&cfg.policy, a.doors).join(", ");
        let key = crate::core::hex::encode(&a.public_key[..8]);
        let _ = writeln!(out, "authority  {} \"{}\" ({}, key {key}…): {doors}", a.id, a.name, a.class.as_str());
        let r = &a.rights;
        let modes: Vec<&str> = r.modes.iter().map(|m| m.word()).collect();
        let modes = if modes.is_empty() { "no door modes".to_owned() } else { format!("modes {}", modes.join("/")) };
        let _ = writeln!(
            out,
            "           gives {}; {}, {modes}; certificates up to {:#}, bundles up to {:#}{}",
            r.roles_text(),
            r.commands_text(),
            r.max_certificate,
            r.max_bundle,
            if r.bookings { "; bookings" } else { "" }
        );
        let _ = writeln!(
            out,
            "           past its bundle's end: {}",
            if r.expiry_grace.is_zero() {
                "its credentials are refused at once".to_owned()
            } else {
                format!("its credentials stay in use {:#} more (expiry_grace)", r.expiry_grace)
            }
        );
    }
    let _ = writeln!(
        out,
        "inbox      {}, bundles stale after {} days",
        cfg.intake.inbox.display(),
        cfg.intake.stale_after.as_hours() / 24
    );
    let store = &cfg.store;
    let _ = writeln!(
        out,
        "store      {}, at most {} MiB, visit lists kept {} days",
        store.path.display(),
        store.max_size_bytes >> 20,
        store.retention.as_hours() / 24
    );
    for bus in &cfg.buses {
        bus_lines(&mut out, bus);
    }
    door_lines(&mut out, cfg);
    policy_lines(&mut out, &cfg.policy);
    for warning in &cfg.warnings {
        let _ = writeln!(out, "warning    {warning}");
    }
    out
}
