//! The doctor's bus lines: each bus and device asked directly (no daemon runs: the
//! doctor opens the port itself), or read from the running daemon's counters (it owns
//! the serial port) — with a missing serial adapter named as such, not blamed on wiring.

use std::path::Path;
use std::time::{Duration, Instant};

use tokio_modbus::client::Client as _;
use tokio_modbus::prelude::SlaveContext as _;
use tokio_modbus::{Request, Response, Slave};

use super::{Check, Verdict, check};
use crate::config::{BusConfig, Config, Profile};
use crate::modbus::heard::Heard;
use crate::modbus::keypad;
use crate::modbus::link;

/// Asks one device what its profile reads; a panel that refuses the current keypad map
/// is asked with the first map's 11 registers, and said to have it.
async fn ask_device(
    ctx: &mut tokio_modbus::client::Context,
    bus: &BusConfig,
    unit: u8,
    profile: Profile,
    channels: u16,
) -> Result<String, String> {
    let asked = ask_once(ctx, bus, unit, profile, channels, keypad::POLL_REGISTERS).await;
    match asked {
        Err(e) if profile == Profile::PortvaktKeypad && e.contains("IllegalDataAddress") => {
            ask_once(ctx, bus, unit, profile, channels, keypad::POLL_REGISTERS_V1)
                .await
                .map(|ok| format!("{ok}; the first keypad map (no entry age: stale entries cannot be refused)"))
        }
        other => other,
    }
}

async fn ask_once(
    ctx: &mut tokio_modbus::client::Context,
    bus: &BusConfig,
    unit: u8,
    profile: Profile,
    channels: u16,
    keypad_registers: u16,
) -> Result<String, String> {
    ctx.set_slave(Slave(unit));
    let request = match profile {
        Profile::RelayCoils => Request::ReadCoils(0, channels.max(1)),
        Profile::DiscreteInputs => Request::ReadDiscreteInputs(0, channels.max(1)),
        Profile::PortvaktKeypad => Request::ReadInputRegisters(0, keypad_registers),
    };
    let limit = bus.timeout.unsigned_abs().max(Duration::from_millis(50));
    match tokio::time::timeout(limit, ctx.call(request)).await {
        Err(_) => Err(format!("no answer within {limit:?}")),
        Ok(Err(e)) => Err(e.to_string()),
        Ok(Ok(Err(code))) => Err(format!("exception {code:?}")),
        Ok(Ok(Ok(Response::ReadInputRegisters(regs)))) => keypad::decode_poll(&regs)
            .map(|p| format!("panel answers (heartbeat {}, {} entr(ies) waiting)", p.heartbeat, p.queue_depth))
            .map_err(|e| e.to_string()),
        Ok(Ok(Ok(Response::ReadCoils(bits)))) => {
            Ok(format!("{} relay(s) readable", bits.len().min(usize::from(channels))))
        }
        Ok(Ok(Ok(Response::ReadDiscreteInputs(bits)))) => {
            Ok(format!("{} input(s) readable", bits.len().min(usize::from(channels))))
        }
        Ok(Ok(Ok(other))) => Err(format!("unexpected reply {other:?}")),
    }
}

pub(super) async fn bus_checks_direct(cfg: &Config, out: &mut Vec<Check>) {
    for bus in &cfg.buses {
        let name = format!("bus {}", bus.name);
        let (mut ctx, mut heard) = match link::open_heard(bus).await {
            Ok(c) => c,
            Err(e) => {
                out.push(check(
                    name,
                    Verdict::Failed,
                    e.to_string(),
                    Some("check the adapter is plugged in and the device path in the config (ls /dev/serial/by-id/)"),
                ));
                continue;
            }
        };
        out.push(check(name, Verdict::Ok, "opens", None));
        for d in &bus.devices {
            let started = Instant::now();
            if let Some(h) = &heard {
                h.clear();
            }
            let answer = ask_device(&mut ctx, bus, d.unit, d.profile, d.channels).await;
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            let what = format!("device {}/{} ({})", bus.name, d.unit, d.name);
            let lost = answer.is_err();
            // On RTU a reply that fails the CRC is dropped by the framing and ends as a
            // timeout: what the line said tells the two apart.
            let garbled = if lost { heard.as_ref().and_then(Heard::garbled) } else { None };
            out.push(match (answer, garbled) {
                (Ok(s), _) => check(what, Verdict::Ok, format!("{s}, answered in {ms:.1} ms"), None),
                (Err(_), Some(why)) => check(
                    what,
                    Verdict::Failed,
                    format!("a garbled reply: {why}"),
                    Some(
                        "bytes arrive but make no valid frame: check termination (120 ohm at both ends), baud \
                         rate, parity and stop bits, and that no two units share an id",
                    ),
                ),
                (Err(e), None) => check(
                    what,
                    Verdict::Failed,
                    e,
                    Some("check power, A/B wiring, termination, unit id, baud rate and parity"),
                ),
            });
            if let Some(gap) = link::frame_gap(bus) {
                tokio::time::sleep(gap).await;
            }
            if lost {
                // After a silent device the connection is in doubt: start afresh (the old
                // port is closed first: a serial port is opened exclusively).
                drop(ctx);
                (ctx, heard) = match link::open_heard(bus).await {
                    Ok(c) => c,
                    Err(e) => {
                        out.push(check(
                            format!("bus {}", bus.name),
                            Verdict::Failed,
                            format!("{e} (reopening after device {}); the devices after it were not asked", d.unit),
                            Some("check the adapter is plugged in (ls /dev/serial/by-id/)"),
                        ));
                        break;
                    }
                };
            }
        }
    }
}

