//! Benchmark of the gateway's side of a BLE door opening: the open request read and a
//! challenge made, then the proof read, its signature checked (Ed25519, or ECDSA P-256)
//! and the decision taken against 100 000 credentials — and the same with a phone
//! certificate (whose authority signature is checked too), and with a delegated one
//! (the delegation's and the issuer's signatures). The phone's signing is not timed (the phone does
//! it). Each exchange is timed on its own; the timer's overhead is reported, not
//! subtracted.
//!
//! Run with `cargo bench --bench ble_exchange`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_wrap,
    clippy::too_many_lines,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]

use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use portvakt::ble::exchange::{Service, Settings, Step};
use portvakt::ble::frame::fragment;
use portvakt::ble::limits::Rate;
use portvakt::ble::message::Message;
use portvakt::ble::phone::{Phone, PhoneSecret};
use portvakt::config::{LoadOptions, load};
use portvakt::core::allowlist::Allowlist;
use portvakt::core::clock::ClockTrust;
use portvakt::core::credential::{Credential, CredentialSpec, PhoneKey, Token};
use portvakt::core::decide::{AccessRequest, AccessState, decide, decide_with};
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::delegation::{Delegation, issue};
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::verify::{Trust, verify_certificate};

const CREDENTIALS: usize = 100_000;
const PHONES: usize = 500;
const EXCHANGES: usize = 20_000;
const MTU: usize = 185;

/// A benchmark case: its label, the phones, and the certificate phone 0 presents.
type Case<'a> = (&'a str, &'a [Phone], Option<&'a [u8]>);

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize].as_nanos() as f64 / 1000.0
}

