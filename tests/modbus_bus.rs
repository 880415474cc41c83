//! The bus actor against the simulated building over real Modbus TCP: entries arrive
//! once, relays switch, inputs are reported on change, and a dead device is reported
//! offline without stalling the others, then recovers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use jiff::SignedDuration;
use portvakt::config::{BusConfig, BusLink};
use portvakt::modbus::bus::{self, BusEvent, OFFLINE_AFTER};
use portvakt::modbus::keypad::{Entered, Feedback};
use portvakt::modbus::sim::{Fault, SimBuilding, serve};
use tokio::sync::mpsc;

async fn setup() -> (SimBuilding, bus::BusHandle, mpsc::Receiver<BusEvent>) {
    let mut cfg: BusConfig = common::site().buses[0].clone();
    let sim = SimBuilding::for_bus(&cfg);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    cfg.link = BusLink::Tcp { address: listener.local_addr().unwrap().to_string() };
    cfg.timeout = SignedDuration::from_millis(150);
    cfg.poll_interval = SignedDuration::from_millis(20);
    tokio::spawn(serve(sim.clone(), listener));
    let (tx, rx) = mpsc::channel(bus::EVENTS);
    let (handle, _task) = bus::spawn(cfg, tx);
    (sim, handle, rx)
}

/// The next event matching `want`, waiting at most 5 s (generous: shared machines).
async fn next(rx: &mut mpsc::Receiver<BusEvent>, want: impl Fn(&BusEvent) -> bool) -> BusEvent {
    tokio::time::timeout(Duration::from_secs(5), async {
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

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn a_keypad_entry_arrives_once_and_leaves_the_panels_queue() {
    rt().block_on(async {
        let (sim, _bus, mut rx) = setup().await;
        next(&mut rx, |e| matches!(e, BusEvent::Online { unit: 1 })).await;
        sim.enter(1, Entered::Digits("1357".into()));
        sim.enter(1, Entered::Tag("04A2197F".into()));
        let first = next(&mut rx, |e| matches!(e, BusEvent::Entered { .. })).await;
        let second = next(&mut rx, |e| matches!(e, BusEvent::Entered { .. })).await;
        assert_eq!(first, BusEvent::Entered { unit: 1, entered: Entered::Digits("1357".into()), age_secs: Some(0) });
        assert_eq!(second, BusEvent::Entered { unit: 1, entered: Entered::Tag("04A2197F".into()), age_secs: Some(0) });
        // Two more polls of the panel: the acknowledgements have gone out by then.
        let asked = sim.requests_to(1);
        let polled = tokio::time::timeout(Duration::from_secs(5), async {
            while sim.requests_to(1) < asked + 2 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        });
        polled.await.expect("the panel is polled");
        assert_eq!(sim.queued(1), 0);
        while let Ok(e) = rx.try_recv() {
            assert!(!matches!(e, BusEvent::Entered { .. }), "an entry was reported twice: {e:?}");
        }
    });
}

#[test]
fn relay_commands_and_panel_feedback_reach_the_devices() {
    rt().block_on(async {
        let (sim, bus, mut rx) = setup().await;
        next(&mut rx, |e| matches!(e, BusEvent::Online { unit: 2 })).await;
        assert!(bus.relay(2, 3, true).await.is_ok());
        assert!(bus.feedback(1, Feedback::Granted, 30).await);
        let health = bus.health().await.unwrap(); // answered after the commands above ran
        assert!(health[&2].online);
        assert_eq!(sim.relay(2, 3), Some(true));
        assert_eq!(sim.feedback(1), vec![(1, 30)]);
    });
}

#[test]
fn a_coil_wanted_whose_write_never_reached_the_bus_is_written_at_the_boards_next_read() {
    rt().block_on(async {
        let (sim, bus, mut rx) = setup().await;
        next(&mut rx, |e| matches!(e, BusEvent::Online { unit: 2 })).await;
        // What a strike command given up on while the bus's queue was full leaves behind.
        bus.want(2, 3, true);
        next(&mut rx, |e| matches!(e, BusEvent::CoilCorrected { unit: 2, channel: 3, wanted: true, .. })).await;
        let coils = next(&mut rx, |e| matches!(e, BusEvent::Coils { unit: 2, .. })).await;
        assert!(matches!(coils, BusEvent::Coils { coils, .. } if coils[2]), "the board reads it back as wanted");
        assert_eq!(sim.relay(2, 3), Some(true));
    });
}

#[test]
fn a_relay_command_older_than_the_coils_newest_want_writes_the_newest() {
    rt().block_on(async {
        let (sim, bus, mut rx) = setup().await;
        next(&mut rx, |e| matches!(e, BusEvent::Online { unit: 2 })).await;
        // A release was queued; the relock that followed was registered, but its own
        // command never reached the bus (given up on while the queue was full).
        bus.want(2, 3, false);
        let stale = bus.write_relay(2, 3, true).await;
        assert!(stale.is_err_and(|why| why.contains("superseded")), "the old command is not carried out");
        assert_eq!(sim.relay(2, 3), Some(false), "the board holds the newest want");
        assert!(!sim.relay_writes().contains(&(2, 3, true)), "the release was never written");
    });
}

#[test]
fn input_changes_are_reported_by_channel() {
    rt().block_on(async {
        let (sim, _bus, mut rx) = setup().await;
        next(&mut rx, |e| matches!(e, BusEvent::Input { unit: 3, channel: 8, .. })).await; // first full read
        sim.set_input(3, 2, true);
        let e = next(&mut rx, |e| matches!(e, BusEvent::Input { unit: 3, on: true, .. })).await;
        assert_eq!(e, BusEvent::Input { unit: 3, channel: 2, on: true });
    });
}

#[test]
fn a_silent_device_goes_offline_after_two_failed_polls_while_the_keypad_is_still_served() {
    rt().block_on(async {
        let (sim, bus, mut rx) = setup().await;
        next(&mut rx, |e| matches!(e, BusEvent::Online { unit: 3 })).await;
        sim.set_fault(3, Some(Fault::Silent));
        let offline = next(&mut rx, |e| matches!(e, BusEvent::Offline { unit: 3, .. })).await;
        assert!(matches!(offline, BusEvent::Offline { ref why, .. } if why.contains("timeout")), "{offline:?}");
        let health = bus.health().await.unwrap();
        assert_eq!(health[&3].timeouts, u64::from(OFFLINE_AFTER), "reported on the second failed poll");
        // The other doors keep working meanwhile.
        sim.enter(1, Entered::Digits("2580".into()));
        next(&mut rx, |e| matches!(e, BusEvent::Entered { .. })).await;
        sim.set_fault(3, None);
        next(&mut rx, |e| matches!(e, BusEvent::Online { unit: 3 })).await;
    });
}
