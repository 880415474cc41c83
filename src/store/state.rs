//! Persisted gateway state restored at start: each authority's last good bundle and
//! revocation list (stored only after verification, as opaque bytes with their version),
//! keypad lockouts, door modes set remotely, and the clock's last-known-good floor.
//! Writes happen on change only, to spare the SD card.

use jiff::Timestamp;
use rusqlite::{OptionalExtension, params};

use super::db::{Store, ts};
use super::{StoreError, cells};
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

/// A `SignedDoc` from a row of `authority, version, body, stored_at_ms`, read
/// defensively: a damaged cell leaves the document empty (or its version 0), so that
/// verification refuses it and the start audits it as dropped instead of failing.
#[allow(clippy::unnecessary_wraps)] // the shape of rusqlite's row callbacks
fn read_doc(r: &rusqlite::Row<'_>) -> rusqlite::Result<SignedDoc> {
    let body = cells::blob(r, 2, "body", false).unwrap_or_default();
    Ok(SignedDoc {
        authority: cells::text(r, 0, "authority").unwrap_or_else(|_| cells::shown(r, 0)),
        version: cells::integer(r, 1, "version").ok().and_then(|v| u64::try_from(v).ok()).unwrap_or(0),
        body,
        stored_at: ts(cells::integer(r, 3, "stored_at_ms").unwrap_or(0)),
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
    /// What was wrong with the row's cells, if anything (a damaged row is never used).
    pub damage: Option<String>,
}

impl DoorModeRow {
    /// A sealed row for `mode` set at `at`.
    pub fn sealed(key: &CredentialKey, door: &str, mode: DoorMode, at: Timestamp) -> Self {
        let word = mode.word();
        let set_at_ms = at.as_millisecond();
        let seal = key.door_mode_seal(door, word, set_at_ms).0.to_vec();
        Self { door: door.to_owned(), word: word.to_owned(), set_at_ms, seal, damage: None }
    }

    /// The mode, if the seal is the gateway's; otherwise why not.
    pub fn verified(&self, key: &CredentialKey) -> Result<DoorMode, String> {
        if let Some(damage) = &self.damage {
            return Err(format!("the stored row is damaged: {damage}"));
        }
        let due = key.door_mode_seal(&self.door, &self.word, self.set_at_ms);
        if self.seal.is_empty() {
            return Err("the stored mode has no seal (from before sealing, or written by hand)".into());
        }
        // Not secret-dependent timing that matters: the row is the attacker's own input.
        if self.seal != due.0 {
            return Err("the stored mode's seal does not match: altered outside the gateway".into());
        }
        match self.word.as_str() {
            "normal" => Ok(DoorMode::Normal),
            "free_passage" => Ok(DoorMode::FreePassage),
            "lockdown" => Ok(DoorMode::Lockdown),
            _ => Err("the stored mode is not a mode".into()),
        }
    }
}

/// A lockout row, or what is wrong with it.
fn read_lockout(r: &rusqlite::Row<'_>) -> Result<LockoutRow, String> {
    let damaged = |d: cells::Damage| format!("lockout of door {}: {d}", cells::shown(r, 0));
    let door = cells::text(r, 0, "door").map_err(damaged)?;
    let locked_until = cells::integer_or_null(r, 1, "locked_until_ms").map_err(damaged)?.map(ts);
    let streak = cells::integer(r, 2, "streak").map_err(damaged)?;
    let streak = u32::try_from(streak)
        .map_err(|_| format!("lockout of door {door}: column streak holds {streak}, not a count of lockouts"))?;
    Ok(LockoutRow { door, locked_until, streak })
}

/// A door-mode row, its damaged cells said rather than failing the read.
fn read_door_mode(r: &rusqlite::Row<'_>) -> DoorModeRow {
    let mut damage = Vec::new();
    // A door that is not text cannot be named: empty (the record then names no door).
    let door = cells::or_noted(cells::text(r, 0, "door"), String::new(), &mut damage);
    let word = cells::or_noted(cells::text(r, 1, "mode"), cells::shown(r, 1), &mut damage);
    let set_at_ms = cells::or_noted(cells::integer(r, 2, "set_at_ms"), 0, &mut damage);
    let seal = cells::or_noted(cells::blob(r, 3, "seal", true), Vec::new(), &mut damage);
    let damage = (!damage.is_empty()).then(|| damage.join("; "));
    DoorModeRow { door, word, set_at_ms, seal, damage }
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

    /// The saved keypad lockouts, and what was wrong with each row that could not be
    /// read (such a row is not used; [`Self::forget_damaged_lockouts`] removes it).
    pub fn lockouts(&self) -> Result<(Vec<LockoutRow>, Vec<String>), StoreError> {
        let err = |e| StoreError::from_sql(self.path(), "reading lockouts", e);
        let mut stmt =
            self.conn().prepare("SELECT door, locked_until_ms, streak FROM lockouts ORDER BY door").map_err(err)?;
        let rows = stmt.query_map([], |r| Ok(read_lockout(r))).map_err(err)?;
        let (mut good, mut damaged) = (Vec::new(), Vec::new());
        for row in rows {
            match row.map_err(err)? {
                Ok(row) => good.push(row),
                Err(why) => damaged.push(why),
            }
        }
        Ok((good, damaged))
    }

    /// Removes lockout rows that [`Self::lockouts`] could not read.
    pub fn forget_damaged_lockouts(&self) -> Result<usize, StoreError> {
        self.conn()
            .execute(
                "DELETE FROM lockouts WHERE typeof(door) <> 'text' OR typeof(streak) <> 'integer'
                     OR streak < 0 OR streak > 4294967295
                     OR (locked_until_ms IS NOT NULL AND typeof(locked_until_ms) <> 'integer')",
                [],
            )
            .map_err(|e| StoreError::from_sql(self.path(), "removing damaged lockouts", e))
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

    /// Forgets a door's stored mode (it starts in `normal`), and any row whose door is not
    /// text (a damaged row cannot be named otherwise).
    pub fn clear_door_mode(&self, door: &str) -> Result<(), StoreError> {
        self.conn()
            .execute("DELETE FROM door_modes WHERE door = ?1 OR typeof(door) <> 'text'", [door])
            .map_err(|e| StoreError::from_sql(self.path(), "clearing a door mode", e))?;
        Ok(())
    }

    /// The saved door modes, as stored (check each with [`DoorModeRow::verified`] before
    /// using it: a row whose cells are damaged comes back with its `damage` said).
    pub fn door_modes(&self) -> Result<Vec<DoorModeRow>, StoreError> {
        let err = |e| StoreError::from_sql(self.path(), "reading door modes", e);
        let mut stmt =
            self.conn().prepare("SELECT door, mode, set_at_ms, seal FROM door_modes ORDER BY door").map_err(err)?;
        let rows = stmt.query_map([], |r| Ok(read_door_mode(r))).map_err(err)?;
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
