//! The staff side against a real PostgreSQL (run by `scripts/interop.sh`): the roster
//! replaced whole, a nonce spent once, a shift certificate issued for a proven key and
//! recorded, a disabled person refused and their valid certificates listed, and disabling
//! kept across a new roster; the doors' names as the roster gives them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{count, issuer, pg};
use ed25519_dalek::{Signer as _, SigningKey};
use jiff::{SignedDuration, Timestamp};
use portvakt_central::staff::issue::{Request, proof_bytes};
use portvakt_central::staff::roster::Roster;
use portvakt_central::staff::store;
use portvakt_wire::phone_key::PhonePublicKey;

const ROSTER: &str = r#"{"authority":"kommunen",
  "teams":[{"id":"team-norr","name":"Hemtjänsten Norr","role":"home_care","doors":["entrance","rubbish"]}],
  "people":[{"login":"anna@kommun.se","holder":"anna","name":"Anna Berg","team":"team-norr"},
            {"login":"bo@kommun.se","holder":"bo","name":"Bo Ek","team":"team-norr"}]}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_in_person_gets_one_recorded_certificate_per_nonce_until_disabled() {
    let (_pg, mut c) = pg().await;
    let now = Timestamp::now();
    assert_eq!(store::replace_roster(&mut c, &Roster::parse(ROSTER.as_bytes()).unwrap()).await.unwrap(), (1, 2));
    let (person, team, enabled) = store::person(&c, "anna@kommun.se").await.unwrap().unwrap();
    assert_eq!((person.holder.as_str(), team.name.as_str(), enabled), ("anna", "Hemtjänsten Norr", true));
    assert!(store::person(&c, "mallory@example.org").await.unwrap().is_none());

    let nonce = [7u8; 32];
    store::new_nonce(&c, "anna", &nonce, now).await.unwrap();
    assert!(!store::spend_nonce(&c, "bo", &nonce, now).await.unwrap(), "another person's nonce");
    assert!(store::spend_nonce(&c, "anna", &nonce, now).await.unwrap());
    assert!(!store::spend_nonce(&c, "anna", &nonce, now).await.unwrap(), "spent once");
    store::new_nonce(&c, "anna", &[8; 32], now).await.unwrap();
    let late = now + store::NONCE_LIFETIME + SignedDuration::from_secs(1);
    assert!(!store::spend_nonce(&c, "anna", &[8; 32], late).await.unwrap(), "expired");

    let phone = SigningKey::from_bytes(&[0x31; 32]);
    let signature = phone.sign(&proof_bytes(&nonce, "anna")).to_bytes();
    let key = PhonePublicKey::Ed25519(phone.verifying_key().to_bytes());
    let r = Request { person: &person, team: &team, enabled, key, nonce, signature, shift_end: None };
    let (_, cert) = issuer(now).shift_certificate(&r, "shift-anna-1".into(), now).unwrap();
    assert!(store::record(&c, &store::Issued { cert: &cert, team: &team.id, key_kind: key.kind() }).await.unwrap());
    assert_eq!(count(&c, "SELECT count(*) FROM staff_certificates WHERE holder = 'anna'").await, 1);

    let valid = store::disable(&c, "anna", "lena", now).await.unwrap();
    assert_eq!(valid, ["shift-anna-1"]);
    assert!(!store::person(&c, "anna@kommun.se").await.unwrap().unwrap().2, "disabled");
    // A certificate made while she was being disabled is never recorded, so never handed out.
    let late = portvakt_wire::certificate::PhoneCertificate { id: "shift-anna-2".into(), ..cert.clone() };
    assert!(!store::record(&c, &store::Issued { cert: &late, team: &team.id, key_kind: key.kind() }).await.unwrap());
    // A roster imported again does not enable her.
    store::replace_roster(&mut c, &Roster::parse(ROSTER.as_bytes()).unwrap()).await.unwrap();
    assert!(!store::person(&c, "anna@kommun.se").await.unwrap().unwrap().2, "still disabled");
    assert!(store::enable(&c, "anna").await.unwrap());
    assert!(store::person(&c, "anna@kommun.se").await.unwrap().unwrap().2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_doors_are_named_as_the_roster_says_and_renamed_with_the_next_roster() {
    let (_pg, mut c) = pg().await;
    let named =
        ROSTER.replace(r#"{"authority":"kommunen","#, r#"{"authority":"kommunen","door_names":{"entrance":"Porten"},"#);
    store::replace_roster(&mut c, &Roster::parse(named.as_bytes()).unwrap()).await.unwrap();
    let doors = ["entrance".to_owned(), "rubbish".to_owned()];
    let names = store::door_names(&c, &doors).await.unwrap();
    assert_eq!(names.into_iter().collect::<Vec<_>>(), [("entrance".to_owned(), "Porten".to_owned())]);
    let renamed = ROSTER
        .replace(r#"{"authority":"kommunen","#, r#"{"authority":"kommunen","door_names":{"rubbish":"Soprummet"},"#);
    store::replace_roster(&mut c, &Roster::parse(renamed.as_bytes()).unwrap()).await.unwrap();
    let names = store::door_names(&c, &doors).await.unwrap();
    assert_eq!(names.into_iter().collect::<Vec<_>>(), [("rubbish".to_owned(), "Soprummet".to_owned())]);
}
