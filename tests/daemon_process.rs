//! The `portvakt run` process as systemd sees it: `NOTIFY_SOCKET` from the environment,
//! real SIGHUP and SIGTERM, exit statuses (0 after a stop, 78 for a bad config, so the
//! unit's `RestartPreventExitStatus` keeps it from restart-looping).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::daemon::{TestDaemon, copy_dir, portvakt_cli, spawn_run};

fn recv_until(sock: &UnixDatagram, prefix: &str, within: Duration) -> String {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 512];
    while Instant::now() < deadline {
        if let Ok(n) = sock.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if text.starts_with(prefix) {
                return text;
            }
        }
    }
    panic!("no {prefix} within {within:?}");
}

fn kill(pid: u32, signal: &str) {
    let ok = Command::new("kill").args([format!("-{signal}"), pid.to_string()]).status().unwrap().success();
    assert!(ok, "kill -{signal} {pid}");
}

fn example_config() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config/portvakt.toml")
}

/// `portvakt --config <example> <args>` with the test's environment; stdout on success.
fn cli(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .arg("--config")
        .arg(example_config())
        .args(args)
        .envs(TestDaemon::env(dir))
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn with_the_example_config_the_process_notifies_serves_reloads_on_sighup_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let notify = UnixDatagram::bind(dir.path().join("notify")).unwrap();
    notify.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .args(["run", "--simulate", "--config"])
        .arg(example_config())
        .envs(TestDaemon::env(dir.path()))
        .env("NOTIFY_SOCKET", dir.path().join("notify"))
        .env_remove("JOURNAL_STREAM")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    recv_until(&notify, "READY=1", Duration::from_secs(20));
    let status = cli(dir.path(), &["status"]);
    assert!(status.contains("door       entrance") && status.contains("device     rs485/1"), "{status}");
    let pulsed = cli(dir.path(), &["pulse", "entrance"]);
    assert!(pulsed.contains("by the running daemon"), "{pulsed}");

    kill(pid, "HUP");
    recv_until(&notify, "RELOADING=1", Duration::from_secs(5));
    let ready = recv_until(&notify, "READY=1", Duration::from_secs(5));
    assert!(ready.contains("serving"), "{ready}");

    let asked = Instant::now();
    kill(pid, "TERM");
    recv_until(&notify, "STOPPING=1", Duration::from_secs(5));
    let out = child.wait_with_output().unwrap();
    assert!(asked.elapsed() < portvakt::daemon::STOP_WITHIN, "stopped in {:?}", asked.elapsed());
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(log.contains("configuration reloaded") && log.contains("store flushed and closed"), "{log}");
    let audit = cli(dir.path(), &["audit", "list", "--db", &dir.path().join("portvakt.db").display().to_string()]);
    for kind in ["system.start", "door.pulsed", "config.reloaded", "system.stop"] {
        assert!(audit.contains(kind), "{kind} missing from:\n{audit}");
    }
}

#[test]
fn a_bad_configuration_exits_78_at_once_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::fixture("config/good"), &dir.path().join("etc"));
    let cfg = dir.path().join("etc/portvakt.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replace("[site]", "[site]\nbogus = 1") + "\n[daemon]\nlog_level = \"loud\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .args(["run", "--config"])
        .arg(&cfg)
        .envs(TestDaemon::env(dir.path()))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(78), "{err}");
    assert!(err.contains("site") && err.contains("bogus"), "{err}");
    assert!(err.contains("daemon.log_level"), "{err}");
}

/// The daemon's own inbox round waits an hour, so `portvakt intake` finds the document.
const QUIET_INBOX: &[(&str, &str)] = &[("PORTVAKT__DAEMON__INTAKE_INTERVAL", "1h")];

