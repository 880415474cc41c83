//! The fleet's store in PostgreSQL: the schema's migrations (in `migrations/`, applied at
//! start under an advisory lock, so collectors starting together apply each once) and
//! taking one record in — inserted idempotently by (site, seq) with its exact bytes,
//! classified beside what is there, and the site's gap-free point moved on under the
//! site's row lock, so whichever collector stored a record, the point is computed from
//! what is committed.

use portvakt_wire::event::ReceivedEvent;
use serde_json::value::RawValue;
use tokio_postgres::{Client, NoTls, Row};

use crate::ingest::{Arrival, Whole};

mod checkpoints;
mod quarantine;
mod take;

pub use checkpoints::{check_checkpoint, rejudge_checkpoints};
pub use quarantine::refuse;
pub use take::Prepared;

/// The migrations, in order: version, name, SQL.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "records", include_str!("../migrations/0001_records.sql")),
    (2, "fleet", include_str!("../migrations/0002_fleet.sql")),
    (3, "checkpoints", include_str!("../migrations/0003_checkpoints.sql")),
    (4, "console", include_str!("../migrations/0004_console.sql")),
    (5, "quarantine", include_str!("../migrations/0005_quarantine.sql")),
    (6, "epochs", include_str!("../migrations/0006_epochs.sql")),
    (7, "personal", include_str!("../migrations/0007_personal.sql")),
    (8, "read_purposes", include_str!("../migrations/0008_read_purposes.sql")),
    (9, "quarantine_cap", include_str!("../migrations/0009_quarantine_cap.sql")),
    (10, "staff", include_str!("../migrations/0010_staff.sql")),
    (11, "staff_revocations", include_str!("../migrations/0011_staff_revocations.sql")),
    (12, "staff_door_names", include_str!("../migrations/0012_staff_door_names.sql")),
    (13, "names", include_str!("../migrations/0013_names.sql")),
    (14, "session_password", include_str!("../migrations/0014_session_password.sql")),
];

/// Any number, as long as every collector uses the same: it serialises migrating.
const MIGRATION_LOCK: i64 = 0x7076_6b74_6d69_6772; // "pvktmigr"

/// Why the database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// PostgreSQL said no (connection, SQL, constraint); said with its causes (the
    /// server's message, the constraint), not only "db error".
    #[error("PostgreSQL: {}", chain(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// The database was migrated by a newer Portvakt Central.
    #[error("the database has schema version {found}; this portvakt-central knows up to {known}: use the newer one")]
    Newer {
        /// The newest version applied.
        found: i32,
        /// The newest this build has.
        known: i32,
    },
    /// A stored value is not what this schema allows (a hash not 32 bytes).
    #[error("stored data is damaged: {0}")]
    Damaged(String),
    /// Another collector began a run of this batch while it was being taken: the
    /// transaction is run again (the run is then seen, and locked in order).
    #[error("another collector began run {epoch:?} of {site} at the same moment")]
    Raced {
        /// The site.
        site: String,
        /// The run.
        epoch: String,
    },
}

impl DbError {
    /// Whether PostgreSQL refused a statement (its data or a constraint) while the
    /// connection stands: the batch holding it must be split, not the database left.
    pub fn is_refused_statement(&self) -> bool {
        match self {
            // Data exceptions (22), constraint violations (23), program limits (54): the
            // message's own content. Anything else (resources, cancellation, the server)
            // is passing, and no reason to quarantine a record.
            Self::Postgres(e) => {
                !e.is_closed() && e.code().is_some_and(|c| ["22", "23", "54"].iter().any(|k| c.code().starts_with(k)))
            }
            Self::Damaged(_) => true,
            Self::Newer { .. } | Self::Raced { .. } => false,
        }
    }

    /// Whether the connection to PostgreSQL was lost (closed, a connection exception, the
    /// server shutting down or restarting): the batch may go through once it is back.
    pub fn is_connection_lost(&self) -> bool {
        let Self::Postgres(e) = self else { return false };
        e.is_closed() || e.code().is_some_and(|c| c.code().starts_with("08") || c.code().starts_with("57P"))
    }

    /// Whether the transaction lost a race it may simply run again (a deadlock with
    /// another collector, a serialization failure, a run begun by another at that moment).
    pub fn is_retryable(&self) -> bool {
        if matches!(self, Self::Raced { .. }) {
            return true;
        }
        let Self::Postgres(e) = self else { return false };
        e.code().is_some_and(|c| {
            *c == tokio_postgres::error::SqlState::T_R_DEADLOCK_DETECTED
                || *c == tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
        })
    }
}

