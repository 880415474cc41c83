//! What an intake round did, in the words the person who asked reads: a line per
//! document taken or refused, then the bundles in use with their age and end. One
//! rendering for the daemon's answer and for `portvakt intake` without a daemon.

use std::fmt::Write as _;
use std::path::Path;

use jiff::Timestamp;

use crate::config::Config;
use crate::credentials::intake::{Accepted, Outcome};
use crate::credentials::registry::Registry;

/// What an intake round did, as the person who asked for it reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntakeReport {
    /// One line per document, then the bundles now in use.
    pub text: String,
    /// Documents refused (the command exits with 65 when there are any).
    pub refused: usize,
}

/// Says what became of each document and which bundles are in use now.
pub fn report(cfg: &Config, inbox: &Path, outcomes: &[Outcome], registry: &Registry, now: Timestamp) -> IntakeReport {
    let mut out = String::new();
    if outcomes.is_empty() {
        let _ = writeln!(out, "{}: nothing waiting", inbox.display());
    }
    for o in outcomes {
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
        let grace = cfg.expiry_grace(authority);
        let ends = crate::core::expiry::expiry(info.not_after, now, cfg.intake.expiry_warning, grace);
        let warning = if ends.warns() {
            format!("  {}: ask the authority for a new bundle", ends.words())
        } else if age > cfg.intake.stale_after {
            "  STALE: ask the authority for a new bundle".to_owned()
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "now in use: {authority} version {} ({} credential(s), issued {} h ago, expires {}){warning}",
            info.version,
            info.entries,
            age.as_hours(),
            info.not_after
        );
    }
    IntakeReport { text: out, refused: outcomes.iter().filter(|o| o.result.is_err()).count() }
}
