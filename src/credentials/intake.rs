//! The inbox: signed documents dropped into a directory (by an installer, or another
//! tool; the MQTT uplink feeds the same path). Each file is verified, combined with the
//! other authorities' documents, persisted, and only then swapped in; every outcome is
//! audited. Files move to `accepted/` or `refused/` (with `<name>.why` beside it), so an
//! installer sees at a glance what happened.

use std::path::{Path, PathBuf};

use jiff::Timestamp;

use super::envelope::{DocType, open};
use super::registry::{Built, BundleSource, Registry};
use super::verify::{Refusal, Trust};
use crate::store::state::SignedDoc;
use crate::store::{EventKind, NewEvent, Store, StoreError};

/// Largest document read from the inbox.
pub const MAX_DOCUMENT: u64 = 64 << 20;

/// A file changed more recently than this may still be being written (`scp` and `cp`
/// write in place): it waits for the next round instead of being refused half-written.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether a file last modified at `modified` may still be being written at `now`. A
/// modification time after `now` (the clock went back) counts as settled, so no file
/// waits for the clock.
fn still_being_written(modified: std::time::SystemTime, now: std::time::SystemTime) -> bool {
    now.duration_since(modified).is_ok_and(|age| age < SETTLE)
}

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

impl std::fmt::Display for Accepted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Bundle { authority, version, entries } => {
                write!(f, "bundle of {authority} version {version}, {entries} credential(s)")
            }
            Self::Revocations { authority, sequence, revoked } => {
                write!(f, "revocation list of {authority} sequence {sequence}, {revoked} revoked")
            }
        }
    }
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
    /// What the document claims to be, when that could be read.
    pub label: Option<Label>,
    /// Taken in, or why not.
    pub result: Result<Accepted, IntakeProblem>,
}

/// What a document claims to be, read without verifying it: for saying what a refused
/// one was (its signature may be what failed), never for deciding anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// `bundle` or `revocations`.
    pub document: &'static str,
    /// The authority it names.
    pub authority: String,
    /// Its version or sequence.
    pub version: Option<u64>,
}

/// Reads what `bytes` claim to be from the first fields of the body only (authority,
/// site, version: both documents begin so), never the whole document; `None` for anything
/// but a bundle or list whose beginning reads.
pub fn label(bytes: &[u8]) -> Option<Label> {
    let env = open(bytes).ok()?;
    let document = match env.doc_type {
        DocType::Bundle => "bundle",
        DocType::Revocations => "revocations",
        _ => return None,
    };
    let mut r = crate::credentials::wire::Reader::new(env.body);
    let authority = r.str("authority").ok()?;
    let _site = r.str("site").ok()?;
    let version = r.u64("version").ok();
    Some(Label { document, authority, version })
}

/// Whether a refusal came after the document proved to be its authority's (its
/// signature checked): only then is it said under that authority's name.
pub fn authenticated(problem: &IntakeProblem) -> bool {
    match problem {
        IntakeProblem::Refused(r) => !matches!(
            r,
            Refusal::Malformed(_)
                | Refusal::WrongType { .. }
                | Refusal::UnknownAuthority(_)
                | Refusal::BadSignature(_)
                | Refusal::WrongTopic { .. }
        ),
        IntakeProblem::Io(_) | IntakeProblem::Store(_) => false,
    }
}

/// Where a document came from, for its audit record: `("file", name)`, `("topic", topic)`
/// or `("certificate", id)` (a list a phone carried).
pub type Source<'a> = (&'static str, &'a str);

fn audit(
    store: &mut dyn DocStore,
    now: Timestamp,
    trusted: bool,
    source: Source<'_>,
    result: Result<&Accepted, &IntakeProblem>,
) {
    let (key, name) = source;
    let mut detail = match result {
        Ok(Accepted::Bundle { authority, version, entries }) => {
            serde_json::json!({"document": "bundle", "authority": authority, "version": version, "entries": entries})
        }
        Ok(Accepted::Revocations { authority, sequence, revoked }) => {
            serde_json::json!({"document": "revocations", "authority": authority, "sequence": sequence, "revoked": revoked})
        }
        Err(IntakeProblem::Refused(r)) => serde_json::json!({"reason": r.code(), "message": r.to_string()}),
        Err(e) => serde_json::json!({"reason": "not_stored", "message": e.to_string()}),
    };
    detail[key] = serde_json::Value::from(name);
    let kind = if result.is_ok() { EventKind::CredentialsAccepted } else { EventKind::CredentialsRefused };
    let event = NewEvent::system(kind, now, trusted, None, &detail);
    if let Err(e) = store.record(event) {
        log::error!("could not audit the intake of {name}: {e}");
    }
}

