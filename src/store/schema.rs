//! The database schema and its forward migrations. `PRAGMA user_version` holds the
//! schema version; each migration moves it up by one inside a transaction, so a crash
//! mid-migration leaves the previous version intact. A database from a newer Portvakt is
//! refused rather than misread (a downgrade must not silently damage it).

use rusqlite::Connection;

/// Migrations in order; `MIGRATIONS[i]` takes version `i` to `i + 1`.
pub const MIGRATIONS: [&str; 6] = [
    // 1: the audit chain.
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
     CREATE TABLE audit (
         seq INTEGER PRIMARY KEY,
         at_ms INTEGER NOT NULL,
         trusted INTEGER NOT NULL,
         kind TEXT NOT NULL,
         door TEXT,
         holder TEXT,
         credential TEXT,
         detail TEXT NOT NULL,
         prev BLOB NOT NULL,
         hash BLOB NOT NULL
     );",
    // 2: the outbox (confirmation by the uplink) and visit-list indexes.
    "ALTER TABLE audit ADD COLUMN confirmed_at_ms INTEGER;
     CREATE INDEX audit_outbox ON audit(seq) WHERE confirmed_at_ms IS NULL;
     CREATE INDEX audit_door_at ON audit(door, at_ms);
     CREATE INDEX audit_holder_at ON audit(holder, at_ms);",
    // 3: persisted state restored at start.
    "CREATE TABLE bundles (
         authority TEXT PRIMARY KEY, version INTEGER NOT NULL, body BLOB NOT NULL, stored_at_ms INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE revocations (
         authority TEXT PRIMARY KEY, sequence INTEGER NOT NULL, body BLOB NOT NULL, stored_at_ms INTEGER NOT NULL
     ) WITHOUT ROWID;
     CREATE TABLE lockouts (door TEXT PRIMARY KEY, locked_until_ms INTEGER, streak INTEGER NOT NULL) WITHOUT ROWID;
     CREATE TABLE door_modes (door TEXT PRIMARY KEY, mode TEXT NOT NULL, set_at_ms INTEGER NOT NULL) WITHOUT ROWID;",
    // 4: the rollback floor apart from the documents (the highest version or sequence ever
    // accepted per authority and kind, from what is stored now), and the signed commands
    // carried out (against replay across restarts); door modes sealed with the site key.
    "CREATE TABLE version_floors (
         authority TEXT NOT NULL, kind TEXT NOT NULL, highest INTEGER NOT NULL, PRIMARY KEY (authority, kind)
     ) WITHOUT ROWID;
     INSERT INTO version_floors SELECT authority, 'bundles', version FROM bundles;
     INSERT INTO version_floors SELECT authority, 'revocations', sequence FROM revocations;
     CREATE TABLE commands_done (signature BLOB PRIMARY KEY, issued_at_ms INTEGER NOT NULL) WITHOUT ROWID;
     ALTER TABLE door_modes ADD COLUMN seal BLOB;",
    // 5: the chain's run (epoch): a store with no chain yet begins one of its own, so a box
    // swapped or a card reflashed is a new run to the collector, not another story under the
    // old one's numbers. A store that already has a chain keeps its run, unnamed, as before.
    "INSERT INTO meta (key, value)
         SELECT 'chain_epoch', lower(hex(randomblob(16)))
         WHERE NOT EXISTS (SELECT 1 FROM audit) AND NOT EXISTS (SELECT 1 FROM meta WHERE key = 'anchor_seq');
     INSERT INTO meta (key, value) SELECT 'chain_epoch_from', 1 WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'chain_epoch');",
    // 6: audiences and personal parts (docs/audit.md): records from now on are format 2 —
    // the header with its audience and a salted commitment to holder and credential is
    // hashed, not the part itself, so the part can be erased with its salt. Older records
    // stay format 1, hashed as they were.
    "ALTER TABLE audit ADD COLUMN format INTEGER NOT NULL DEFAULT 1;
     ALTER TABLE audit ADD COLUMN audience TEXT;
     ALTER TABLE audit ADD COLUMN salt BLOB;
     ALTER TABLE audit ADD COLUMN commitment BLOB;
     ALTER TABLE audit ADD COLUMN erased_at_ms INTEGER;",
];

/// The version this build writes.
pub const CURRENT: u32 = 6;

/// Why the schema cannot be brought to [`CURRENT`].
#[derive(Debug)]
pub enum SchemaProblem {
    /// Written by a newer Portvakt.
    Newer(u32),
    /// SQLite failed.
    Sql(rusqlite::Error),
}

impl From<rusqlite::Error> for SchemaProblem {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

/// The schema version of an open database.
pub fn version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

/// Applies migrations up to `target` (tests use this to build old versions).
pub fn migrate_to(conn: &mut Connection, target: u32) -> Result<u32, SchemaProblem> {
    let mut v = version(conn)?;
    if v > CURRENT {
        return Err(SchemaProblem::Newer(v));
    }
    while v < target {
        let tx = conn.transaction()?;
        tx.execute_batch(MIGRATIONS[v as usize])?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
        v += 1;
    }
    Ok(v)
}
