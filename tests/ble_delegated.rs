//! A staff phone with a P-256 key (as a phone's secure hardware or WebCrypto holds one)
//! and a shift certificate from a delegated issuer, through the daemon over the simulated
//! BLE transport: it opens the entrance and the record names the issuer; another key's
//! proof is refused; a revocation list the phone carries ends the delegation at a gateway
//! without coverage; when the shift ends (a stepped clock) the certificate stops opening;
//! and the authority's tool makes every piece (`keygen --p256`,
//! `delegate`, `certify --delegation`, `phone`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ble::*;
use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use portvakt::ble::message::Code;
use portvakt::ble::phone::{Phone, PhoneExchange as _, PhoneSecret, send, verdict};
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::delegation::issue;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::revocation::RevocationList;

const ISSUER: [u8; 32] = [0x49; 32];

fn delegation() -> Vec<u8> {
    common::signed::kommunen_delegation("central-2026", &SigningKey::from_bytes(&ISSUER), Timestamp::now())
}

fn shift(phone: &Phone, id: &str, carried: Option<Vec<u8>>) -> Vec<u8> {
    let now = Timestamp::now();
    let cert = PhoneCertificate {
        authority: "kommunen".into(),
        site: "*".into(),
        id: id.into(),
        holder: "anna".into(),
        role: "home_care".into(),
        phone_key: phone.key.public().id(),
        doors: vec!["entrance".into()],
        not_before: now - SignedDuration::from_mins(5),
        not_after: now + SignedDuration::from_hours(10),
        revocations: carried,
    };
    issue(&delegation(), cert, &SigningKey::from_bytes(&ISSUER))
}

