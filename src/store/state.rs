//! Persisted gateway state restored at start: each authority's last good bundle and
//! revocation list (stored only after verification, as opaque bytes with their version),
//! keypad lockouts, door modes set remotely, and the clock's last-known-good floor.
//! Writes happen on change only, to spare the SD card.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::StoreError;
use super::db::{Store, ts};
use crate::core::model::DoorMode;
use crate::core::secret::CredentialKey;

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

/// The rollback floors, per authority.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionFloors {
    /// Highest bundle version accepted.
    pub bundles: std::collections::BTreeMap<String, u64>,
    /// Highest revocation sequence accepted.
    pub revocations: std::collections::BTreeMap<String, u64>,
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

/// A door mode as the store keeps it, sealed with the site key so that a row written
/// by anything but the gateway (say, sqlite3 on the SD card) is refused at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorModeRow {
    /// The door's id.
    pub door: String,
    /// The mode's word (`normal`, `free_passage`, `lockdown`).
    pub word: String,
    /// When it was set (ms since the epoch).
    pub set_at_ms: i64,
    /// `CredentialKey::door_mode_seal` of the three (empty in rows from before sealing).
    pub seal: Vec<u8>,
}

impl DoorModeRow {
    /// A sealed row for `mode` set at `at`.
    pub fn sealed(key: &CredentialKey, door: &str, mode: DoorMode, at: Timestamp) -> Self {
        let word = mode.word();
        let set_at_ms = at.as_millisecond();
        let seal = key.door_mode_seal(door, word, set_at_ms).0.to_vec();
        Self { door: door.to_owned(), word: word.to_owned(), set_at_ms, seal }
    }

    /// The mode, if the seal is the gateway's; otherwise why not.
    pub fn verified(&self, key: &CredentialKey) -> Result<DoorMode, &'static str> {
        let due = key.door_mode_seal(&self.door, &self.word, self.set_at_ms);
        if self.seal.is_empty() {
            return Err("the stored mode has no seal (from before sealing, or written by hand)");
        }
        // Not secret-dependent timing that matters: the row is the attacker's own input.
        if self.seal != due.0 {
            return Err("the stored mode's seal does not match: altered outside the gateway");
        }
        match self.word.as_str() {
            "normal" => Ok(DoorMode::Normal),
            "free_passage" => Ok(DoorMode::FreePassage),
            "lockdown" => Ok(DoorMode::Lockdown),
            _ => Err("the stored mode is not a mode"),
        }
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

    /// Stores the document and raises its floor, in one transaction.
    fn put_doc(&self, table: &str, version_col: &str, doc: &SignedDoc) -> Result<(), StoreError> {
        let err = |e| StoreError::from_sql(self.path(), "saving state", e);
        let tx = self.conn().unchecked_transaction().map_err(err)?;
        let version = i64::try_from(doc.version).unwrap_or(i64::MAX);
        tx.execute(
            "INSERT INTO version_floors (authority, kind, highest) VALUES (?1, ?2, ?3)
             ON CONFLICT(authority, kind) DO UPDATE SET highest = max(highest, excluded.highest)",
            params![doc.authority, table, version],
        )
        .map_err(err)?;
        let sql = format!(
            "INSERT INTO {table} (authority, {version_col}, body, stored_at_ms) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(authority) DO UPDATE SET {version_col} = excluded.{version_col},
                 body = excluded.body, stored_at_ms = excluded.stored_at_ms"
        );
        tx.execute(&sql, params![doc.authority, version, doc.body, doc.stored_at.as_millisecond()]).map_err(err)?;
        tx.commit().map_err(err)
    }

    /// The highest version (bundles) and sequence (revocations) ever accepted per
    /// authority, kept apart from the documents: a damaged or dropped document never lets
    /// an older one in.
    pub fn version_floors(&self) -> Result<VersionFloors, StoreError> {
        let err = |e| StoreError::from_sql(self.path(), "reading the version floors", e);
        let mut stmt = self.conn().prepare("SELECT authority, kind, highest FROM version_floors").map_err(err)?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?)))
            .map_err(err)?;
        let mut floors = VersionFloors::default();
        for row in rows {
            let (authority, kind, highest) = row.map_err(err)?;
            let highest = u64::try_from(highest).unwrap_or(0);
            match kind.as_str() {
                "bundles" => floors.bundles.insert(authority, highest),
                _ => floors.revocations.insert(authority, highest),
            };
        }
        Ok(floors)
    }

    /// Remembers a signed command as carried out (its signature), and forgets those
    /// issued before `forget_before`. Says whether it was new (false: a replay).
    pub fn remember_command(
        &self,
        signature: &[u8; 64],
        issued_at: Timestamp,
        forget_before: Timestamp,
    ) -> Result<bool, StoreError> {
        let err = |e| StoreError::from_sql(self.path(), "remembering a command", e);
        self.conn()
            .execute("DELETE FROM commands_done WHERE issued_at_ms < ?1", [forget_before.as_millisecond()])
            .map_err(err)?;
        let added = self
            .conn()
            .execute(
                "INSERT OR IGNORE INTO commands_done (signature, issued_at_ms) VALUES (?1, ?2)",
                params![&signature[..], issued_at.as_millisecond()],
            )
            .map_err(err)?;
        Ok(added == 1)
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

    /// Saves a door's mode with its seal (`CredentialKey::door_mode_seal`).
    pub fn set_door_mode(&self, row: &DoorModeRow) -> Result<(), StoreError> {
        self.conn()
            .execute(
                "INSERT INTO door_modes (door, mode, set_at_ms, seal) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT(door) DO UPDATE SET mode = excluded.mode, set_at_ms = excluded.set_at_ms,
                     seal = excluded.seal",
                params![row.door, row.word, row.set_at_ms, row.seal],
            )
            .map_err(|e| StoreError::from_sql(self.path(), "saving a door mode", e))?;
        Ok(())
    }

    /// Forgets a door's stored mode (it starts in `normal`).
    pub fn clear_door_mode(&self, door: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM door_modes WHERE door = ?1", [door])
            .map_err(|e| StoreError::from_sql(self.path(), "clearing a door mode", e))?;
        Ok(())
    }

    /// The saved door modes, as stored (check each seal before using it).
    pub fn door_modes(&self) -> Result<Vec<DoorModeRow>, StoreError> {
        let err = |e| StoreError::from_sql(self.path(), "reading door modes", e);
        let mut stmt =
            self.conn().prepare("SELECT door, mode, set_at_ms, seal FROM door_modes ORDER BY door").map_err(err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok(DoorModeRow {
                    door: r.get(0)?,
                    word: r.get(1)?,
                    set_at_ms: r.get(2)?,
                    seal: r.get::<_, Option<Vec<u8>>>(3)?.unwrap_or_default(),
                })
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
