//! The published test vectors (`docs/vectors/credentials.txt`, made by the independent
//! Python reference `docs/vectors/make_credential_vectors.py` from `docs/credentials.md`)
//! verify here, and our encoder reproduces them byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use ed25519_dalek::SigningKey;
use jiff::Timestamp;
use jiff::civil::date;
use portvakt::core::credential::{PhoneKey, Token};
use portvakt::core::hex;
use portvakt::core::owner_policy::OwnerPolicy;
use portvakt::core::schedule::{DateRange, Exception, HolidayRule, Schedule, Span, WeekWindow, WeekdaySet};
use portvakt::core::secret::CredentialKey;
use portvakt::credentials::bundle::{BookingEntry, Bundle, Entry};
use portvakt::credentials::envelope::{DocType, open, seal, signature_ok};
use portvakt::credentials::revocation::RevocationList;

fn vector(name: &str) -> Vec<u8> {
    let text = include_str!("../docs/vectors/credentials.txt");
    let line = text.lines().find(|l| l.starts_with(name)).unwrap_or_else(|| panic!("no vector {name}"));
    let hex_text = line.rsplit(' ').next().unwrap();
    (0..hex_text.len()).step_by(2).map(|i| u8::from_str_radix(&hex_text[i..i + 2], 16).unwrap()).collect()
}

fn ms(v: i64) -> Timestamp {
    Timestamp::from_millisecond(v).unwrap()
}

fn site_key() -> CredentialKey {
    CredentialKey::from_bytes(std::array::from_fn(|i| u8::try_from(i).unwrap()))
}

/// The site policy in the reference bundle (see `make_credential_vectors.py`).
fn reference_policy() -> OwnerPolicy {
    let span = |a: u32, b: u32| Span { start: a, end: b };
    let mut exceptions = BTreeMap::new();
    exceptions.insert(date(2026, 12, 24), Exception::Closed);
    exceptions.insert(date(2026, 12, 31), Exception::Open(vec![span(36_000, 50_400)]));
    OwnerPolicy {
        schedules: vec![Schedule {
            id: "late".parse().unwrap(),
            windows: vec![
                WeekWindow { days: WeekdaySet::parse("mon-fri").unwrap(), span: span(6 * 3600, 23 * 3600) },
                WeekWindow { days: WeekdaySet::parse("sat-sun").unwrap(), span: span(22 * 3600, 2 * 3600) },
            ],
            active: vec![DateRange { from: date(2026, 1, 1), to: date(2026, 12, 31) }],
            exceptions,
            on_holiday: HolidayRule::AsSunday,
        }],
        door_code_schedule: Some("late".parse().unwrap()),
        free_passage: vec![
            ("entrance".parse().unwrap(), None),
            ("rubbish".parse().unwrap(), Some("late".parse().unwrap())),
        ],
    }
}

#[test]
fn keyed_digests_match_the_reference() {
    assert_eq!(site_key().tag("04:a2:19:7f").0.to_vec(), vector("tag 04:a2:19:7f"));
    assert_eq!(site_key().pin("4711").0.to_vec(), vector("pin 4711"));
}

#[test]
fn the_reference_bundle_verifies_and_decodes_to_the_documented_fields() {
    let bytes = vector("bundle envelope");
    let env = open(&bytes).unwrap();
    let owner = SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes();
    assert_eq!(env.doc_type, DocType::Bundle);
    assert!(signature_ok(&env, &owner));
    let expected = Bundle {
        authority: "owner".into(),
        site: "test-site".into(),
        version: 7,
        issued_at: ms(1_795_000_000_000),
        not_after: ms(1_797_592_000_000),
        entries: vec![
            Entry {
                id: "anna-tag".into(),
                holder: "anna".into(),
                role: "resident".into(),
                token: Token::Tag(site_key().tag("04:A2:19:7F")),
                doors: vec!["entrance".into(), "laundry".into()],
                schedule: None,
                valid_from: None,
                valid_until: Some(ms(1_796_000_000_000)),
            },
            Entry {
                id: "care-1".into(),
                holder: "kalle".into(),
                role: "home_care".into(),
                token: Token::Phone(PhoneKey([1; 32])),
                doors: vec!["entrance".into()],
                schedule: Some("day".into()),
                valid_from: Some(ms(1_795_000_000_000)),
                valid_until: None,
            },
        ],
        bookings: vec![BookingEntry {
            holder: "anna".into(),
            door: "laundry".into(),
            start: ms(1_795_010_000_000),
            end: ms(1_795_020_800_000),
        }],
        policy: Some(reference_policy()),
    };
    assert_eq!(Bundle::decode(env.body).unwrap(), expected);
    // Ed25519 signatures are deterministic: our encoder and signer give the same bytes.
    assert_eq!(seal(DocType::Bundle, &expected.encode(), &SigningKey::from_bytes(&[1; 32])), bytes);
}

