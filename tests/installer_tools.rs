//! The installer tools as an electrician runs them, against the simulated building
//! served from this test process over Modbus TCP: scan, pulse and watch.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use portvakt::modbus::keypad::Entered;
use portvakt::modbus::sim::{SimBuilding, serve};

/// Serves the test site's devices on a background thread; returns the address.
fn building() -> (SimBuilding, String) {
    let sim = SimBuilding::for_bus(&common::site().buses[0]);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    listener.set_nonblocking(true).unwrap();
    let served = sim.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let _ = serve(served, listener).await;
        });
    });
    (sim, addr)
}

fn portvakt(args: &[&str]) -> (i32, String, String) {
    let config = common::fixture("config/good/portvakt.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_portvakt")).arg("--config").arg(config).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[test]
fn scan_lists_the_units_that_answer_and_how() {
    let (_sim, addr) = building();
    let (code, out, err) = portvakt(&["scan", "--units", "1-5", "--tcp", &addr]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("4 unit(s) answered"), "{out}");
    for unit in ["unit   1", "unit   2", "unit   3", "unit   4"] {
        assert!(out.contains(unit), "{unit} missing:\n{out}");
    }
    assert!(!out.contains("unit   5"), "{out}");
    assert!(out.contains("exception 01: "), "devices that refuse a function still count as there:\n{out}");
    // In words, not Rust's: no `IllegalFunction`, no `[false]`.
    assert!(!out.contains("IllegalFunction") && !out.contains("IllegalDataAddress") && !out.contains('['), "{out}");
    // Each unit is named by the profile it answers like and compared with the config.
    for want in [
        "answers like         portvakt-keypad: as configured",
        "answers like         relay-coils: as configured",
        "answers like         discrete-inputs: as configured",
    ] {
        assert!(out.contains(want), "{want} missing:\n{out}");
    }
}

#[test]
fn scan_names_a_unit_that_answers_otherwise_than_configured_and_one_that_does_not_answer() {
    let (sim, addr) = building();
    sim.set_fault(3, Some(portvakt::modbus::sim::Fault::Silent));
    sim.use_first_keypad_map(4);
    let (code, out, err) = portvakt(&["scan", "--units", "1-5", "--tcp", &addr]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("unit   3  NO ANSWER: the config has discrete-inputs"), "{out}");
    assert!(out.contains("portvakt-keypad (the first keypad map): as configured"), "{out}");
}

#[test]
fn pulse_releases_a_doors_strike_for_its_pulse_and_locks_it_again() {
    let (sim, addr) = building();
    let (code, out, err) = portvakt(&["pulse", "gate", "--tcp", &addr]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("door gate: relay rs485/2/5 released (confirmed by the board)"), "{out}");
    assert!(out.contains("locked (confirmed by the board)") && !out.contains("(())"), "{out}");
    assert_eq!(sim.relay_writes(), vec![(2, 5, true), (2, 5, false)]);
    let (code, _, err) = portvakt(&["pulse", "garage", "--tcp", &addr]);
    assert_eq!(code, 64);
    assert!(err.contains("no door \"garage\""), "{err}");
}

#[test]
fn watch_shows_entries_and_devices_without_revealing_the_pin() {
    let (sim, addr) = building();
    sim.enter(1, Entered::Digits("4711".into()));
    let (code, out, err) = portvakt(&["watch", "--seconds", "2", "--tcp", &addr]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("unit 1: online"), "{out}");
    assert!(out.contains("unit 1: 4 digits typed"), "{out}");
    assert!(!out.contains("4711"), "the PIN was printed:\n{out}");
    assert!(err.starts_with("watching for 2 s: keypad entries"), "{err}");
    let lines = out.lines().count();
    assert!(err.ends_with(&format!("{lines} event(s) seen\n")), "{err}");
}

#[test]
fn a_serial_device_that_is_not_there_is_named_in_a_clear_error() {
    // The test site's bus is RTU on /dev/ttyUSB0, which this machine does not have.
    let (code, _, err) = portvakt(&["scan", "--units", "1-2"]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("bus \"rs485\": cannot open /dev/ttyUSB0"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn the_state_directory_belongs_to_the_portvakt_account_from_installation_on() {
    // Before the service first runs (systemd's StateDirectory= makes it then), the
    // package's tmpfiles snippet must make the state directory the account's, or
    // `sudo -u portvakt portvakt doctor` cannot write its hand-over record.
    let tmpfiles = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/portvakt.tmpfiles")).unwrap();
    let lines: Vec<Vec<&str>> = tmpfiles
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split_whitespace().collect())
        .collect();
    let state = lines.iter().position(|f| f[..2] == ["d", "/var/lib/portvakt"]).expect("a line for /var/lib/portvakt");
    assert_eq!(lines[state][2..5], ["0750", "portvakt", "portvakt"], "{tmpfiles}");
    let inbox = lines.iter().position(|f| f[1] == "/var/lib/portvakt/inbox").expect("a line for the inbox");
    assert!(state < inbox, "the state directory before what is inside it");
}
