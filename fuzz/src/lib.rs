//! What the fuzz targets share: the test site's config (tests/fixtures/config/good), the
//! keys its authorities sign with, and a fixed "now", so every run is repeatable.

use std::path::PathBuf;
use std::sync::LazyLock;

use ed25519_dalek::SigningKey;
use jiff::Timestamp;
use portvakt::config::{Config, LoadOptions, load};
use portvakt::credentials::verify::Trust;

/// The test site's folder.
pub fn site_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/config/good")
}

/// The test site, loaded once.
pub static SITE: LazyLock<Config> = LazyLock::new(|| {
    let cfg = load(&LoadOptions::file(site_dir().join("portvakt.toml"))).expect("the test site's config loads");
    for (id, key) in [("owner", &*OWNER), ("kommunen", &*KOMMUNEN)] {
        let a = cfg.authorities.iter().find(|a| a.id.as_str() == id).expect("the authority is in the test site");
        assert_eq!(a.public_key, key.verifying_key().to_bytes(), "{id}'s key in the fuzz crate matches the test site");
    }
    cfg
});

/// The owner's signing key in the test site.
pub static OWNER: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_bytes(&[1; 32]));

/// The municipality's signing key in the test site (doors: entrance, rubbish).
pub static KOMMUNEN: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_bytes(&[2; 32]));

/// The collector's signing key (its public key is what the targets give as
/// `uplink.collector_key`).
pub static COLLECTOR: LazyLock<SigningKey> = LazyLock::new(|| SigningKey::from_bytes(&[9; 32]));

/// The collector's public key.
pub fn collector_key() -> [u8; 32] {
    COLLECTOR.verifying_key().to_bytes()
}

/// The moment every target runs at.
pub static NOW: LazyLock<Timestamp> = LazyLock::new(|| "2026-11-24T12:00:00Z".parse().expect("a fixed timestamp"));

/// The trust the test site's config gives.
pub fn trust() -> Trust<'static> {
    Trust::of(&SITE)
}

/// The signing key picked by one byte of the input: the owner's or the municipality's.
pub fn signer(pick: u8) -> &'static SigningKey {
    if pick & 1 == 0 { &OWNER } else { &KOMMUNEN }
}