#[test]
fn intake_beside_the_running_daemon_goes_through_it_and_no_later_record_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::fixture("config/good"), &dir.path().join("etc"));
    let cfg = dir.path().join("etc/portvakt.toml");
    let child = spawn_run(dir.path(), &cfg, true, QUIET_INBOX);
    let pid = child.id();

    // The README's order: the daemon runs, a bundle is dropped in, `portvakt intake`.
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    std::fs::write(dir.path().join("inbox/care.pvkt"), common::daemon::care_pin_bundle("4711")).unwrap();
    let (code, out, err) = portvakt_cli(dir.path(), &cfg, &["intake"], QUIET_INBOX);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("accepted  care.pvkt: bundle of kommunen"), "{out}");

    // Once more, directly on the store: the second writer is refused, nothing is written.
    let store = portvakt::store::Store::open(&portvakt::store::StoreOptions {
        path: dir.path().join("portvakt.db"),
        max_size_bytes: 16 << 20,
        retention: jiff::SignedDuration::from_hours(1),
        kept_locally: false,
        personal: portvakt::config::PersonalRetention::default(),
    });
    assert!(matches!(store, Err(portvakt::store::StoreError::Locked { .. })), "{store:?}");

    // Later records are still stored, and what the pulse says is true.
    let (code, out, err) = portvakt_cli(dir.path(), &cfg, &["pulse", "entrance"], QUIET_INBOX);
    assert_eq!(code, Some(0), "{out}{err}");
    kill(pid, "TERM");
    let out = child.wait_with_output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{log}");
    assert!(!log.contains("not stored"), "a record was lost:\n{log}");
    let db = dir.path().join("portvakt.db").display().to_string();
    let (_, audit, _) = portvakt_cli(dir.path(), &cfg, &["audit", "list", "--db", &db], QUIET_INBOX);
    let at = |kind: &str| audit.find(kind).unwrap_or_else(|| panic!("{kind} missing from:\n{audit}"));
    assert!(at("credentials.accepted") < at("door.pulsed") && at("door.pulsed") < at("system.stop"), "{audit}");
    let (code, verified, err) = portvakt_cli(dir.path(), &cfg, &["audit", "verify", "--db", &db], QUIET_INBOX);
    assert_eq!(code, Some(0), "{verified}{err}");
}

#[test]
fn intake_without_a_daemon_exits_65_when_a_document_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::fixture("config/good"), &dir.path().join("etc"));
    let cfg = dir.path().join("etc/portvakt.toml");
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    std::fs::write(dir.path().join("inbox/garbage.pvkt"), b"not a signed document").unwrap();
    let (code, out, err) = portvakt_cli(dir.path(), &cfg, &["intake"], QUIET_INBOX);
    assert_eq!(code, Some(65), "{out}{err}");
    assert!(out.contains("REFUSED   garbage.pvkt"), "{out}");
}

#[test]
fn sim_says_what_the_door_recorded_and_scan_finds_the_daemons_simulated_building() {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::fixture("config/good"), &dir.path().join("etc"));
    let cfg = dir.path().join("etc/portvakt.toml");
    let child = spawn_run(dir.path(), &cfg, true, QUIET_INBOX);
    std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
    std::fs::write(dir.path().join("inbox/care.pvkt"), common::daemon::care_pin_bundle("4711")).unwrap();
    let (code, out, err) = portvakt_cli(dir.path(), &cfg, &["intake"], QUIET_INBOX);
    assert_eq!(code, Some(0), "{out}{err}");

    // What `sim` prints is read back from the audit log, not assumed from the act.
    let (code, granted, err) = portvakt_cli(dir.path(), &cfg, &["sim", "entrance", "code", "4711"], QUIET_INBOX);
    assert_eq!(code, Some(0), "{granted}{err}");
    assert!(granted.contains("entrance  granted: role — hemtjanst-natt-5 (care-5)  (audit record"), "{granted}");
    let (_, refused, _) = portvakt_cli(dir.path(), &cfg, &["sim", "entrance", "code", "9999"], QUIET_INBOX);
    assert!(refused.contains("entrance  refused: unknown_credential  (audit record"), "{refused}");

    // `status` names where the simulated building is served, and `scan` finds it there.
    let (_, status, _) = portvakt_cli(dir.path(), &cfg, &["status"], QUIET_INBOX);
    assert!(status.contains("is the simulated building on modbus tcp://127.0.0.1:"), "{status}");
    let (code, scan, err) = portvakt_cli(dir.path(), &cfg, &["scan", "--units", "1-2"], QUIET_INBOX);
    assert_eq!(code, Some(0), "{scan}{err}");
    assert!(err.contains("the running daemon simulates bus"), "{err}");
    assert!(scan.contains("2 unit(s) answered"), "{scan}");

    kill(child.id(), "TERM");
    assert_eq!(child.wait_with_output().unwrap().status.code(), Some(0));
}
