//! `[daemon]` and the clock-sync keys of `[clock]`: where the control socket lives, how
//! much the daemon logs, how often it looks in the inbox, and how it learns whether the
//! wall clock can be trusted.

use std::path::{Path, PathBuf};

use jiff::SignedDuration;

use super::fields::duration_within;
use super::problems::Problems;
use super::raw::{RawClock, RawDaemon};

/// Where `portvakt status`, `pulse` and `watch` reach a running daemon.
pub const DEFAULT_CONTROL_SOCKET: &str = "/run/portvakt/control.sock";

/// The file systemd-timesyncd touches once it has synchronised the clock.
pub const DEFAULT_SYNCHRONIZED_FLAG: &str = "/run/systemd/timesync/synchronized";

/// How the daemon runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaemonConfig {
    /// The control socket (a Unix stream socket, mode 0660).
    pub control_socket: PathBuf,
    /// The most detailed log level written.
    pub log_level: log::LevelFilter,
    /// How often the inbox is looked at.
    pub intake_every: SignedDuration,
    /// A file whose existence says time sync has succeeded since boot.
    pub synchronized_flag: PathBuf,
    /// Wall-clock steps larger than this against the monotonic clock count as a jump.
    pub jump_tolerance: SignedDuration,
}

/// Validates `[daemon]` and `[clock]`'s sync keys; relative paths are taken from `base`.
pub(super) fn daemon_options(raw: &RawDaemon, clock: &RawClock, base: &Path, p: &mut Problems) -> DaemonConfig {
    let path = |v: Option<&String>, default: &str| v.map_or_else(|| PathBuf::from(default), |s| base.join(s));
    let log_level = match raw.log_level.as_deref().unwrap_or("info") {
        "error" => log::LevelFilter::Error,
        "warn" => log::LevelFilter::Warn,
        "info" => log::LevelFilter::Info,
        "debug" => log::LevelFilter::Debug,
        "trace" => log::LevelFilter::Trace,
        other => {
            p.push("daemon.log_level", format!("\"{other}\" is not a level; use error, warn, info, debug or trace"));
            log::LevelFilter::Info
        }
    };
    let intake_every = duration_within(
        raw.intake_interval.as_deref(),
        SignedDuration::from_secs(10),
        (SignedDuration::from_secs(1), SignedDuration::from_hours(1)),
        "daemon.intake_interval",
        p,
    );
    let jump_tolerance = duration_within(
        clock.jump_tolerance.as_deref(),
        SignedDuration::from_secs(2),
        (SignedDuration::from_millis(100), SignedDuration::from_mins(10)),
        "clock.jump_tolerance",
        p,
    );
    DaemonConfig {
        control_socket: path(raw.control_socket.as_ref(), DEFAULT_CONTROL_SOCKET),
        log_level,
        intake_every,
        synchronized_flag: path(clock.synchronized_flag.as_ref(), DEFAULT_SYNCHRONIZED_FLAG),
        jump_tolerance,
    }
}
