//! The daemon with the simulated BLE transport, for the phone tests: the test site's
//! kommunen bundle (phones 0x31 and 0x32 at the entrance), phones from a seed,
//! certificates, and the audit records read back.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use portvakt::ble::phone::{Phone, SocketLink};
use portvakt::credentials::bundle::Bundle;
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::gateway::clock::{Clock, SystemClock};

use super::daemon::TestDaemon;

pub const KOMMUNEN: [u8; 32] = [2; 32];

pub fn phone(seed: u8) -> Phone {
    Phone { key: SigningKey::from_bytes(&[seed; 32]).into(), certificate: None }
}

pub fn hex(b: &[u8]) -> String {
    portvakt::core::hex::encode(b)
}

/// Kommunen's bundle: phone 0x31 for the entrance, phone 0x32 for the entrance too
/// (revoked later), and nothing for the rubbish room.
pub fn bundle() -> Vec<u8> {
    let cfg = super::site();
    let csv = format!(
        "id,holder,role,kind,secret,doors\n\
         care-phone-1,hemtjanst-1,home_care,phone,{},entrance\n\
         care-phone-2,hemtjanst-2,home_care,phone,{},entrance\n",
        hex(&phone(0x31).key.public().id()),
        hex(&phone(0x32).key.public().id()),
    );
    let now = Timestamp::now();
    let b = Bundle {
        authority: "kommunen".into(),
        site: "test-site".into(),
        version: 1,
        issued_at: now - SignedDuration::from_hours(1),
        not_after: now + SignedDuration::from_hours(24),
        entries: portvakt::admin::csv_import::entries(&csv, &cfg.credential_key, &cfg.policy.tz).unwrap(),
        bookings: Vec::new(),
        policy: None,
    };
    seal(DocType::Bundle, &b.encode(), &SigningKey::from_bytes(&KOMMUNEN))
}

pub fn certificate(seed: u8, key_of: u8, hours: i64, signer: [u8; 32]) -> Vec<u8> {
    let now = Timestamp::now();
    let c = PhoneCertificate {
        authority: "kommunen".into(),
        site: "test-site".into(),
        id: format!("cert-{seed}"),
        holder: format!("ny-{seed}"),
        role: "home_care".into(),
        phone_key: phone(key_of).key.public().id(),
        doors: vec!["entrance".into()],
        not_before: now - SignedDuration::from_hours(2),
        not_after: now + SignedDuration::from_hours(hours),
        revocations: None,
    };
    seal(DocType::Certificate, &c.encode(), &SigningKey::from_bytes(&signer))
}

/// The daemon with the simulated BLE transport, kommunen's bundle taken in.
pub async fn daemon(extra: &[(&str, &str)]) -> (TestDaemon, tempfile::TempDir) {
    daemon_on(extra, Arc::new(SystemClock)).await
}

/// The same, reading the time from `clock`.
pub async fn daemon_on(extra: &[(&str, &str)], clock: Arc<dyn Clock>) -> (TestDaemon, tempfile::TempDir) {
    let sock = tempfile::tempdir().unwrap();
    let mut env: Vec<(String, String)> = extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    env.push(("PORTVAKT__BLE__SOCKET".into(), sock.path().join("ble.sock").display().to_string()));
    let d = TestDaemon::start_on_clock(env, clock);
    d.notified("READY=1", 10).await;
    std::fs::create_dir_all(d.inbox()).unwrap();
    std::fs::write(d.inbox().join("kommunen.pvkt"), bundle()).unwrap();
    d.first_bundle_in_force().await;
    (d, sock)
}

pub async fn link(sock: &tempfile::TempDir) -> SocketLink {
    SocketLink::connect(&sock.path().join("ble.sock"), 23).await.unwrap()
}

pub fn audit_details(d: &TestDaemon, kind: &str) -> Vec<serde_json::Value> {
    let conn = rusqlite::Connection::open_with_flags(d.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    let mut stmt = conn.prepare("SELECT detail FROM audit WHERE kind = ?1 ORDER BY seq").unwrap();
    stmt.query_map([kind], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|d| serde_json::from_str(&d.unwrap()).unwrap())
        .collect()
}

pub fn reasons(d: &TestDaemon, kind: &str) -> Vec<String> {
    audit_details(d, kind).iter().map(|v| v["reason"].as_str().unwrap_or("").to_owned()).collect()
}
