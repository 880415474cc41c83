//! Installer tools that talk to a bus directly (with no daemon running): `scan` finds
//! which unit ids answer and how, `pulse` releases one door's strike, `watch` prints what
//! the bus actor reports (entries, inputs, devices online and offline) as it happens.
//! RTU and TCP buses alike (the same link code as the bus actor).

use std::fmt::Write as _;
use std::ops::RangeInclusive;

use tokio::time::timeout;
use tokio_modbus::prelude::*;

use crate::config::{BusConfig, Config};
use crate::modbus::bus::{self, BusEvent};
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
}

fn describe<T: std::fmt::Debug>(r: Result<tokio_modbus::Result<T>, tokio::time::error::Elapsed>) -> Option<String> {
    match r {
        Ok(Ok(Ok(v))) => Some(format!("{v:?}")),
        Ok(Ok(Err(code))) => Some(format!("exception {code:?}")),
        Ok(Err(_)) | Err(_) => None,
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
        if lost {
            // A silent unit leaves the connection in doubt: start afresh for the next
            // (closing the old port first: a serial port is opened exclusively).
            drop(ctx);
            ctx = open(bus).await?;
        }
        if !functions.is_empty() {
            found.push(Answer { unit, functions });
        }
    }
    Ok(found)
}

/// The scan result for people.
pub fn render_scan(bus: &str, answers: &[Answer]) -> String {
    let mut out = format!("bus \"{bus}\": {} unit(s) answered\n", answers.len());
    for a in answers {
        let _ = writeln!(out, "  unit {:>3}", a.unit);
        for (f, s) in &a.functions {
            let _ = writeln!(out, "           {f:<20} {s}");
        }
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
    let released = describe(timeout(limit, ctx.write_single_coil(coil, w.energize_to_unlock)).await)
        .unwrap_or_else(|| "no answer".into());
    tokio::time::sleep(d.pulse.unsigned_abs()).await;
    // A fresh link: if the first write went unanswered, the old one is in doubt.
    drop(ctx);
    let mut ctx = open(bus).await?;
    ctx.set_slave(Slave(w.relay.unit));
    let locked = describe(timeout(limit, ctx.write_single_coil(coil, !w.energize_to_unlock)).await)
        .unwrap_or_else(|| "no answer".into());
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
