//! A store damaged on the SD card, or edited by hand, never becomes a restart loop: each
//! stored table is damaged in each way it can be (a cell of the wrong type, NULL, a
//! number out of range, the file cut short) and the daemon started on it. Damage it can
//! step over is refused, audited and dropped, and the daemon serves; damage it cannot is
//! exit 74 (`EX_IOERR`, on which the unit does not restart) naming the place — never 1.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::daemon::{TestDaemon, care_pin_bundle_version};
use portvakt::daemon::Signal;
use portvakt::daemon::control::Request;

/// What a damaged store must lead to.
enum Outcome {
    /// The daemon serves, the entrance in `normal`, and the log has a record of this kind
    /// whose detail contains this text.
    Serves { kind: &'static str, says: &'static str },
    /// The daemon serves; `audit verify` reports the chain broken at the damaged record.
    ServesChainBroken,
    /// The daemon exits 74 with a message containing this text.
    Exits74 { names: &'static str },
}

struct Case {
    what: &'static str,
    sql: &'static str,
    outcome: Outcome,
}

fn cases() -> Vec<Case> {
    use Outcome::{Exits74, Serves, ServesChainBroken};
    let mode = |says| Serves { kind: "door.mode", says };
    let lockout = Serves { kind: "store.alarm", says: "\"table\":\"lockouts\"" };
    let dropped = Serves { kind: "credentials.refused", says: "\"source\":\"store\"" };
    vec![
        Case {
            what: "a door mode whose seal is text",
            sql: "INSERT INTO door_modes VALUES ('entrance', 'free_passage', 0, 'c2VhbA==')",
            outcome: mode("column seal holds text"),
        },
        Case {
            what: "a door mode whose seal is NULL",
            sql: "INSERT INTO door_modes VALUES ('entrance', 'free_passage', 0, NULL)",
            outcome: mode("no seal"),
        },
        Case {
            what: "a door mode whose mode is a blob",
            sql: "INSERT INTO door_modes VALUES ('entrance', x'02', 0, x'00')",
            outcome: mode("column mode holds a blob"),
        },
        Case {
            what: "a door mode whose time is text",
            sql: "INSERT INTO door_modes VALUES ('entrance', 'lockdown', 'today', x'00')",
            outcome: mode("column set_at_ms holds text"),
        },
        Case {
            what: "a door mode whose door is a blob",
            sql: "INSERT INTO door_modes VALUES (x'656e', 'lockdown', 0, x'00')",
            outcome: mode("column door holds a blob"),
        },
        Case {
            what: "a lockout whose streak is text",
            sql: "INSERT INTO lockouts VALUES ('entrance', NULL, 'many')",
            outcome: lockout,
        },
        Case {
            what: "a lockout whose streak is negative",
            sql: "INSERT INTO lockouts VALUES ('entrance', NULL, -1)",
            outcome: Serves { kind: "store.alarm", says: "streak holds -1" },
        },
        Case {
            what: "a lockout whose time is a real number",
            sql: "INSERT INTO lockouts VALUES ('entrance', 1.5, 1)",
            outcome: Serves { kind: "store.alarm", says: "locked_until_ms holds a real number" },
        },
        Case { what: "a bundle whose body is text", sql: "UPDATE bundles SET body = 'not a bundle'", outcome: dropped },
        Case {
            what: "a bundle whose version is text and body NULL-like",
            sql: "UPDATE bundles SET version = 'five', body = x''",
            outcome: Serves { kind: "credentials.refused", says: "\"source\":\"store\"" },
        },
        Case {
            what: "a bundle whose body is cut short",
            sql: "UPDATE bundles SET body = substr(body, 1, 40)",
            outcome: Serves { kind: "credentials.refused", says: "\"source\":\"store\"" },
        },
        Case {
            what: "a revocation list whose body is a number",
            sql: "INSERT INTO revocations VALUES ('kommunen', 1, 42, 0)",
            outcome: Serves { kind: "credentials.refused", says: "\"source\":\"store\"" },
        },
        Case {
            what: "an audit record whose detail is a blob",
            sql: "UPDATE audit SET detail = x'7b7d' WHERE kind = 'credentials.accepted'",
            outcome: ServesChainBroken,
        },
        Case {
            what: "the newest audit record whose hash is text",
            sql: "UPDATE audit SET hash = 'hash' WHERE seq = (SELECT MAX(seq) FROM audit)",
            outcome: ServesChainBroken,
        },
        Case {
            what: "a rollback floor that is text",
            sql: "UPDATE version_floors SET highest = 'five'",
            outcome: Exits74 { names: "reading the version floors" },
        },
        Case {
            what: "a clock floor that is text",
            sql: "INSERT OR REPLACE INTO meta VALUES ('clock_floor_ms', 'yesterday')",
            outcome: Exits74 { names: "reading the clock floor" },
        },
    ]
}

/// A stopped daemon's directory whose store holds a bundle (and so a rollback floor).
async fn base() -> tempfile::TempDir {
    let d = TestDaemon::start(None);
    d.notified("READY=1", 10).await;
    std::fs::write(d.inbox().join("care-5.pvkt"), care_pin_bundle_version("246810", 5)).unwrap();
    d.ask(&Request::Intake).await.unwrap();
    d.audited("credentials.accepted").await;
    d.signals.send(Signal::Stop).await.unwrap();
    tokio::time::timeout(Duration::from_secs(15), d.task).await.unwrap().unwrap().unwrap();
    d.dir
}

/// Copies a stopped daemon's directory: files and folders (not its sockets).
fn copy_files(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let (e, kind) = {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            (e, kind)
        };
        if kind.is_dir() {
            copy_files(&e.path(), &to.join(e.file_name()));
        } else if kind.is_file() {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A copy of `base` whose store `damage` has been done to.
fn damaged(base: &tempfile::TempDir, damage: impl FnOnce(&std::path::Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_files(base.path(), dir.path());
    damage(&dir.path().join("portvakt.db"));
    dir
}

async fn started_on(dir: tempfile::TempDir, what: &str, outcome: &Outcome) {
    let d = TestDaemon::start_in(dir, None, Vec::new());
    match outcome {
        Outcome::Serves { kind, says } => {
            d.notified("READY=1", 10).await;
            let status = d.ask(&Request::Status).await.unwrap();
            assert_eq!(status["status"]["gateway"]["doors"][0]["mode"], "normal", "{what}");
            let details: Vec<String> = d.audit_of(kind).iter().map(|r| r["detail"].to_string()).collect();
            assert!(details.iter().any(|d| d.contains(says)), "{what}: no {kind} saying {says}: {details:?}");
            d.stop().await.unwrap();
        }
        Outcome::ServesChainBroken => {
            d.notified("READY=1", 10).await;
            let status = d.ask(&Request::Status).await.unwrap();
            assert_eq!(status["status"]["gateway"]["doors"][0]["mode"], "normal", "{what}");
            d.signals.send(Signal::Stop).await.unwrap();
            tokio::time::timeout(Duration::from_secs(15), d.task).await.unwrap().unwrap().unwrap();
            let report =
                portvakt::store::Store::open_read_only(&d.dir.path().join("portvakt.db")).unwrap().verify().unwrap();
            assert!(report.first_break.is_some(), "{what}: the chain should show the damage: {report:?}");
        }
        Outcome::Exits74 { names } => {
            let ended = tokio::time::timeout(Duration::from_secs(15), d.task).await.unwrap().unwrap();
            let e = ended.expect_err(what);
            assert_eq!(e.exit_code(), portvakt::exit::STORE, "{what}: {e}");
            assert!(e.to_string().contains(names), "{what}: {e}");
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn each_kind_of_damaged_row_is_stepped_over_and_audited_or_exits_74_naming_the_place() {
    let base = base().await;
    for case in cases() {
        let dir = damaged(&base, |db| {
            rusqlite::Connection::open(db).unwrap().execute_batch(case.sql).unwrap();
        });
        started_on(dir, case.what, &case.outcome).await;
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_damaged_row_stepped_over_is_removed_so_the_next_start_is_clean() {
    let base = base().await;
    let dir = damaged(&base, |db| {
        let conn = rusqlite::Connection::open(db).unwrap();
        conn.execute_batch(
            "INSERT INTO door_modes VALUES ('entrance', 'free_passage', 0, 'c2VhbA==');
             INSERT INTO lockouts VALUES ('entrance', NULL, 'many');",
        )
        .unwrap();
    });
    let d = TestDaemon::start_in(dir, None, Vec::new());
    d.notified("READY=1", 10).await;
    let (modes, alarms) = (d.audited_count("door.mode"), d.audited_count("store.alarm"));
    assert_eq!((modes, alarms), (1, 1));
    let d = d.restart().await;
    assert_eq!((d.audited_count("door.mode"), d.audited_count("store.alarm")), (1, 1), "nothing left to refuse");
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn a_store_file_cut_short_exits_74_naming_the_file() {
    let base = base().await;
    let dir = damaged(&base, |db| {
        let len = std::fs::metadata(db).unwrap().len();
        let f = std::fs::OpenOptions::new().write(true).open(db).unwrap();
        f.set_len(len / 2).unwrap();
        // What the WAL held went with the orderly stop's checkpoint; cut it too.
        let _ = std::fs::remove_file(db.with_extension("db-wal"));
    });
    started_on(dir, "a store file cut short", &Outcome::Exits74 { names: "portvakt.db" }).await;
}
