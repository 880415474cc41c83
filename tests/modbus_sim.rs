//! The simulated building speaks real Modbus TCP: a tokio-modbus client reads the keypad
//! map, acknowledges entries, switches relays, reads inputs, and meets the fault switches.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use portvakt::modbus::keypad::{Entered, decode_poll};
use portvakt::modbus::sim::{Fault, SimBuilding, serve};
use tokio_modbus::prelude::*;

fn building() -> SimBuilding {
    SimBuilding::for_bus(&common::site().buses[0])
}

async fn start(sim: &SimBuilding) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(serve(sim.clone(), listener));
    addr
}

#[test]
fn the_simulated_building_answers_a_real_modbus_client() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let sim = building();
        let addr = start(&sim).await;
        let mut ctx = tcp::connect_slave(addr, Slave(1)).await.unwrap();
        sim.enter(1, Entered::Digits("1357".into()));
        let regs = ctx.read_input_registers(0, 11).await.unwrap().unwrap();
        let poll = decode_poll(&regs).unwrap();
        let (seq, entered) = poll.entry.unwrap();
        assert_eq!(entered, Entered::Digits("1357".into()));
        ctx.write_single_register(0, seq).await.unwrap().unwrap();
        assert_eq!(sim.queued(1), 0, "acknowledged entries leave the panel's queue");
        ctx.write_multiple_registers(1, &[1, 30]).await.unwrap().unwrap();
        assert_eq!(sim.feedback(1), vec![(1, 30)]);

        ctx.set_slave(Slave(2));
        ctx.write_single_coil(0, true).await.unwrap().unwrap();
        assert_eq!(sim.relay(2, 1), Some(true));
        ctx.set_slave(Slave(3));
        sim.set_input(3, 2, true);
        assert_eq!(ctx.read_discrete_inputs(0, 3).await.unwrap().unwrap(), vec![false, true, false]);
        // Out of range and wrong functions are Modbus exceptions, not crashes.
        assert_eq!(ctx.read_discrete_inputs(6, 5).await.unwrap(), Err(ExceptionCode::IllegalDataAddress));
        assert_eq!(ctx.read_holding_registers(0, 1).await.unwrap(), Err(ExceptionCode::IllegalFunction));
    });
}

#[test]
fn fault_switches_make_a_device_silent_or_answer_with_exceptions() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let sim = building();
        let addr = start(&sim).await;
        let mut ctx = tcp::connect_slave(addr, Slave(3)).await.unwrap();
        sim.set_fault(3, Some(Fault::Exception(ExceptionCode::ServerDeviceFailure)));
        assert_eq!(ctx.read_discrete_inputs(0, 1).await.unwrap(), Err(ExceptionCode::ServerDeviceFailure));
        sim.set_fault(3, Some(Fault::Silent));
        let silent = tokio::time::timeout(Duration::from_millis(200), ctx.read_discrete_inputs(0, 1)).await;
        assert!(silent.is_err(), "a silent device makes the request time out");
        sim.set_fault(3, None);
        let mut fresh = tcp::connect_slave(addr, Slave(3)).await.unwrap();
        assert!(fresh.read_discrete_inputs(0, 1).await.unwrap().is_ok(), "and recovers when the fault is gone");
    });
}