fn p256_phone() -> Phone {
    Phone { key: PhoneSecret::generate_p256().unwrap().0, certificate: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_p256_phone_with_a_delegated_shift_certificate_opens_the_entrance_and_the_record_names_the_issuer() {
    let (d, sock) = daemon(&[("PORTVAKT__BLE__BURST", "20")]).await;
    let mut l = link(&sock).await;
    let mut anna = p256_phone();
    anna.certificate = Some(shift(&anna, "shift-1", None));
    assert_eq!(anna.open_door(&mut l, "entrance").await.unwrap(), Code::Granted);
    let granted = audit_details(&d, "access.granted");
    assert_eq!((granted.len(), granted[0]["issuer"].as_str()), (1, Some("central")), "{granted:?}");
    assert_eq!(granted[0]["delegation"], "central-2026");
    // Not beyond the delegation: the rubbish room is kommunen's but not delegated.
    assert_eq!(anna.open_door(&mut l, "rubbish").await.unwrap(), Code::NotInScope);
    // Another P-256 key signs the challenge issued for anna's key.
    let c = anna.challenge(&mut l, "entrance").await.unwrap().unwrap();
    send(&mut l, &p256_phone().prove(&c, "entrance").unwrap()).await.unwrap();
    assert_eq!(verdict(&mut l, c.tag).await.unwrap(), Code::BadSignature);
    // The certificate presented by another phone that proves its own key.
    let mut thief = p256_phone();
    thief.certificate = anna.certificate.clone();
    assert_eq!(thief.open_door(&mut l, "entrance").await.unwrap(), Code::BadCertificate);
    assert_eq!(reasons(&d, "ble.refused"), ["bad_signature", "bad_certificate"]);
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_list_carried_by_a_phone_ends_the_delegation_at_a_gateway_without_coverage() {
    let (d, sock) = daemon(&[("PORTVAKT__BLE__BURST", "20")]).await;
    let mut l = link(&sock).await;
    let list = RevocationList {
        authority: "kommunen".into(),
        site: "*".into(),
        sequence: 7,
        issued_at: Timestamp::now(),
        ids: vec!["central-2026".into()],
        keys: Vec::new(),
    };
    let list = seal(DocType::Revocations, &list.encode(), &SigningKey::from_bytes(&KOMMUNEN));
    let mut courier = p256_phone();
    courier.certificate = Some(shift(&courier, "shift-2", Some(list)));
    assert_eq!(courier.open_door(&mut l, "entrance").await.unwrap(), Code::Revoked);
    // The list was taken in: a certificate through the same delegation, carrying nothing.
    let mut anna = p256_phone();
    anna.certificate = Some(shift(&anna, "shift-3", None));
    assert_eq!(anna.open_door(&mut l, "entrance").await.unwrap(), Code::Revoked);
    assert_eq!(reasons(&d, "ble.refused"), ["revoked", "revoked"]);
    let refused = audit_details(&d, "ble.refused");
    assert!(refused[0]["message"].as_str().unwrap().contains("delegation_revoked"), "{refused:?}");
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_authoritys_tool_makes_a_p256_phone_key_a_delegation_and_a_shift_certificate_that_open_the_door() {
    let (d, sock) = daemon(&[]).await;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_path_buf();
    let path = move |f: &str| root.join(f).display().to_string();
    let private = |file: &str, seed: [u8; 32]| {
        std::fs::write(dir.path().join(file), format!("{}\n", hex(&seed))).unwrap();
        std::fs::set_permissions(dir.path().join(file), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    };
    private("kommun.key", KOMMUNEN);
    private("central.key", ISSUER);
    let socket = sock.path().join("ble.sock").display().to_string();
    let issuer_public = hex(&SigningKey::from_bytes(&ISSUER).verifying_key().to_bytes());
    let ws = path("ws");
    let run = move |args: Vec<String>| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt-admin"))
            .args(["--workspace", &ws])
            .args(&args)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let steps = [
        format!("keygen --p256 --out {}", path("anna.key")),
        format!(
            "delegate --authority kommunen --id central-2026 --issuer central --issuer-key {issuer_public} \
             --roles home_care --doors entrance --key {} --out {}",
            path("kommun.key"),
            path("central.delegation.pvkt")
        ),
    ];
    let outputs = tokio::task::spawn_blocking(move || {
        let mut outs: Vec<(bool, String)> =
            steps.iter().map(|s| run(s.split(' ').map(str::to_owned).collect())).collect();
        let id = std::fs::read_to_string(path("anna.key.pub")).unwrap().trim().to_owned();
        let certify = |hours: &str, doors: &str, out: &str| {
            format!(
                "certify --delegation {} --key {} --authority kommunen --id shift-anna --holder anna \
                 --role home_care --phone-key {id} --doors {doors} --hours {hours} --out {}",
                path("central.delegation.pvkt"),
                path("central.key"),
                path(out)
            )
        };
        for s in [certify("10", "entrance", "anna.cert"), certify("13", "entrance", "long.cert")] {
            outs.push(run(s.split(' ').map(str::to_owned).collect()));
        }
        outs.push(run(certify("10", "rubbish", "rubbish.cert").split(' ').map(str::to_owned).collect()));
        let phone = format!(
            "phone --socket {socket} --key {} --certificate {} --door entrance",
            path("anna.key"),
            path("anna.cert")
        );
        outs.push(run(phone.split(' ').map(str::to_owned).collect()));
        outs
    })
    .await
    .unwrap();
    let ok: Vec<bool> = outputs.iter().map(|(ok, _)| *ok).collect();
    assert_eq!(ok, [true, true, true, false, false, true], "{outputs:#?}");
    assert!(outputs[1].1.contains("delegation central-2026 to central"), "{}", outputs[1].1);
    assert!(outputs[2].1.contains("signed by issuer central through delegation central-2026"), "{}", outputs[2].1);
    assert!(outputs[3].1.contains("at most 12h"), "{}", outputs[3].1);
    assert!(outputs[4].1.contains("door rubbish is not among entrance"), "{}", outputs[4].1);
    assert_eq!(outputs[5].1, "entrance: granted\n");
    assert_eq!(audit_details(&d, "access.granted")[0]["issuer"], "central");
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_shift_ends_its_certificate_stops_opening_at_a_gateway_without_coverage() {
    let clock = portvakt::gateway::clock::ManualClock::new(Timestamp::now());
    let (d, sock) = daemon_on(&[("PORTVAKT__BLE__BURST", "20")], std::sync::Arc::new(clock.clone())).await;
    let mut l = link(&sock).await;
    let mut anna = p256_phone();
    anna.certificate = Some(shift(&anna, "shift-4", None));
    assert_eq!(anna.open_door(&mut l, "entrance").await.unwrap(), Code::Granted);
    // Ten hours on, the shift is over: the same phone, the same certificate.
    clock.advance(SignedDuration::from_hours(10) + SignedDuration::from_mins(1));
    assert_eq!(anna.open_door(&mut l, "entrance").await.unwrap(), Code::NotValidNow);
    assert_eq!(audit_details(&d, "access.granted").len(), 1);
    d.stop().await.unwrap();
}