#[test]
fn the_reference_revocation_list_verifies_and_reencodes_identically() {
    let bytes = vector("revocations");
    let env = open(&bytes).unwrap();
    assert!(signature_ok(&env, &SigningKey::from_bytes(&[2; 32]).verifying_key().to_bytes()));
    let list = RevocationList::decode(env.body).unwrap();
    assert_eq!((list.authority.as_str(), list.site.as_str(), list.sequence), ("kommunen", "*", 3));
    assert_eq!((list.ids.clone(), list.keys.clone()), (vec!["care-2".to_owned()], vec![[1; 32]]));
    assert_eq!(seal(DocType::Revocations, &list.encode(), &SigningKey::from_bytes(&[2; 32])), bytes);
    assert_eq!(hex::encode(&bytes[..4]), "50564b54", "the envelope starts with \"PVKT\"");
}

#[test]
fn the_reference_delegation_and_the_certificate_issued_through_it_verify_and_reproduce() {
    use portvakt::credentials::certificate::PhoneCertificate;
    use portvakt::credentials::delegation::{DelegatedCertificate, Delegation, issue};
    let kommunen = SigningKey::from_bytes(&[2; 32]);
    let issuer = SigningKey::from_bytes(&[0x49; 32]);
    let bytes = vector("delegation");
    let env = open(&bytes).unwrap();
    assert_eq!(env.doc_type, DocType::Delegation);
    assert!(signature_ok(&env, &kommunen.verifying_key().to_bytes()));
    let expected = Delegation {
        authority: "kommunen".into(),
        id: "central-2026".into(),
        issuer: "central".into(),
        issuer_key: issuer.verifying_key().to_bytes(),
        site: "*".into(),
        roles: vec!["home_care".into()],
        doors: vec!["entrance".into(), "rubbish".into()],
        max_certificate: jiff::SignedDuration::from_hours(12),
        not_before: ms(1_795_000_000_000),
        not_after: ms(1_797_592_000_000),
    };
    assert_eq!(Delegation::decode(env.body).unwrap(), expected);
    assert_eq!(seal(DocType::Delegation, &expected.encode(), &kommunen), bytes);

    let cert_bytes = vector("delegated cert");
    let env = open(&cert_bytes).unwrap();
    assert_eq!(env.doc_type, DocType::DelegatedCertificate);
    assert!(signature_ok(&env, &issuer.verifying_key().to_bytes()));
    let inside = DelegatedCertificate::decode(env.body).unwrap();
    assert_eq!(inside.delegation, &bytes[..]);
    let p256 = hex::decode(
        "047431b18f055ac873b1eb7d74d8716ad1e3df06908b00cc2f901153f8eb6428\
         184867c0fdab339c6c490a39ae704d29b5b4c2f1244350a29059622cf49b421155",
    )
    .unwrap();
    let expected = PhoneCertificate {
        authority: "kommunen".into(),
        site: "*".into(),
        id: "shift-anna-1".into(),
        holder: "anna".into(),
        role: "home_care".into(),
        phone_key: portvakt_phone::PhonePublicKey::p256(&p256).unwrap().id(),
        doors: vec!["entrance".into()],
        not_before: ms(1_795_000_000_000),
        not_after: ms(1_795_036_000_000),
        revocations: None,
    };
    assert_eq!(inside.certificate, expected);
    assert_eq!(issue(&bytes, expected, &issuer), cert_bytes);
}
