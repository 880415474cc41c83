//! Interop: the `portvakt run` process against a door building served by pymodbus (a
//! Modbus TCP implementation written elsewhere, `tests/interop/pymodbus_door_building.py`),
//! not the in-repo simulator. A coil changed behind the daemon's back by another Modbus
//! master is put back, a relay board that restarts (every coil off: the fail-safe laundry
//! strike released) gets every strike re-asserted, each within two relay polls; a panel
//! whose heartbeat freezes is offline within 5 s; `portvakt intake` beside the daemon
//! loses no audit record. Run by `scripts/interop.sh` with `PORTVAKT_INTEROP_PYTHON` (the
//! venv's python, pymodbus installed); not part of plain `cargo test`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{copy_dir, portvakt_cli, spawn_run};
use portvakt::daemon::control::Request;
use portvakt::modbus::bus::RELAY_POLL;
use tokio_modbus::client::Context;
use tokio_modbus::prelude::*;

const ENTRANCE: u16 = 0; // coil address of channel 1: fail-secure, locked = off
const LAUNDRY: u16 = 2; // coil address of channel 3: fail-safe, locked = on

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

struct Building {
    port: u16,
    child: Child,
}

impl Building {
    fn start(port: u16) -> Self {
        let python = std::env::var("PORTVAKT_INTEROP_PYTHON").expect("PORTVAKT_INTEROP_PYTHON (scripts/interop.sh)");
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop/pymodbus_door_building.py");
        let child = Command::new(python)
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "pymodbus did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Self { port, child }
    }

    /// SIGKILL, as a power cut to the relay board.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    async fn client(&self, unit: u8) -> Context {
        let addr = format!("127.0.0.1:{}", self.port).parse().unwrap();
        tokio_modbus::client::tcp::connect_slave(addr, Slave(unit)).await.unwrap()
    }

    async fn coil(&self, addr: u16) -> bool {
        self.client(2).await.read_coils(addr, 1).await.unwrap().unwrap()[0]
    }
}

impl Drop for Building {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The test site's config on the pymodbus building over TCP; the laundry strike fail-safe.
fn config(dir: &Path, port: u16) -> PathBuf {
    copy_dir(&common::fixture("config/good"), &dir.join("etc"));
    let path = dir.join("etc/portvakt.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text
        .replace(
            "kind = \"rtu\"\ndevice = \"/dev/ttyUSB0\"",
            &format!("kind = \"tcp\"\naddress = \"127.0.0.1:{port}\"\ntimeout = \"300ms\""),
        )
        .replace(
            "relay = { bus = \"rs485\", unit = 2, channel = 3 }",
            "relay = { bus = \"rs485\", unit = 2, channel = 3, energize_to_unlock = false }",
        )
        .replace("free_passage = \"free\"\n", "");
    assert!(text.contains("kind = \"tcp\"") && text.contains("energize_to_unlock = false"), "the fixture changed");
    std::fs::write(&path, text).unwrap();
    path
}

/// Waits (at most `within`) for `cond`; how long it took.
async fn within<F: Future<Output = bool>>(what: &str, within: Duration, mut cond: impl FnMut() -> F) -> Duration {
    let started = Instant::now();
    while !cond().await {
        assert!(started.elapsed() < within, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[test]
fn against_a_pymodbus_building_strikes_are_put_right_a_frozen_panel_goes_offline_and_intake_loses_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut building = Building::start(port);
    let cfg = config(dir.path(), port);
    let daemon = spawn_run(dir.path(), &cfg, false, &[]);
    let two_polls = RELAY_POLL * 2 + Duration::from_millis(500);
    rt.block_on(async {
        within("the strikes locked at start", Duration::from_secs(5), || async {
            !building.coil(ENTRANCE).await && building.coil(LAUNDRY).await
        })
        .await;

        // Another Modbus master energises the entrance coil behind the daemon's back.
        building.client(2).await.write_single_coil(ENTRANCE, true).await.unwrap().unwrap();
        let put_back =
            within("the entrance coil put back", two_polls, || async { !building.coil(ENTRANCE).await }).await;
        println!("a coil changed behind the daemon's back was put back after {put_back:?}");

        // The entrance panel hangs: its heartbeat stops.
        let socket = dir.path().join("run/control.sock");
        let panel = |state: &'static str| {
            let socket = socket.clone();
            move || {
                let socket = socket.clone();
                async move {
                    let v = portvakt::daemon::client::request(&socket, &Request::Status).await.unwrap();
                    let doors = v["status"]["gateway"]["doors"].as_array().cloned().unwrap_or_default();
                    doors.iter().any(|d| d["door"] == "entrance" && d["panel"] == state)
                }
            }
        };
        within("the entrance panel online", Duration::from_secs(5), panel("online")).await;
        building.client(1).await.write_single_register(10, 1).await.unwrap().unwrap();
        let offline = within("the entrance panel offline", Duration::from_secs(5), panel("offline")).await;
        println!("a frozen panel was called offline {offline:?} after its heartbeat stopped");

        // The relay board loses power and comes back with every coil off.
        building.kill();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        building = Building::start(port);
        let back = Instant::now();
        assert!(!building.coil(LAUNDRY).await, "a restarted board has its coils off (the laundry released)");
        within("the fail-safe laundry strike re-asserted", two_polls, || async { building.coil(LAUNDRY).await }).await;
        println!(
            "after the relay board restarted, every strike was re-asserted {:?} after it answered",
            back.elapsed()
        );
    });

    // `portvakt intake` beside the daemon, then a pulse: nothing lost.
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    std::fs::write(dir.path().join("inbox/care.pvkt"), common::daemon::care_pin_bundle("4711")).unwrap();
    let (code, out, err) = portvakt_cli(dir.path(), &cfg, &["intake"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("accepted  care.pvkt"), "{out}");
    let (code, out, err) = portvakt_cli(dir.path(), &cfg, &["pulse", "entrance"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    let ok = Command::new("kill").args(["-TERM", &daemon.id().to_string()]).status().unwrap().success();
    assert!(ok);
    let out = daemon.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(!log.contains("not stored"), "a record was lost:\n{log}");
    let db = dir.path().join("portvakt.db").display().to_string();
    let (_, audit, _) = portvakt_cli(dir.path(), &cfg, &["audit", "list", "--db", &db], &[]);
    for kind in ["door.strike_corrected", "credentials.accepted", "door.pulsed", "system.stop"] {
        assert!(audit.contains(kind), "{kind} missing:\n{audit}");
    }
    let (code, verified, err) = portvakt_cli(dir.path(), &cfg, &["audit", "verify", "--db", &db], &[]);
    assert_eq!(code, Some(0), "{verified}{err}");
}
