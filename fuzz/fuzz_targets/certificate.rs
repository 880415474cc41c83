//! Phone certificates (presented over BLE): a body decoded on its own (round trip), then
//! sealed by an authority of the test site and verified; the doors it is granted here are
//! within that authority's scope.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portvakt::credentials::certificate::PhoneCertificate;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::verify::verify_certificate;

fuzz_target!(|data: &[u8]| {
    let [pick, body @ ..] = data else { return };
    if let Ok(c) = PhoneCertificate::decode(body) {
        assert_eq!(PhoneCertificate::decode(&c.encode()).as_ref(), Ok(&c), "a decoded certificate encodes back");
    }
    let trust = portvakt_fuzz::trust();
    let sealed = seal(DocType::Certificate, body, portvakt_fuzz::signer(*pick));
    if let Ok((cert, doors)) = verify_certificate(&sealed, &trust, *portvakt_fuzz::NOW, pick & 4 == 0) {
        let authority = trust.authority(&cert.authority).expect("a verified certificate's authority is trusted");
        assert!(doors.is_subset_of(authority.doors), "a certificate opens only doors in its authority's scope");
    }
});