/// Where intake reads the stored documents (to rebuild against another authority's
/// bundle) and writes what it accepts and the audit record. The store itself is one; in
/// the daemon, the access actor's worker reads through its own read-only connection and
/// sends only the writes to the store's thread, so that thread runs SQL and nothing else.
pub trait DocStore: BundleSource {
    /// Keeps an accepted bundle (replacing the authority's previous one).
    fn put_bundle(&mut self, doc: &SignedDoc) -> Result<(), StoreError>;
    /// Keeps an accepted revocation list.
    fn put_revocation_list(&mut self, doc: &SignedDoc) -> Result<(), StoreError>;
    /// Appends an audit record.
    fn record(&mut self, event: NewEvent) -> Result<(), StoreError>;
}

impl DocStore for Store {
    fn put_bundle(&mut self, doc: &SignedDoc) -> Result<(), StoreError> {
        Store::put_bundle(self, doc)
    }

    fn put_revocation_list(&mut self, doc: &SignedDoc) -> Result<(), StoreError> {
        Store::put_revocation_list(self, doc)
    }

    fn record(&mut self, event: NewEvent) -> Result<(), StoreError> {
        self.append(&[event]).map(|_| ())
    }
}

/// What a document published on an MQTT topic must be: the topic names its type and the
/// authority that signed it.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// Bundle or revocation list.
    pub doc_type: DocType,
    /// The authority named in the topic.
    pub authority: &'a str,
}

fn same_authority(expected: Option<Expected<'_>>, signed_by: &str) -> Result<(), Refusal> {
    match expected {
        Some(e) if e.authority != signed_by => {
            Err(Refusal::WrongTopic { topic: e.authority.to_owned(), signed_by: signed_by.to_owned() })
        }
        _ => Ok(()),
    }
}

