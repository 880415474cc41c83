//! Signed allowlist bundles. The input is a body: decoded on its own (a body that decodes
//! encodes back to the same bundle), then sealed by an authority of the test site and
//! verified, so the scope, version and expiry checks after the signature are reached.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portvakt::credentials::bundle::Bundle;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::verify::verify_bundle;

fuzz_target!(|data: &[u8]| {
    let [pick, body @ ..] = data else { return };
    if let Ok(b) = Bundle::decode(body) {
        assert_eq!(Bundle::decode(&b.encode()).as_ref(), Ok(&b), "a decoded bundle encodes back to itself");
    }
    let sealed = seal(DocType::Bundle, body, portvakt_fuzz::signer(*pick));
    let stored = |_: &str| (pick & 2 == 2).then_some(3);
    let _ = verify_bundle(&sealed, &portvakt_fuzz::trust(), stored, *portvakt_fuzz::NOW, pick & 4 == 0);
});
