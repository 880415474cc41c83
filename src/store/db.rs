//! The store itself: one SQLite connection in WAL mode with `synchronous = FULL`, so a
//! committed transaction has been fsync'd. Appends come in batches (group commit: one
//! transaction, one fsync, many records).
//!
//! Size: appends stop at a soft cap (the configured size); SQLite's `max_page_count` sits
//! a reserve above it, so confirming, pruning and saving state still work when the log is
//! full (otherwise a full outbox could never be confirmed and drained). At the cap,
//! confirmed records are pruned first, whatever their age; what still does not fit — or
//! does not fit on a full disk — is counted and recorded as one gap record when space
//! returns.

use std::path::{Path, PathBuf};

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Connection, ErrorCode, OpenFlags, OptionalExtension, params};

use super::form::{Form, hash_of, seal_for};
use super::record::{AuditRecord, ChainBreak, EventKind, GENESIS, NewEvent, SITE};
use super::schema::{self, CURRENT, SchemaProblem};
use super::{StoreError, cells};

mod epoch;
mod erase;
pub use epoch::EpochReason;
mod outbox;
mod prune;
mod reads;

pub use crate::config::StoreOptions;

/// What became of an appended batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Appended {
    /// Stored durably with these sequence numbers (inclusive).
    Stored {
        /// The first record's number.
        first: u64,
        /// The last record's number.
        last: u64,
    },
    /// No room: the events were counted in a pending gap record.
    Counted,
}

/// Events that could not be stored, waiting to be recorded as one gap record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PendingGap {
    count: u64,
    first_at: Timestamp,
    last_at: Timestamp,
}

/// Filter for visit lists.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this door.
    pub door: Option<String>,
    /// Only this holder.
    pub holder: Option<String>,
    /// At or after.
    pub since: Option<Timestamp>,
    /// Before.
    pub until: Option<Timestamp>,
    /// At most this many (newest last).
    pub limit: Option<u32>,
    /// Only this authority's records and the site's own (`docs/audit.md`, Audiences):
    /// format 2 records of this audience or `site`, and format 1 records that name no one.
    pub audience: Option<String>,
}

/// A record with its upload state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The record.
    pub record: AuditRecord,
    /// When the uplink confirmed it, if it has.
    pub confirmed_at: Option<Timestamp>,
}

/// The store's condition, for the state message and the installer tools.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StoreHealth {
    /// Bytes in use (pages holding data).
    pub used_bytes: u64,
    /// The cap.
    pub max_bytes: u64,
    /// Records waiting for upload.
    pub outbox_depth: u64,
    /// Time of the oldest record waiting for upload.
    pub oldest_unconfirmed: Option<Timestamp>,
    /// The newest sequence number.
    pub head_seq: u64,
    /// Events counted but not stored (disk or cap full), not yet recorded as a gap.
    pub pending_gap: u64,
    /// Used bytes are over 90% of the cap.
    pub nearly_full: bool,
    /// Transactions committed since open (each is one WAL fsync).
    pub commits: u64,
}

/// Outcome of a chain verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// The anchor the chain starts from (pruned records before it).
    pub anchor_seq: u64,
    /// Records checked.
    pub checked: u64,
    /// The first break, if any.
    pub first_break: Option<ChainBreak>,
    /// Records checked whose personal part was erased (their commitments kept).
    pub erased: u64,
}

