//! Reading the log: a record as stored (defensively, cell by cell), filtered queries
//! and pages for visit lists and `audit.query`, the chain's verification from its anchor,
//! and the store's condition.

use rusqlite::params;

use super::{AuditFilter, Store, StoreHealth, StoredRecord, VerifyReport, blob32, ms, ts};
use crate::store::form::Form;
use crate::store::record::{AuditRecord, EventKind, NewEvent, SITE, verify};
use crate::store::{StoreError, cells};
use portvakt_wire::chain::Salt;

pub(super) const RECORD_COLUMNS: &str =
    "seq, at_ms, trusted, kind, door, holder, credential, detail, prev, hash, confirmed_at_ms,
     format, audience, salt, commitment";

/// A record as stored, read defensively: a cell of the wrong type (written by hand, or
/// damaged) is read as something that cannot hash to the stored hash, so `verify` reports
/// the record and the daemon, the outbox and the tools step over it instead of failing.
#[allow(clippy::unnecessary_wraps)] // the shape of rusqlite's row callbacks
pub(super) fn read_record(row: &rusqlite::Row<'_>) -> rusqlite::Result<StoredRecord> {
    let kind = cells::text(row, 3, "kind").unwrap_or_default();
    let hash_of = |idx, column| cells::blob(row, idx, column, false).map_or([0xff; 32], blob32);
    let shown_or_null =
        |idx, column| cells::text_or_null(row, idx, column).unwrap_or_else(|_| Some(cells::shown(row, idx)));
    let record = AuditRecord {
        seq: u64::try_from(cells::integer(row, 0, "seq").unwrap_or(0)).unwrap_or(0),
        event: NewEvent {
            at: ts(cells::integer(row, 1, "at_ms").unwrap_or(0)),
            trusted: cells::integer(row, 2, "trusted").is_ok_and(|t| t == 1),
            // An unknown kind cannot hash to the stored hash; verify reports the record.
            kind: EventKind::from_code(&kind).unwrap_or(EventKind::Gap),
            door: shown_or_null(4, "door"),
            audience: cells::text_or_null(row, 12, "audience").ok().flatten().unwrap_or_else(|| SITE.into()),
            holder: shown_or_null(5, "holder"),
            credential: shown_or_null(6, "credential"),
            detail: cells::text(row, 7, "detail").unwrap_or_else(|_| cells::shown(row, 7)),
        },
        prev: hash_of(8, "prev"),
        hash: hash_of(9, "hash"),
        form: form(row),
    };
    let confirmed = cells::integer_or_null(row, 10, "confirmed_at_ms").unwrap_or(None);
    Ok(StoredRecord { record, confirmed_at: confirmed.map(ts) })
}

/// The record's format and seal, read defensively: a damaged salt or commitment is read
/// as one that cannot match, so `verify` reports the record.
fn form(row: &rusqlite::Row<'_>) -> Form {
    if cells::integer(row, 11, "format").unwrap_or(1) != 2 {
        return Form::V1;
    }
    let sixteen = |b: Vec<u8>| -> Salt { b.try_into().unwrap_or([0xff; 16]) };
    let salt = cells::blob(row, 13, "salt", true).ok().filter(|b| !b.is_empty()).map(sixteen);
    let commitment = cells::blob(row, 14, "commitment", true).ok().filter(|b| !b.is_empty()).map(blob32);
    Form::V2 { salt, commitment }
}

