//! `portvakt intake`: takes in the signed documents waiting in the inbox, once, with the
//! same verification, persistence and audit as the daemon, and says what became of each.
//! With the daemon running, the daemon does it (the store has one writer); this module
//! also renders the daemon's answer, so both read the same.

use std::fmt::Write as _;

use jiff::Timestamp;

use crate::config::Config;
use crate::credentials::intake::DocStore as _;
use crate::credentials::intake::process_inbox;
pub use crate::credentials::intake_report::{IntakeReport, report};
use crate::credentials::registry::Registry;
use crate::credentials::verify::Trust;
use crate::store::{EventKind, NewEvent, Store, StoreError};

/// Why the intake could not run.
#[derive(Debug, thiserror::Error)]
pub enum IntakeRunError {
    /// The store could not be opened or read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The inbox could not be read.
    #[error("inbox {path}: {source}")]
    Inbox {
        /// The directory.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// Restores the registry from the store, processes the inbox, and reports. The clock is
/// judged as the daemon judges it at start (the time-sync flag, the persisted floor), and
/// validity at the same time the daemon would use. The store is opened to write, so this
/// fails with [`StoreError::Locked`] while the daemon runs (ask the daemon instead:
/// [`crate::daemon::control::Request::Intake`]).
pub fn run(cfg: &Config, wall: Timestamp) -> Result<IntakeReport, IntakeRunError> {
    let mut store = Store::open(&cfg.store)?;
    let floor = crate::core::clock::floor_at_least_release(store.clock_floor()?);
    let clock = crate::daemon::clock_watch::initial(&cfg.daemon.synchronized_flag, Some(floor));
    let (now, clock_trusted) = (clock.validity_time(wall), clock.is_trusted());
    let trust = Trust::of(cfg);
    let (mut registry, dropped) = Registry::from_store(&store, &trust)?;
    let mut out = String::new();
    for d in dropped {
        let _ = writeln!(out, "stored document no longer verifies and was not used: {d}");
        let detail = serde_json::json!({ "source": "store", "reason": d.code(), "message": d.to_string() });
        let event = NewEvent::system(EventKind::CredentialsRefused, wall, clock_trusted, None, &detail);
        store.record(event).map_err(IntakeRunError::Store)?;
    }
    let inbox = &cfg.intake.inbox;
    let outcomes = process_inbox(inbox, &mut registry, &trust, &mut store, now, clock_trusted, |_| {})
        .map_err(|source| IntakeRunError::Inbox { path: inbox.display().to_string(), source })?;
    let mut report = report(cfg, inbox, &outcomes, &registry, now);
    report.text.insert_str(0, &out);
    Ok(report)
}
