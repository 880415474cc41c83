//! Single-record lookups for the installer tools: the newest record of one kind (say the
//! BLE adapter's last `serving` or `lost`), read through any connection, read-only too.

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
}
