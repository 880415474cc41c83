//! `portvakt audit verify` and `audit list` on a store written by the test suite from
//! real decisions of the test site.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

use jiff::SignedDuration;
use portvakt::core::clock::ClockTrust;
use portvakt::core::decide::{AccessRequest, AccessState, handle};
use portvakt::store::{NewEvent, Store, StoreOptions};

fn portvakt(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_portvakt")).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A store with a night of decisions at the test site's entrance.
fn written_store(dir: &tempfile::TempDir) -> String {
    let cfg = common::site();
    let path = dir.path().join("portvakt.db");
    let mut store = Store::open(&StoreOptions {
        path: path.clone(),
        max_size_bytes: 16 << 20,
        retention: SignedDuration::from_hours(24 * 180),
        kept_locally: false,
        personal: portvakt::config::PersonalRetention::default(),
    })
    .unwrap();
    let allowlist = portvakt::core::allowlist::Allowlist::build(
        &cfg.policy,
        vec![common::spec("anna-tag", "resident", common::tag(&cfg, "04:A2:19:7F"), &["entrance"])],
    )
    .unwrap();
    let mut state = AccessState { allowlist, clock: ClockTrust::Trusted, ..AccessState::default() };
    let entrance = common::door(&cfg, "entrance");
    let tries = [
        ("2026-11-24T14:00", common::pin(&cfg, "1357")),
        ("2026-11-24T23:30", common::pin(&cfg, "1357")),
        ("2026-11-24T23:31", common::tag(&cfg, "04:A2:19:7F")),
        ("2026-11-24T23:32", common::pin(&cfg, "0000")),
    ];
    for (when, token) in tries {
        let now = common::at(&cfg, when);
        let (decision, _) = handle(&cfg.policy, &mut state, &AccessRequest { door: entrance, token }, now);
        store.append(&[NewEvent::from_decision(&decision, now)]).unwrap();
    }
    path.display().to_string()
}

#[test]
fn verify_reports_an_intact_chain() {
    let dir = tempfile::tempdir().unwrap();
    let db = written_store(&dir);
    let (code, out, err) = portvakt(&["audit", "verify", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("chain intact: 4 record(s) checked"), "{out}");
}

#[test]
fn list_shows_who_entered_where_and_why_not() {
    let dir = tempfile::tempdir().unwrap();
    let db = written_store(&dir);
    let (code, out, err) = portvakt(&["audit", "list", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("granted: door_code"), "{out}");
    assert!(out.contains("refused: outside_schedule"), "{out}");
    assert!(out.contains("holder-anna-tag") && out.contains("granted: role"), "{out}");
    assert!(out.contains("refused: unknown_credential"), "{out}");
    assert!(out.contains("4 record(s)"), "{out}");
    assert!(!out.contains("1357") && !out.contains("0000 "), "no PIN may appear in the log:\n{out}");
}

#[test]
fn list_filters_by_holder_and_time_and_speaks_json() {
    let dir = tempfile::tempdir().unwrap();
    let db = written_store(&dir);
    let (code, out, _) = portvakt(&["audit", "list", "--db", &db, "--holder", "holder-anna-tag", "--json"]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["seq"], 3);
    assert_eq!(lines[0]["kind"], "access.granted");
    assert_eq!(lines[0]["hash"].as_str().map(str::len), Some(64));
    let (_, out, _) = portvakt(&["audit", "list", "--db", &db, "--since", "2026-11-24T22:00:00Z", "--json"]);
    assert_eq!(out.lines().count(), 3, "three events after 22:00 UTC... {out}");
}

#[test]
fn verify_names_the_first_altered_record_and_exits_65() {
    let dir = tempfile::tempdir().unwrap();
    let db = written_store(&dir);
    rusqlite::Connection::open(&db).unwrap().execute("UPDATE audit SET door = 'rubbish' WHERE seq = 2", []).unwrap();
    let (code, _, err) = portvakt(&["audit", "verify", "--db", &db]);
    assert_eq!(code, 65, "{err}");
    assert!(err.contains("record 2 was altered"), "{err}");
}

#[test]
fn a_damaged_store_exits_74_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("portvakt.db");
    std::fs::write(&db, b"this is not a database, it is a shopping list: milk, bread").unwrap();
    let (code, _, err) = portvakt(&["audit", "verify", "--db", &db.display().to_string()]);
    assert_eq!(code, 74, "{err}");
    assert!(err.contains("Move it aside"), "{err}");
}

#[test]
fn list_shows_the_sites_time_with_db_as_with_config_and_utc_only_without_a_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let db = written_store(&dir);
    let cfg = common::fixture("config/good/portvakt.toml").display().to_string();
    let (code, out, err) = portvakt(&["--config", &cfg, "audit", "list", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().next().unwrap().contains("time (Europe/Stockholm)"), "{out}");
    let missing = dir.path().join("no-such.toml").display().to_string();
    let (code, out, err) = portvakt(&["--config", &missing, "audit", "list", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().next().unwrap().contains("time (UTC)"), "{out}");
}

#[test]
fn list_says_records_are_kept_locally_at_a_site_with_no_uplink_and_waiting_when_it_cannot_tell() {
    let dir = tempfile::tempdir().unwrap();
    let db = written_store(&dir);
    let cfg = common::fixture("config/good/portvakt.toml").display().to_string(); // no [uplink]
    let uploaded = |out: &str| -> Vec<String> {
        let at = out.lines().next().unwrap().find("uploaded").unwrap();
        out.lines().skip(1).filter(|l| l.len() > at).map(|l| l[at..].split(' ').next().unwrap().to_owned()).collect()
    };
    let (code, out, err) = portvakt(&["--config", &cfg, "audit", "list", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(uploaded(&out), ["local"; 4], "{out}");
    let missing = dir.path().join("no-such.toml").display().to_string();
    let (_, out, _) = portvakt(&["--config", &missing, "audit", "list", "--db", &db]);
    assert_eq!(uploaded(&out), ["waiting"; 4], "{out}");
}

#[test]
fn list_columns_line_up_whatever_the_length_of_the_names() {
    let dir = tempfile::tempdir().unwrap();
    let db = written_store(&dir);
    let (code, out, err) = portvakt(&["audit", "list", "--db", &db]);
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    let header = lines.next().unwrap();
    let what = header.find("what").unwrap();
    let rows: Vec<&str> = lines.filter(|l| l.contains("granted") || l.contains("refused")).collect();
    assert!(!rows.is_empty(), "{out}");
    for row in rows {
        let at = row.find("granted").or_else(|| row.find("refused")).unwrap();
        assert_eq!(at, what, "the `what` column starts where its header does:\n{out}");
    }
}
