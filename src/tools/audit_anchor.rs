//! What `portvakt audit verify` says of the chain's anchor, beyond the links: whether the
//! newest `audit.checkpoint` record in the store is signed by its device key and matches
//! the record it covers, and, with `--against FILE`, whether a checkpoint a collector kept
//! still matches the store — the only way to see a store cut short or rewritten and
//! re-signed on the box (`docs/audit.md`: what root can and cannot hide).

use std::fmt::Write as _;

use crate::core::hex;
use crate::credentials::checkpoint::Checkpoint;
use crate::store::{EventKind, Store, StoreError};

/// How a checkpoint compares with the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The store holds the record it covers with that hash.
    Matches,
    /// The store ends before the record it covers.
    Truncated {
        /// The store's newest record.
        head: u64,
    },
    /// The store's record has another hash.
    Rewritten,
    /// The record was pruned; nothing to compare.
    Pruned,
}

/// One checkpoint checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The checkpoint.
    pub checkpoint: Checkpoint,
    /// How it compares.
    pub outcome: Outcome,
}

impl Checked {
    /// Whether the store no longer holds what the checkpoint covers.
    pub fn broken(&self) -> bool {
        matches!(self.outcome, Outcome::Truncated { .. } | Outcome::Rewritten)
    }

    /// What was checked and how it compares, in words.
    pub fn words(&self) -> String {
        let b = &self.checkpoint.body;
        let key = hex::encode(&self.checkpoint.key[..8]);
        let signed = format!("record {} signed {} by device key {key}…", b.seq, b.at.strftime("%Y-%m-%d %H:%M:%S UTC"));
        match &self.outcome {
            Outcome::Matches => format!("{signed}: matches the store"),
            Outcome::Pruned => format!("{signed}: that record is pruned, nothing to compare"),
            Outcome::Truncated { head } => format!("{signed}: TRUNCATED: the store ends at record {head}"),
            Outcome::Rewritten => format!("{signed}: REWRITTEN: the store's record {} has another hash", b.seq),
        }
    }
}

/// The anchor's report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorReport {
    /// The store's newest checkpoint (`None`: there is none; `Err`: it does not verify).
    pub newest: Option<Result<Checked, String>>,
    /// The collector's checkpoint, if one was given.
    pub against: Option<Result<Checked, String>>,
}

impl AnchorReport {
    /// Whether anything shows tampering (a checkpoint that does not verify or no longer
    /// matches).
    pub fn broken(&self) -> bool {
        let bad = |c: &Option<Result<Checked, String>>| match c {
            Some(Err(_)) => true,
            Some(Ok(c)) => c.broken(),
            None => false,
        };
        bad(&self.newest) || bad(&self.against)
    }
}

/// Compares `checkpoint` with the store.
pub fn compare(store: &Store, checkpoint: Checkpoint) -> Result<Checked, StoreError> {
    let (head, _) = store.head();
    let outcome = if checkpoint.body.seq > head {
        Outcome::Truncated { head }
    } else {
        match store.hash_of(checkpoint.body.seq)? {
            None => Outcome::Pruned,
            Some(h) if h == checkpoint.hash => Outcome::Matches,
            Some(_) => Outcome::Rewritten,
        }
    };
    Ok(Checked { checkpoint, outcome })
}

/// Checks the store's newest checkpoint and, if given, a collector's (`against`: the
/// file's bytes).
pub fn check(store: &Store, against: Option<&[u8]>) -> Result<AnchorReport, StoreError> {
    let newest = match store.latest_of_kind(EventKind::AuditCheckpoint)? {
        None => None,
        Some((_, detail)) => Some(match Checkpoint::from_detail(&detail) {
            Ok(c) => Ok(compare(store, c)?),
            Err(e) => Err(e.to_string()),
        }),
    };
    let against = match against.map(Checkpoint::from_file) {
        None => None,
        Some(Ok(c)) => Some(Ok(compare(store, c)?)),
        Some(Err(e)) => Some(Err(e.to_string())),
    };
    Ok(AnchorReport { newest, against })
}

fn line(out: &mut String, what: &str, c: &Result<Checked, String>) {
    let _ = match c {
        Err(e) => writeln!(out, "{what}: DOES NOT VERIFY: {e}"),
        Ok(c) => writeln!(out, "{what}: {}", c.words()),
    };
}

/// The report in words, one line per checkpoint.
pub fn render(report: &AnchorReport) -> String {
    let mut out = String::new();
    match &report.newest {
        None => out.push_str("newest checkpoint: none in the store\n"),
        Some(c) => line(&mut out, "newest checkpoint", c),
    }
    if let Some(c) = &report.against {
        line(&mut out, "collector's checkpoint", c);
        if let (Some(Ok(mine)), Ok(theirs)) = (&report.newest, c)
            && mine.checkpoint.key != theirs.checkpoint.key
        {
            let _ = writeln!(
                out,
                "note: the store's checkpoints are signed by another device key ({}…) than the collector's",
                hex::encode(&mine.checkpoint.key[..8])
            );
        }
    }
    out
}
