//! Running the daemon in-process for tests: a copy of the test site's config in a temp
//! directory (so a test may rewrite it), every bus simulated, store, inbox and control
//! socket in the temp directory, a trusted clock (a sync flag that exists), and a
//! notification socket the test reads.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use portvakt::config::LoadOptions;
use portvakt::daemon::control::Request;
use portvakt::daemon::notify::Notifier;
use portvakt::daemon::{DaemonError, RunOptions, Signal, client};
use tokio::sync::mpsc;

pub struct TestDaemon {
    pub dir: tempfile::TempDir,
    pub notify: UnixDatagram,
    pub signals: mpsc::Sender<Signal>,
    pub task: tokio::task::JoinHandle<Result<(), DaemonError>>,
    /// The overrides it was started with (for a restart).
    pub extra: Vec<(String, String)>,
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

impl TestDaemon {
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("etc/portvakt.toml")
    }

    pub fn socket(&self) -> PathBuf {
        self.dir.path().join("run/control.sock")
    }

    pub fn inbox(&self) -> PathBuf {
        self.dir.path().join("inbox")
    }

    pub fn db(&self) -> PathBuf {
        self.dir.path().join("portvakt.db")
    }

    /// The environment overrides that put everything in the temp directory.
    pub fn env(dir: &Path) -> Vec<(String, String)> {
        let p = |rel: &str| dir.join(rel).display().to_string();
        std::fs::write(dir.join("synchronized"), b"").unwrap();
        vec![
            ("PORTVAKT__STORE__PATH".into(), p("portvakt.db")),
            ("PORTVAKT__CREDENTIALS__INBOX".into(), p("inbox")),
            ("PORTVAKT__DAEMON__CONTROL_SOCKET".into(), p("run/control.sock")),
            ("PORTVAKT__DAEMON__INTAKE_INTERVAL".into(), "1s".into()),
            ("PORTVAKT__CLOCK__SYNCHRONIZED_FLAG".into(), p("synchronized")),
        ]
    }

    /// Starts the daemon on the current runtime; `watchdog` is the interval it is told.
    pub fn start(watchdog: Option<Duration>) -> Self {
        Self::start_with(watchdog, Vec::new())
    }

    /// Starts the daemon with more `PORTVAKT__*` overrides (an uplink, say).
    pub fn start_with(watchdog: Option<Duration>, extra: Vec<(String, String)>) -> Self {
        Self::start_in(Self::test_site(), watchdog, extra)
    }

    /// Starts the test site's daemon reading the time from `clock` (a `ManualClock` in
    /// tests that move time on instead of sleeping).
    pub fn start_on_clock(
        extra: Vec<(String, String)>,
        clock: std::sync::Arc<dyn portvakt::gateway::clock::Clock>,
    ) -> Self {
        Self::start_with_clock(Self::test_site(), None, extra, clock)
    }

