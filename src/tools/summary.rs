//! The short summary `portvakt check-config` prints for a good configuration: what the
//! installer wired and what the owner decided, so both can confirm it at a glance.

use std::fmt::Write as _;

use crate::config::{BusLink, Config, Parity};
use crate::core::model::UntrustedAction;

use super::explain::describe_schedule;

/// The summary text.
pub fn render(cfg: &Config) -> String {
    let p = &cfg.policy;
    let mut o = String::new();
    let files: Vec<String> = cfg.files.iter().map(|f| f.display().to_string()).collect();
    let _ = writeln!(o, "configuration OK ({})", files.join(", "));
    let _ = writeln!(
        o,
        "site       {} \"{}\", time zone {}",
        cfg.site.id,
        cfg.site.name,
        p.tz.iana_name().unwrap_or("(fixed offset)")
    );
    for b in &cfg.buses {
        let link = match &b.link {
            BusLink::Rtu { device, baud, parity, stop_bits } => {
                let par = match parity {
                    Parity::None => 'N',
                    Parity::Even => 'E',
                    Parity::Odd => 'O',
                };
                format!("RTU {device} {baud} 8{par}{stop_bits}")
            }
            BusLink::Tcp { address } => format!("TCP {address}"),
        };
        let _ = writeln!(o, "bus        {} ({link}), timeout {:#}, poll every {:#}", b.name, b.timeout, b.poll_interval);
        for d in &b.devices {
            let channels = if d.channels > 0 { format!(" ({} channels)", d.channels) } else { String::new() };
            let _ = writeln!(o, "             unit {:>3}  {:<16} {}{channels}", d.unit, d.profile.as_str(), d.name);
        }
    }
    for (door, w) in p.doors.iter().zip(&cfg.wiring) {
        let mut parts = vec![format!("relay {}/{}/{}", w.relay.bus, w.relay.unit, w.relay.channel)];
        if w.contact.is_some() {
            parts.push("contact".into());
        }
        if w.exit_button.is_some() {
            parts.push("exit button".into());
        }
        if let Some((bus, unit)) = &w.keypad {
            parts.push(format!("keypad {bus}/{unit}"));
        }
        let _ = writeln!(o, "door       {} \"{}\" ({}): {}; pulse {:#}", door.id, door.name, door.kind.as_str(), parts.join(", "), door.pulse);
        for r in &door.rules {
            let role = p.role(r.role).map_or("?", |r| r.id.as_str());
            let when = r.schedule.and_then(|s| p.schedule(s)).map_or_else(|| "at all times".to_owned(), |s| s.id.to_string());
            let _ = writeln!(o, "             {role:<15} {when}{}", if r.booking_required { ", with a booking" } else { "" });
        }
        if let Some(fp) = door.free_passage.and_then(|s| p.schedule(s)) {
            let _ = writeln!(o, "             free passage    {}", fp.id);
        }
    }
    if let Some(code) = &p.door_code {
        let doors: Vec<&str> = code.doors.iter().filter_map(|d| p.door(d)).map(|d| d.id.as_str()).collect();
        let hours = p.schedule(code.schedule).map_or("?", |s| s.id.as_str());
        let _ = writeln!(o, "door code  on {} during {hours}", doors.join(", "));
    }
    let roles: Vec<String> = p
        .roles
        .iter()
        .map(|r| if r.lockdown_override { format!("{} (enters in lockdown)", r.id) } else { r.id.to_string() })
        .collect();
    let _ = writeln!(o, "roles      {}", roles.join(", "));
    for s in &p.schedules {
        let _ = writeln!(o, "schedule   {:<20} {}", s.id.as_str(), describe_schedule(s));
    }
    let u = &p.untrusted;
    let a = UntrustedAction::as_str;
    let _ = writeln!(
        o,
        "clock      while untrusted: phone {}, tag {}, pin {}, door code {}",
        a(u.phone),
        a(u.tag),
        a(u.pin),
        a(u.door_code)
    );
    let l = &p.lockout;
    let _ = writeln!(o, "lockout    {} wrong entries within {:#} lock a keypad for {:#}, doubling up to {:#}", l.max_failures, l.window, l.base, l.max);
    for w in &cfg.warnings {
        let _ = writeln!(o, "warning    {w}");
    }
    o
}
