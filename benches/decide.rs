//! Benchmark of the access decision with 100 000 credentials on the example building.
//!
//! Run with `cargo bench --bench decide`. Prints p50/p99/p99.9 per decision (each call
//! timed on its own, timer overhead measured and reported, not subtracted), the batched
//! mean as a cross-check, the allowlist build time, the resident memory the allowlist
//! adds, and the cost of hashing a PIN at the keypad edge.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use portvakt::config::{LoadOptions, load};
use portvakt::core::allowlist::Allowlist;
use portvakt::core::clock::ClockTrust;
use portvakt::core::credential::{CredentialSpec, PhoneKey, Token};
use portvakt::core::decide::{AccessRequest, AccessState, decide};
use portvakt::core::model::DoorIdx;

const CREDENTIALS: usize = 100_000;
const DECISIONS: usize = 500_000;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % n as u64).unwrap()
    }
}

fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The `p` quantile of sorted durations, in nanoseconds.
fn percentile(sorted: &[Duration], p: f64) -> u128 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_nanos()
}

fn main() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/portvakt.toml");
    let cfg = load(&LoadOptions::file(path)).expect("the example config loads");
    let key = &cfg.credential_key;
    let roles = ["resident", "resident", "resident", "home_care", "contractor", "property_staff"];
    let door_sets: [&[&str]; 4] =
        [&["entrance", "rubbish", "laundry"], &["entrance", "rubbish"], &["rubbish"], &["entrance"]];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let rss_before = rss_kib();
    let specs: Vec<CredentialSpec> = (0..CREDENTIALS)
        .map(|i| {
            let token = match i % 3 {
                0 => Token::Pin(key.pin(&format!("{:08}", 10_000_000 + i))),
                1 => Token::Tag(key.tag(&format!("{:014X}", 0x04_0000_0000_0000u64 + i as u64))),
                _ => {
                    let mut k = [0u8; 32];
                    k[..8].copy_from_slice(&(i as u64).to_le_bytes());
                    k[8..16].copy_from_slice(&rng.next().to_le_bytes());
                    Token::Phone(PhoneKey(k))
                }
            };
            CredentialSpec {
                id: format!("c{i}").parse().unwrap(),
                holder: format!("h{}", i / 2).parse().unwrap(),
                role: roles[i % roles.len()].parse().unwrap(),
                token,
                doors: door_sets[i % door_sets.len()].iter().map(|d| d.parse().unwrap()).collect(),
                schedule: None,
                valid_from: None,
                valid_until: Some(Timestamp::from_second(1_900_000_000).unwrap()),
                authority: None,
            }
        })
        .collect();
    let t = Instant::now();
    let allowlist = Allowlist::build(&cfg.policy, specs).expect("the generated allowlist is valid");
    let build = t.elapsed();
    let rss_after = rss_kib();
    let tokens: Vec<Token> = allowlist.entries().iter().map(|c| c.token).collect();
    let state = AccessState { allowlist, clock: ClockTrust::Trusted, ..AccessState::default() };

    // Requests: known tokens at random doors and minutes of a week; one in ten unknown.
    let week_start = 1_795_000_000i64;
    let requests: Vec<(AccessRequest, Timestamp)> = (0..DECISIONS)
        .map(|i| {
            let token = if i % 10 == 9 {
                Token::Tag(key.tag(&format!("{:014X}", 0x05_0000_0000_0000u64 + i as u64)))
            } else {
                tokens[rng.below(tokens.len())]
            };
            let door = DoorIdx(u8::try_from(rng.below(3)).unwrap());
            let now = Timestamp::from_second(week_start + i64::try_from(rng.below(7 * 86_400)).unwrap()).unwrap();
            (AccessRequest { door, token }, now)
        })
        .collect();

    let mut granted = 0usize;
    for (req, now) in requests.iter().take(50_000) {
        granted += usize::from(decide(&cfg.policy, &state, req, *now).is_grant());
    }
    let mut overhead: Vec<Duration> = (0..100_000)
        .map(|_| {
            let t = Instant::now();
            black_box(());
            t.elapsed()
        })
        .collect();
    overhead.sort_unstable();
    let mut each: Vec<Duration> = Vec::with_capacity(DECISIONS);
    for (req, now) in &requests {
        let t = Instant::now();
        let d = decide(&cfg.policy, &state, black_box(req), black_box(*now));
        each.push(t.elapsed());
        granted += usize::from(d.is_grant());
    }
    each.sort_unstable();
    let t = Instant::now();
    for (req, now) in &requests {
        black_box(decide(&cfg.policy, &state, black_box(req), black_box(*now)));
    }
    let batched = t.elapsed();
    let t = Instant::now();
    for i in 0..100_000 {
        black_box(key.pin(black_box(&format!("{i:06}"))));
    }
    let hmac = t.elapsed();

    println!(
        "decide() with {CREDENTIALS} credentials, {DECISIONS} decisions (10% unknown tokens, 3 doors, random minutes of a week)"
    );
    println!(
        "  per decision   p50 {} ns  p99 {} ns  p99.9 {} ns  max {} ns",
        percentile(&each, 0.5),
        percentile(&each, 0.99),
        percentile(&each, 0.999),
        percentile(&each, 1.0)
    );
    println!(
        "  timer overhead p50 {} ns  p99 {} ns  (included in the figures above)",
        percentile(&overhead, 0.5),
        percentile(&overhead, 0.99)
    );
    println!("  batched mean   {} ns per decision", (batched / u32::try_from(DECISIONS).unwrap()).as_nanos());
    println!(
        "  grants         {:.1}% (sanity: known credentials on doors outside their scope are refused)",
        granted as f64 * 100.0 / (DECISIONS + 50_000) as f64
    );
    println!(
        "allowlist build  {:.1} ms for {CREDENTIALS} credentials; resident memory +{} KiB from before generating them",
        build.as_secs_f64() * 1e3,
        rss_after.saturating_sub(rss_before)
    );
    println!(
        "PIN digest       {} ns per HMAC-SHA256 (paid once per keypad entry, at the edge)",
        (hmac / 100_000).as_nanos()
    );
}
