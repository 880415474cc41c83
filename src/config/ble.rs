//! `[ble]`: staff phones over Bluetooth LE. `adapter` turns on the BlueZ service (a name
//! such as `hci0`, or `default`); `socket` turns on the simulated transport, a Unix
//! socket carrying the same fragments (demo, tests, an installer's laptop without a
//! radio). Without `[ble]` no phone is served.

use std::path::{Path, PathBuf};

use jiff::SignedDuration;
use serde::Deserialize;

use super::fields::duration_within;
use super::problems::Problems;

/// How many attempts a phone key, or a radio address, may make (`[ble] burst` and
/// `attempts_per_minute`); the BLE edge's token buckets take it from here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Attempts in a burst.
    pub burst: u32,
    /// Attempts regained per minute.
    pub per_minute: u32,
}

/// `[ble]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBle {
    adapter: Option<String>,
    socket: Option<String>,
    challenge_valid: Option<String>,
    max_exchanges: Option<u32>,
    burst: Option<u32>,
    attempts_per_minute: Option<u32>,
}

/// The validated BLE settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BleConfig {
    /// The BlueZ adapter (`None`: no radio; `Some("default")`: BlueZ's default adapter).
    pub adapter: Option<String>,
    /// The simulated transport's socket.
    pub socket: Option<PathBuf>,
    /// How long a challenge's nonce is valid.
    pub challenge_valid: SignedDuration,
    /// Challenges open at once, at most.
    pub max_exchanges: usize,
    /// Attempts per phone.
    pub rate: Rate,
}

fn count(v: Option<u32>, default: u32, range: (u32, u32), key: &str, p: &mut Problems) -> u32 {
    let n = v.unwrap_or(default);
    if n < range.0 || n > range.1 {
        p.push(key, format!("{n} is outside {} to {}", range.0, range.1));
    }
    n
}

pub(super) fn ble_options(raw: Option<&RawBle>, base: &Path, p: &mut Problems) -> Option<BleConfig> {
    let raw = raw?;
    if raw.adapter.is_none() && raw.socket.is_none() {
        p.push("ble", "serves nothing: set adapter = \"hci0\" (or \"default\") for the radio, or socket = PATH");
    }
    if let Some(a) = &raw.adapter
        && (a.is_empty() || a.len() > 32 || !a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'))
    {
        p.push("ble.adapter", format!("\"{a}\" is not an adapter name (like hci0, or \"default\")"));
    }
    let ms = SignedDuration::from_millis;
    let challenge_valid =
        duration_within(raw.challenge_valid.as_deref(), ms(5000), (ms(500), ms(30_000)), "ble.challenge_valid", p);
    let max_exchanges = count(raw.max_exchanges, 32, (1, 256), "ble.max_exchanges", p);
    let burst = count(raw.burst, 5, (1, 100), "ble.burst", p);
    let per_minute = count(raw.attempts_per_minute, 10, (1, 6000), "ble.attempts_per_minute", p);
    Some(BleConfig {
        adapter: raw.adapter.clone(),
        socket: raw.socket.as_deref().map(|s| base.join(s)),
        challenge_valid,
        max_exchanges: usize::try_from(max_exchanges).unwrap_or(32),
        rate: Rate { burst, per_minute },
    })
}
