//! Erasing personal parts (`docs/audit.md`, Retention classes): holder, credential and
//! salt are deleted and `erased_at_ms` set; header and commitment stay, so the chain
//! verifies and says how many parts are gone. Residents' passages (the owner's records)
//! and contractors' go `store.residents_days` after the record; staff visits (a
//! municipality's) `store.staff_days` after the collector confirmed them — at a site
//! without an uplink, after `residents_days` like the rest. Records from before audiences
//! (format 1) hash their names: they stay until pruned by `store.retention_days`.

use jiff::Timestamp;
use rusqlite::params;

use super::{Store, ms};
use crate::store::StoreError;

impl Store {
    /// Erases `holder`'s personal parts of `audience`'s records (a person's right to
    /// erasure, asked by the records' authority); returns how many.
    pub fn erase_holder(&mut self, audience: &str, holder: &str, now: Timestamp) -> Result<u64, StoreError> {
        let n = self
            .conn
            .execute(
                "UPDATE audit SET holder = NULL, credential = NULL, salt = NULL, erased_at_ms = ?1
                 WHERE format = 2 AND erased_at_ms IS NULL AND audience = ?2 AND holder = ?3",
                params![ms(now), audience, holder],
            )
            .map_err(|e| self.classify("erasing personal parts", e))?;
        self.commits += 1;
        self.truncate_log_after(n)?;
        Ok(n as u64)
    }

    /// With `secure_delete` the old cells are overwritten in the database; the write-ahead
    /// log still holds their earlier page images until it is truncated.
    fn truncate_log_after(&self, erased: usize) -> Result<(), StoreError> {
        if erased > 0 {
            self.conn
                .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(|e| self.classify("checkpointing after erasure", e))?;
        }
        Ok(())
    }

    /// Erases the personal parts past their class's period at `now` (a trusted time: the
    /// caller does not erase while the clock is untrusted); returns how many.
    pub fn erase_personal(&mut self, now: Timestamp) -> Result<u64, StoreError> {
        let before = |d| ms(now.saturating_sub(d).unwrap_or(now));
        let staff = serde_json::to_string(&self.personal.staff_audiences).unwrap_or_else(|_| "[]".into());
        let staff_period = if self.kept_locally { self.personal.residents } else { self.personal.staff };
        let n = self
            .conn
            .execute(
                "UPDATE audit SET holder = NULL, credential = NULL, salt = NULL, erased_at_ms = ?1
                 WHERE format = 2 AND erased_at_ms IS NULL AND (holder IS NOT NULL OR credential IS NOT NULL)
                   AND CASE WHEN audience IN (SELECT value FROM json_each(?2))
                       THEN coalesce(confirmed_at_ms, CASE WHEN ?5 THEN at_ms END) < ?3
                       ELSE at_ms < ?4 END",
                params![ms(now), staff, before(staff_period), before(self.personal.residents), self.kept_locally],
            )
            .map_err(|e| self.classify("erasing personal parts", e))?;
        self.commits += 1;
        self.truncate_log_after(n)?;
        Ok(n as u64)
    }
}
