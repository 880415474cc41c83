//! The bus actor on an RS-485 line in real RTU framing (the simulated building on a
//! pseudo-terminal): a unit whose replies fail the CRC is counted as garbled, not as
//! silent; a silent unit is counted as timing out; neither makes the port reopen while
//! the others answer. A line on which nothing answers is reopened.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jiff::SignedDuration;
use portvakt::config::{BusConfig, BusLink, DeviceConfig, Parity, Profile};
use portvakt::modbus::bus::{self, BusEvent};
use portvakt::modbus::keypad::Entered;
use portvakt::modbus::sim::{Fault, SimBuilding};
use portvakt::modbus::sim_line::SimLine;
use tokio::sync::mpsc;

const PANEL: u8 = 1;
const RELAYS: u8 = 2;
const SILENT: u8 = 3;
const GARBLED: u8 = 4;

fn device(unit: u8, profile: Profile, channels: u16) -> DeviceConfig {
    DeviceConfig { unit, name: format!("unit {unit}"), profile, channels }
}

fn line_bus(device_path: &str) -> BusConfig {
    BusConfig {
        name: "rs485".into(),
        link: BusLink::Rtu { device: device_path.into(), baud: 115_200, parity: Parity::Even, stop_bits: 1 },
        timeout: SignedDuration::from_millis(150),
        poll_interval: SignedDuration::from_millis(30),
        max_entry_age: SignedDuration::from_secs(10),
        devices: vec![
            device(PANEL, Profile::PortvaktKeypad, 0),
            device(RELAYS, Profile::RelayCoils, 4),
            device(SILENT, Profile::DiscreteInputs, 4),
            device(GARBLED, Profile::DiscreteInputs, 4),
        ],
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn next(rx: &mut mpsc::Receiver<BusEvent>, want: impl Fn(&BusEvent) -> bool) -> BusEvent {
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = rx.recv().await.expect("the bus is running");
            if want(&e) {
                return e;
            }
        }
    })
    .await
    .expect("the event arrives")
}

#[test]
fn a_garbled_unit_and_a_silent_one_are_counted_apart_and_the_port_stays_open() {
    rt().block_on(async {
        let cfg = {
            let probe = line_bus("/dev/null");
            let sim = SimBuilding::for_bus(&probe);
            sim.set_fault(SILENT, Some(Fault::Silent));
            sim.set_fault(GARBLED, Some(Fault::CrcGarbage));
            let line = SimLine::start(sim.clone()).expect("a pseudo-terminal");
            (line_bus(line.device()), sim, line)
        };
        let (cfg, sim, line) = cfg;
        let (tx, mut rx) = mpsc::channel(bus::EVENTS);
        let (handle, _task) = bus::spawn(cfg, tx);
        let mut offline = Vec::new();
        while offline.len() < 2 {
            if let BusEvent::Offline { unit, .. } = next(&mut rx, |e| matches!(e, BusEvent::Offline { .. })).await {
                offline.push(unit);
            }
        }
        offline.sort_unstable();
        assert_eq!(offline, [SILENT, GARBLED]);
        // The others are served the whole time.
        for round in 0..5 {
            sim.enter(PANEL, Entered::Digits(format!("13{round}")));
            let got = next(&mut rx, |e| matches!(e, BusEvent::Entered { .. })).await;
            assert!(matches!(got, BusEvent::Entered { unit: PANEL, .. }), "{got:?}");
            handle.relay(RELAYS, 1, round % 2 == 0).await.expect("the relay board confirms");
        }
        let health = handle.health().await.unwrap();
        let (garbled, silent) = (&health[&GARBLED], &health[&SILENT]);
        assert!(garbled.framing_errors >= 2, "{garbled:?}");
        assert_eq!(garbled.timeouts, 0, "a garbled reply is not a timeout: {garbled:?}");
        assert!(silent.timeouts >= 2, "{silent:?}");
        assert_eq!(silent.framing_errors, 0, "{silent:?}");
        for unit in [PANEL, RELAYS] {
            let h = &health[&unit];
            assert!(h.online && h.timeouts == 0 && h.framing_errors == 0 && h.link_errors == 0, "{unit}: {h:?}");
        }
        assert_eq!(line.hangups(), 0, "the port was reopened although the panel and the board answered");
    });
}

#[test]
fn a_line_on_which_nothing_answers_is_reopened() {
    rt().block_on(async {
        let mut cfg = line_bus("/dev/null");
        cfg.devices.truncate(1);
        let sim = SimBuilding::for_bus(&cfg);
        sim.set_fault(PANEL, Some(Fault::Silent));
        let line = SimLine::start(sim.clone()).expect("a pseudo-terminal");
        cfg.link = line_bus(line.device()).link;
        let (tx, mut rx) = mpsc::channel(bus::EVENTS);
        let (_handle, _task) = bus::spawn(cfg, tx);
        next(&mut rx, |e| matches!(e, BusEvent::Offline { unit: PANEL, .. })).await;
        tokio::time::timeout(Duration::from_secs(10), async {
            while line.hangups() == 0 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await
        .expect("the port is closed and opened again");
        // It answers again, on the reopened port.
        sim.set_fault(PANEL, None);
        next(&mut rx, |e| matches!(e, BusEvent::Online { unit: PANEL })).await;
    });
}

#[test]
fn a_scan_of_the_line_goes_on_past_a_silent_unit() {
    rt().block_on(async {
        let mut cfg = line_bus("/dev/null");
        let sim = SimBuilding::for_bus(&cfg);
        sim.set_fault(SILENT, Some(Fault::Silent));
        let line = SimLine::start(sim).expect("a pseudo-terminal");
        cfg.link = line_bus(line.device()).link;
        let answers = portvakt::tools::installer::scan(&cfg, 1..=5, |_| {}).await.expect("the scan runs");
        let units: Vec<u8> = answers.iter().map(|a| a.unit).collect();
        // Unit 3 is silent, unit 5 is not there; the port was reopened after each.
        assert_eq!(units, [PANEL, RELAYS, GARBLED]);
    });
}
