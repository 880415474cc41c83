//! `portvakt intake`: takes in the signed documents waiting in the inbox, once, with the
//! same verification, persistence and audit as the daemon, and says what became of each.

use std::fmt::Write as _;

use jiff::Timestamp;

use crate::config::Config;
use crate::credentials::intake::{Accepted, process_inbox};
use crate::credentials::registry::Registry;
use crate::credentials::verify::Trust;
use crate::store::{Store, StoreError};

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

/// Restores the registry from the store, processes the inbox, and reports.
pub fn run(cfg: &Config, now: Timestamp, clock_trusted: bool) -> Result<String, IntakeRunError> {
    let mut store = Store::open(&cfg.store)?;
    let trust = Trust::of(cfg);
    let (mut registry, dropped) = Registry::from_store(&store, &trust)?;
    let mut out = String::new();
    for d in dropped {
        let _ = writeln!(out, "stored document no longer verifies and was not used: {d}");
    }
    let inbox = &cfg.intake.inbox;
    let outcomes = process_inbox(inbox, &mut registry, &trust, &mut store, now, clock_trusted, |_| {})
        .map_err(|source| IntakeRunError::Inbox { path: inbox.display().to_string(), source })?;
    if outcomes.is_empty() {
        let _ = writeln!(out, "{}: nothing waiting", inbox.display());
    }
    for o in &outcomes {
        let name = o.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let line = match &o.result {
            Ok(Accepted::Bundle { authority, version, entries }) => {
                format!("accepted  {name}: bundle of {authority}, version {version}, {entries} credential(s)")
            }
            Ok(Accepted::Revocations { authority, sequence, revoked }) => {
                format!("accepted  {name}: revocations of {authority}, sequence {sequence}, {revoked} revoked")
            }
            Err(e) => format!("REFUSED   {name}: {e}"),
        };
        let _ = writeln!(out, "{line}");
    }
    for (authority, info) in registry.bundles() {
        let age = now.duration_since(info.issued_at);
        let stale = if age > cfg.intake.stale_after { "  STALE: ask the authority for a new bundle" } else { "" };
        let _ = writeln!(
            out,
            "now in use: {authority} version {} ({} credential(s), issued {} h ago, expires {}){stale}",
            info.version,
            info.entries,
            age.as_hours(),
            info.not_after
        );
    }
    Ok(out)
}
