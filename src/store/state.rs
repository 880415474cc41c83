//! Persisted gateway state restored at start: each authority's last good bundle and
//! revocation list (stored only after verification, as opaque bytes with their version),
//! keypad lockouts, door modes set remotely, and the clock's last-known-good floor.
//! Writes happen on change only, to spare the SD card.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::StoreError;
use super::db::{Store, ts};
use crate::core::model::DoorMode;

/// A stored signed document (bundle or revocation list) of one authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedDoc {
    /// The authority.
    pub authority: String,
    /// Its version (bundles) or sequence (revocations).
    pub version: u64,
    /// The verified bytes, as received.
    pub body: Vec<u8>,
    /// When it was stored.
    pub stored_at: Timestamp,
}

/// One keypad's persisted lockout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockoutRow {
    /// The door of the keypad.
    pub door: String,
    /// Locked until, if locked.
    pub locked_until: Option<Timestamp>,
    /// Lockouts in a row.
    pub streak: u32,
}

/// A `SignedDoc` from a row of `authority, version, body, stored_at_ms`.
fn read_doc(r: &rusqlite::Row<'_>) -> rusqlite::Result<SignedDoc> {
    Ok(SignedDoc {
        authority: r.get(0)?,
        version: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
        body: r.get(2)?,
        stored_at: ts(r.get(3)?),
    })
}

fn mode_word(m: DoorMode) -> &'static str {
    match m {
        DoorMode::Normal => "normal",
        DoorMode::FreePassage => "free_passage",
        DoorMode::Lockdown => "lockdown",
    }
}

impl Store {
    fn docs(&self, table: &str, version_col: &str) -> Result<Vec<SignedDoc>, StoreError> {
        let sql = format!("SELECT authority, {version_col}, body, stored_at_ms FROM {table} ORDER BY authority");
        let err = |e| StoreError::from_sql(self.path(), "reading state", e);
        let mut stmt = self.conn().prepare(&sql).map_err(err)?;
        let rows = stmt.query_map([], read_doc).map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    fn put_doc(&self, table: &str, version_col: &str, doc: &SignedDoc) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO {table} (authority, {version_col}, body, stored_at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(authority) DO UPDATE SET {version_col} = excluded.{version_col},
                 body = excluded.body, stored_at_ms = excluded.stored_at_ms"
        );
        self.conn()
            .execute(
                &sql,
                params![
                    doc.authority,
                    i64::try_from(doc.version).unwrap_or(i64::MAX),
                    doc.body,
                    doc.stored_at.as_millisecond()
                ],
            )
            .map_err(|e| StoreError::from_sql(self.path(), "saving state", e))?;
        Ok(())
    }

    /// Every authority's last good bundle.
    pub fn bundles(&self) -> Result<Vec<SignedDoc>, StoreError> {
        self.docs("bundles", "version")
    }

    /// One authority's bundle, if stored.
    pub fn bundle(&self, authority: &str) -> Result<Option<SignedDoc>, StoreError> {
        self.conn()
            .query_row(
                "SELECT authority, version, body, stored_at_ms FROM bundles WHERE authority = ?1",
                [authority],
                read_doc,
            )
            .optional()
            .map_err(|e| StoreError::from_sql(self.path(), "reading a bundle", e))
    }

    /// Replaces an authority's bundle (call only after verifying it).
    pub fn put_bundle(&self, doc: &SignedDoc) -> Result<(), StoreError> {
        self.put_doc("bundles", "version", doc)
    }

    /// Every authority's last revocation list.
    pub fn revocation_lists(&self) -> Result<Vec<SignedDoc>, StoreError> {
        self.docs("revocations", "sequence")
    }

    /// Replaces an authority's revocation list (call only after verifying it).
    pub fn put_revocation_list(&self, doc: &SignedDoc) -> Result<(), StoreError> {
        self.put_doc("revocations", "sequence", doc)
    }

    /// Saves keypad lockouts (all of them, replacing what was there).
    pub fn save_lockouts(&self, rows: &[LockoutRow]) -> Result<(), StoreError> {
        let err = |e| StoreError::from_sql(self.path(), "saving lockouts", e);
        let tx = self.conn().unchecked_transaction().map_err(err)?;
        tx.execute("DELETE FROM lockouts", []).map_err(err)?;
        for r in rows {
            tx.execute(
                "INSERT INTO lockouts (door, locked_until_ms, streak) VALUES (?1, ?2, ?3)",
                params![r.door, r.locked_until.map(Timestamp::as_millisecond), r.streak],
            )
            .map_err(err)?;
        }
        tx.commit().map_err(err)
    }

    /// The saved keypad lockouts.
    pub fn lockouts(&self) -> Result<Vec<LockoutRow>, StoreError> {
        let err = |e| StoreError::from_sql(self.path(), "reading lockouts", e);
        let mut stmt =
            self.conn().prepare("SELECT door, locked_until_ms, streak FROM lockouts ORDER BY door").map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(LockoutRow { door: r.get(0)?, locked_until: r.get::<_, Option<i64>>(1)?.map(ts), streak: r.get(2)? })
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Saves a door's mode.
    pub fn set_door_mode(&self, door: &str, mode: DoorMode, at: Timestamp) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO door_modes (door, mode, set_at_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT(door) DO UPDATE SET mode = excluded.mode, set_at_ms = excluded.set_at_ms",
                params![door, mode_word(mode), at.as_millisecond()],
            )
            .map_err(|e| StoreError::from_sql(self.path(), "saving a door mode", e))?;
        Ok(())
    }

    /// The saved door modes.
    pub fn door_modes(&self) -> Result<Vec<(String, DoorMode)>, StoreError> {
        let err = |e| StoreError::from_sql(self.path(), "reading door modes", e);
        let mut stmt = self.conn().prepare("SELECT door, mode FROM door_modes ORDER BY door").map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                let word: String = r.get(1)?;
                let mode = match word.as_str() {
                    "free_passage" => DoorMode::FreePassage,
                    "lockdown" => DoorMode::Lockdown,
                    _ => DoorMode::Normal,
                };
                Ok((r.get(0)?, mode))
            })
            .map_err(err)?;
        rows.collect::<Result<_, _>>().map_err(err)
    }

    /// Raises the clock floor to `at` if that is later; it never moves back.
    pub fn raise_clock_floor(&self, at: Timestamp) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO meta (key, value) VALUES ('clock_floor_ms', ?1)
                 ON CONFLICT(key) DO UPDATE SET value = MAX(value, excluded.value)",
                [at.as_millisecond()],
            )
            .map_err(|e| StoreError::from_sql(self.path(), "saving the clock floor", e))?;
        Ok(())
    }

    /// The clock floor, if one was saved.
    pub fn clock_floor(&self) -> Result<Option<Timestamp>, StoreError> {
        self.conn()
            .query_row("SELECT value FROM meta WHERE key = 'clock_floor_ms'", [], |r| r.get::<_, i64>(0))
            .optional()
            .map(|v| v.map(ts))
            .map_err(|e| StoreError::from_sql(self.path(), "reading the clock floor", e))
    }
}
