//! The inbox: signed documents dropped into a directory (by an installer, or another
//! tool; the MQTT uplink feeds the same path). Each file is verified, combined with the
//! other authorities' documents, persisted, and only then swapped in; every outcome is
//! audited. Files move to `accepted/` or `refused/` (with `<name>.why` beside it), so an
//! installer sees at a glance what happened.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::envelope::{DocType, open};
use super::registry::{Built, Registry};
use super::verify::{Refusal, Trust};
use crate::store::state::SignedDoc;
use crate::store::{EventKind, NewEvent, Store, StoreError};

/// Largest document read from the inbox.
pub const MAX_DOCUMENT: u64 = 64 << 20;

/// What was taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// A bundle.
    Bundle {
        /// Authority.
        authority: String,
        /// Version.
        version: u64,
        /// Credentials in it.
        entries: usize,
    },
    /// A revocation list.
    Revocations {
        /// Authority.
        authority: String,
        /// Sequence.
        sequence: u64,
        /// Ids and keys revoked.
        revoked: usize,
    },
}

/// Why a file was not taken in.
#[derive(Debug, thiserror::Error)]
pub enum IntakeProblem {
    /// The document was refused (kept in `refused/`).
    #[error("{0}")]
    Refused(#[from] Refusal),
    /// The file could not be read or is too large.
    #[error("{0}")]
    Io(std::io::Error),
    /// It could not be persisted; the file stays in the inbox for the next round.
    #[error("not stored: {0}")]
    Store(#[from] StoreError),
}

/// The outcome for one file.
#[derive(Debug)]
pub struct Outcome {
    /// The file, as it was named in the inbox.
    pub file: PathBuf,
    /// Taken in, or why not.
    pub result: Result<Accepted, IntakeProblem>,
}

fn audit(store: &mut Store, now: Timestamp, trusted: bool, file: &Path, result: &Result<Accepted, IntakeProblem>) {
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (kind, detail) = match result {
        Ok(Accepted::Bundle { authority, version, entries }) => (
            EventKind::CredentialsAccepted,
            serde_json::json!({"file": name, "document": "bundle", "authority": authority, "version": version, "entries": entries}),
        ),
        Ok(Accepted::Revocations { authority, sequence, revoked }) => (
            EventKind::CredentialsAccepted,
            serde_json::json!({"file": name, "document": "revocations", "authority": authority, "sequence": sequence, "revoked": revoked}),
        ),
        Err(IntakeProblem::Refused(r)) => (
            EventKind::CredentialsRefused,
            serde_json::json!({"file": name, "reason": r.code(), "message": r.to_string()}),
        ),
        Err(e) => (
            EventKind::CredentialsRefused,
            serde_json::json!({"file": name, "reason": "not_stored", "message": e.to_string()}),
        ),
    };
    let event = NewEvent::system(kind, now, trusted, None, &detail);
    if let Err(e) = store.append(&[event]) {
        log::error!("could not audit the intake of {name}: {e}");
    }
}

fn take_one(
    bytes: Vec<u8>,
    registry: &mut Registry,
    trust: &Trust<'_>,
    store: &mut Store,
    now: Timestamp,
    trusted: bool,
) -> Result<(Accepted, Built), IntakeProblem> {
    let env = open(&bytes).map_err(Refusal::Malformed)?;
    match env.doc_type {
        DocType::Bundle => {
            let checked = registry.check_bundle(&bytes, trust, now, trusted, store)?;
            let doc = SignedDoc {
                authority: checked.authority.clone(),
                version: checked.info.version,
                body: bytes,
                stored_at: now,
            };
            store.put_bundle(&doc)?;
            let accepted = Accepted::Bundle {
                authority: checked.authority.clone(),
                version: checked.info.version,
                entries: checked.info.entries,
            };
            registry.insert_bundle(checked.authority, checked.info);
            Ok((accepted, checked.built))
        }
        DocType::Revocations => {
            let (list, built) = registry.check_revocations(&bytes, trust, store)?;
            let doc =
                SignedDoc { authority: list.authority.clone(), version: list.sequence, body: bytes, stored_at: now };
            store.put_revocation_list(&doc)?;
            let accepted = Accepted::Revocations {
                authority: list.authority.clone(),
                sequence: list.sequence,
                revoked: list.ids.len() + list.keys.len(),
            };
            registry.insert_revocations(list);
            Ok((accepted, built))
        }
        DocType::Certificate => Err(Refusal::WrongType {
            expected: "bundle or revocation list (phones present their certificates themselves)",
            found: DocType::Certificate.word(),
        }
        .into()),
    }
}

fn move_to(dir: &Path, sub: &str, file: &Path, why: Option<&str>) {
    let target = dir.join(sub);
    let Some(name) = file.file_name() else { return };
    if let Err(e) = std::fs::create_dir_all(&target).and_then(|()| std::fs::rename(file, target.join(name))) {
        log::error!("could not move {} to {sub}/: {e}", file.display());
        return;
    }
    if let Some(why) = why {
        let mut note = name.to_os_string();
        note.push(".why");
        let _ = std::fs::write(target.join(note), format!("{why}\n"));
    }
}

/// Processes every file in `dir` in name order. `on_built` receives the core's new
/// inputs after each accepted document (the gateway swaps them in).
pub fn process_inbox(
    dir: &Path,
    registry: &mut Registry,
    trust: &Trust<'_>,
    store: &mut Store,
    now: Timestamp,
    trusted: bool,
    mut on_built: impl FnMut(Built),
) -> std::io::Result<Vec<Outcome>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| !n.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    let mut outcomes = Vec::new();
    for file in files {
        let read = std::fs::metadata(&file).and_then(|m| {
            if m.len() > MAX_DOCUMENT {
                Err(std::io::Error::other(format!("{} bytes is larger than the {MAX_DOCUMENT}-byte limit", m.len())))
            } else {
                std::fs::read(&file)
            }
        });
        let result = match read {
            Ok(bytes) => take_one(bytes, registry, trust, store, now, trusted).map(|(accepted, built)| {
                on_built(built);
                accepted
            }),
            Err(e) => Err(IntakeProblem::Io(e)),
        };
        audit(store, now, trusted, &file, &result);
        match &result {
            Ok(_) => move_to(dir, "accepted", &file, None),
            Err(IntakeProblem::Store(_)) => {} // stays for the next round
            Err(e) => move_to(dir, "refused", &file, Some(&e.to_string())),
        }
        outcomes.push(Outcome { file, result });
    }
    Ok(outcomes)
}
