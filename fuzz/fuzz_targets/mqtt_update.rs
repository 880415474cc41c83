//! Documents published to the gateway (`update/bundle`, `update/revocations`) and the
//! collector's signed acknowledgements (`events/ack`), as they arrive: whole files, checked
//! against the test site's trust. Whatever verifies is for this site and signed by an
//! authority of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portvakt::credentials::verify::{verify_bundle, verify_revocations};

fuzz_target!(|data: &[u8]| {
    let [pick, rest @ ..] = data else { return };
    let trust = portvakt_fuzz::trust();
    match pick % 3 {
        0 => {
            if let Ok(b) = verify_bundle(rest, &trust, |_| None, *portvakt_fuzz::NOW, true) {
                assert_eq!(b.site, portvakt_fuzz::SITE.site.id.as_str());
            }
        }
        1 => {
            if let Ok(r) = verify_revocations(rest, &trust, |_| None) {
                assert!(r.site == "*" || r.site == portvakt_fuzz::SITE.site.id.as_str());
            }
        }
        _ => {
            let collector = portvakt_fuzz::collector_key();
            let _ = portvakt::uplink::ack::read(rest, portvakt_fuzz::SITE.site.id.as_str(), &collector);
        }
    }
});
