//! Whose records leave the gateway, and how (`docs/audit.md`, Audiences): a day at the
//! test site with a resident (the owner's credential) and home care (the municipality's)
//! on a running gateway against the in-process broker. Nobody's holder or credential
//! leaves in clear; home care's leave sealed to the municipality's reading key and open
//! with it; the resident's stay on the box (the owner has no reading key here); and
//! `audit.query` signed by the municipality returns its own records and the building's,
//! never the resident's.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::daemon::{TestDaemon, care_pin_bundle, copy_dir};
use common::mqtt::{Subscriber, uplink_env};
use common::signed::signed_command;
use jiff::{SignedDuration, Timestamp};
use portvakt::daemon::control::{Request, SimAct};
use portvakt::uplink::sim_broker::SimBroker;
use serde_json::Value;

const P: &str = "portvakt/test-site";

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// The owner's bundle (seed 0x01) with one resident's PIN for the entrance, valid now.
fn resident_pin_bundle(pin: &str) -> Vec<u8> {
    use portvakt::credentials::bundle::Bundle;
    use portvakt::credentials::envelope::{DocType, seal};
    let cfg = common::site();
    let csv = format!("id,holder,role,kind,secret,doors\nres-1101,anna-lgh-1101,resident,pin,{pin},entrance\n");
    let now = Timestamp::now();
    let bundle = Bundle {
        authority: "owner".into(),
        site: "test-site".into(),
        version: 1,
        issued_at: now - SignedDuration::from_hours(1),
        not_after: now + SignedDuration::from_hours(24 * 30),
        entries: portvakt::admin::csv_import::entries(&csv, &cfg.credential_key, &cfg.policy.tz).unwrap(),
        bookings: Vec::new(),
        policy: None,
    };
    seal(DocType::Bundle, &bundle.encode(), &ed25519_dalek::SigningKey::from_bytes(&[1; 32]))
}

/// The test site with the municipality's reading key configured.
fn site_reading_for_kommunen(public: &[u8; 32]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&common::fixture("config/good"), &dir.path().join("etc"));
    let path = dir.path().join("etc/portvakt.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let key = portvakt::core::hex::encode(public);
    let text = text.replacen("id = \"kommunen\"\n", &format!("id = \"kommunen\"\nreading_key = \"{key}\"\n"), 1);
    std::fs::write(&path, text).unwrap();
    dir
}

