//! The outbox: records waiting for upload, read in order, and confirmed — one by one
//! (the broker's PUBACK) or through a sequence number (the collector's acknowledgement) —
//! without an fsync, since a confirmation lost at power loss only means a record is
//! published again.

use jiff::Timestamp;
use rusqlite::params;

use super::reads::{RECORD_COLUMNS, read_record};
use super::{Store, ms};
use crate::store::{AuditRecord, StoreError};

impl Store {
    /// Up to `limit` records waiting for upload with seq > `after`, in order.
    pub fn outbox(&self, after: u64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM audit WHERE confirmed_at_ms IS NULL AND seq > ?1 ORDER BY seq LIMIT ?2"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.classify("reading the outbox", e))?;
        let rows = stmt
            .query_map(params![i64::try_from(after).unwrap_or(i64::MAX), limit], read_record)
            .map_err(|e| self.classify("reading the outbox", e))?;
        rows.map(|r| r.map(|s| s.record)).collect::<Result<_, _>>().map_err(|e| self.classify("reading the outbox", e))
    }

    /// Runs a confirmation without waiting for the disk: a confirmation lost at power
    /// loss only means the record is published again (a duplicate with the same sequence
    /// number, which the contract allows), so it need not cost an fsync. Audit records
    /// themselves are always committed with `synchronous = FULL`.
    fn unsynced<T>(&mut self, f: impl FnOnce(&mut Self) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let relax = self.conn.pragma_update(None, "synchronous", "NORMAL");
        let result = f(self);
        let restore = self.conn.pragma_update(None, "synchronous", "FULL");
        if let Err(e) = relax.and(restore) {
            return Err(StoreError::from_sql(&self.path, "setting synchronous", e));
        }
        result
    }

    /// Marks records confirmed (broker PUBACK per record); returns how many changed.
    pub fn confirm(&mut self, seqs: &[u64], now: Timestamp) -> Result<u64, StoreError> {
        self.unsynced(|s| {
            let tx = s.conn.transaction().map_err(|e| StoreError::from_sql(&s.path, "confirming", e))?;
            let mut n = 0;
            {
                let mut stmt = tx
                    .prepare_cached("UPDATE audit SET confirmed_at_ms = ?1 WHERE seq = ?2 AND confirmed_at_ms IS NULL")
                    .map_err(|e| StoreError::from_sql(&s.path, "confirming", e))?;
                for q in seqs {
                    n += stmt
                        .execute(params![ms(now), i64::try_from(*q).unwrap_or(i64::MAX)])
                        .map_err(|e| StoreError::from_sql(&s.path, "confirming", e))?;
                }
            }
            tx.commit().map_err(|e| StoreError::from_sql(&s.path, "confirming", e))?;
            s.commits += 1;
            Ok(n as u64)
        })
    }

    /// Marks every record up to `seq` confirmed (collector acknowledgement).
    pub fn confirm_through(&mut self, seq: u64, now: Timestamp) -> Result<u64, StoreError> {
        self.unsynced(|s| {
            let n = s
                .conn
                .execute(
                    "UPDATE audit SET confirmed_at_ms = ?1 WHERE seq <= ?2 AND confirmed_at_ms IS NULL",
                    params![ms(now), i64::try_from(seq).unwrap_or(i64::MAX)],
                )
                .map_err(|e| s.classify("confirming", e))?;
            s.commits += 1;
            Ok(n as u64)
        })
    }
}
