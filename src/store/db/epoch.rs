//! The chain's run (epoch, `portvakt_wire::event::Epoch`): a store made anew begins one
//! (schema migration 5), and a store found to be behind what the collector holds of its
//! run — restored from a backup — begins another, so the collector keeps the earlier run
//! and takes this one's numbers afresh instead of holding them for another story. The
//! run's name and first record live in `meta`; beginning a run is written in the same
//! transaction as its `system.chain_epoch` record.

use jiff::Timestamp;
use portvakt_wire::event::Epoch;
use rusqlite::{OptionalExtension, Transaction, params};

use super::Store;
use crate::store::{EventKind, NewEvent, StoreError};

/// Why a run began, for its record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EpochReason {
    /// The collector's refusal code that showed it (`ahead`, `wrong_hash`).
    pub code: &'static str,
    /// In words.
    pub message: String,
}

impl Store {
    /// Reads the run from `meta` (none for a store that began before epochs). A damaged
    /// value is read as none, with a warning: records then travel as the unnamed run, and
    /// the collector sees another story under known numbers instead of losing anything.
    pub(super) fn read_epoch(&self) -> Result<Option<Epoch>, StoreError> {
        let cell = |key: &str| {
            self.conn
                .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| {
                    let v = r.get_ref(0)?;
                    Ok((v.as_str().ok().map(str::to_owned), v.as_i64().ok()))
                })
                .optional()
                .map_err(|e| self.classify("reading the chain's run", e))
        };
        let Some((id, _)) = cell("chain_epoch")? else { return Ok(None) };
        let from = cell("chain_epoch_from")?.and_then(|(_, n)| n).and_then(|n| u64::try_from(n).ok());
        match (id, from) {
            (Some(id), Some(from)) if from >= 1 && Epoch::valid_id(&id) => Ok(Some(Epoch { id, from })),
            _ => {
                log::warn!("the store's chain run in meta is damaged; records go out as the unnamed run");
                Ok(None)
            }
        }
    }

    /// The chain's run records are published in, if the store began one.
    pub fn epoch(&self) -> Option<&Epoch> {
        self.epoch.as_ref()
    }

    /// Begins a new run: from the first record the collector has not confirmed (or the
    /// next one), named afresh, recorded as `system.chain_epoch` in the same transaction.
    /// Returns the new run, or none when the store is full (the record counted, not
    /// stored): the run then begins with the next record that is stored.
    pub fn begin_epoch(
        &mut self,
        at: Timestamp,
        trusted: bool,
        why: &EpochReason,
    ) -> Result<Option<Epoch>, StoreError> {
        let first_unconfirmed: Option<i64> = self
            .conn
            .query_row("SELECT MIN(seq) FROM audit WHERE confirmed_at_ms IS NULL", [], |r| r.get(0))
            .map_err(|e| self.classify("reading the outbox", e))?;
        let from = first_unconfirmed.and_then(|s| u64::try_from(s).ok()).unwrap_or(self.head.0 + 1);
        let seed = crate::credentials::keys::random_seed()
            .map_err(|source| StoreError::Io { path: self.path.clone(), source })?;
        let epoch = Epoch { id: crate::core::hex::encode(&seed[..16]), from };
        let detail = serde_json::json!({
            "epoch": epoch.id,
            "from": from,
            "previous": self.epoch.as_ref().map(|e| e.id.as_str()),
            "code": why.code,
            "message": why.message,
        });
        let event = NewEvent::system(EventKind::ChainEpoch, at, trusted, None, &detail);
        self.pending_epoch = Some(epoch.clone());
        Ok(match self.append(&[event])? {
            super::Appended::Stored { .. } => Some(epoch),
            super::Appended::Counted => None,
        })
    }

    /// Writes a run waiting to begin into `meta`, inside the append's transaction.
    pub(super) fn write_pending_epoch(pending: Option<&Epoch>, tx: &Transaction<'_>) -> rusqlite::Result<()> {
        let Some(e) = pending else { return Ok(()) };
        tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('chain_epoch', ?1)", params![e.id])?;
        tx.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('chain_epoch_from', ?1)",
            params![i64::try_from(e.from).unwrap_or(i64::MAX)],
        )?;
        Ok(())
    }
}
