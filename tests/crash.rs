//! Crash safety, for real: a child process appends audit events through the store actor
//! under load and reports each committed sequence number on stdout; the parent kills it
//! with SIGKILL at random moments, many times, and after each kill reopens the store and
//! checks that every reported record is there, the chain verifies and numbers have no
//! gaps. Runs as its own test binary (no libtest harness) so it can re-execute itself as
//! the child.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use portvakt::store::actor::{self, Recorded};
use portvakt::store::{AuditFilter, EventKind, NewEvent, Store, StoreOptions};

const CHILD_ENV: &str = "PORTVAKT_CRASH_CHILD_DB";
const KILLS: u32 = 40;

fn options(path: &str) -> StoreOptions {
    StoreOptions {
        path: path.into(),
        max_size_bytes: 256 << 20,
        retention: SignedDuration::from_hours(24),
        kept_locally: false,
        personal: portvakt::config::PersonalRetention::default(),
    }
}

/// The child: append batches of concurrent events forever, printing each committed seq.
fn child(path: &str) {
    let store = Store::open(&options(path)).expect("child opens the store");
    let (handle, _thread) = actor::spawn(store).expect("store actor starts");
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let mut out = std::io::stdout().lock();
    let mut n: u64 = 0;
    rt.block_on(async {
        loop {
            let tasks: Vec<_> = (0..=n % 17)
                .map(|i| {
                    let h = handle.clone();
                    let event = NewEvent {
                        at: Timestamp::now(),
                        trusted: true,
                        kind: EventKind::AccessGranted,
                        door: Some("entrance".into()),
                        audience: "site".into(),
                        holder: Some(format!("holder-{}", (n + i) % 97)),
                        credential: Some(format!("cred-{}", (n + i) % 97)),
                        detail: format!(r#"{{"n":{}}}"#, n + i),
                    };
                    tokio::spawn(async move { h.append(event).await })
                })
                .collect();
            for t in tasks {
                if let Ok(Ok(Recorded::Stored(seq))) = t.await {
                    // Reported only after the store said it is durable.
                    let _ = writeln!(out, "committed {seq}");
                    let _ = out.flush();
                }
            }
            n += 1;
        }
    });
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn main() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        child(&path);
        return;
    }
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db").display().to_string();
    let seed = u64::from(std::process::id()) ^ 0x9e37_79b9_7f4a_7c15;
    let mut rng = Rng(seed);
    let mut reported_max = 0u64;
    let mut failures = Vec::new();
    for kill in 1..=KILLS {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawns the child");
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("committed ").and_then(|n| n.parse::<u64>().ok()))
                .max()
                .unwrap_or(0)
        });
        std::thread::sleep(Duration::from_millis(10 + rng.below(120)));
        child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
        child.wait().unwrap();
        let max = reader.join().unwrap();
        reported_max = reported_max.max(max);
        let store = Store::open(&options(&path)).expect("the store reopens after SIGKILL");
        let report = store.verify().unwrap();
        let head = store.head().0;
        let count = store.query(&AuditFilter::default()).unwrap().len() as u64;
        if report.first_break.is_some() || head < reported_max || count != head {
            failures.push(format!(
                "kill {kill}: head {head}, records {count}, reported committed up to {reported_max}, break {:?}",
                report.first_break
            ));
        }
    }
    let store = Store::open(&options(&path)).unwrap();
    println!(
        "crash test: {KILLS} SIGKILLs (seed {seed:#x}); {} records stored, every one of the {reported_max} reported \
         committed present, chain verified after each kill; {:.1} s",
        store.head().0,
        started.elapsed().as_secs_f64()
    );
    assert!(reported_max > 0, "the child never committed anything");
    if failures.is_empty() {
        println!("1 passed, 0 failed");
    } else {
        for f in &failures {
            eprintln!("{f}");
        }
        println!("0 passed, 1 failed");
        std::process::exit(1);
    }
}
