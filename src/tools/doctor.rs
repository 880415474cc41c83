//! `portvakt doctor`: the checklist an electrician runs on site. Each line is ok,
//! warning, failed or skipped, with what was seen and, when not ok, what to do. When the
//! daemon runs, buses and the store are checked through it (it owns the serial port);
//! otherwise each configured device is asked directly, with its latency. The report is
//! kept in the state directory as a commissioning record.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::config::{Config, ConfigError};
use crate::daemon::client::{self, ClientError};
use crate::daemon::control::Request as ControlRequest;
use crate::store::Store;

mod buses;
mod handover;
mod store;

use buses::{bus_checks_direct, bus_checks_from_status};
pub use handover::{Saved, page, save};

/// How a check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// As it should be.
    Ok,
    /// Works, but needs attention.
    Warning,
    /// Does not work.
    Failed,
    /// Not checked (and why is in the detail).
    Skipped,
}

impl Verdict {
    /// The verdict as the checklist prints it (what needs attention in capitals).
    pub fn word(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warning => "WARNING",
            Self::Failed => "FAILED",
            Self::Skipped => "skipped",
        }
    }
}

/// One line of the checklist.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// What was checked.
    pub check: String,
    /// How it came out.
    pub verdict: Verdict,
    /// What was seen.
    pub detail: String,
    /// What to do, when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

/// The whole checklist: the commissioning record.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// When it was run.
    pub at: Timestamp,
    /// The version of portvakt that ran it.
    pub version: String,
    /// The configuration file.
    pub config: String,
    /// The site (empty when the configuration is invalid).
    pub site: String,
    /// Every check, in order.
    pub checks: Vec<Check>,
}

impl Report {
    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        self.checks.iter().any(|c| c.verdict == Verdict::Failed)
    }

    /// The checklist in words.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // The names' column as wide as the longest name, so details line up.
        let w = self.checks.iter().map(|c| c.check.chars().count()).max().unwrap_or(0).max(12);
        for c in &self.checks {
            let v = c.verdict.word();
            let _ = writeln!(out, "{v:<8} {:<w$} {}", c.check, c.detail);
            if let Some(r) = &c.remedy {
                let _ = writeln!(out, "{:<8} {:<w$} -> {r}", "", "");
            }
        }
        let failed = self.checks.iter().filter(|c| c.verdict == Verdict::Failed).count();
        let warned = self.checks.iter().filter(|c| c.verdict == Verdict::Warning).count();
        let _ = writeln!(out, "\n{failed} failed, {warned} warning(s), {} checks", self.checks.len());
        out
    }
}

pub(super) fn check(
    name: impl Into<String>,
    verdict: Verdict,
    detail: impl Into<String>,
    remedy: Option<&str>,
) -> Check {
    Check { check: name.into(), verdict, detail: detail.into(), remedy: remedy.map(str::to_owned) }
}

/// The MQTT broker: through the daemon's uplink when it runs, else by connecting once.
async fn broker_check(cfg: &Config, status: Option<&serde_json::Value>) -> Check {
    const NAME: &str = "MQTT broker";
    let remedy = Some("check uplink.broker, the certificate files, the broker's ACL and the clock");
    let Some(up) = &cfg.uplink else {
        return check(NAME, Verdict::Skipped, "no [uplink] in the configuration: the gateway works offline only", None);
    };
    if let Some(u) = status.map(|s| &s["uplink"]) {
        let published = u["published"].as_u64().unwrap_or(0);
        return if u["connected"] == true {
            check(
                NAME,
                Verdict::Ok,
                format!("the daemon is connected to {}; {published} event(s) published", up.url()),
                None,
            )
        } else {
            let why = u["last_error"].as_str().unwrap_or("connecting");
            check(NAME, Verdict::Failed, format!("the daemon is not connected to {}: {why}", up.url()), remedy)
        };
    }
    match crate::uplink::probe::probe(up, std::time::Duration::from_secs(10)).await {
        Ok(t) => check(
            NAME,
            Verdict::Ok,
            format!("{} accepts this gateway's certificate ({} ms)", up.url(), t.as_millis()),
            None,
        ),
        Err(why) => check(NAME, Verdict::Failed, format!("{}: {why}", up.url()), remedy),
    }
}