fn main() {
    let cfg = load(&LoadOptions::file(concat!(env!("CARGO_MANIFEST_DIR"), "/config/portvakt.toml"))).unwrap();
    let phones: Vec<Phone> = (0..PHONES)
        .map(|i| {
            let mut seed = [7u8; 32];
            seed[..8].copy_from_slice(&(i as u64).to_le_bytes());
            Phone { key: SigningKey::from_bytes(&seed).into(), certificate: None }
        })
        .collect();
    let p256_phones: Vec<Phone> =
        (0..PHONES).map(|_| Phone { key: PhoneSecret::generate_p256().unwrap().0, certificate: None }).collect();
    let specs: Vec<CredentialSpec> = (0..CREDENTIALS)
        .map(|i| {
            let key = if i < PHONES {
                phones[i].key.public().id()
            } else if i < 2 * PHONES {
                p256_phones[i - PHONES].key.public().id()
            } else {
                let mut k = [0u8; 32];
                k[..8].copy_from_slice(&(i as u64).to_le_bytes());
                k
            };
            CredentialSpec {
                id: format!("c{i}").parse().unwrap(),
                holder: format!("h{i}").parse().unwrap(),
                role: "home_care".parse().unwrap(),
                token: Token::Phone(PhoneKey(key)),
                doors: vec!["entrance".parse().unwrap()],
                schedule: None,
                valid_from: None,
                valid_until: None,
                authority: None,
            }
        })
        .collect();
    let allowlist = Allowlist::build(&cfg.policy, specs).unwrap();
    let state = AccessState { allowlist, clock: ClockTrust::Trusted, ..AccessState::default() };
    let entrance = cfg.policy.door_index(&"entrance".parse().unwrap()).unwrap();
    let now: Timestamp = "2026-11-25T01:40:00Z".parse().unwrap();
    let settings = Settings {
        site: cfg.site.id.to_string(),
        challenge_valid: SignedDuration::from_secs(5),
        max_exchanges: 64,
        rate: Rate { burst: 100, per_minute: 6000 },
    };

    // A certificate for phone 0, signed by an authority of the example config.
    let authority = cfg.authorities.iter().find(|a| a.id.as_str() == "hemtjansten").unwrap();
    let cert_signer = SigningKey::from_bytes(&[0x4b; 32]);
    let mut trusted_cfg = cfg.clone();
    trusted_cfg.authorities.iter_mut().find(|a| a.id == authority.id).unwrap().public_key =
        cert_signer.verifying_key().to_bytes();
    let certificate = |phone: &Phone| PhoneCertificate {
        authority: authority.id.to_string(),
        site: "*".into(),
        id: "cert-1".into(),
        holder: "ny".into(),
        role: "home_care".into(),
        phone_key: phone.key.public().id(),
        doors: vec!["entrance".into()],
        not_before: now - SignedDuration::from_hours(1),
        not_after: now + SignedDuration::from_hours(11),
        revocations: None,
    };
    let cert = seal(DocType::Certificate, &certificate(&phones[0]).encode(), &cert_signer);
    // The same for P-256 phone 0, signed by an issuer the authority delegated to.
    let issuer = SigningKey::from_bytes(&[0x49; 32]);
    let delegation = Delegation {
        authority: authority.id.to_string(),
        id: "central-1".into(),
        issuer: "central".into(),
        issuer_key: issuer.verifying_key().to_bytes(),
        site: "*".into(),
        roles: vec!["home_care".into()],
        doors: vec!["*".into()],
        max_certificate: SignedDuration::from_hours(12),
        not_before: now - SignedDuration::from_hours(24),
        not_after: now + SignedDuration::from_hours(24 * 90),
    };
    let delegation = seal(DocType::Delegation, &delegation.encode(), &cert_signer);
    let delegated = issue(&delegation, certificate(&p256_phones[0]), &issuer);

    let run = |phones: &[Phone], cert: Option<&[u8]>| -> (Vec<Duration>, usize) {
        let with_certificate = cert.is_some();
        let mut service = Service::new(settings.clone());
        let mut counter = 0u64;
        let mut times = Vec::with_capacity(EXCHANGES);
        let mut granted = 0;
        for i in 0..EXCHANGES {
            let phone = &phones[if with_certificate { 0 } else { i % PHONES }];
            let peer = format!("p{}", i % 32);
            // Time moves on 10 ms an exchange, so each phone stays within its rate limit.
            let now = now + SignedDuration::from_millis(10 * i as i64);
            let mono = portvakt::core::monotonic::Monotonic::from_origin(SignedDuration::from_millis(10 * i as i64));
            let open = phone.open("entrance", [1; 8]).encode();
            let open_frags = fragment(&open, MTU);
            let mut nonce = || {
                counter += 1;
                let mut n = [0u8; 16];
                n[..8].copy_from_slice(&counter.to_le_bytes());
                n
            };
            let t = Instant::now();
            let mut step = Step::Wait;
            for f in &open_frags {
                step = service.on_fragment(&peer, f, now, mono, &mut nonce);
            }
            let first = t.elapsed();
            let Step::Send(Message::Challenge(challenge)) = step else { panic!("{step:?}") };
            let proof = fragment(&phone.prove(&challenge, "entrance").unwrap().encode(), MTU);
            let t = Instant::now();
            let mut step = Step::Wait;
            for f in &proof {
                step = service.on_fragment(&peer, f, now, mono, &mut nonce);
            }
            let Step::Decide(claim) = step else { panic!("{step:?}") };
            let req = AccessRequest { door: entrance, token: Token::Phone(PhoneKey(claim.key)) };
            let decision = if let Some(cert) = cert {
                let v =
                    verify_certificate(cert, &Trust::of(&trusted_cfg), now, true).expect("the certificate verifies");
                let (c, doors) = (v.certificate, v.doors);
                let credential = Credential {
                    id: c.id.parse().unwrap(),
                    holder: c.holder.parse().unwrap(),
                    role: trusted_cfg.policy.role_index(&c.role.parse().unwrap()).unwrap(),
                    token: Token::Phone(PhoneKey(c.phone_key)),
                    doors,
                    schedule: None,
                    valid_from: Some(c.not_before),
                    valid_until: Some(c.not_after),
                    authority: None,
                };
                decide_with(&trusted_cfg.policy, &state, &req, &credential, now)
            } else {
                decide(&cfg.policy, &state, &req, now)
            };
            times.push(first + t.elapsed());
            granted += usize::from(decision.is_grant());
        }
        (times, granted)
    };

    let overhead = {
        let mut v: Vec<Duration> = (0..10_000)
            .map(|_| {
                let t = Instant::now();
                t.elapsed()
            })
            .collect();
        v.sort();
        v[v.len() / 2]
    };
    println!("BLE exchange, gateway side: {CREDENTIALS} credentials, {EXCHANGES} exchanges, MTU {MTU}");
    println!("timer overhead (median, not subtracted): {} ns", overhead.as_nanos());
    let cases: [Case<'_>; 4] = [
        ("allowlisted Ed25519 key", &phones, None),
        ("allowlisted P-256 key", &p256_phones, None),
        ("Ed25519 + certificate", &phones, Some(&cert)),
        ("P-256 + delegated cert", &p256_phones, Some(&delegated)),
    ];
    for (label, phones, cert) in cases {
        let (mut times, granted) = run(phones, cert);
        let total: Duration = times.iter().sum();
        times.sort();
        println!(
            "{label:<24} p50 {:>6.1} µs  p99 {:>6.1} µs  p99.9 {:>6.1} µs  granted {granted}/{EXCHANGES}  one core: {:.0} exchanges/s",
            percentile(&times, 0.5),
            percentile(&times, 0.99),
            percentile(&times, 0.999),
            EXCHANGES as f64 / total.as_secs_f64()
        );
    }
}
