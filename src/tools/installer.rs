//! Installer tools that talk to a bus directly (with no daemon running): `scan` finds
//! which unit ids answer and how, `pulse` releases one door's strike, `watch` prints what
//! the bus actor reports (entries, inputs, devices online and offline) as it happens.
//! RTU and TCP buses alike (the same link code as the bus actor).

use std::fmt::Write as _;
use std::ops::RangeInclusive;

use tokio::time::timeout;
use tokio_modbus::prelude::*;

use crate::config::{BusConfig, Config, Profile};
use crate::modbus::bus::{self, BusEvent};
use crate::modbus::keypad;
use crate::modbus::link::{LinkError, frame_gap, open};

/// Why a tool could not run.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// No such bus or door in the config.
    #[error("{0}")]
    NotFound(String),
    /// The bus could not be opened.
    #[error(transparent)]
    Link(#[from] LinkError),
}

/// What answered at one unit id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The unit id.
    pub unit: u8,
    /// Function by function: what it said.
    pub functions: Vec<(&'static str, String)>,
    /// The profile it answers like, if any (a keypad's map decodes; coils or inputs read).
    pub profile: Option<Seen>,
}

/// The profile a unit answers like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The profile.
    pub profile: Profile,
    /// A keypad of the first map (11 registers, no entry age).
    pub first_map: bool,
}

/// Reads what a keypad panel's map needs (the current map, else the first map's 11
/// registers) and says whether it decodes as one.
async fn keypad_map(
    ctx: &mut tokio_modbus::client::Context,
    limit: std::time::Duration,
    gap: Option<std::time::Duration>,
) -> Option<Seen> {
    for (count, first_map) in [(keypad::POLL_REGISTERS, false), (keypad::POLL_REGISTERS_V1, true)] {
        let read = timeout(limit, ctx.read_input_registers(0, count)).await;
        if let Some(g) = gap {
            tokio::time::sleep(g).await;
        }
        if let Ok(Ok(Ok(regs))) = read
            && keypad::decode_poll(&regs).is_ok()
        {
            return Some(Seen { profile: Profile::PortvaktKeypad, first_map });
        }
    }
    None
}

/// What a read returned, in words: register values, `on`/`off` bits, or the exception.
trait Said {
    fn said(&self) -> String;
}

impl Said for Vec<u16> {
    fn said(&self) -> String {
        self.iter().map(u16::to_string).collect::<Vec<_>>().join(" ")
    }
}

impl Said for Vec<bool> {
    fn said(&self) -> String {
        self.iter().map(|b| if *b { "on" } else { "off" }).collect::<Vec<_>>().join(" ")
    }
}

fn exception_words(code: tokio_modbus::ExceptionCode) -> String {
    format!("exception {:02}: {code}", u8::from(code))
}

fn describe<T: Said>(r: Result<tokio_modbus::Result<T>, tokio::time::error::Elapsed>) -> Option<String> {
    match r {
        Ok(Ok(Ok(v))) => Some(v.said()),
        Ok(Ok(Err(code))) => Some(exception_words(code)),
        Ok(Err(_)) | Err(_) => None,
    }
}

/// A coil write's outcome in words: confirmed by the board, its exception, or no answer.
fn written(r: Result<tokio_modbus::Result<()>, tokio::time::error::Elapsed>) -> String {
    match r {
        Ok(Ok(Ok(()))) => "confirmed by the board".into(),
        Ok(Ok(Err(code))) => format!("refused: {}", exception_words(code)),
        Ok(Err(e)) => format!("link error: {e}"),
        Err(_) => "no answer".into(),
    }
}

