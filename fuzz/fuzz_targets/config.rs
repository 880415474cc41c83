//! The config file: any text as the main file of the test site's folder (so the secrets it
//! names resolve). Loading either gives a config or reports problems; it never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let main = portvakt_fuzz::site_dir().join("portvakt.toml");
    if let Err(e) = portvakt::config::from_layers(&[(main.clone(), text.to_owned())], &[], &main) {
        // Every problem renders (what and where) without panicking.
        let _ = e.to_string();
    }
});