impl Store {
    /// Records matching a filter, in sequence order (the newest `limit` if set).
    pub fn query(&self, f: &AuditFilter) -> Result<Vec<StoredRecord>, StoreError> {
        let sql = format!(
            "SELECT * FROM (SELECT {RECORD_COLUMNS} FROM audit
             WHERE (?1 IS NULL OR door = ?1) AND (?2 IS NULL OR holder = ?2)
               AND (?3 IS NULL OR at_ms >= ?3) AND (?4 IS NULL OR at_ms < ?4)
             ORDER BY seq DESC LIMIT ?5) ORDER BY seq"
        );
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.classify("querying", e))?;
        let rows = stmt
            .query_map(
                params![f.door, f.holder, f.since.map(ms), f.until.map(ms), f.limit.map_or(-1, i64::from)],
                read_record,
            )
            .map_err(|e| self.classify("querying", e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.classify("querying", e))
    }

    /// Records matching `f` (its door, holder and time range) with sequence numbers after
    /// `after`, oldest first, at most `f.limit` (default 100).
    pub fn page(&self, f: &AuditFilter, after: u64) -> Result<Vec<StoredRecord>, StoreError> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM audit
             WHERE seq > ?1 AND (?2 IS NULL OR door = ?2) AND (?3 IS NULL OR holder = ?3)
               AND (?4 IS NULL OR at_ms >= ?4) AND (?5 IS NULL OR at_ms < ?5)
               AND (?7 IS NULL OR (format = 2 AND audience IN (?7, 'site')) OR (format = 1 AND holder IS NULL))
             ORDER BY seq LIMIT ?6"
        );
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| self.classify("querying", e))?;
        let rows = stmt
            .query_map(
                params![
                    i64::try_from(after).unwrap_or(i64::MAX),
                    f.door,
                    f.holder,
                    f.since.map(ms),
                    f.until.map(ms),
                    f.limit.unwrap_or(100),
                    f.audience,
                ],
                read_record,
            )
            .map_err(|e| self.classify("querying", e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.classify("querying", e))
    }

    /// Checks the whole chain from its anchor, streaming (constant memory).
    pub fn verify(&self) -> Result<VerifyReport, StoreError> {
        let anchor = self.anchor()?;
        let sql = format!("SELECT {RECORD_COLUMNS} FROM audit ORDER BY seq");
        let mut stmt = self.conn.prepare(&sql).map_err(|e| self.classify("verifying", e))?;
        let mut rows = stmt.query([]).map_err(|e| self.classify("verifying", e))?;
        let mut state = anchor;
        let (mut checked, mut erased) = (0, 0);
        while let Some(row) = rows.next().map_err(|e| self.classify("verifying", e))? {
            let r = read_record(row).map_err(|e| self.classify("verifying", e))?.record;
            if let Err(b) = verify(state, [&r]) {
                return Ok(VerifyReport { anchor_seq: anchor.0, checked, first_break: Some(b), erased });
            }
            if r.part_state() == crate::store::form::PartState::Erased {
                erased += 1;
            }
            state = (r.seq, r.hash);
            checked += 1;
        }
        Ok(VerifyReport { anchor_seq: anchor.0, checked, first_break: None, erased })
    }

    /// The store's condition.
    pub fn health(&self) -> Result<StoreHealth, StoreError> {
        let q = |sql: &str| -> Result<i64, StoreError> {
            self.conn
                .query_row(sql, [], |r| r.get::<_, Option<i64>>(0))
                .map(Option::unwrap_or_default)
                .map_err(|e| self.classify("reading health", e))
        };
        let pages = u64::try_from(q("PRAGMA page_count")? - q("PRAGMA freelist_count")?).unwrap_or(0);
        let depth = u64::try_from(q("SELECT COUNT(*) FROM audit WHERE confirmed_at_ms IS NULL")?).unwrap_or(0);
        let oldest: Option<i64> = self
            .conn
            .query_row("SELECT MIN(at_ms) FROM audit WHERE confirmed_at_ms IS NULL", [], |r| r.get(0))
            .map_err(|e| self.classify("reading health", e))?;
        let max_bytes = self.soft_pages.saturating_mul(self.page_size);
        let used_bytes = pages * self.page_size;
        Ok(StoreHealth {
            used_bytes,
            max_bytes,
            outbox_depth: depth,
            oldest_unconfirmed: oldest.map(ts),
            head_seq: self.head.0,
            pending_gap: self.gap.map_or(0, |g| g.count),
            nearly_full: self.alarm_raised || used_bytes.saturating_mul(10) >= max_bytes.saturating_mul(9),
            commits: self.commits,
        })
    }
}
