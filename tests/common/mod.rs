//! Shared test helpers: the test site's config, times in site time, credential specs.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use jiff::Timestamp;
use portvakt::config::{Config, LoadOptions, load};
use portvakt::core::credential::{CredentialSpec, PhoneKey, Token};
use portvakt::core::model::DoorIdx;
use portvakt::tools::time_input::parse_time;

pub fn fixture(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(rel)
}

/// The test site (tests/fixtures/config/good).
pub fn site() -> Config {
    load(&LoadOptions::file(fixture("config/good/portvakt.toml"))).expect("the good fixture loads")
}

/// A moment in site time (Europe/Stockholm), e.g. "2026-11-24T14:00".
pub fn at(cfg: &Config, local: &str) -> Timestamp {
    parse_time(local, &cfg.policy.tz).expect("a valid time")
}

pub fn door(cfg: &Config, id: &str) -> DoorIdx {
    cfg.policy.door_index(&id.parse().unwrap()).expect("a door of the test site")
}

pub fn pin(cfg: &Config, p: &str) -> Token {
    Token::Pin(cfg.credential_key.pin(p))
}

pub fn tag(cfg: &Config, t: &str) -> Token {
    Token::Tag(cfg.credential_key.tag(t))
}

pub fn phone(n: u8) -> Token {
    Token::Phone(PhoneKey([n; 32]))
}

/// A credential spec opening `doors` for `role`, valid always.
pub fn spec(id: &str, role: &str, token: Token, doors: &[&str]) -> CredentialSpec {
    CredentialSpec {
        id: id.parse().unwrap(),
        holder: format!("holder-{id}").parse().unwrap(),
        role: role.parse().unwrap(),
        token,
        doors: doors.iter().map(|d| d.parse().unwrap()).collect(),
        schedule: None,
        valid_from: None,
        valid_until: None,
        authority: None,
    }
}
pub mod ble;
pub mod building;
pub mod daemon;
pub mod mqtt;
pub mod signed;
pub mod workspace;
