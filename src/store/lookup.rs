//! Single-record lookups: the newest record of one kind (say the BLE adapter's last
//! `serving` or `lost`, for the installer tools) and one record's hash (to check a
//! collector's acknowledgement), read through any connection, read-only too.

use jiff::Timestamp;
use rusqlite::OptionalExtension;

use super::db::{Store, ts};
use super::{EventKind, StoreError};

impl Store {
    /// The newest record of `kind`: when, and its detail.
    pub fn latest_of_kind(&self, kind: EventKind) -> Result<Option<(Timestamp, serde_json::Value)>, StoreError> {
        let row = self
            .conn()
            .query_row(
                "SELECT at_ms, detail FROM audit WHERE kind = ?1 ORDER BY seq DESC LIMIT 1",
                [kind.code()],
                |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()
            .map_err(|e| StoreError::from_sql(self.path(), "reading the newest record of a kind", e))?;
        Ok(row.map(|(at, detail)| (ts(at), serde_json::from_str(&detail).unwrap_or_default())))
    }

    /// The hash of record `seq`, if it is still stored.
    pub fn hash_of(&self, seq: u64) -> Result<Option<[u8; 32]>, StoreError> {
        let hash = self
            .conn()
            .query_row("SELECT hash FROM audit WHERE seq = ?1", [i64::try_from(seq).unwrap_or(i64::MAX)], |r| {
                r.get::<_, Vec<u8>>(0)
            })
            .optional()
            .map_err(|e| StoreError::from_sql(self.path(), "reading a record's hash", e))?;
        Ok(hash.and_then(|h| <[u8; 32]>::try_from(h.as_slice()).ok()))
    }
}