/// The error and every cause under it, in one line (logs and exits keep the cause).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let words = c.to_string();
        if !out.contains(&words) {
            out.push_str(": ");
            out.push_str(&words);
        }
        cause = c.source();
    }
    out
}

/// Connects (a `postgresql://` URL or `host=/run/postgresql dbname=…`); the connection
/// runs on its own task and logs when it ends.
pub async fn connect(url: &str) -> Result<Client, DbError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            log::error!("PostgreSQL connection ended: {e}");
        }
    });
    Ok(client)
}

/// Applies the migrations not yet applied; returns the versions applied now.
pub async fn migrate(client: &mut Client) -> Result<Vec<i32>, DbError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
    )
    .await?;
    let done: Vec<i32> =
        tx.query("SELECT version FROM schema_migrations", &[]).await?.iter().map(|r| r.get(0)).collect();
    let known = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(found) = done.iter().copied().max().filter(|v| *v > known) {
        return Err(DbError::Newer { found, known });
    }
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if !done.contains(version) {
            tx.batch_execute(sql).await?;
            tx.execute("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)", &[version, name]).await?;
            applied.push(*version);
        }
    }
    tx.commit().await?;
    Ok(applied)
}

/// What became of a record taken in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Taken {
    /// New, a duplicate, or equivocation.
    pub arrival: Arrival,
    /// The site's chain after it: what an acknowledgement may name.
    pub whole: Whole,
}

fn hash32(row: &Row, column: &str) -> Result<[u8; 32], DbError> {
    let bytes: Vec<u8> = row.get(column);
    bytes.try_into().map_err(|_| DbError::Damaged(format!("{column} is not 32 bytes")))
}

fn seq_of(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn db_seq(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The run of its site's chain a record belongs to (`''` for the run a store began
/// before runs existed).
pub fn epoch_of(e: &ReceivedEvent) -> &str {
    e.epoch.as_ref().map_or("", |x| x.id.as_str())
}

/// One record to take in: its site, the record as read, and the message's bytes.
pub struct Incoming<'a> {
    /// The site (from the topic).
    pub site: &'a str,
    /// The record.
    pub event: &'a ReceivedEvent,
    /// The message as it arrived.
    pub payload: &'a [u8],
    /// The salt of its personal part, when this Central opened it.
    pub salt: Option<portvakt_wire::chain::Salt>,
}

/// Takes several records in, in one transaction (one commit for all of them), set-based
/// (`take`): each run of a site's chain new to Central begins (and becomes the site's
/// current run), each record is inserted and classified, then each run's gap-free point
/// moves on once, the runs' rows locked in (site, run) order (so collectors taking
/// overlapping batches never deadlock). Returns what became of each record, in order, with
/// its run after the batch.
pub async fn take_many(
    client: &mut Client,
    prepared: &Prepared,
    batch: &[Incoming<'_>],
) -> Result<Vec<Taken>, DbError> {
    take::take_batch(client, prepared, batch).await.map(|(taken, _)| taken)
}

/// [`take_many`], also saying how many round trips to PostgreSQL the batch took (six
/// whatever its size; a site whose forced door changed adds its alarms' reconciling).
pub async fn take_many_counted(
    client: &mut Client,
    prepared: &Prepared,
    batch: &[Incoming<'_>],
) -> Result<(Vec<Taken>, usize), DbError> {
    take::take_batch(client, prepared, batch).await
}

/// The message as it is kept: as it arrived, but for a format 2 record without its sealed
/// personal part, which is kept apart (`sealed`) or opened (`holder`, `credential`), so
/// that erasing the part leaves nothing of it behind in `payload`.
fn stored_payload(e: &ReceivedEvent, payload: &[u8]) -> Vec<u8> {
    if e.format != 2 {
        return payload.to_vec();
    }
    // Each value kept as its raw text: the detail's bytes (what the hash covers) unchanged.
    let Ok(mut fields) = serde_json::from_slice::<std::collections::BTreeMap<String, Box<RawValue>>>(payload) else {
        return payload.to_vec();
    };
    if fields.remove("personal").is_none() {
        return payload.to_vec();
    }
    serde_json::to_vec(&fields).unwrap_or_else(|_| payload.to_vec())
}
