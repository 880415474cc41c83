//! Staff phones over the simulated BLE transport, end to end through the daemon: the
//! socket carries the same fragments the radio would; the access actor verifies
//! certificates, the gateway decides and pulses, and every refusal reaches the phone and
//! the audit log.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ble::*;

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use portvakt::ble::frame::{MIN_MTU, fragment, frame};
use portvakt::ble::message::{Code, Message, OPEN};
use portvakt::ble::phone::{PhoneExchange as _, PhoneLink, receive, send, verdict};
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::revocation::RevocationList;
use portvakt::daemon::control::Request;
use portvakt::gateway::clock::ManualClock;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_staff_phone_in_the_allowlist_opens_the_entrance_and_the_decision_is_audited() {
    let (d, sock) = daemon(&[]).await;
    let mut l = link(&sock).await;
    assert_eq!(phone(0x31).open_door(&mut l, "entrance").await.unwrap(), Code::Granted);
    let granted = audit_details(&d, "access.granted");
    assert_eq!(granted.len(), 1, "{granted:?}");
    assert_eq!(granted[0]["kind"], "phone");
    // Outside its scope, and a phone no allowlist knows.
    assert_eq!(phone(0x31).open_door(&mut l, "rubbish").await.unwrap(), Code::NotInScope);
    assert_eq!(phone(0x77).open_door(&mut l, "entrance").await.unwrap(), Code::UnknownKey);
    assert_eq!(phone(0x31).open_door(&mut l, "cellar").await.unwrap(), Code::UnknownDoor);
    assert_eq!(reasons(&d, "access.denied"), ["door_not_in_scope", "unknown_credential", "unknown_door"]);
    // The installer's phone emulator, with the same key in a file.
    let key = d.dir.path().join("phone.key");
    std::fs::write(&key, format!("{}\n", portvakt::core::hex::encode(&[0x31; 32]))).unwrap();
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let socket_path = sock.path().join("ble.sock");
    let admin = move |door: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_portvakt-admin"))
            .args(["phone", "--socket"])
            .arg(&socket_path)
            .arg("--key")
            .arg(&key)
            .args(["--door", door])
            .output()
            .unwrap()
    };
    let out = tokio::task::spawn_blocking(move || (admin("entrance"), admin("rubbish"))).await.unwrap();
    assert!(out.0.status.success(), "{}", String::from_utf8_lossy(&out.0.stderr));
    assert_eq!(String::from_utf8_lossy(&out.0.stdout), "entrance: granted\n");
    assert!(!out.1.status.success());
    assert!(String::from_utf8_lossy(&out.1.stderr).contains("rubbish: not_in_scope"));
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replayed_stale_misdirected_and_forged_proofs_are_refused_and_audited() {
    let clock = ManualClock::new(Timestamp::now());
    // Six attempts from one connection (a stray proof costs a token too): burst 10.
    let env = [("PORTVAKT__BLE__CHALLENGE_VALID", "500ms"), ("PORTVAKT__BLE__BURST", "10")];
    let (d, sock) = daemon_on(&env, Arc::new(clock.clone())).await;
    let mut l = link(&sock).await;
    let staff = phone(0x31);
    // A proof recorded from a granted exchange, sent again: no challenge is open.
    let c = staff.challenge(&mut l, "entrance").await.unwrap().unwrap();
    let recorded = staff.prove(&c, "entrance").unwrap();
    send(&mut l, &recorded).await.unwrap();
    assert_eq!(verdict(&mut l, c.tag).await.unwrap(), Code::Granted);
    send(&mut l, &recorded).await.unwrap();
    assert_eq!(verdict(&mut l, [0; 8]).await.unwrap(), Code::NoChallenge);
    // ...and against a fresh challenge it is a signature over another nonce.
    let c = staff.challenge(&mut l, "entrance").await.unwrap().unwrap();
    send(&mut l, &recorded).await.unwrap();
    assert_eq!(verdict(&mut l, c.tag).await.unwrap(), Code::BadSignature);
    // Stale nonce.
    let c = staff.challenge(&mut l, "entrance").await.unwrap().unwrap();
    clock.advance(SignedDuration::from_millis(700));
    send(&mut l, &staff.prove(&c, "entrance").unwrap()).await.unwrap();
    assert_eq!(verdict(&mut l, c.tag).await.unwrap(), Code::Stale);
    // A nonce for the entrance signed for the rubbish room.
    let c = staff.challenge(&mut l, "entrance").await.unwrap().unwrap();
    send(&mut l, &staff.prove(&c, "rubbish").unwrap()).await.unwrap();
    assert_eq!(verdict(&mut l, c.tag).await.unwrap(), Code::WrongDoor);
    // Someone else's key signing for staff's key.
    let c = staff.challenge(&mut l, "entrance").await.unwrap().unwrap();
    send(&mut l, &phone(0x66).prove(&c, "entrance").unwrap()).await.unwrap();
    assert_eq!(verdict(&mut l, c.tag).await.unwrap(), Code::BadSignature);
    assert_eq!(reasons(&d, "ble.refused"), ["no_challenge", "bad_signature", "stale", "wrong_door", "bad_signature"]);
    assert_eq!(audit_details(&d, "access.granted").len(), 1);
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn certificates_admit_new_staff_until_revoked_and_bad_ones_are_refused() {
    let (d, sock) = daemon(&[("PORTVAKT__BLE__BURST", "20")]).await;
    let mut l = link(&sock).await;
    let mut newcomer = phone(0x41);
    newcomer.certificate = Some(certificate(1, 0x41, 12, KOMMUNEN));
    assert_eq!(newcomer.open_door(&mut l, "entrance").await.unwrap(), Code::Granted);
    newcomer.certificate = Some(certificate(2, 0x41, -1, KOMMUNEN));
    assert_eq!(newcomer.open_door(&mut l, "entrance").await.unwrap(), Code::NotValidNow);
    newcomer.certificate = Some(certificate(3, 0x41, 12, [9; 32]));
    assert_eq!(newcomer.open_door(&mut l, "entrance").await.unwrap(), Code::BadCertificate);
    // A certificate for another phone's key, presented by a phone that proves its own.
    newcomer.certificate = Some(certificate(4, 0x42, 12, KOMMUNEN));
    assert_eq!(newcomer.open_door(&mut l, "entrance").await.unwrap(), Code::BadCertificate);
    // The municipality revokes the newcomer's key and the allowlisted phone 0x32.
    let list = RevocationList {
        authority: "kommunen".into(),
        site: "test-site".into(),
        sequence: 1,
        issued_at: Timestamp::now(),
        ids: Vec::new(),
        keys: vec![phone(0x41).key.public().id(), phone(0x32).key.public().id()],
    };
    std::fs::write(
        d.inbox().join("revoked.pvkt"),
        seal(DocType::Revocations, &list.encode(), &SigningKey::from_bytes(&KOMMUNEN)),
    )
    .unwrap();
    d.ask(&Request::Intake).await.unwrap();
    // The daemon says beside the unit when the gateway decides with the new list.
    d.build_in_force(2).await;
    newcomer.certificate = Some(certificate(1, 0x41, 12, KOMMUNEN));
    assert_eq!(newcomer.open_door(&mut l, "entrance").await.unwrap(), Code::Revoked);
    assert_eq!(phone(0x32).open_door(&mut l, "entrance").await.unwrap(), Code::Revoked);
    assert_eq!(phone(0x31).open_door(&mut l, "entrance").await.unwrap(), Code::Granted);
    assert_eq!(reasons(&d, "ble.refused"), ["not_valid_now", "bad_certificate", "bad_certificate"]);
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_oversized_and_garbage_frames_are_refused_without_harm() {
    let (d, sock) = daemon(&[]).await;
    let mut l = link(&sock).await;
    let open = phone(0x31).open("entrance", [5; 8]).encode();
    // Truncated: the last fragment ends early.
    let mut frags = fragment(&open, MIN_MTU);
    frags.last_mut().unwrap().pop();
    for f in &frags {
        l.write(f).await.unwrap();
    }
    assert_eq!(verdict(&mut l, [5; 8]).await.unwrap(), Code::Malformed);
    // Oversized: a header declaring more than the gateway accepts.
    l.write(&[0, 1, OPEN, 0xff, 0xff]).await.unwrap();
    assert_eq!(verdict(&mut l, [0; 8]).await.unwrap(), Code::Malformed);
    // Garbage: a well-framed body that is no open request.
    for f in fragment(&frame(OPEN, &[0xde, 0xad, 0xbe, 0xef]), MIN_MTU) {
        l.write(&f).await.unwrap();
    }
    assert_eq!(verdict(&mut l, [0; 8]).await.unwrap(), Code::Malformed);
    // A fragment larger than the link's MTU ends the link, as BlueZ would refuse it.
    let mut big = link(&sock).await;
    big.write(&[0u8; 40]).await.unwrap();
    assert!(receive(&mut big).await.is_err());
    // The gateway still serves.
    assert_eq!(phone(0x31).open_door(&mut l, "entrance").await.unwrap(), Code::Granted);
    assert_eq!(reasons(&d, "ble.refused"), ["malformed", "malformed", "malformed"]);
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_phone_is_rate_limited_while_another_phone_is_served() {
    let (d, sock) = daemon(&[("PORTVAKT__BLE__BURST", "3"), ("PORTVAKT__BLE__ATTEMPTS_PER_MINUTE", "6")]).await;
    let mut flood = link(&sock).await;
    let mut limited = 0;
    for i in 0..40u8 {
        send(&mut flood, &phone(0x77).open("entrance", [i; 8])).await.unwrap();
        match receive(&mut flood).await.unwrap() {
            Message::Challenge(_) => {}
            Message::Result(v) => {
                assert_eq!(v.code, Code::RateLimited);
                limited += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(limited, 37);
    let mut staff = link(&sock).await;
    assert_eq!(phone(0x31).open_door(&mut staff, "entrance").await.unwrap(), Code::Granted);
    assert_eq!(reasons(&d, "ble.refused"), ["rate_limited"], "a flood is audited once");
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn an_attacker_holding_challenges_on_several_connections_does_not_keep_staff_out() {
    let (d, sock) = daemon(&[]).await;
    // Eight connections, each with its own throwaway key, each holding an open challenge
    // (the old gateway-wide cap of 4 answered `busy` to everyone else).
    let mut held = Vec::new();
    for i in 0..8u8 {
        let mut l = link(&sock).await;
        send(&mut l, &phone(0x80 + i).open("entrance", [i; 8])).await.unwrap();
        assert!(matches!(receive(&mut l).await.unwrap(), Message::Challenge(_)));
        held.push(l);
    }
    let mut staff = link(&sock).await;
    assert_eq!(phone(0x31).open_door(&mut staff, "entrance").await.unwrap(), Code::Granted);
    drop(held);
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn fifty_opens_naming_a_staff_key_from_another_client_leave_the_real_phone_granted() {
    let (d, sock) = daemon(&[]).await;
    let staff = phone(0x31);
    let mut attacker = link(&sock).await;
    let mut limited = 0;
    // The key is public (it travels in every open and bundles list it): fifty opens
    // naming it, no proof, from one client, as fast as the gateway answers.
    for i in 0..50u8 {
        send(&mut attacker, &staff.open("entrance", [i; 8])).await.unwrap();
        match receive(&mut attacker).await.unwrap() {
            Message::Challenge(_) => {}
            Message::Result(v) => {
                assert_eq!(v.code, Code::RateLimited);
                limited += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(limited, 45, "burst 5: the client, not the key, is limited");
    // The real phone, on its next attempt: granted.
    let mut l = link(&sock).await;
    assert_eq!(staff.open_door(&mut l, "entrance").await.unwrap(), Code::Granted);
    // An open naming the key between the phone's open and its proof does not take the
    // phone's challenge away (a fresh client, so its own limit is not what stops it).
    let tag = [0xA5; 8];
    send(&mut l, &staff.open("entrance", tag)).await.unwrap();
    let Message::Challenge(c) = receive(&mut l).await.unwrap() else { panic!("no challenge") };
    let mut between = link(&sock).await;
    send(&mut between, &staff.open("entrance", [0x5A; 8])).await.unwrap();
    assert!(matches!(receive(&mut between).await.unwrap(), Message::Challenge(_)));
    send(&mut l, &staff.prove(&c, "entrance").unwrap()).await.unwrap();
    assert_eq!(verdict(&mut l, tag).await.unwrap(), Code::Granted);
    assert_eq!(reasons(&d, "ble.refused"), ["rate_limited"], "the flood is audited once");
    assert_eq!(audit_details(&d, "access.granted").len(), 2);
    d.stop().await.unwrap();
}