/// The state directory (where the store lives; commissioning records go beside it).
pub fn state_dir(cfg: &Config) -> PathBuf {
    cfg.store.path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn state_checks(cfg: &Config, out: &mut Vec<Check>) {
    let dir = state_dir(cfg);
    let probe = dir.join(".portvakt-doctor");
    match std::fs::create_dir_all(&dir).and_then(|()| std::fs::write(&probe, b"x")) {
        Ok(()) => {
            let _ = std::fs::remove_file(&probe);
            out.push(check("state directory", Verdict::Ok, format!("{} is writable", dir.display()), None));
        }
        Err(e) => out.push(check(
            "state directory",
            Verdict::Failed,
            format!("{}: {e}", dir.display()),
            Some("run as the portvakt user (sudo -u portvakt portvakt doctor) or fix the directory's owner"),
        )),
    }
    match nix::sys::statvfs::statvfs(&dir) {
        Ok(s) => {
            // The field types are 32-bit on armv7 and 64-bit on aarch64 and x86_64.
            #[allow(clippy::useless_conversion)]
            let free = u64::from(s.blocks_available()) * u64::from(s.fragment_size());
            let cap = cfg.store.max_size_bytes;
            let detail = format!("{} MiB free; the store may grow to {} MiB", free >> 20, cap >> 20);
            out.push(if free < (16 << 20) {
                check(
                    "free space",
                    Verdict::Failed,
                    detail,
                    Some("free space on the SD card, or lower store.max_size_mib"),
                )
            } else if free < cap {
                check("free space", Verdict::Warning, detail, Some("lower store.max_size_mib below the free space"))
            } else {
                check("free space", Verdict::Ok, detail, None)
            });
        }
        Err(e) => out.push(check("free space", Verdict::Warning, format!("{}: {e}", dir.display()), None)),
    }
}

/// What `[ble]` asks for, and — from the audit log — what the radio did last.
fn ble_check(cfg: &Config, daemon_runs: bool) -> Check {
    let Some(ble) = &cfg.ble else {
        return check("BLE", Verdict::Skipped, "not configured (no [ble] section): no phones are served", None);
    };
    let mut parts = Vec::new();
    if let Some(socket) = &ble.socket {
        let there = if socket.exists() { "present" } else { "not there" };
        parts.push(format!("socket {} {there}", socket.display()));
    }
    let Some(adapter) = &ble.adapter else {
        return check("BLE", Verdict::Ok, format!("simulated transport only: {}", parts.join("; ")), None);
    };
    let last = Store::open_read_only(&cfg.store.path)
        .ok()
        .and_then(|s| s.latest_of_kind(crate::store::EventKind::BleAdapter).ok().flatten());
    match last {
        Some((at, d)) if d["state"] == "serving" => {
            parts.insert(0, format!("adapter {adapter}: serving since {at}"));
            check("BLE", Verdict::Ok, parts.join("; "), None)
        }
        Some((at, d)) => {
            parts.insert(0, format!("adapter {adapter}: lost at {at}: {}", d["why"].as_str().unwrap_or("?")));
            check(
                "BLE",
                Verdict::Failed,
                parts.join("; "),
                Some("check `bluetoothctl show` and `journalctl -u bluetooth`"),
            )
        }
        None if daemon_runs => check(
            "BLE",
            Verdict::Warning,
            format!("adapter {adapter}: the daemon has not reported serving it yet"),
            Some("check `bluetoothctl show` and `journalctl -u portvakt`"),
        ),
        None => check(
            "BLE",
            Verdict::Skipped,
            format!("adapter {adapter}: served by the daemon, which is not running"),
            None,
        ),
    }
}

fn time_check(cfg: &Config, out: &mut Vec<Check>) {
    let flag = &cfg.daemon.synchronized_flag;
    out.push(if flag.exists() {
        check("time", Verdict::Ok, format!("synchronised ({} exists)", flag.display()), None)
    } else {
        check(
            "time",
            Verdict::Warning,
            format!("not synchronised ({} missing); schedules follow the clock policy", flag.display()),
            Some("check the network and `timedatectl timesync-status`"),
        )
    });
}

/// Runs the checklist. `cfg` is the loaded configuration or why it could not be.
pub async fn run(config_path: &Path, cfg: Result<Config, ConfigError>) -> Report {
    let now = Timestamp::now();
    let mut checks = Vec::new();
    let cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            let detail = match &e {
                ConfigError::Invalid(problems) => {
                    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
                }
                other => other.to_string(),
            };
            checks.push(check(
                "configuration",
                Verdict::Failed,
                detail,
                Some("fix it; `portvakt check-config` lists every problem"),
            ));
            checks.push(check("everything else", Verdict::Skipped, "needs a valid configuration", None));
            return Report {
                at: now,
                version: env!("CARGO_PKG_VERSION").into(),
                config: config_path.display().to_string(),
                site: String::new(),
                checks,
            };
        }
    };
    let detail = format!(
        "{} door(s), {} bus(es), {} authorit(ies)",
        cfg.policy.doors.len(),
        cfg.buses.len(),
        cfg.authorities.len()
    );
    checks.push(check("configuration", Verdict::Ok, detail, None));
    for w in &cfg.warnings {
        checks.push(check("configuration", Verdict::Warning, w.to_string(), None));
    }
    state_checks(&cfg, &mut checks);
    let status = match client::request(&cfg.daemon.control_socket, &ControlRequest::Status).await {
        Ok(v) => {
            checks.push(check(
                "daemon",
                Verdict::Ok,
                format!("answers at {}", cfg.daemon.control_socket.display()),
                None,
            ));
            Some(v["status"].clone())
        }
        Err(ClientError::NotRunning(_)) => {
            checks.push(check(
                "daemon",
                Verdict::Warning,
                "not running: devices are asked directly",
                Some("systemctl enable --now portvakt"),
            ));
            None
        }
        Err(e) => {
            checks.push(check("daemon", Verdict::Failed, e.to_string(), None));
            None
        }
    };
    store::store_checks(&cfg, status.is_some(), now, &mut checks);
    match &status {
        Some(s) => bus_checks_from_status(s, &cfg, &mut checks),
        None => bus_checks_direct(&cfg, &mut checks).await,
    }
    time_check(&cfg, &mut checks);
    checks.push(ble_check(&cfg, status.is_some()));
    checks.push(broker_check(&cfg, status.as_ref()).await);
    Report {
        at: now,
        version: env!("CARGO_PKG_VERSION").into(),
        config: config_path.display().to_string(),
        site: cfg.site.id.to_string(),
        checks,
    }
}