/// A serial adapter the running daemon cannot have open: its device is not there (and
/// the bus is not replaced by the simulated building).
fn adapter_missing(bus: &BusConfig, reported: Option<&serde_json::Value>) -> Option<String> {
    let simulated = reported.is_some_and(|b| b.get("simulated_at").is_some());
    match &bus.link {
        crate::config::BusLink::Rtu { device, .. } if !simulated && !Path::new(device).exists() => Some(device.clone()),
        _ => None,
    }
}

pub(super) fn bus_checks_from_status(status: &serde_json::Value, cfg: &Config, out: &mut Vec<Check>) {
    let buses = status["buses"].as_array().cloned().unwrap_or_default();
    for bus in &cfg.buses {
        let reported = buses.iter().find(|b| b["name"] == bus.name.as_str());
        let missing = adapter_missing(bus, reported);
        if let Some(device) = &missing {
            out.push(check(
                format!("bus {}", bus.name),
                Verdict::Failed,
                format!("the serial adapter {device} is not there: the daemon cannot reach any device on this bus"),
                Some("check the adapter is plugged in and the device path in the config (ls /dev/serial/by-id/)"),
            ));
        }
        let devices = reported.map(|b| b["devices"].clone()).unwrap_or_default();
        for d in &bus.devices {
            let h = &devices[d.unit.to_string()];
            let what = format!("device {}/{} ({})", bus.name, d.unit, d.name);
            let latency = h["last_latency_us"].as_u64().unwrap_or(0);
            let counts = format!(
                "{} requests, {} timeouts, {} exceptions, {} bad replies, {} framing errors, {} link errors, {} coil \
                 corrections, {} frozen heartbeats; last answer in {}.{} ms (through the daemon)",
                h["requests"],
                h["timeouts"],
                h["exceptions"],
                h["bad_replies"],
                h["framing_errors"],
                h["link_errors"],
                h["coil_corrections"],
                h["heartbeat_stalls"],
                latency / 1000,
                latency % 1000 / 100
            );
            out.push(if h["online"] == true {
                check(what, Verdict::Ok, counts, None)
            } else {
                check(
                    what,
                    Verdict::Failed,
                    format!("offline: {counts}"),
                    Some(if missing.is_some() {
                        "the bus's serial adapter is missing (above): plug it in first"
                    } else {
                        "check power, A/B wiring, termination, unit id, baud rate and parity"
                    }),
                )
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{BusLink, LoadOptions, Parity};

    fn site(device: &str) -> Config {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/config/good/portvakt.toml");
        let mut cfg = crate::config::load(&LoadOptions { path, env: Vec::new() }).unwrap();
        cfg.buses[0].link = BusLink::Rtu { device: device.into(), baud: 19200, parity: Parity::Even, stop_bits: 1 };
        cfg
    }

    fn offline_everywhere(simulated: bool) -> serde_json::Value {
        let mut bus = serde_json::json!({ "name": "rs485", "devices": {
            "1": { "online": false, "requests": 0, "link_errors": 12, "last_latency_us": 0 }
        }});
        if simulated {
            bus["simulated_at"] = "127.0.0.1:5020".into();
        }
        serde_json::json!({ "buses": [bus] })
    }

    #[test]
    fn a_running_daemons_missing_serial_adapter_is_named_not_blamed_on_the_wiring() {
        let cfg = site("/dev/serial/by-id/no-such-adapter");
        let mut out = Vec::new();
        bus_checks_from_status(&offline_everywhere(false), &cfg, &mut out);
        let bus = out.iter().find(|c| c.check == "bus rs485").expect("a line for the bus");
        assert_eq!(bus.verdict, Verdict::Failed);
        assert!(bus.detail.contains("/dev/serial/by-id/no-such-adapter is not there"), "{bus:?}");
        let device = out.iter().find(|c| c.check.starts_with("device rs485/1")).unwrap();
        assert!(device.remedy.as_deref().unwrap().contains("adapter is missing"), "{device:?}");
        assert!(!device.remedy.as_deref().unwrap().contains("A/B wiring"), "{device:?}");
    }

    #[test]
    fn a_bus_the_daemon_simulates_has_no_adapter_to_miss() {
        let cfg = site("/dev/serial/by-id/no-such-adapter");
        let mut out = Vec::new();
        bus_checks_from_status(&offline_everywhere(true), &cfg, &mut out);
        assert!(out.iter().all(|c| c.check != "bus rs485"), "{out:?}");
    }
}
