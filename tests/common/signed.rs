//! Signed documents for tests: the test site's authorities' keys (`owner` seed 0x01…,
//! every door; `kommunen` seed 0x02…, entrance and rubbish room; 0x03… trusted by
//! nobody), bundles from CSV, certificates, and a gateway's intake and decisions without
//! a daemon.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use portvakt::admin::csv_import;
use portvakt::config::Config;
use portvakt::core::clock::ClockTrust;
use portvakt::core::decide::{AccessRequest, AccessState, DenyReason, decide, decide_with};
use portvakt::credentials::bundle::Bundle;
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::intake::{IntakeProblem, process_inbox};
use portvakt::credentials::phone::present_certificate;
use portvakt::credentials::registry::{Built, Registry};
use portvakt::credentials::verify::Trust;
use portvakt::store::{Store, StoreOptions};

pub const OWNER: u8 = 1;
pub const KOMMUNEN: u8 = 2;
pub const MALLORY: u8 = 3;

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

/// Kommunen's delegation `id` of home care at the entrance to the issuer key `issuer`
/// (shifts up to 12 h), valid from a day before `at` to 30 days after, as its envelope.
pub fn kommunen_delegation(id: &str, issuer: &SigningKey, at: Timestamp) -> Vec<u8> {
    let d = portvakt::credentials::delegation::Delegation {
        authority: "kommunen".into(),
        id: id.into(),
        issuer: "central".into(),
        issuer_key: issuer.verifying_key().to_bytes(),
        site: "*".into(),
        roles: vec!["home_care".into()],
        doors: vec!["entrance".into()],
        max_certificate: SignedDuration::from_hours(12),
        not_before: at - SignedDuration::from_hours(24),
        not_after: at + SignedDuration::from_hours(24 * 30),
    };
    seal(DocType::Delegation, &d.encode(), &key(KOMMUNEN))
}

pub fn now() -> Timestamp {
    "2026-11-24T13:00:00Z".parse().unwrap()
}

pub fn staff_csv() -> &'static str {
    "id,holder,role,kind,secret,doors\n\
     care-1,kalle,home_care,phone,0101010101010101010101010101010101010101010101010101010101010101,entrance;rubbish\n\
     care-2,lisa,home_care,tag,04:C1:7A:22:9B,entrance\n"
}

pub fn bundle(cfg: &Config, authority: &str, version: u64, csv: &str) -> Bundle {
    let tz = cfg.policy.tz.clone();
    Bundle {
        authority: authority.into(),
        site: "test-site".into(),
        version,
        issued_at: now() - SignedDuration::from_hours(1),
        not_after: now() + SignedDuration::from_hours(24 * 30),
        entries: csv_import::entries(csv, &cfg.credential_key, &tz).unwrap(),
        bookings: Vec::new(),
        policy: None,
    }
}

pub fn signed(b: &Bundle, seed: u8) -> Vec<u8> {
    seal(DocType::Bundle, &b.encode(), &key(seed))
}

pub struct Gateway {
    pub cfg: Config,
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub registry: Registry,
    pub state: AccessState,
    /// The effective site policy (config plus the owner's signed changes).
    pub policy: portvakt::core::model::SitePolicy,
}

impl Gateway {
    pub fn new() -> Self {
        let cfg = super::site();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("inbox")).unwrap();
        let store = Store::open(&StoreOptions {
            path: dir.path().join("portvakt.db"),
            max_size_bytes: 16 << 20,
            retention: SignedDuration::from_hours(24),
            kept_locally: false,
            personal: portvakt::config::PersonalRetention::default(),
        })
        .unwrap();
        let state = AccessState { clock: ClockTrust::Trusted, ..AccessState::default() };
        let policy = cfg.policy.clone();
        Self { cfg, dir, store, registry: Registry::default(), state, policy }
    }

    pub fn drop_file(&self, name: &str, bytes: &[u8]) {
        std::fs::write(self.dir.path().join("inbox").join(name), bytes).unwrap();
    }

    /// Runs the intake; returns (file name, refusal code or "accepted").
    pub fn intake(&mut self) -> Vec<(String, String)> {
        let trust = Trust::of(&self.cfg);
        let mut newest: Option<Built> = None;
        let outcomes = process_inbox(
            &self.dir.path().join("inbox"),
            &mut self.registry,
            &trust,
            &mut self.store,
            now(),
            true,
            |b| newest = Some(b),
        )
        .unwrap();
        if let Some(b) = newest {
            self.policy = b.policy;
            self.state.allowlist = b.allowlist;
            self.state.revocations = b.revocations;
            self.state.bookings = b.bookings;
        }
        outcomes
            .into_iter()
            .map(|o| {
                let name = o.file.file_name().unwrap().to_string_lossy().into_owned();
                let code = match o.result {
                    Ok(_) => "accepted".to_owned(),
                    Err(IntakeProblem::Refused(r)) => r.code().to_owned(),
                    Err(e) => format!("error: {e}"),
                };
                (name, code)
            })
            .collect()
    }

    pub fn opens(&self, door: &str, token: portvakt::core::credential::Token, when: &str) -> Result<(), DenyReason> {
        let req = AccessRequest { door: super::door(&self.cfg, door), token };
        match decide(&self.policy, &self.state, &req, super::at(&self.cfg, when)) {
            d if d.is_grant() => Ok(()),
            d => Err(d.deny_reason().cloned().unwrap()),
        }
    }
}

pub fn phone1() -> portvakt::core::credential::Token {
    super::phone(1)
}

pub fn certificate(doors: &[&str], hours: i64, carried: Option<Vec<u8>>) -> PhoneCertificate {
    PhoneCertificate {
        authority: "kommunen".into(),
        site: "*".into(),
        id: "cert-77".into(),
        holder: "ny-personal".into(),
        role: "home_care".into(),
        phone_key: [77; 32],
        doors: doors.iter().map(|d| (*d).to_owned()).collect(),
        not_before: now() - SignedDuration::from_hours(1),
        not_after: now() + SignedDuration::from_hours(hours),
        revocations: carried,
    }
}

pub fn present(g: &Gateway, cert_bytes: &[u8], door: &str, at: Timestamp) -> Result<(), String> {
    let trust = Trust::of(&g.cfg);
    let p =
        present_certificate(cert_bytes, &g.registry, &g.store, &trust, at, true).map_err(|e| e.code().to_owned())?;
    if let Some(refusal) = &p.refusal {
        return Err(refusal.code().to_owned());
    }
    let mut state = AccessState { clock: ClockTrust::Trusted, ..AccessState::default() };
    if let Some((_, _, built)) = p.newer_revocations {
        state.revocations = built.revocations;
    } else {
        state.revocations = g.state.revocations.clone();
    }
    let req = AccessRequest { door: super::door(&g.cfg, door), token: p.phone.credential.token };
    let d = decide_with(&g.cfg.policy, &state, &req, &p.phone.credential, at);
    if d.is_grant() { Ok(()) } else { Err(d.deny_reason().unwrap().code().to_owned()) }
}

/// A command signed by the authority with this id and key seed (owner 1, kommunen 2).
pub fn signed_command((authority, seed): (&str, u8), cmd: &str, args: serde_json::Value, id: &str) -> Vec<u8> {
    let body = portvakt::uplink::command::SignedBody {
        id: id.into(),
        site: "test-site".into(),
        authority: authority.into(),
        cmd: cmd.into(),
        issued_at: jiff::Timestamp::now(),
        args,
    };
    portvakt::uplink::command::seal(&body, &ed25519_dalek::SigningKey::from_bytes(&[seed; 32]))
}