    /// A new folder with the test site's config in `etc/`.
    fn test_site() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(&super::fixture("config/good"), &dir.path().join("etc"));
        dir
    }

    pub fn start_in(dir: tempfile::TempDir, watchdog: Option<Duration>, extra: Vec<(String, String)>) -> Self {
        Self::start_with_clock(dir, watchdog, extra, std::sync::Arc::new(portvakt::gateway::clock::SystemClock))
    }

    /// Starts the daemon in `dir`, reading the time from `clock`.
    pub fn start_with_clock(
        dir: tempfile::TempDir,
        watchdog: Option<Duration>,
        extra: Vec<(String, String)>,
        clock: std::sync::Arc<dyn portvakt::gateway::clock::Clock>,
    ) -> Self {
        let notify_path = dir.path().join("notify");
        let _ = std::fs::remove_file(&notify_path);
        let notify = UnixDatagram::bind(&notify_path).unwrap();
        notify.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
        let mut env = Self::env(dir.path());
        env.extend(extra.iter().cloned());
        let load = LoadOptions { path: dir.path().join("etc/portvakt.toml"), env };
        let opts = RunOptions { load, simulate: true, notifier: Notifier::to(&notify_path, watchdog), clock };
        let (signals, rx) = mpsc::channel(4);
        let task = tokio::spawn(portvakt::daemon::run(opts, rx));
        Self { dir, notify, signals, task, extra }
    }

    /// Stops the daemon and starts it again on the same directory (store, config).
    pub async fn restart(self) -> Self {
        self.restart_changed(|_| {}).await
    }

    /// Stops the daemon, lets `change` do to its directory what a person would while it
    /// is stopped (restore a backup, swap the card), and starts it again there.
    pub async fn restart_changed(self, change: impl FnOnce(&Path)) -> Self {
        self.signals.send(Signal::Stop).await.unwrap();
        let ended = tokio::time::timeout(Duration::from_secs(15), self.task).await.expect("stopped in time");
        ended.unwrap().expect("an orderly stop");
        change(self.dir.path());
        let again = Self::start_in(self.dir, None, self.extra);
        again.notified("READY=1", 10).await;
        again
    }

    /// Waits (at most `secs`) for a notification starting with `prefix`; returns it.
    pub async fn notified(&self, prefix: &str, secs: u64) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        let mut buf = [0u8; 512];
        while std::time::Instant::now() < deadline {
            match self.notify.recv(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    if text.starts_with(prefix) {
                        return text;
                    }
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
        panic!("no {prefix} notification within {secs} s");
    }

    pub async fn ask(&self, req: &Request) -> Result<serde_json::Value, client::ClientError> {
        client::request(&self.socket(), req).await
    }

    /// The kinds in the audit log, read through a second, read-only connection.
    pub fn audit_kinds(&self) -> Vec<String> {
        let conn =
            rusqlite::Connection::open_with_flags(self.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut stmt = conn.prepare("SELECT kind FROM audit ORDER BY seq").unwrap();
        stmt.query_map([], |r| r.get::<_, String>(0)).unwrap().map(Result::unwrap).collect()
    }

    /// Waits (at most 10 s) until the audit log has a record of `kind`.
    pub async fn audited(&self, kind: &str) {
        for _ in 0..1000 {
            if self.audit_kinds().iter().any(|k| k == kind) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no {kind} record; the log has {:?}", self.audit_kinds());
    }

    /// Waits (at most 10 s) until the daemon says beside the unit that access build
    /// `generation` is in force (the gateway decides with it from then on).
    pub async fn build_in_force(&self, generation: u64) {
        let want = format!("access build {generation} in force");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::time::Instant::now() < deadline {
            if self.notified("STATUS=", 10).await.contains(&want) {
                return;
            }
        }
        panic!("no \"{want}\" within 10 s");
    }

    /// Waits until the first bundle taken in is audited and the doors run with it (the
    /// daemon says so beside the unit: `STATUS=… access build N in force`).
    pub async fn first_bundle_in_force(&self) {
        // Taken in now rather than at the daemon's next inbox round (a second later).
        self.ask(&Request::Intake).await.unwrap();
        self.audited("credentials.accepted").await;
        let status = self.notified("STATUS=", 10).await;
        assert!(status.contains("access build 1 in force"), "{status}");
    }

    /// The records of `kind` as `{"seq", "detail"}`, oldest first.
    pub fn audit_of(&self, kind: &str) -> Vec<serde_json::Value> {
        let conn =
            rusqlite::Connection::open_with_flags(self.db(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let mut stmt = conn.prepare("SELECT seq, detail FROM audit WHERE kind = ?1 ORDER BY seq").unwrap();
        let rows = stmt.query_map([kind], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))).unwrap();
        rows.map(Result::unwrap)
            .map(|(seq, d)| serde_json::json!({ "seq": seq, "detail": serde_json::from_str::<serde_json::Value>(&d).unwrap() }))
            .collect()
    }

    /// How many records of `kind` the log has.
    pub fn audited_count(&self, kind: &str) -> usize {
        self.audit_of(kind).len()
    }

    /// Waits (at most 10 s) until the log has more than `before` records of `kind`; the newest.
    pub async fn audited_after(&self, kind: &str, before: usize) -> serde_json::Value {
        for _ in 0..1000 {
            let all = self.audit_of(kind);
            if all.len() > before {
                return all.last().cloned().unwrap();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("no new {kind} record; the log has {:?}", self.audit_kinds());
    }

    /// Stops the daemon and returns how it ended.
    pub async fn stop(self) -> Result<(), DaemonError> {
        self.signals.send(Signal::Stop).await.unwrap();
        tokio::time::timeout(Duration::from_secs(15), self.task).await.expect("stopped in time").unwrap()
    }
}

/// A municipality revocation list (seed 0x02) revoking these credential ids.
pub fn kommunen_revocations(sequence: u64, ids: &[&str]) -> Vec<u8> {
    use portvakt::credentials::envelope::{DocType, seal};
    use portvakt::credentials::revocation::RevocationList;
    let list = RevocationList {
        authority: "kommunen".into(),
        site: "test-site".into(),
        sequence,
        issued_at: Timestamp::now(),
        ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        keys: Vec::new(),
    };
    seal(DocType::Revocations, &list.encode(), &ed25519_dalek::SigningKey::from_bytes(&[2; 32]))
}

/// A municipality bundle (seed 0x02 signs for `kommunen` in the test site) with one
/// home-care PIN for the entrance, valid around now.
pub fn care_pin_bundle(pin: &str) -> Vec<u8> {
    care_pin_bundle_version(pin, 1)
}

/// [`care_pin_bundle`] with another version number.
pub fn care_pin_bundle_version(pin: &str, version: u64) -> Vec<u8> {
    use portvakt::credentials::bundle::Bundle;
    use portvakt::credentials::envelope::{DocType, seal};
    let cfg = super::site();
    let csv = format!("id,holder,role,kind,secret,doors\ncare-5,hemtjanst-natt-5,home_care,pin,{pin},entrance\n");
    let now = Timestamp::now();
    let bundle = Bundle {
        authority: "kommunen".into(),
        site: "test-site".into(),
        version,
        issued_at: now - SignedDuration::from_hours(1),
        not_after: now + SignedDuration::from_hours(24 * 30),
        entries: portvakt::admin::csv_import::entries(&csv, &cfg.credential_key, &cfg.policy.tz).unwrap(),
        bookings: Vec::new(),
        policy: None,
    };
    seal(DocType::Bundle, &bundle.encode(), &ed25519_dalek::SigningKey::from_bytes(&[2; 32]))
}

/// `portvakt --config <cfg> <args>` as a process with the test environment for `dir`
/// (and `extra` overrides): (exit code, stdout, stderr).
pub fn portvakt_cli(dir: &Path, cfg: &Path, args: &[&str], extra: &[(&str, &str)]) -> (Option<i32>, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt"))
        .arg("--config")
        .arg(cfg)
        .args(args)
        .envs(TestDaemon::env(dir))
        .envs(extra.iter().copied())
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Starts `portvakt run [--simulate] --config <cfg>` as a process with the test
/// environment for `dir` (and `extra`), its stderr piped, and waits (20 s) for READY=1.
// The child is handed to the caller, who waits for it (clippy cannot see past the return).
#[allow(clippy::zombie_processes)]
pub fn spawn_run(dir: &Path, cfg: &Path, simulate: bool, extra: &[(&str, &str)]) -> std::process::Child {
    let notify = UnixDatagram::bind(dir.join("notify")).unwrap();
    notify.set_read_timeout(Some(Duration::from_millis(100))).unwrap();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_portvakt"));
    cmd.arg("run");
    if simulate {
        cmd.arg("--simulate");
    }
    let mut child = cmd
        .arg("--config")
        .arg(cfg)
        .envs(TestDaemon::env(dir))
        .envs(extra.iter().copied())
        .env("NOTIFY_SOCKET", dir.join("notify"))
        .env_remove("JOURNAL_STREAM")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut buf = [0u8; 256];
    loop {
        if std::time::Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("no READY=1 within 20 s");
        }
        if let Ok(n) = notify.recv(&mut buf)
            && buf[..n].starts_with(b"READY=1")
        {
            return child;
        }
    }
}
