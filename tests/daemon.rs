//! `portvakt run` in-process against the simulated building: it starts, says READY,
//! serves, takes in bundles, reloads (and refuses a bad config), keeps the watchdog fed
//! only while its loops turn, and stops cleanly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::daemon::{TestDaemon, care_pin_bundle};
use portvakt::daemon::Signal;
use portvakt::daemon::control::{Request, SimAct};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn credentials(d: &TestDaemon) -> u64 {
    let v = d.ask(&Request::Status).await.unwrap();
    v["status"]["gateway"]["credentials"].as_u64().unwrap_or(0)
}

#[test]
fn the_daemon_says_ready_serves_a_pin_from_the_inbox_and_stops_cleanly() {
    rt().block_on(async {
        let d = TestDaemon::start(None);
        let ready = d.notified("READY=1", 10).await;
        assert!(ready.contains("STATUS=serving 5 door(s)"), "{ready}");
        d.audited("system.start").await;

        std::fs::write(d.inbox().join("care.pvkt"), care_pin_bundle("864209")).unwrap();
        for _ in 0..500 {
            if credentials(&d).await == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(credentials(&d).await, 1, "the bundle from the inbox is in use");
        d.audited("credentials.accepted").await;

        let code = Request::Sim { door: "entrance".into(), act: SimAct::Code("864209".into()) };
        d.ask(&code).await.unwrap();
        d.audited("access.granted").await;
        let status = d.ask(&Request::Status).await.unwrap();
        let entrance = &status["status"]["gateway"]["doors"][0];
        assert_eq!(entrance["door"], "entrance");
        assert!(status["text"].as_str().unwrap().contains("door       entrance"));
        let text = status["text"].as_str().unwrap();
        assert!(text.contains("kept locally (no uplink)") && !text.contains("waiting for upload"), "{text}");
        assert!(text.contains("door       entrance   normal, "), "modes in the config's words: {text}");

        let socket = d.socket();
        d.stop().await.unwrap();
        assert!(!socket.exists(), "the control socket is removed at stop");
    });
}

#[test]
fn a_stop_says_stopping_ends_within_the_bound_and_is_the_last_record() {
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        d.ask(&Request::Pulse { door: "entrance".into() }).await.unwrap();
        d.audited("door.pulsed").await;
        d.signals.send(Signal::Stop).await.unwrap();
        d.notified("STOPPING=1", 5).await;
        let kinds = {
            let started = std::time::Instant::now();
            let result = tokio::time::timeout(Duration::from_secs(15), &mut { d.task }).await;
            assert!(result.is_ok(), "stopped within the bound");
            assert!(started.elapsed() < portvakt::daemon::STOP_WITHIN);
            let conn = rusqlite::Connection::open(d.dir.path().join("portvakt.db")).unwrap();
            let mut stmt = conn.prepare("SELECT kind FROM audit ORDER BY seq").unwrap();
            stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect::<Vec<_>>()
        };
        // `system.stop` is the last event; only the checkpoint covering it comes after.
        let tail: Vec<&str> = kinds.iter().rev().take(2).rev().map(String::as_str).collect();
        assert_eq!(tail, ["system.stop", "audit.checkpoint"], "{kinds:?}");
    });
}

#[test]
fn a_reload_with_a_bad_config_is_refused_and_audited_while_the_old_one_keeps_serving() {
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        let good = std::fs::read_to_string(d.config_path()).unwrap();
        std::fs::write(d.config_path(), good.replace("[site]", "[site]\nbogus = 1")).unwrap();
        d.signals.send(Signal::Reload).await.unwrap();
        d.notified("RELOADING=1", 5).await;
        let ready = d.notified("READY=1", 5).await;
        assert!(ready.contains("refused"), "{ready}");
        d.audited("config.refused").await;
        d.ask(&Request::Pulse { door: "entrance".into() }).await.expect("still serving");

        // A good change to a door's pulse restarts the doors with it.
        assert!(good.contains("pulse = \"1s\""));
        std::fs::write(d.config_path(), good.replacen("pulse = \"1s\"", "pulse = \"2s\"", 1)).unwrap();
        d.signals.send(Signal::Reload).await.unwrap();
        d.audited("config.reloaded").await;
        let conn = rusqlite::Connection::open(d.db()).unwrap();
        let detail: String =
            conn.query_row("SELECT detail FROM audit WHERE kind = 'config.reloaded'", [], |r| r.get(0)).unwrap();
        assert!(detail.contains("\"doors_restarted\":true"), "{detail}");
        d.ask(&Request::Pulse { door: "entrance".into() }).await.expect("serving after the reload");
        d.stop().await.unwrap();
    });
}

