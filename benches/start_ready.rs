//! Start-to-READY with 100 000 credentials: `portvakt run` (the release binary, a separate
//! process) on a store holding an owner bundle of 100 000 entries (PINs, tags and phone
//! keys over three doors). Timed from the spawn to `READY=1` on the `NOTIFY_SOCKET`
//! this process listens on: config, store open and migration, the stored bundle verified
//! again (signature, decode, scope) and indexed, buses and gateway started. The bundle is
//! taken in by a first run through the inbox; then the daemon is started 7 times.
//!   `cargo bench --bench start_ready`
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_possible_truncation)]

#[path = "common/entries.rs"]
mod common;

use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::net::UnixDatagram;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use portvakt::core::secret::CredentialKey;
use portvakt::credentials::bundle::Bundle;
use portvakt::credentials::envelope::{DocType, seal};

const ENTRIES: usize = 100_000;
const STARTS: usize = 7;

fn config(owner: &SigningKey) -> String {
    let key = owner.verifying_key().to_bytes().iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    });
    format!(
        r#"[site]
id = "bench-site"
[credentials]
hash_key_file = "key"
[daemon]
log_level = "warn"
[[buses]]
name = "rs485"
kind = "sim"
devices = [
  {{ unit = 1, profile = "portvakt-keypad" }},
  {{ unit = 2, profile = "relay-coils", channels = 4 }},
  {{ unit = 3, profile = "discrete-inputs", channels = 8 }},
]
[[doors]]
id = "entrance"
kind = "entrance"
relay = {{ bus = "rs485", unit = 2, channel = 1 }}
contact = {{ bus = "rs485", unit = 3, channel = 1 }}
keypad = {{ bus = "rs485", unit = 1 }}
access = [{{ role = "resident" }}, {{ role = "home_care" }}, {{ role = "property_staff" }}]
[[doors]]
id = "rubbish"
kind = "rubbish"
relay = {{ bus = "rs485", unit = 2, channel = 2 }}
access = [{{ role = "resident" }}, {{ role = "home_care" }}]
[[doors]]
id = "laundry"
kind = "laundry"
relay = {{ bus = "rs485", unit = 2, channel = 3 }}
access = [{{ role = "resident" }}]
[[authorities]]
id = "owner"
class = "owner"
public_key = "{key}"
"#
    )
}

fn bundle(owner: &SigningKey, key: &CredentialKey) -> Vec<u8> {
    let now = Timestamp::now();
    let entries = common::entries(ENTRIES, key);
    let b = Bundle {
        authority: "owner".into(),
        site: "bench-site".into(),
        version: 1,
        issued_at: now - SignedDuration::from_mins(1),
        not_after: now + SignedDuration::from_hours(24 * 30),
        entries,
        bookings: Vec::new(),
        policy: None,
    };
    seal(DocType::Bundle, &b.encode(), owner)
}

struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn path(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    fn spawn(&self, notify: &str) -> Child {
        Command::new(env!("CARGO_BIN_EXE_portvakt"))
            .args(["run", "--config", &self.path("portvakt.toml")])
            .env("PORTVAKT__STORE__PATH", self.path("portvakt.db"))
            .env("PORTVAKT__CREDENTIALS__INBOX", self.path("inbox"))
            .env("PORTVAKT__DAEMON__CONTROL_SOCKET", self.path("control.sock"))
            .env("NOTIFY_SOCKET", notify)
            .stdout(Stdio::null())
            .spawn()
            .unwrap()
    }

    /// The allowlist size the running daemon reports on its control socket.
    fn credentials(&self) -> u64 {
        let out = Command::new(env!("CARGO_BIN_EXE_portvakt"))
            .args(["status", "--json", "--config", &self.path("portvakt.toml")])
            .env("PORTVAKT__DAEMON__CONTROL_SOCKET", self.path("control.sock"))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v["credentials"].as_u64().unwrap_or(0)
    }
}

fn stop(mut child: Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(child.wait().unwrap().success(), "the daemon stopped cleanly");
}

/// Waits for `READY=1`; the time since `from`.
fn ready(sock: &UnixDatagram, from: Instant) -> Duration {
    let mut buf = [0u8; 512];
    loop {
        let n = sock.recv(&mut buf).expect("READY=1 within 60 s");
        if String::from_utf8_lossy(&buf[..n]).lines().any(|l| l == "READY=1") {
            return from.elapsed();
        }
    }
}

fn main() {
    let owner = SigningKey::from_bytes(&[1; 32]);
    let site = Site { dir: tempfile::tempdir().unwrap() };
    std::fs::write(site.path("portvakt.toml"), config(&owner)).unwrap();
    std::fs::write(site.path("key"), "ab".repeat(32)).unwrap();
    std::fs::set_permissions(site.path("key"), std::fs::Permissions::from_mode(0o600)).unwrap();
    let key = CredentialKey::from_bytes([0xab; 32]);
    std::fs::create_dir_all(site.path("inbox")).unwrap();
    let bytes = bundle(&owner, &key);
    std::fs::write(site.path("inbox/.owner.pvkt"), &bytes).unwrap();
    std::fs::rename(site.path("inbox/.owner.pvkt"), site.path("inbox/owner.pvkt")).unwrap();
    let notify = site.path("notify.sock");
    let sock = UnixDatagram::bind(&notify).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(60))).unwrap();

    // First run: the bundle is taken in from the inbox and stored.
    let child = site.spawn(&notify);
    ready(&sock, Instant::now());
    let accepted = std::path::Path::new(&site.path("inbox/accepted/owner.pvkt")).to_path_buf();
    let t = Instant::now();
    while !accepted.exists() {
        assert!(t.elapsed() < Duration::from_secs(120), "the bundle was not taken in");
        std::thread::sleep(Duration::from_millis(50));
    }
    while site.credentials() != ENTRIES as u64 {
        assert!(t.elapsed() < Duration::from_secs(120), "the allowlist never reached {ENTRIES}");
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(child);

    let mut times = Vec::new();
    for _ in 0..STARTS {
        let started = Instant::now();
        let child = site.spawn(&notify);
        times.push(ready(&sock, started));
        assert_eq!(site.credentials(), ENTRIES as u64, "the restarted daemon serves every credential");
        stop(child);
    }
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("start_ready: {ENTRIES} credentials in a {} KiB stored bundle, {STARTS} starts", bytes.len() / 1024);
    println!(
        "  spawn to READY=1: median {:.1} ms (min {:.1}, max {:.1}); target <= 200 ms",
        ms(times[STARTS / 2]),
        ms(times[0]),
        ms(times[STARTS - 1])
    );
}
