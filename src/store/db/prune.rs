//! Pruning: records leave the store oldest first, always a prefix of the chain, and the
//! last one deleted becomes the anchor verification continues from. With an uplink only
//! confirmed records may go (the outbox stays whole); a site kept locally has no outbox,
//! so every record may. Age is judged by trusted timestamps only: a record stamped while
//! the clock was wrong (a Pi booting in 1970) neither goes early nor drags later ones out
//! with it; it goes with the first trusted record after it that is past retention.

use jiff::Timestamp;
use rusqlite::OptionalExtension;

use super::{Store, ms};
use crate::store::StoreError;

impl Store {
    /// Deletes the oldest prunable records, whatever their age, until usage is below 90%
    /// of the cap or none are left to delete; returns how many. The chain stays
    /// verifiable through the anchor.
    pub(super) fn prune_for_space(&mut self) -> rusqlite::Result<u64> {
        let sql = if self.kept_locally {
            "SELECT MAX(seq) FROM (SELECT seq FROM audit ORDER BY seq LIMIT 500)"
        } else {
            "SELECT MAX(seq) FROM (SELECT seq FROM audit WHERE confirmed_at_ms IS NOT NULL ORDER BY seq LIMIT 500)"
        };
        let mut total = 0;
        while self.used_pages()? * 10 >= self.soft_pages * 9 {
            let cutoff: Option<i64> = self.conn.query_row(sql, [], |r| r.get(0))?;
            let Some(cutoff) = cutoff else { break };
            let n = self.prune_through(cutoff)?;
            if n == 0 {
                break;
            }
            total += n;
        }
        if total > 0 {
            let which = if self.kept_locally { "" } else { "confirmed " };
            log::warn!("audit store at its cap: {total} {which}record(s) pruned before their retention ended");
        }
        Ok(total)
    }

    /// Deletes the records with seq ≤ `cutoff` — with an uplink, only up to the first
    /// unconfirmed one — moving the anchor to the last one deleted.
    fn prune_through(&mut self, cutoff: i64) -> rusqlite::Result<u64> {
        let cutoff = if self.kept_locally {
            cutoff
        } else {
            let first_unconfirmed: Option<i64> =
                self.conn.query_row("SELECT MIN(seq) FROM audit WHERE confirmed_at_ms IS NULL", [], |r| r.get(0))?;
            first_unconfirmed.map_or(cutoff, |u| cutoff.min(u - 1))
        };
        let last: Option<(i64, Vec<u8>)> = self
            .conn
            .query_row("SELECT seq, hash FROM audit WHERE seq <= ?1 ORDER BY seq DESC LIMIT 1", [cutoff], |r| {
                // A damaged hash becomes an anchor nothing links to: verify shows it there.
                Ok((r.get(0)?, crate::store::cells::blob(r, 1, "hash", false).unwrap_or_else(|_| vec![0xff; 32])))
            })
            .optional()?;
        let Some((last_seq, last_hash)) = last else { return Ok(0) };
        let tx = self.conn.transaction()?;
        let n = tx.execute("DELETE FROM audit WHERE seq <= ?1", [last_seq])?;
        tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('anchor_seq', ?1)", [last_seq])?;
        tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('anchor_hash', ?1)", [&last_hash[..]])?;
        tx.commit()?;
        self.commits += 1;
        Ok(n as u64)
    }

    /// Deletes the records past the retention period at `now` (a trusted time: the caller
    /// does not prune while the clock is untrusted); returns how many.
    pub fn prune_expired(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let before = ms(now.saturating_sub(self.retention).unwrap_or(now));
        let sql = if self.kept_locally {
            "SELECT MAX(seq) FROM audit WHERE trusted = 1 AND at_ms < ?1"
        } else {
            "SELECT MAX(seq) FROM audit WHERE trusted = 1 AND at_ms < ?1 AND confirmed_at_ms IS NOT NULL"
        };
        let cutoff: Option<i64> =
            self.conn.query_row(sql, [before], |r| r.get(0)).map_err(|e| self.classify("pruning", e))?;
        match cutoff {
            Some(c) => self.prune_through(c).map_err(|e| self.classify("pruning", e)),
            None => Ok(0),
        }
    }
}