/// Asks every unit in `units` with the four read functions; a device that answers with
/// data or with an exception is there. `progress` is told each unit as it is tried.
pub async fn scan(
    bus: &BusConfig,
    units: RangeInclusive<u8>,
    mut progress: impl FnMut(u8),
) -> Result<Vec<Answer>, ToolError> {
    let limit = bus.timeout.unsigned_abs();
    let gap = frame_gap(bus);
    let mut ctx = open(bus).await?;
    let mut found = Vec::new();
    for unit in units {
        progress(unit);
        ctx.set_slave(Slave(unit));
        let mut functions = Vec::new();
        let mut lost = false;
        macro_rules! probe {
            ($name:literal, $call:expr) => {
                if !lost {
                    let answer = describe(timeout(limit, $call).await);
                    if let Some(g) = gap {
                        tokio::time::sleep(g).await;
                    }
                    match answer {
                        Some(s) => functions.push(($name, s)),
                        None => lost = true,
                    }
                }
            };
        }
        probe!("input registers 0", ctx.read_input_registers(0, 1));
        probe!("holding registers 0", ctx.read_holding_registers(0, 1));
        probe!("coils 0", ctx.read_coils(0, 1));
        probe!("discrete inputs 0", ctx.read_discrete_inputs(0, 1));
        // Which profile it answers like: a keypad's whole map, else coils, else inputs.
        let data = |name: &str| functions.iter().any(|(f, s)| *f == name && !s.starts_with("exception"));
        let profile = if lost || functions.is_empty() {
            None
        } else if let Some(seen) = keypad_map(&mut ctx, limit, gap).await {
            Some(seen)
        } else if data("coils 0") {
            Some(Seen { profile: Profile::RelayCoils, first_map: false })
        } else if data("discrete inputs 0") {
            Some(Seen { profile: Profile::DiscreteInputs, first_map: false })
        } else {
            None
        };
        if lost {
            // A silent unit leaves the connection in doubt: start afresh for the next
            // (closing the old port first: a serial port is opened exclusively).
            drop(ctx);
            ctx = open(bus).await?;
        }
        if !functions.is_empty() {
            found.push(Answer { unit, functions, profile });
        }
    }
    Ok(found)
}

/// The scan result for people, compared with the bus's devices in the config: each
/// unit's answers, the profile it answers like, and whether that is what the config says;
/// configured units that did not answer are listed too.
pub fn render_scan(bus: &BusConfig, answers: &[Answer], units: &RangeInclusive<u8>) -> String {
    let mut out = format!("bus \"{}\": {} unit(s) answered\n", bus.name, answers.len());
    for a in answers {
        let _ = writeln!(out, "  unit {:>3}", a.unit);
        for (f, s) in &a.functions {
            let _ = writeln!(out, "           {f:<20} {s}");
        }
        let seen = a.profile.map_or_else(
            || "none of the profiles".to_owned(),
            |s| format!("{}{}", s.profile.as_str(), if s.first_map { " (the first keypad map)" } else { "" }),
        );
        let verdict = match bus.devices.iter().find(|d| d.unit == a.unit) {
            Some(d) if a.profile.is_some_and(|s| s.profile == d.profile) => format!("as configured ({})", d.name),
            Some(d) => format!("MISMATCH: the config has {} \"{}\" here", d.profile.as_str(), d.name),
            None => "not in the config".to_owned(),
        };
        let _ = writeln!(out, "           {:<20} {seen}: {verdict}", "answers like");
    }
    for d in bus.devices.iter().filter(|d| units.contains(&d.unit) && !answers.iter().any(|a| a.unit == d.unit)) {
        let _ =
            writeln!(out, "  unit {:>3}  NO ANSWER: the config has {} \"{}\" here", d.unit, d.profile.as_str(), d.name);
    }
    out
}

