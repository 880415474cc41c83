//! `portvakt doctor`: every configured device asked directly when no daemon runs (with a
//! silent one failing and named), an invalid config failing first, and the commissioning
//! record written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use jiff::SignedDuration;
use portvakt::config::{BusLink, ConfigError};
use portvakt::modbus::sim::{Fault, SimBuilding, serve};
use portvakt::tools::doctor::{self, Verdict};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn without_a_daemon_each_device_is_asked_directly_and_a_silent_one_fails_by_name() {
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = common::site();
        let sim = SimBuilding::for_bus(&cfg.buses[0]);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        cfg.buses[0].link = BusLink::Tcp { address: listener.local_addr().unwrap().to_string() };
        cfg.buses[0].timeout = SignedDuration::from_millis(200);
        cfg.store.path = dir.path().join("portvakt.db");
        cfg.daemon.control_socket = dir.path().join("control.sock");
        tokio::spawn(serve(sim.clone(), listener));
        sim.set_fault(3, Some(Fault::Silent));
        sim.use_first_keypad_map(4); // an older panel: no entry-age register

        let report = doctor::run(&dir.path().join("portvakt.toml"), Ok(cfg.clone())).await;
        let line = |prefix: &str| {
            report.checks.iter().find(|c| c.check.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} line"))
        };
        assert_eq!(line("configuration").verdict, Verdict::Ok);
        assert_eq!(line("daemon").verdict, Verdict::Warning);
        assert_eq!(line("device rs485/1").verdict, Verdict::Ok, "{:?}", line("device rs485/1"));
        assert!(line("device rs485/1").detail.contains("panel answers"));
        assert!(line("device rs485/2").detail.contains("relay(s) readable"));
        let older = line("device rs485/4");
        assert_eq!(older.verdict, Verdict::Ok, "{older:?}");
        assert!(older.detail.contains("the first keypad map"), "{older:?}");
        let silent = line("device rs485/3");
        assert_eq!(silent.verdict, Verdict::Failed);
        assert!(silent.remedy.as_deref().unwrap().contains("A/B wiring"));
        assert!(report.failed());
        assert_eq!(line("BLE").verdict, Verdict::Skipped);
        assert!(line("BLE").detail.contains("not configured"), "{:?}", line("BLE"));

        // With [ble] on a socket, doctor says what is served instead of "not in this version".
        let socket = dir.path().join("ble.sock");
        std::fs::write(&socket, b"").unwrap();
        let env = vec![("PORTVAKT__BLE__SOCKET".to_owned(), socket.display().to_string())];
        let opts = portvakt::config::LoadOptions { path: common::fixture("config/good/portvakt.toml"), env };
        let mut with_ble = portvakt::config::load(&opts).unwrap();
        with_ble.buses = cfg.buses.clone();
        with_ble.store = cfg.store.clone();
        with_ble.daemon = cfg.daemon.clone();
        let report2 = doctor::run(&dir.path().join("portvakt.toml"), Ok(with_ble)).await;
        let ble = report2.checks.iter().find(|c| c.check == "BLE").unwrap();
        assert_eq!(ble.verdict, Verdict::Ok, "{ble:?}");
        assert!(ble.detail.contains("simulated transport only") && ble.detail.contains("present"), "{ble:?}");

        let saved = doctor::save(&report, Some(&cfg), dir.path()).unwrap();
        let back: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&saved.json).unwrap()).unwrap();
        assert_eq!(back["checks"].as_array().unwrap().len(), report.checks.len());

        // The printable page beside it: the site, a line per check, each door and what a
        // power cut does to it, the device key's line, lines to sign; folded to the page.
        let page = std::fs::read_to_string(&saved.page).unwrap();
        assert!(page.contains(&format!("Site:           {} ({})", cfg.site.name, cfg.site.id)), "{page}");
        assert!(page.contains("check(s) FAILED") && page.contains("NOT READY TO HAND OVER"), "{page}");
        assert!(page.contains("[ ] FAILED   device rs485/3"), "{page}");
        assert!(page.contains("[x] ok       configuration"), "{page}");
        assert!(page.contains("door       entrance") && page.contains("fail-secure"), "{page}");
        assert!(page.contains("Electrician     name ____") && page.contains("Property owner  name ____"), "{page}");
        assert!(page.lines().all(|l| l.chars().count() <= 78), "{page}");
    });
}

#[test]
fn an_invalid_configuration_fails_first_and_nothing_else_is_tried() {
    rt().block_on(async {
        let bad = ConfigError::Invalid(vec![portvakt::config::Problem {
            path: "site.id".into(),
            message: "missing".into(),
            ..Default::default()
        }]);
        let report = doctor::run(std::path::Path::new("/etc/portvakt/portvakt.toml"), Err(bad)).await;
        assert_eq!(report.checks[0].verdict, Verdict::Failed);
        assert!(report.checks[0].detail.contains("site.id"));
        assert!(report.checks[1..].iter().all(|c| c.verdict == Verdict::Skipped));
        assert!(report.render().contains("1 failed"));
    });
}

#[cfg(target_os = "linux")]
#[test]
fn on_an_rs485_line_a_garbled_reply_is_told_from_silence() {
    use portvakt::config::Parity;
    use portvakt::modbus::sim_line::SimLine;
    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = common::site();
        let sim = SimBuilding::for_bus(&cfg.buses[0]);
        sim.set_fault(2, Some(Fault::CrcGarbage));
        sim.set_fault(3, Some(Fault::Silent));
        let line = SimLine::start(sim.clone()).unwrap();
        cfg.buses[0].link =
            BusLink::Rtu { device: line.device().into(), baud: 115_200, parity: Parity::Even, stop_bits: 1 };
        cfg.buses[0].timeout = SignedDuration::from_millis(200);
        cfg.store.path = dir.path().join("portvakt.db");
        cfg.daemon.control_socket = dir.path().join("control.sock");

        let report = doctor::run(&dir.path().join("portvakt.toml"), Ok(cfg)).await;
        let line_of = |prefix: &str| {
            report.checks.iter().find(|c| c.check.starts_with(prefix)).unwrap_or_else(|| panic!("no {prefix} line"))
        };
        assert_eq!(line_of("device rs485/1").verdict, Verdict::Ok, "{:?}", line_of("device rs485/1"));
        let garbled = line_of("device rs485/2");
        assert_eq!(garbled.verdict, Verdict::Failed);
        assert!(garbled.detail.contains("a garbled reply") && garbled.detail.contains("CRC"), "{garbled:?}");
        assert!(garbled.remedy.as_deref().unwrap().contains("termination"), "{garbled:?}");
        let silent = line_of("device rs485/3");
        assert!(silent.detail.contains("no answer"), "{silent:?}");
    });
}