fn take_one(
    bytes: Vec<u8>,
    expected: Option<Expected<'_>>,
    registry: &mut Registry,
    trust: &Trust<'_>,
    store: &mut dyn DocStore,
    now: Timestamp,
    trusted: bool,
) -> Result<(Accepted, Option<Built>), IntakeProblem> {
    let env = open(&bytes).map_err(Refusal::Malformed)?;
    // An issuer's revocation list comes where revocation lists do (its topic says whose).
    let kin = |want: DocType| {
        want == env.doc_type || (want, env.doc_type) == (DocType::Revocations, DocType::IssuerRevocations)
    };
    if let Some(e) = expected
        && !kin(e.doc_type)
    {
        return Err(Refusal::WrongType { expected: e.doc_type.word(), found: env.doc_type.word() }.into());
    }
    match env.doc_type {
        DocType::Bundle => {
            let checked = registry.check_bundle(&bytes, trust, now, trusted, &*store)?;
            same_authority(expected, &checked.authority)?;
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
            Ok((accepted, Some(checked.built)))
        }
        DocType::Revocations => {
            let (list, built) = registry.check_revocations(&bytes, trust, &*store)?;
            same_authority(expected, &list.authority)?;
            let doc =
                SignedDoc { authority: list.authority.clone(), version: list.sequence, body: bytes, stored_at: now };
            store.put_revocation_list(&doc)?;
            let accepted = Accepted::Revocations {
                authority: list.authority.clone(),
                sequence: list.sequence,
                revoked: list.ids.len() + list.keys.len(),
            };
            registry.insert_revocations(list);
            Ok((accepted, Some(built)))
        }
        DocType::IssuerRevocations => {
            // Consulted when a certificate of its delegation is presented; the core's
            // inputs stay as they are.
            let list = registry.check_issuer_list(&bytes, trust)?;
            same_authority(expected, &list.topic)?;
            let doc =
                SignedDoc { authority: list.key.clone(), version: list.list.sequence, body: bytes, stored_at: now };
            store.put_revocation_list(&doc)?;
            let accepted = Accepted::Revocations {
                authority: list.topic.clone(),
                sequence: list.list.sequence,
                revoked: list.list.ids.len() + list.list.keys.len(),
            };
            registry.insert_issuer_list(list);
            Ok((accepted, None))
        }
        other @ (DocType::Certificate
        | DocType::DelegatedCertificate
        | DocType::Delegation
        | DocType::Command
        | DocType::Ack
        | DocType::Checkpoint) => Err(Refusal::WrongType {
            expected: "bundle or revocation list (phones present their certificates themselves, each carrying its \
                       delegation; commands come over MQTT)",
            found: other.word(),
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

/// Takes in a document from `source` — published on a topic, or a revocation list a phone
/// carried in its certificate — checked against what the source says it is (`expected`),
/// verified, stored and audited; returns what it built for the gateway (none when the
/// core's inputs do not change: an issuer's revocation list).
#[allow(clippy::too_many_arguments)]
pub fn take_from(
    bytes: Vec<u8>,
    source: Source<'_>,
    expected: Expected<'_>,
    registry: &mut Registry,
    trust: &Trust<'_>,
    store: &mut dyn DocStore,
    now: Timestamp,
    trusted: bool,
) -> Result<(Accepted, Option<Built>), IntakeProblem> {
    let result = take_one(bytes, Some(expected), registry, trust, store, now, trusted);
    audit(store, now, trusted, source, result.as_ref().map(|(accepted, _)| accepted));
    result
}

/// Whether no document in `dir` (the files [`process_inbox`] reads) changed within
/// [`SETTLE`] of `now`, so a round reads none half-written (the daemon waits for the next
/// round otherwise; `portvakt intake`, run by hand after copying, does not wait).
pub fn inbox_settled(dir: &Path, now: Timestamp) -> bool {
    let now = std::time::SystemTime::from(now);
    std::fs::read_dir(dir).map_or(true, |entries| {
        !entries.filter_map(Result::ok).any(|e| {
            let hidden = e.file_name().to_string_lossy().starts_with('.');
            let meta = e.metadata();
            !hidden
                && meta.as_ref().is_ok_and(std::fs::Metadata::is_file)
                && meta.and_then(|m| m.modified()).is_ok_and(|modified| still_being_written(modified, now))
        })
    })
}

/// Processes every file in `dir` in name order. `on_built` receives the core's new
/// inputs after each accepted document (the gateway swaps them in).
pub fn process_inbox(
    dir: &Path,
    registry: &mut Registry,
    trust: &Trust<'_>,
    store: &mut dyn DocStore,
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
        let mut claimed = None;
        let result = match read {
            Ok(bytes) => {
                // What a refused file claimed to be: its first fields, read before it goes.
                claimed = label(&bytes);
                take_one(bytes, None, registry, trust, store, now, trusted).map(|(accepted, built)| {
                    if let Some(built) = built {
                        on_built(built);
                    }
                    accepted
                })
            }
            Err(e) => Err(IntakeProblem::Io(e)),
        };
        let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        audit(store, now, trusted, ("file", &name), result.as_ref());
        match &result {
            Ok(_) => move_to(dir, "accepted", &file, None),
            Err(IntakeProblem::Store(_)) => {} // stays for the next round
            Err(e) => move_to(dir, "refused", &file, Some(&e.to_string())),
        }
        outcomes.push(Outcome { file, label: claimed, result });
    }
    Ok(outcomes)
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    #[test]
    fn a_file_changed_within_the_settle_time_is_still_being_written() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(still_being_written(now - Duration::from_millis(200), now));
        assert!(!still_being_written(now - SETTLE, now));
    }

    #[test]
    fn a_file_from_the_future_counts_as_settled_so_a_clock_going_back_holds_nothing_up() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert!(!still_being_written(now + Duration::from_secs(3600), now));
    }

    #[test]
    fn an_inbox_with_a_fresh_file_is_not_settled_until_the_file_has_rested() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::write(dir.path().join("owner.pvkt"), b"PVKT").expect("a file");
        let written = Timestamp::now();
        assert!(!inbox_settled(dir.path(), written));
        assert!(inbox_settled(dir.path(), written + jiff::SignedDuration::from_secs(2)));
        assert!(inbox_settled(&dir.path().join("missing"), written), "no inbox has nothing half-written");
        let other = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir(other.path().join("accepted")).expect("a folder");
        std::fs::write(other.path().join(".owner.pvkt"), b"PV").expect("a hidden file");
        assert!(inbox_settled(other.path(), Timestamp::now()), "folders and hidden files are not documents");
    }
}