/// Releases one door's strike for its pulse, then locks it again.
pub async fn pulse(cfg: &Config, door: &str) -> Result<String, ToolError> {
    let idx = cfg.policy.doors.iter().position(|d| d.id.as_str() == door).ok_or_else(|| {
        let known: Vec<&str> = cfg.policy.doors.iter().map(|d| d.id.as_str()).collect();
        ToolError::NotFound(format!("no door \"{door}\" (doors: {})", known.join(", ")))
    })?;
    let (d, w) = (&cfg.policy.doors[idx], &cfg.wiring[idx]);
    let bus = cfg
        .buses
        .iter()
        .find(|b| b.name == w.relay.bus)
        .ok_or_else(|| ToolError::NotFound(format!("bus \"{}\" is not defined", w.relay.bus)))?;
    let limit = bus.timeout.unsigned_abs();
    let coil = w.relay.channel.saturating_sub(1);
    let mut ctx = open(bus).await?;
    ctx.set_slave(Slave(w.relay.unit));
    let released = written(timeout(limit, ctx.write_single_coil(coil, w.energize_to_unlock)).await);
    tokio::time::sleep(d.pulse.unsigned_abs()).await;
    // A fresh link: if the first write went unanswered, the old one is in doubt.
    drop(ctx);
    let mut ctx = open(bus).await?;
    ctx.set_slave(Slave(w.relay.unit));
    let locked = written(timeout(limit, ctx.write_single_coil(coil, !w.energize_to_unlock)).await);
    Ok(format!(
        "door {door}: relay {}/{}/{} released ({released}), {:#} later locked ({locked})\n",
        w.relay.bus, w.relay.unit, w.relay.channel, d.pulse
    ))
}

/// Runs the bus actor on `bus` and hands each event to `show` until `stop` resolves.
pub async fn watch(
    bus: &BusConfig,
    mut show: impl FnMut(&BusEvent),
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ToolError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel(bus::EVENTS);
    let (_handle, task) = bus::spawn(bus.clone(), tx);
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => break,
            e = rx.recv() => match e {
                Some(e) => show(&e),
                None => break,
            },
        }
    }
    task.abort();
    Ok(())
}

/// One bus event in words (a PIN is never shown, only its length).
pub fn describe_event(e: &BusEvent) -> String {
    use crate::modbus::keypad::Entered;
    match e {
        BusEvent::Entered { unit, entered, age_secs } => {
            let what = match entered {
                Entered::Digits(d) => format!("{} digits typed", d.len()),
                Entered::Tag(t) => format!("tag {t}"),
            };
            let age = match age_secs {
                Some(a) if *a > 0 => format!(", entered {a} s before it was read"),
                _ => String::new(),
            };
            format!("unit {unit}: {what}{age}")
        }
        BusEvent::Input { unit, channel, on } => {
            format!("unit {unit}: input {channel} {}", if *on { "ON" } else { "off" })
        }
        BusEvent::Coils { unit, coils, .. } => {
            let bits: String = coils.iter().map(|on| if *on { '1' } else { '0' }).collect();
            format!("unit {unit}: coils {bits} (channel 1 first)")
        }
        BusEvent::CoilCorrected { unit, channel, found, wanted } => {
            format!("unit {unit}: COIL {channel} found {found}, wanted {wanted}: written again")
        }
        BusEvent::Online { unit } => format!("unit {unit}: online"),
        BusEvent::Offline { unit, why } => format!("unit {unit}: OFFLINE ({why})"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BusLink, DeviceConfig};

    #[test]
    fn a_unit_answering_like_another_profile_than_configured_is_a_mismatch() {
        let bus = BusConfig {
            name: "rs485".into(),
            link: BusLink::Tcp { address: "127.0.0.1:502".into() },
            timeout: jiff::SignedDuration::from_millis(500),
            poll_interval: jiff::SignedDuration::from_millis(50),
            max_entry_age: jiff::SignedDuration::from_secs(10),
            devices: vec![DeviceConfig {
                unit: 2,
                name: "relays".into(),
                profile: Profile::PortvaktKeypad,
                channels: 0,
            }],
        };
        let seen = Seen { profile: Profile::RelayCoils, first_map: false };
        let answers = [
            Answer { unit: 2, functions: vec![("coils 0", "[false]".into())], profile: Some(seen) },
            Answer { unit: 9, functions: vec![("coils 0", "[false]".into())], profile: Some(seen) },
        ];
        let text = render_scan(&bus, &answers, &(1..=10));
        assert!(text.contains("relay-coils: MISMATCH: the config has portvakt-keypad \"relays\" here"), "{text}");
        assert!(text.contains("relay-coils: not in the config"), "{text}");
    }
}