#[test]
fn bad_requests_on_the_control_socket_get_an_error_and_change_nothing() {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        for bad in ["{\"cmd\":\"explode\"}\n", "not json\n", "{\"cmd\":\"pulse\"}\n"] {
            let mut s = tokio::net::UnixStream::connect(d.socket()).await.unwrap();
            s.write_all(bad.as_bytes()).await.unwrap();
            let mut line = String::new();
            tokio::io::BufReader::new(s).read_line(&mut line).await.unwrap();
            let v: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(v["ok"], false, "{bad} -> {line}");
            assert!(v["error"].as_str().unwrap().starts_with("bad request"), "{line}");
        }
        let unknown = d.ask(&Request::Pulse { door: "attic".into() }).await.unwrap_err();
        assert!(unknown.to_string().contains("no door \"attic\""), "{unknown}");
        assert!(!d.audit_kinds().iter().any(|k| k == "door.pulsed"));
        d.stop().await.unwrap();
    });
}

#[test]
fn a_second_daemon_on_the_same_control_socket_refuses_to_start() {
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        let listener = portvakt::site::local_socket::bind(&d.socket()).await;
        assert!(matches!(listener, Err(portvakt::site::local_socket::ControlError::InUse(_))));
        d.stop().await.unwrap();
    });
}

#[test]
fn the_watchdog_is_fed_while_every_loop_answers() {
    rt().block_on(async {
        let d = TestDaemon::start(Some(Duration::from_millis(400)));
        d.notified("READY=1", 10).await;
        d.notified("WATCHDOG=1", 5).await;
        d.notified("WATCHDOG=1", 5).await;
        d.stop().await.unwrap();
    });
}

#[test]
fn watchdog_pings_stop_while_the_store_is_wedged_and_resume_when_it_turns_again() {
    use portvakt::daemon::notify::Notifier;
    use portvakt::daemon::watchdog::{self, Probes, probe};
    use portvakt::store::{Store, StoreOptions};
    use std::os::unix::net::UnixDatagram;

    rt().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let notify = UnixDatagram::bind(dir.path().join("notify")).unwrap();
        notify.set_nonblocking(true).unwrap();
        let store = Store::open(&StoreOptions {
            path: dir.path().join("db"),
            max_size_bytes: 16 << 20,
            retention: jiff::SignedDuration::from_hours(1),
            kept_locally: false,
            personal: portvakt::config::PersonalRetention::default(),
        })
        .unwrap();
        let (store, _thread) = portvakt::store::actor::spawn(store).unwrap();
        let probed = store.clone();
        let round = move || -> Probes {
            vec![("the store".into(), probe(probed.clone(), |s| async move { s.call(|_| Ok(())).await.is_ok() }))]
        };
        let cancel = tokio_util::sync::CancellationToken::new();
        let notifier = Notifier::to(dir.path().join("notify"), None);
        tokio::spawn(watchdog::run(notifier, Duration::from_millis(50), round, cancel.clone()));
        let pings = |notify: &UnixDatagram| {
            let mut buf = [0u8; 64];
            std::iter::from_fn(|| notify.recv(&mut buf).ok()).count()
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(pings(&notify) >= 3, "pings while the store turns");

        // Wedge the store's thread (as a stuck disk would) for a while.
        let (release, wedged) = std::sync::mpsc::channel::<()>();
        let blocked = store.clone();
        tokio::spawn(async move { blocked.call(move |_| Ok(wedged.recv().ok())).await });
        tokio::time::sleep(Duration::from_millis(100)).await;
        let _ = pings(&notify);
        tokio::time::sleep(Duration::from_millis(400)).await;
        assert_eq!(pings(&notify), 0, "no ping while the store is wedged");

        release.send(()).unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(pings(&notify) >= 2, "pings resume");
        cancel.cancel();
    });
}

