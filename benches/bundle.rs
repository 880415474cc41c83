//! Benchmark of taking in a 100 000-entry allowlist bundle on the example building:
//! verify (envelope, signature, decode, scope) + combine + index, the memory it occupies
//! once loaded, and token lookup latency.
//!
//! Run with `cargo bench --bench bundle`. Each timing is the median of 7 runs.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

#[path = "common/entries.rs"]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use portvakt::config::{AuthorityClass, AuthorityConfig, LoadOptions, load};
use portvakt::core::credential::Token;
use portvakt::credentials::bundle::Bundle;
use portvakt::credentials::envelope::{DocType, seal};
use portvakt::credentials::registry::Registry;
use portvakt::credentials::verify::{Trust, verify_bundle};

const ENTRIES: usize = 100_000;

fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

const CHILD_ENV: &str = "PORTVAKT_BENCH_BUNDLE_FILE";

/// In a fresh process: load the example config, take in the bundle from a file, and
/// report resident memory before and after (what a freshly started gateway would hold).
fn child(file: &str) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/portvakt.toml");
    let cfg = load(&LoadOptions::file(path)).expect("the example config loads");
    let authorities = vec![AuthorityConfig {
        id: "owner".parse().unwrap(),
        name: "bench owner".into(),
        class: AuthorityClass::Owner,
        public_key: SigningKey::from_bytes(&[1; 32]).verifying_key().to_bytes(),
        reading_key: None,
        doors: cfg.policy.all_doors(),
        rights: portvakt::config::Rights::default_for(AuthorityClass::Owner),
    }];
    let trust = Trust { site: &cfg.site.id, authorities: &authorities, policy: &cfg.policy };
    let before = status_kib("VmRSS:");
    let bytes = std::fs::read(file).unwrap();
    let mut registry = Registry::default();
    let none: &Vec<Vec<u8>> = &Vec::new();
    let checked = registry.check_bundle(&bytes, &trust, Timestamp::now(), true, none).unwrap();
    let built = checked.built;
    registry.insert_bundle(checked.authority, checked.info);
    drop(bytes);
    println!("{before} {} {}", status_kib("VmRSS:"), status_kib("VmHWM:"));
    black_box((&registry, &built));
}

fn main() {
    if let Ok(file) = std::env::var(CHILD_ENV) {
        child(&file);
        return;
    }
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/portvakt.toml");
    let cfg = load(&LoadOptions::file(path)).expect("the example config loads");
    let owner = SigningKey::from_bytes(&[1; 32]);
    let authorities = vec![AuthorityConfig {
        id: "owner".parse().unwrap(),
        name: "bench owner".into(),
        class: AuthorityClass::Owner,
        public_key: owner.verifying_key().to_bytes(),
        reading_key: None,
        doors: cfg.policy.all_doors(),
        rights: portvakt::config::Rights::default_for(AuthorityClass::Owner),
    }];
    let trust = Trust { site: &cfg.site.id, authorities: &authorities, policy: &cfg.policy };
    let key = &cfg.credential_key;
    let now = Timestamp::now();
    let bytes = {
        let entries = common::entries(ENTRIES, key);
        let bundle = Bundle {
            authority: "owner".into(),
            site: cfg.site.id.to_string(),
            version: 1,
            issued_at: now,
            not_after: now + SignedDuration::from_hours(24 * 30),
            entries,
            bookings: Vec::new(),
            policy: None,
        };
        seal(DocType::Bundle, &bundle.encode(), &owner)
    };
    let tokens: Vec<Token> = (0..10_000).map(|i| Token::Pin(key.pin(&format!("{:08}", 10_000_000 + i * 3)))).collect();

    let mut verify_only = Vec::new();
    let mut full = Vec::new();
    for _ in 0..7 {
        let t = Instant::now();
        black_box(verify_bundle(&bytes, &trust, |_| None, now, true).unwrap());
        verify_only.push(t.elapsed());
        let t = Instant::now();
        black_box(Registry::default().check_bundle(&bytes, &trust, now, true, &Vec::<Vec<u8>>::new()).unwrap());
        full.push(t.elapsed());
    }

    // Memory, in a fresh process that does only this.
    let file = std::env::temp_dir().join(format!("portvakt-bench-bundle-{}.pvkt", std::process::id()));
    std::fs::write(&file, &bytes).unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap()).env(CHILD_ENV, &file).output().unwrap();
    let _ = std::fs::remove_file(&file);
    let figures: Vec<u64> =
        String::from_utf8_lossy(&out.stdout).split_whitespace().filter_map(|v| v.parse().ok()).collect();
    let (rss_before, rss_after, hwm) = (figures[0], figures[1], figures[2]);

    let mut registry = Registry::default();
    let checked = registry.check_bundle(&bytes, &trust, now, true, &Vec::<Vec<u8>>::new()).unwrap();
    let built = checked.built;
    registry.insert_bundle(checked.authority, checked.info);

    let mut lookups: Vec<Duration> = tokens
        .iter()
        .cycle()
        .take(200_000)
        .map(|t| {
            let s = Instant::now();
            black_box(built.allowlist.by_token(black_box(t)));
            s.elapsed()
        })
        .collect();
    lookups.sort_unstable();
    let p = |q: f64| lookups[((lookups.len() - 1) as f64 * q) as usize].as_nanos();

    println!("bundle of {ENTRIES} credentials, {} bytes signed", bytes.len());
    println!(
        "  verify (envelope, Ed25519, decode, scope)      median {:>6.1} ms",
        median(verify_only).as_secs_f64() * 1e3
    );
    println!("  verify + combine + index (what intake does)    median {:>6.1} ms", median(full).as_secs_f64() * 1e3);
    println!(
        "  fresh process: resident {rss_before} KiB with config loaded, {rss_after} KiB with the bundle in (+{} KiB), peak {hwm} KiB",
        rss_after.saturating_sub(rss_before)
    );
    println!(
        "  allowlist lookup by token: p50 {} ns, p99 {} ns, p99.9 {} ns (timer included)",
        p(0.5),
        p(0.99),
        p(0.999)
    );
    black_box((&registry, &built));
}
