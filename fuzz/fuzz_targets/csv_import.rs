//! The owner's CSV files (staff and residents, laundry bookings): any text either becomes
//! entries or a list of row problems.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portvakt::admin::csv_import::{bookings, entries};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let site = &*portvakt_fuzz::SITE;
    if let Err(problems) = entries(text, &site.credential_key, &site.policy.tz) {
        assert!(!problems.is_empty(), "a refused file names at least one problem");
    }
    if let Err(problems) = bookings(text, &site.policy.tz) {
        assert!(!problems.is_empty(), "a refused file names at least one problem");
    }
});