#[test]
fn watch_through_the_daemon_shows_what_happens_at_a_door_without_the_digits() {
    use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _};
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        let mut stream = tokio::net::UnixStream::connect(d.socket()).await.unwrap();
        stream.write_all(b"{\"cmd\":\"watch\"}\n").await.unwrap();
        let mut answers = tokio::io::BufReader::new(stream).lines();
        let first: serde_json::Value = serde_json::from_str(&answers.next_line().await.unwrap().unwrap()).unwrap();
        assert_eq!(first["watching"], true, "the daemon says when it watches: {first}");
        d.ask(&Request::Sim { door: "entrance".into(), act: SimAct::Open }).await.unwrap();
        d.ask(&Request::Sim { door: "entrance".into(), act: SimAct::Code("4711".into()) }).await.unwrap();
        let mut lines = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), async {
            let seen = |lines: &[String], what: &str| lines.iter().any(|l| l.contains(what));
            while !(seen(&lines, "digits typed") && seen(&lines, "input 1 ON")) {
                let v: serde_json::Value = serde_json::from_str(&answers.next_line().await.unwrap().unwrap()).unwrap();
                lines.push(v["line"].as_str().unwrap_or_default().to_owned());
            }
        });
        read.await.unwrap_or_else(|_| panic!("not both seen: {lines:?}"));
        assert!(lines.iter().any(|l| l == "bus rs485: unit 3: input 1 ON"), "{lines:?}");
        assert!(lines.iter().any(|l| l == "bus rs485: unit 1: 4 digits typed"), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("4711")), "never the digits: {lines:?}");
        d.stop().await.unwrap();
    });
}

#[test]
fn sim_takes_a_tag_in_the_colon_form_that_explain_and_the_csv_files_use() {
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        let tag = Request::Sim { door: "entrance".into(), act: SimAct::Tag("04:a2:19:7f".into()) };
        d.ask(&tag).await.expect("the colon form is a tag UID");
        d.audited("access.denied").await; // an unknown tag, read and decided
        let bad = Request::Sim { door: "entrance".into(), act: SimAct::Tag("04:zz".into()) };
        let refused = d.ask(&bad).await;
        assert!(format!("{refused:?}").contains("is not a tag UID"), "{refused:?}");
        d.stop().await.unwrap();
    });
}

#[test]
fn status_and_pulse_still_reach_a_running_daemon_while_the_config_on_disk_is_half_edited() {
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        let cfg = d.config_path();
        let text = std::fs::read_to_string(&cfg).unwrap();
        std::fs::write(&cfg, text.replace("[[doors]]", "[[doors]]\nrelay_typo = 3")).unwrap();
        let dir = d.dir.path().to_path_buf();
        let cli = move |args: &'static [&'static str]| {
            let (dir, cfg) = (dir.clone(), cfg.clone());
            tokio::task::spawn_blocking(move || common::daemon::portvakt_cli(&dir, &cfg, args, &[]))
        };
        let (code, out, err) = cli(&["status"]).await.unwrap();
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("door       entrance"), "{out}");
        assert!(err.contains("has problems"), "the broken file is named: {err}");
        let (code, out, err) = cli(&["pulse", "entrance"]).await.unwrap();
        assert_eq!(code, Some(0), "{out}{err}");
        assert!(out.contains("released for its pulse by the running daemon"), "{out}");
        d.stop().await.unwrap();
    });
}

#[test]
fn reloads_racing_intakes_neither_deadlock_nor_leave_an_older_bundle_in_force() {
    // The access actor hands every new build to the supervisor without waiting for it, so
    // a supervisor busy with a reload (waiting on the actor) cannot stall the actor.
    rt().block_on(async {
        let d = TestDaemon::start(None);
        d.notified("READY=1", 10).await;
        for version in 1..=12u64 {
            let name = format!("care-{version}.pvkt");
            std::fs::write(d.inbox().join(name), common::daemon::care_pin_bundle_version("246810", version)).unwrap();
            let both = async { tokio::join!(d.ask(&Request::Intake), d.signals.send(Signal::Reload)) };
            let (intake, reload) = tokio::time::timeout(Duration::from_secs(10), both)
                .await
                .unwrap_or_else(|_| panic!("version {version}: an intake and a reload did not end within 10 s"));
            intake.unwrap();
            reload.unwrap();
        }
        let status = tokio::time::timeout(Duration::from_secs(10), d.ask(&Request::Status)).await;
        let status = status.expect("the daemon still answers").unwrap();
        let bundles = status["status"]["bundles"].as_array().unwrap();
        assert_eq!(bundles.len(), 1, "{status}");
        assert_eq!(bundles[0]["version"], 12, "the newest bundle is in force: {status}");
        d.stop().await.unwrap();
    });
}