async fn granted_to(d: &TestDaemon, n: usize) {
    for _ in 0..500 {
        if d.audit_of("access.granted").len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{} grant(s), not {n}: {:?}", d.audit_of("access.granted").len(), d.audit_kinds());
}

async fn in_force(d: &TestDaemon, n: u64) {
    for _ in 0..500 {
        let v = d.ask(&Request::Status).await.unwrap();
        if v["status"]["gateway"]["credentials"].as_u64() == Some(n) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not {n} credentials in force");
}

#[test]
fn a_residents_entry_never_leaves_in_clear_and_home_care_leaves_only_sealed_to_the_municipality() {
    rt().block_on(async {
        let (private, public) = portvakt_wire::personal::reading_pair(&[42; 32]);
        let broker = SimBroker::start(0).await.unwrap();
        let sub = Subscriber::connect(broker.addr().port(), "watcher", &format!("{P}/#")).await;
        let d = TestDaemon::start_in(site_reading_for_kommunen(&public), None, uplink_env(broker.addr().port(), &[]));
        d.notified("READY=1", 10).await;
        std::fs::write(d.inbox().join("owner.pvkt"), resident_pin_bundle("135790")).unwrap();
        std::fs::write(d.inbox().join("care.pvkt"), care_pin_bundle("864209")).unwrap();
        in_force(&d, 2).await;
        for pin in ["135790", "864209"] {
            d.ask(&Request::Sim { door: "entrance".into(), act: SimAct::Code(pin.into()) }).await.unwrap();
        }
        granted_to(&d, 2).await;

        let events = format!("{P}/events");
        let grant = |audience: &'static str| {
            sub.wait(&events, 10, move |s| s.json()["kind"] == "access.granted" && s.json()["audience"] == audience)
        };
        let resident: Value = grant("owner").await.json();
        let care: Value = grant("kommunen").await.json();
        for s in sub.all() {
            let text = s.text();
            for name in ["anna-lgh-1101", "res-1101", "hemtjanst-natt-5", "care-5"] {
                assert!(!text.contains(name), "{name} in clear on {}: {text}", s.topic);
            }
        }
        assert!(resident.get("personal").is_none(), "the owner has no reading key: the part stays on the box");
        assert!(resident["commitment"].is_string(), "{resident}");
        let seq = care["seq"].as_u64().unwrap();
        let commitment = portvakt::core::hex::decode32(care["commitment"].as_str().unwrap()).unwrap();
        let sealed = portvakt::core::hex::decode(care["personal"].as_str().expect("sealed")).unwrap();
        let opened = portvakt_wire::personal::open(&private, "test-site", seq, &commitment, &sealed).unwrap();
        assert_eq!(
            (opened.holder.as_deref(), opened.credential.as_deref()),
            (Some("hemtjanst-natt-5"), Some("care-5"))
        );
        // On the box itself both are whole, and the chain verifies.
        let store = portvakt::store::Store::open_read_only(&d.db()).unwrap();
        let filter = portvakt::store::AuditFilter { holder: Some("anna-lgh-1101".into()), ..Default::default() };
        assert_eq!(store.query(&filter).unwrap().len(), 1, "the resident's entry is whole on the box");
        let report = store.verify().unwrap();
        assert!(report.first_break.is_none() && report.checked > 5, "{report:?}");
        drop(store);

        // The municipality's signed audit.query: its own records and the building's only.
        let ask = signed_command(
            ("kommunen", 2),
            "audit.query",
            serde_json::json!({"door": "entrance", "purpose": "invoicing"}),
            "q-1",
        );
        broker.publish(&format!("{P}/cmd/audit.query"), ask, false);
        let reply = sub.wait(&format!("{P}/cmd/audit.query/reply"), 10, |s| s.json()["id"] == "q-1").await.json();
        let records = reply["result"]["records"].as_array().unwrap_or_else(|| panic!("{reply}"));
        assert!(records.iter().any(|r| r["seq"] == seq), "its own visit is there: {reply}");
        assert!(
            records.iter().all(|r| r["audience"] == "kommunen" || r["audience"] == "site"),
            "another authority's record in the municipality's answer: {reply}"
        );
        assert!(!reply.to_string().contains("anna-lgh-1101"));
        // The municipality opens its own visits in the reply with its reading key.
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("kommunen.reading.key");
        portvakt::credentials::keys::write_private(&key_file, &private).unwrap();
        std::fs::write(dir.path().join("reply.json"), reply.to_string()).unwrap();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt-admin"))
            .args(["personal", "--site", "test-site", "--key"])
            .arg(&key_file)
            .arg("--in")
            .arg(dir.path().join("reply.json"))
            .output()
            .unwrap();
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && said.contains("hemtjanst-natt-5") && said.contains("care-5"), "{said}");
        assert!(!said.contains("(not checked)"), "each record checked against its own hash: {said}");

        // The right to erasure: the owner cannot erase the municipality's records, the
        // municipality can; the erasure is recorded without naming whose.
        let erase = |who, seed, id| {
            signed_command((who, seed), "personal.erase", serde_json::json!({"holder": "hemtjanst-natt-5"}), id)
        };
        let replies = format!("{P}/cmd/personal.erase/reply");
        broker.publish(&format!("{P}/cmd/personal.erase"), erase("owner", 1, "e-1"), false);
        let r = sub.wait(&replies, 10, |s| s.json()["id"] == "e-1").await.json();
        assert_eq!(r["result"]["erased"], 0, "{r}");
        broker.publish(&format!("{P}/cmd/personal.erase"), erase("kommunen", 2, "e-2"), false);
        let r = sub.wait(&replies, 10, |s| s.json()["id"] == "e-2").await.json();
        assert_eq!(r["result"]["erased"], 1, "{r}");
        let store = portvakt::store::Store::open_read_only(&d.db()).unwrap();
        let of = |h: &str| portvakt::store::AuditFilter { holder: Some(h.into()), ..Default::default() };
        assert_eq!(store.query(&of("hemtjanst-natt-5")).unwrap().len(), 0, "home care's part erased");
        assert_eq!(store.query(&of("anna-lgh-1101")).unwrap().len(), 1, "the resident's untouched");
        let report = store.verify().unwrap();
        assert_eq!((report.first_break.is_none(), report.erased), (true, 1), "{report:?}");
        drop(store);
        let erased = d.audit_of("audit.erased");
        assert_eq!(erased.len(), 2, "{erased:?}");
        assert!(!erased.iter().any(|e| e.to_string().contains("hemtjanst-natt-5")), "{erased:?}");
        d.stop().await.unwrap();
    });
}
