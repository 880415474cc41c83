//! Interop: the bus actor against devices served by pymodbus, a Modbus implementation
//! written elsewhere — over TCP, and over RTU through a socat pseudo-terminal pair. Run
//! by `scripts/interop.sh` (which installs pymodbus and socat and starts the peers); not
//! part of plain `cargo test`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use jiff::SignedDuration;
use portvakt::config::{BusConfig, BusLink, DeviceConfig, Parity, Profile};
use portvakt::modbus::bus::{self, BusEvent};
use portvakt::modbus::keypad::{Entered, Feedback};
use tokio::sync::mpsc;
use tokio_modbus::client::Context;
use tokio_modbus::prelude::*;

fn device(unit: u8, profile: Profile, channels: u16) -> DeviceConfig {
    DeviceConfig { unit, name: format!("unit {unit}"), profile, channels }
}

fn bus_config(link: BusLink) -> BusConfig {
    BusConfig {
        name: "pymodbus".into(),
        link,
        timeout: SignedDuration::from_millis(300),
        poll_interval: SignedDuration::from_millis(20),
        max_entry_age: SignedDuration::from_secs(10),
        devices: vec![
            device(1, Profile::PortvaktKeypad, 0),
            device(2, Profile::RelayCoils, 4),
            device(3, Profile::DiscreteInputs, 8),
            device(9, Profile::DiscreteInputs, 8),
        ],
    }
}

/// Runs the bus actor against the pymodbus building, then lets `reopen` give an
/// independent client to read back what pymodbus stored from our writes.
async fn exercise<F, Fut>(link: BusLink, reopen: F)
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Context>,
{
    let (tx, mut rx) = mpsc::channel(bus::EVENTS);
    let (bus, task) = bus::spawn(bus_config(link), tx);
    let (mut entered, mut input2, mut offline9) = (0, false, false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while tokio::time::Instant::now() < deadline && !(input2 && offline9 && entered > 0) {
        match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            Ok(Some(BusEvent::Entered { unit: 1, entered: Entered::Digits(d), .. })) if d == "2580" => entered += 1,
            Ok(Some(BusEvent::Input { unit: 3, channel: 2, on: true })) => input2 = true,
            Ok(Some(BusEvent::Offline { unit: 9, .. })) => offline9 = true,
            _ => {}
        }
    }
    assert_eq!(entered, 1, "the entry is read from pymodbus and reported once");
    assert!(input2, "input 2 read from pymodbus");
    assert!(offline9, "a unit pymodbus does not serve is reported offline");
    // Keep polling a while: the static queue presents sequence 7 again and again.
    tokio::time::sleep(Duration::from_millis(400)).await;
    while let Ok(e) = rx.try_recv() {
        assert!(!matches!(e, BusEvent::Entered { .. }), "reported twice: {e:?}");
    }
    assert!(bus.relay(2, 3, true).await.is_ok());
    assert!(bus.feedback(1, Feedback::Granted, 30).await);
    bus.health().await.unwrap(); // the commands above have run
    drop(bus);
    task.await.unwrap(); // the actor has let go of the link
    let mut ctx = reopen().await;
    ctx.set_slave(Slave(2));
    assert_eq!(ctx.read_coils(0, 4).await.unwrap().unwrap(), vec![false, false, true, false]);
    ctx.set_slave(Slave(1));
    assert_eq!(ctx.read_holding_registers(0, 3).await.unwrap().unwrap(), vec![7, 1, 30], "ack 7, feedback 1 for 3 s");
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn the_bus_actor_speaks_modbus_tcp_with_pymodbus_devices() {
    let addr = std::env::var("PORTVAKT_INTEROP_MODBUS").expect("run this through scripts/interop.sh");
    rt().block_on(exercise(BusLink::Tcp { address: addr.clone() }, || async move {
        tcp::connect(addr.parse().unwrap()).await.unwrap()
    }));
}

#[test]
fn the_bus_actor_speaks_modbus_rtu_with_pymodbus_devices_over_a_serial_line() {
    let device = std::env::var("PORTVAKT_INTEROP_RTU").expect("run this through scripts/interop.sh");
    let link = BusLink::Rtu { device: device.clone(), baud: 9600, parity: Parity::None, stop_bits: 1 };
    rt().block_on(exercise(link, || async move {
        let port = tokio_serial::SerialStream::open(&tokio_serial::new(&device, 9600)).unwrap();
        rtu::attach(port)
    }));
}
