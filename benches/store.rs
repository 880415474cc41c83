//! Benchmark of the audit store on the real filesystem (ext4 under `target/`), never a
//! tmpfs, because fsync is what is being measured.
//!
//! Run with `cargo bench --bench store`. Prints committed events per second with group
//! commit (many writers through the actor) and with one event per transaction, the
//! transactions (each one WAL fsync under `synchronous = FULL`) per event, and the size
//! on disk per million events. To count the real fsync system calls of one phase, set
//! `PORTVAKT_BENCH_ONLY=group|single|million` and run the built bench under
//! `strace -f --seccomp-bpf -c -e trace=fsync,fdatasync` (see docs/performance.md).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::cast_precision_loss)]

use std::path::PathBuf;
use std::time::Instant;

use jiff::{SignedDuration, Timestamp};
use portvakt::store::actor::{self, Recorded};
use portvakt::store::{EventKind, NewEvent, Store, StoreOptions};

const GROUP_EVENTS: u64 = 50_000;
const SINGLE_EVENTS: u64 = 2_000;

fn event(i: u64) -> NewEvent {
    NewEvent {
        at: Timestamp::from_second(1_795_000_000 + i64::try_from(i).unwrap()).unwrap(),
        trusted: true,
        kind: if i.is_multiple_of(5) { EventKind::AccessDenied } else { EventKind::AccessGranted },
        door: Some(["entrance", "rubbish", "laundry"][usize::try_from(i % 3).unwrap()].into()),
        audience: "site".into(),
        holder: Some(format!("hemtjanst-natt-{}", i % 400)),
        credential: Some(format!("phone-{:06}", i % 5000)),
        detail: r#"{"kind":"phone","pulse":5000,"role":"home_care","rule":"role","schedule":null}"#.into(),
    }
}

fn fresh(name: &str) -> StoreOptions {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-store");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    StoreOptions {
        path,
        max_size_bytes: 4 << 30,
        retention: SignedDuration::from_hours(24 * 180),
        kept_locally: false,
        personal: portvakt::config::PersonalRetention::default(),
    }
}

fn disk_bytes(o: &StoreOptions) -> u64 {
    ["", "-wal"].iter().map(|s| std::fs::metadata(format!("{}{s}", o.path.display())).map_or(0, |m| m.len())).sum()
}

fn main() {
    let only = std::env::var("PORTVAKT_BENCH_ONLY").unwrap_or_default();
    let run = |phase: &str| only.is_empty() || only == phase;
    println!("audit store on ext4 (WAL, synchronous=FULL)");
    if run("group") {
        group_commit();
    }
    if run("single") {
        one_per_commit();
    }
    if run("million") {
        size_per_million();
    }
}

/// Group commit: 64 writers at once through the actor.
fn group_commit() {
    let o = fresh("group.db");
    let (handle, thread) = actor::spawn(Store::open(&o).unwrap()).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
    let start = Instant::now();
    rt.block_on(async {
        let writers: Vec<_> = (0..64u64)
            .map(|w| {
                let h = handle.clone();
                tokio::spawn(async move {
                    for i in (w..GROUP_EVENTS).step_by(64) {
                        assert!(matches!(h.append(event(i)).await.unwrap(), Recorded::Stored(_)));
                    }
                })
            })
            .collect();
        for w in writers {
            w.await.unwrap();
        }
    });
    let group = start.elapsed();
    let commits = rt.block_on(handle.health()).unwrap().commits;
    drop(handle);
    thread.join().unwrap();
    println!(
        "  group commit      {:>8.0} events/s  ({GROUP_EVENTS} events from 64 concurrent writers, {commits} transactions, {:.1} events per transaction)",
        GROUP_EVENTS as f64 / group.as_secs_f64(),
        GROUP_EVENTS as f64 / commits as f64
    );
}

/// One event per transaction, one writer waiting for each commit (an idle gateway).
fn one_per_commit() {
    let o1 = fresh("single.db");
    let mut single = Store::open(&o1).unwrap();
    let start = Instant::now();
    for i in 0..SINGLE_EVENTS {
        single.append(&[event(i)]).unwrap();
    }
    let one = start.elapsed();
    println!(
        "  one per commit    {:>8.0} events/s  ({SINGLE_EVENTS} events, each its own transaction, {:.2} ms each)",
        SINGLE_EVENTS as f64 / one.as_secs_f64(),
        one.as_secs_f64() * 1e3 / SINGLE_EVENTS as f64
    );
}

/// Size per million events (written in large batches; checkpointed so the WAL is folded in).
fn size_per_million() {
    let om = fresh("million.db");
    let mut big = Store::open(&om).unwrap();
    let start = Instant::now();
    for chunk in 0..2_000u64 {
        let batch: Vec<NewEvent> = (0..500).map(|k| event(chunk * 500 + k)).collect();
        big.append(&batch).unwrap();
    }
    let million = start.elapsed();
    drop(big);
    let conn = rusqlite::Connection::open(&om.path).unwrap();
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);").unwrap();
    drop(conn);

    println!(
        "  1 000 000 events  {:.1} s in batches of 500; {:.1} MiB on disk ({:.0} bytes per event)",
        million.as_secs_f64(),
        disk_bytes(&om) as f64 / f64::from(1 << 20),
        disk_bytes(&om) as f64 / 1e6
    );
}
