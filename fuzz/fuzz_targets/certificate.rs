//! Phone certificates (presented over BLE): a body decoded on its own (round trip), then
//! sealed by an authority of the test site and verified; the doors it is granted here are
//! within that authority's scope. The same body is also issued through a delegation from
//! kommunen (entrance only, home care, 12 h): whatever verifies stays within it.
#![no_main]

use ed25519_dalek::SigningKey;
use jiff::SignedDuration;
use libfuzzer_sys::fuzz_target;
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::delegation::{Delegation, issue};
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::verify::verify_certificate;

fuzz_target!(|data: &[u8]| {
    let [pick, body @ ..] = data else { return };
    let trust = portvakt_fuzz::trust();
    let now = *portvakt_fuzz::NOW;
    if let Ok(c) = PhoneCertificate::decode(body) {
        assert_eq!(PhoneCertificate::decode(&c.encode()).as_ref(), Ok(&c), "a decoded certificate encodes back");
        let issuer = SigningKey::from_bytes(&[0x49; 32]);
        let delegation = Delegation {
            authority: "kommunen".into(),
            id: "central-1".into(),
            issuer: "central".into(),
            issuer_key: issuer.verifying_key().to_bytes(),
            site: "*".into(),
            roles: vec!["home_care".into()],
            doors: vec!["entrance".into()],
            max_certificate: SignedDuration::from_hours(12),
            not_before: now - SignedDuration::from_hours(24),
            not_after: now + SignedDuration::from_hours(24),
        };
        let delegation = seal(DocType::Delegation, &delegation.encode(), &portvakt_fuzz::KOMMUNEN);
        if let Ok(v) = verify_certificate(&issue(&delegation, c, &issuer), &trust, now, pick & 4 == 0) {
            let c = &v.certificate;
            assert!(c.authority == "kommunen" && c.role == "home_care", "within the delegation's authority and role");
            assert!(c.doors.iter().all(|d| d == "entrance"), "within the delegation's doors");
            assert!(c.not_after.duration_since(c.not_before) <= SignedDuration::from_hours(12), "within its length");
            assert!(v.through.is_some(), "a delegated certificate names its delegation");
        }
    }
    let sealed = seal(DocType::Certificate, body, portvakt_fuzz::signer(*pick));
    if let Ok(v) = verify_certificate(&sealed, &trust, now, pick & 4 == 0) {
        let authority =
            trust.authority(&v.certificate.authority).expect("a verified certificate's authority is trusted");
        assert!(v.doors.is_subset_of(authority.doors), "a certificate opens only doors in its authority's scope");
    }
});