/// The durable store.
#[derive(Debug)]
pub struct Store {
    conn: Connection,
    path: PathBuf,
    retention: SignedDuration,
    /// No uplink: every record may be pruned, not only confirmed ones (see [`prune`]).
    kept_locally: bool,
    /// How long personal parts stay ([`erase`]).
    personal: crate::config::PersonalRetention,
    /// Appends stop here.
    soft_pages: u64,
    /// SQLite refuses to grow past this (soft cap plus a reserve).
    max_pages: u64,
    page_size: u64,
    head: (u64, [u8; 32]),
    gap: Option<PendingGap>,
    /// Store alarms waiting to be written in front of the next batch.
    notices: Vec<(&'static str, serde_json::Value)>,
    /// Whether a "nearly full" alarm is raised (cleared below 80%).
    alarm_raised: bool,
    commits: u64,
    /// The chain's run records are published in (`epoch`).
    epoch: Option<portvakt_wire::event::Epoch>,
    /// A run to begin with the next committed append.
    pending_epoch: Option<portvakt_wire::event::Epoch>,
    /// Held by a store opened to write (declared last: dropped after the connection).
    writer_lock: Option<super::writer_lock::WriterLock>,
}

/// Record `seq`'s salt, from the batch's secret.
fn salt_of(secret: &[u8; 32], seq: u64) -> portvakt_wire::chain::Salt {
    use sha2::Digest as _;
    let d = sha2::Sha256::new().chain_update(b"portvakt.salt\0").chain_update(secret).chain_update(seq.to_be_bytes());
    let mut salt = [0; 16];
    salt.copy_from_slice(&d.finalize()[..16]);
    salt
}

fn is_full(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(ErrorCode::DiskFull)
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// A stored millisecond time as a timestamp (out-of-range values read as the epoch).
pub(super) fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn blob32(v: Vec<u8>) -> [u8; 32] {
    v.try_into().unwrap_or([0xff; 32])
}

impl Store {
    fn classify(&self, op: &'static str, e: rusqlite::Error) -> StoreError {
        StoreError::from_sql(&self.path, op, e)
    }

    /// Opens (creating if needed) and migrates the store.
    pub fn open(opts: &StoreOptions) -> Result<Self, StoreError> {
        if let Some(dir) = opts.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io { path: dir.to_path_buf(), source })?;
        }
        // The lock first: a second writer must not even migrate the file.
        let lock = super::writer_lock::WriterLock::take(&opts.path)?;
        let mut conn = Connection::open(&opts.path).map_err(|e| StoreError::from_sql(&opts.path, "open", e))?;
        let setup = |c: &Connection| -> rusqlite::Result<()> {
            c.pragma_update(None, "journal_mode", "WAL")?;
            c.pragma_update(None, "synchronous", "FULL")?;
            // Deleted content (erased personal parts, pruned records) is overwritten, not
            // left in free pages.
            c.pragma_update(None, "secure_delete", "ON")?;
            c.busy_timeout(std::time::Duration::from_secs(5))?;
            Ok(())
        };
        setup(&conn).map_err(|e| StoreError::from_sql(&opts.path, "setting up", e))?;
        match schema::migrate_to(&mut conn, CURRENT) {
            Ok(_) => {}
            Err(SchemaProblem::Newer(found)) => {
                return Err(StoreError::NewerSchema { path: opts.path.clone(), found, supported: CURRENT });
            }
            Err(SchemaProblem::Sql(e)) => return Err(StoreError::from_sql(&opts.path, "migrating", e)),
        }
        let mut store = Self::from_conn(conn, &opts.path, opts.retention)?;
        store.kept_locally = opts.kept_locally;
        store.personal = opts.personal.clone();
        store.writer_lock = Some(lock);
        store.soft_pages = (opts.max_size_bytes / store.page_size).max(16);
        store.max_pages = store.soft_pages + (store.soft_pages / 16).max(64);
        store
            .conn
            .pragma_update(None, "max_page_count", store.max_pages)
            .map_err(|e| store.classify("setting the size cap", e))?;
        Ok(store)
    }

