//! Signed revocation lists: a body decoded on its own (round trip), then sealed by an
//! authority of the test site and verified.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::revocation::RevocationList;
use portvakt::credentials::verify::verify_revocations;

fuzz_target!(|data: &[u8]| {
    let [pick, body @ ..] = data else { return };
    if let Ok(r) = RevocationList::decode(body) {
        assert_eq!(RevocationList::decode(&r.encode()).as_ref(), Ok(&r), "a decoded list encodes back to itself");
    }
    let sealed = seal(DocType::Revocations, body, portvakt_fuzz::signer(*pick));
    let stored = |_: &str| (pick & 2 == 2).then_some(3);
    let _ = verify_revocations(&sealed, &portvakt_fuzz::trust(), stored);
});