    /// Opens an existing store for reading only (installer tools while the daemon runs).
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        if !path.exists() {
            return Err(StoreError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
            });
        }
        let conn =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)
                .map_err(|e| StoreError::from_sql(path, "open", e))?;
        let v = schema::version(&conn).map_err(|e| StoreError::from_sql(path, "reading the schema version", e))?;
        if v > CURRENT {
            return Err(StoreError::NewerSchema { path: path.to_path_buf(), found: v, supported: CURRENT });
        }
        if v < CURRENT {
            return Err(StoreError::OlderSchema { path: path.to_path_buf(), found: v, current: CURRENT });
        }
        Self::from_conn(conn, path, SignedDuration::ZERO)
    }

    fn from_conn(conn: Connection, path: &Path, retention: SignedDuration) -> Result<Self, StoreError> {
        let mut store = Self {
            conn,
            path: path.to_path_buf(),
            retention,
            kept_locally: false,
            personal: crate::config::PersonalRetention::default(),
            soft_pages: u64::MAX,
            max_pages: u64::MAX,
            page_size: 4096,
            head: (0, GENESIS),
            gap: None,
            notices: Vec::new(),
            alarm_raised: false,
            commits: 0,
            epoch: None,
            pending_epoch: None,
            writer_lock: None,
        };
        store.epoch = store.read_epoch()?;
        let page_size: i64 =
            store.conn.query_row("PRAGMA page_size", [], |r| r.get(0)).map_err(|e| store.classify("reading", e))?;
        store.page_size = u64::try_from(page_size).unwrap_or(4096);
        let head = store
            .conn
            .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| {
                // A damaged newest hash links the next record to what no record hashes
                // to: the chain shows the break there, and appending goes on.
                Ok((cells::integer(r, 0, "seq").unwrap_or(0), cells::blob(r, 1, "hash", false).unwrap_or_default()))
            })
            .optional()
            .map_err(|e| store.classify("reading the newest record", e))?;
        store.head = match head {
            Some((seq, hash)) => (u64::try_from(seq).unwrap_or(0), blob32(hash)),
            None => store.anchor()?,
        };
        Ok(store)
    }

    fn meta_i64(&self, key: &str) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get::<_, i64>(0))
            .optional()
            .map_err(|e| self.classify("reading meta", e))
    }

    /// The last pruned record (seq and hash), or `(0, GENESIS)`.
    pub fn anchor(&self) -> Result<(u64, [u8; 32]), StoreError> {
        let seq = self.meta_i64("anchor_seq")?.unwrap_or(0);
        let hash = self
            .conn
            .query_row("SELECT value FROM meta WHERE key = 'anchor_hash'", [], |r| r.get::<_, Vec<u8>>(0))
            .optional()
            .map_err(|e| self.classify("reading meta", e))?
            .map_or(GENESIS, blob32);
        Ok((u64::try_from(seq).unwrap_or(0), hash))
    }

    /// The newest sequence number and hash.
    pub fn head(&self) -> (u64, [u8; 32]) {
        self.head
    }

    /// Appends a batch in one transaction. On a full disk or cap it first prunes
    /// confirmed records and tries again; what still does not fit is counted.
    pub fn append(&mut self, events: &[NewEvent]) -> Result<Appended, StoreError> {
        if events.is_empty() {
            return Ok(Appended::Stored { first: self.head.0 + 1, last: self.head.0 });
        }
        let mut used = self.used_pages().map_err(|e| self.classify("measuring", e))?;
        if used >= self.soft_pages {
            let pruned = self.prune_for_space().map_err(|e| self.classify("pruning for space", e))?;
            if pruned > 0 {
                self.notices.push(("retention_shortened", serde_json::json!({ "pruned": pruned })));
                used = self.used_pages().map_err(|e| self.classify("measuring", e))?;
            }
        }
        self.note_fill_level(used);
        // Each record's salt is drawn from this (a fresh secret per batch, per record by seq).
        let salts = crate::credentials::keys::random_seed()
            .map_err(|source| StoreError::Io { path: self.path.clone(), source })?;
        if used < self.soft_pages {
            match self.try_append(events, &salts) {
                Err(e) if is_full(&e) => {
                    // The disk itself is full: make room if anything may go, then retry once.
                    if self.prune_for_space().unwrap_or(0) > 0 {
                        match self.try_append(events, &salts) {
                            Err(e) if is_full(&e) => {}
                            other => return other.map_err(|e| self.classify("appending", e)),
                        }
                    }
                }
                other => return other.map_err(|e| self.classify("appending", e)),
            }
        }
        let (first, last) = (events[0].at, events[events.len() - 1].at);
        let gap = self.gap.get_or_insert(PendingGap { count: 0, first_at: first, last_at: last });
        gap.count += events.len() as u64;
        gap.first_at = gap.first_at.min(first);
        gap.last_at = gap.last_at.max(last);
        log::error!("audit store full: {} event(s) counted, not stored", gap.count);
        Ok(Appended::Counted)
    }

    /// Queues a "nearly full" alarm at 90% of the cap and its clearing below 80%.
    fn note_fill_level(&mut self, used_pages: u64) {
        let (used, cap) = (used_pages * self.page_size, self.soft_pages.saturating_mul(self.page_size));
        let detail = serde_json::json!({ "used_bytes": used, "max_bytes": cap });
        if !self.alarm_raised && used_pages * 10 >= self.soft_pages * 9 {
            self.alarm_raised = true;
            log::warn!("audit store nearly full: {used} of {cap} bytes");
            self.notices.push(("nearly_full", detail));
        } else if self.alarm_raised && used_pages * 10 < self.soft_pages * 8 {
            self.alarm_raised = false;
            self.notices.push(("nearly_full_cleared", detail));
        }
    }

    fn try_append(&mut self, events: &[NewEvent], salts: &[u8; 32]) -> rusqlite::Result<Appended> {
        let mut batch: Vec<NewEvent> = Vec::with_capacity(events.len() + 1 + self.notices.len());
        if let Some(g) = self.gap {
            batch.push(NewEvent {
                at: g.last_at,
                trusted: false,
                kind: EventKind::Gap,
                door: None,
                audience: SITE.into(),
                holder: None,
                credential: None,
                detail: serde_json::json!({
                    "not_stored": g.count,
                    "first_at": g.first_at.to_string(),
                    "last_at": g.last_at.to_string(),
                    "why": "store full (disk or size cap)",
                })
                .to_string(),
            });
        }
        for (alarm, detail) in &self.notices {
            let mut detail = detail.clone();
            detail["alarm"] = serde_json::Value::from(*alarm);
            batch.push(NewEvent {
                at: events[0].at,
                trusted: events[0].trusted,
                kind: EventKind::StoreAlarm,
                door: None,
                audience: SITE.into(),
                holder: None,
                credential: None,
                detail: detail.to_string(),
            });
        }
        let prefix = batch.len() as u64;
        batch.extend_from_slice(events);
        let (mut seq, mut prev) = self.head;
        let first_event_seq = seq + 1 + prefix;
        let tx = self.conn.transaction()?;
        Self::write_pending_epoch(self.pending_epoch.as_ref(), &tx)?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO audit (seq, at_ms, trusted, kind, door, holder, credential, detail, prev, hash,
                                    format, audience, salt, commitment)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 2, ?11, ?12, ?13)",
            )?;
            for e in &batch {
                seq += 1;
                let form = seal_for(e, salt_of(salts, seq));
                let hash = hash_of(&prev, seq, e, &form);
                let Form::V2 { salt, commitment } = form else { unreachable!("new records are format 2") };
                stmt.execute(params![
                    i64::try_from(seq).unwrap_or(i64::MAX),
                    ms(e.at),
                    e.trusted,
                    e.kind.code(),
                    e.door,
                    e.holder,
                    e.credential,
                    e.detail,
                    &prev[..],
                    &hash[..],
                    e.audience,
                    salt.as_ref().map(|s| &s[..]),
                    commitment.as_ref().map(|c| &c[..]),
                ])?;
                prev = hash;
            }
        }
        tx.commit()?;
        self.commits += 1;
        self.head = (seq, prev);
        self.gap = None;
        self.notices.clear();
        if let Some(e) = self.pending_epoch.take() {
            self.epoch = Some(e);
        }
        Ok(Appended::Stored { first: first_event_seq, last: seq })
    }

    fn used_pages(&self) -> rusqlite::Result<u64> {
        let pages: i64 = self.conn.query_row("PRAGMA page_count", [], |r| r.get(0))?;
        let free: i64 = self.conn.query_row("PRAGMA freelist_count", [], |r| r.get(0))?;
        Ok(u64::try_from(pages - free).unwrap_or(0))
    }

    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }
}
