//! The fleet's store in PostgreSQL: the schema's migrations (in `migrations/`, applied at
//! start under an advisory lock, so collectors starting together apply each once) and
//! taking one record in — inserted idempotently by (site, seq) with its exact bytes,
//! classified beside what is there, and the site's gap-free point moved on under the
//! site's row lock, so whichever collector stored a record, the point is computed from
//! what is committed.

use portvakt_wire::event::ReceivedEvent;
use serde_json::value::RawValue;
use tokio_postgres::{Client, GenericClient, NoTls, Row};

use crate::ingest::{self, Arrival, Link, Whole};

mod checkpoints;
mod quarantine;

pub use checkpoints::{check_checkpoint, rejudge_checkpoints};
pub use quarantine::refuse;

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
            Self::Newer { .. } => false,
        }
    }

    /// Whether the transaction lost a race it may simply run again (a deadlock with
    /// another collector, a serialization failure).
    pub fn is_retryable(&self) -> bool {
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

/// Takes one record of `site` in, in one transaction.
pub async fn take(client: &mut Client, site: &str, e: &ReceivedEvent, payload: &[u8]) -> Result<Taken, DbError> {
    let taken = take_many(client, &[Incoming { site, event: e, payload, salt: None }]).await?;
    taken.into_iter().next().ok_or_else(|| DbError::Damaged("a record taken in vanished".into()))
}

/// Takes several records in, in one transaction (one commit for all of them): each run
/// of a site's chain new to Central begins (and becomes the site's current run), each
/// record is inserted and classified, then each run's gap-free point moves on once, the
/// runs' rows locked in (site, run) order (so collectors taking overlapping batches never
/// deadlock). Returns what became of each record, in order, with its run after the batch.
pub async fn take_many(client: &mut Client, batch: &[Incoming<'_>]) -> Result<Vec<Taken>, DbError> {
    let tx = client.transaction().await?;
    let mut sites: Vec<&str> = batch.iter().map(|i| i.site).collect();
    sites.sort_unstable();
    sites.dedup();
    for site in &sites {
        tx.execute("INSERT INTO sites (site) VALUES ($1) ON CONFLICT DO NOTHING", &[site]).await?;
    }
    let mut runs: Vec<(&str, &str)> = batch.iter().map(|i| (i.site, epoch_of(i.event))).collect();
    runs.sort_unstable();
    runs.dedup();
    for &(site, epoch) in &runs {
        let from = batch
            .iter()
            .find(|i| i.site == site && epoch_of(i.event) == epoch)
            .and_then(|i| i.event.epoch.as_ref().map(|e| e.from));
        begin_run(&tx, site, epoch, from).await?;
    }
    // Records in (site, run, seq) order: two collectors inserting overlapping batches take
    // the index's locks in one order and never wait on each other in a cycle.
    let mut order: Vec<usize> = (0..batch.len()).collect();
    order.sort_by_key(|&k| (batch[k].site, epoch_of(batch[k].event), batch[k].event.seq));
    let mut arrivals = vec![Arrival::Duplicate; batch.len()];
    for k in order {
        arrivals[k] = insert(&tx, &batch[k]).await?;
    }
    let mut wholes = Vec::with_capacity(runs.len());
    for &(site, epoch) in &runs {
        wholes.push(advance(&tx, site, epoch).await?);
    }
    // A door's forced state is its latest door record's by seq in the site's current run,
    // whatever arrived first, and its alarm moves with the records, in their transaction.
    let now = jiff::Timestamp::now();
    for site in &sites {
        let doors: Vec<&str> = batch
            .iter()
            .filter(|i| i.site == *site && matches!(i.event.kind.as_str(), "door.forced_open" | "door.closed"))
            .filter_map(|i| i.event.door.as_deref())
            .collect();
        if !doors.is_empty() {
            forced_doors(&tx, site, &doors).await?;
            crate::fleet::reconcile(&tx, site, now, &crate::alarms::Rules::default()).await?;
        }
    }
    // Whoever LISTENs (the console) hears each site's name once the batch is committed.
    tx.execute(&format!("SELECT pg_notify('{}', s) FROM unnest($1::text[]) AS s", crate::fleet::CHANNEL), &[&sites])
        .await?;
    tx.commit().await?;
    Ok(batch
        .iter()
        .zip(arrivals)
        .map(|(i, arrival)| {
            let at = runs.binary_search(&(i.site, epoch_of(i.event))).unwrap_or(0);
            Taken { arrival, whole: wholes[at] }
        })
        .collect())
}

/// Begins the run `epoch` of `site` unless Central has it: its gap-free point just before
/// its first record (`ingest::start`), and the site's current run from now on — a
/// replacement when the site had another run before.
async fn begin_run(tx: &impl GenericClient, site: &str, epoch: &str, from: Option<u64>) -> Result<(), DbError> {
    let start = ingest::start(from);
    let begun = tx
        .execute(
            "INSERT INTO chains (site, epoch, first_seq, through, through_hash) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&site, &epoch, &db_seq(start.through + 1), &db_seq(start.through), &start.hash.map(|h| h.to_vec())],
        )
        .await?;
    if begun == 1 {
        tx.execute(
            "UPDATE sites SET epoch = $2,
                 replaced_at = CASE WHEN EXISTS (SELECT 1 FROM chains WHERE site = $1 AND epoch <> $2) THEN now() END
             WHERE site = $1",
            &[&site, &epoch],
        )
        .await?;
        log::info!("{site}: run {} of its chain begins", if epoch.is_empty() { "(unnamed)" } else { epoch });
    }
    Ok(())
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

/// Sets each of `doors` forced or not as its latest `door.forced_open` / `door.closed`
/// record by seq says (a forced door keeps the time it was first seen forced).
async fn forced_doors(tx: &impl GenericClient, site: &str, doors: &[&str]) -> Result<(), DbError> {
    tx.execute(
        "INSERT INTO doors (site, door, forced_at)
         SELECT $1, latest.door, CASE WHEN latest.kind = 'door.forced_open' THEN now() END
         FROM (SELECT DISTINCT ON (door) door, kind FROM records
               WHERE site = $1 AND door = ANY($2) AND kind IN ('door.forced_open', 'door.closed')
                 AND epoch = (SELECT epoch FROM sites WHERE site = $1)
               ORDER BY door, seq DESC) AS latest
         ON CONFLICT (site, door) DO UPDATE SET forced_at =
             CASE WHEN excluded.forced_at IS NULL THEN NULL ELSE coalesce(doors.forced_at, excluded.forced_at) END",
        &[&site, &doors],
    )
    .await?;
    Ok(())
}

/// Inserts one record unless its (site, run, seq) is there; a different one there is
/// kept as an equivocation.
async fn insert(tx: &impl GenericClient, i: &Incoming<'_>) -> Result<Arrival, DbError> {
    let (site, e) = (i.site, i.event);
    let (epoch, seq) = (epoch_of(e), db_seq(e.seq));
    let inserted = tx
        .execute(
            "INSERT INTO records (site, epoch, seq, at, trusted, kind, door, holder, credential, detail, prev, hash, payload,
                                  format, audience, commitment, salt, sealed)
             VALUES ($1, $2, $3, TIMESTAMPTZ 'epoch' + $4::bigint * INTERVAL '1 millisecond',
                     $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)
             ON CONFLICT (site, epoch, seq) DO NOTHING",
            &[
                &site,
                &epoch,
                &seq,
                &e.at_ms,
                &e.trusted,
                &e.kind,
                &e.door,
                &e.holder,
                &e.credential,
                &e.detail,
                &&e.prev[..],
                &&e.hash[..],
                &stored_payload(e, i.payload),
                &i16::from(e.format),
                &e.audience,
                &e.commitment.map(|c| c.to_vec()),
                &i.salt.map(|s| s.to_vec()),
                &e.sealed,
            ],
        )
        .await?;
    let arrival = if inserted == 1 {
        Arrival::New
    } else {
        let row = tx
            .query_one("SELECT hash FROM records WHERE site = $1 AND epoch = $2 AND seq = $3", &[&site, &epoch, &seq])
            .await?;
        ingest::classify(&e.hash, Some(&hash32(&row, "hash")?))
    };
    if arrival == Arrival::Duplicate && (e.sealed.is_some() || i.salt.is_some()) {
        // The same record again, now with the personal part the first copy lacked (a
        // reading key added since, a broker that dropped it): kept, unless erased since.
        tx.execute(
            "UPDATE records SET holder = $4, credential = $5, salt = $6, sealed = $7
             WHERE site = $1 AND epoch = $2 AND seq = $3 AND format = 2 AND erased_at IS NULL
               AND holder IS NULL AND sealed IS NULL AND commitment IS NOT NULL",
            &[&site, &epoch, &seq, &e.holder, &e.credential, &i.salt.map(|s| s.to_vec()), &e.sealed],
        )
        .await?;
    }
    if arrival == Arrival::Equivocation {
        tx.execute(
            "INSERT INTO equivocations (site, epoch, seq, hash, payload) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            &[&site, &epoch, &seq, &&e.hash[..], &stored_payload(e, i.payload)],
        )
        .await?;
    }
    Ok(arrival)
}

/// Moves the gap-free point of run `epoch` of `site` over what is committed, holding the
/// run's row.
async fn advance(tx: &impl GenericClient, site: &str, epoch: &str) -> Result<Whole, DbError> {
    let row = tx
        .query_one(
            "SELECT through, through_hash, broken_at FROM chains WHERE site = $1 AND epoch = $2 FOR UPDATE",
            &[&site, &epoch],
        )
        .await?;
    let hash = match row.get::<_, Option<Vec<u8>>>("through_hash") {
        Some(h) => Some(h.try_into().map_err(|_| DbError::Damaged("through_hash is not 32 bytes".into()))?),
        None => None,
    };
    let before = Whole {
        through: seq_of(row.get("through")),
        hash,
        broken_at: row.get::<_, Option<i64>>("broken_at").map(seq_of),
    };
    let rows = tx
        .query(
            "SELECT seq, prev, hash FROM records WHERE site = $1 AND epoch = $2 AND seq > $3 ORDER BY seq LIMIT 1000",
            &[&site, &epoch, &db_seq(before.through)],
        )
        .await?;
    let mut links = Vec::with_capacity(rows.len());
    for r in &rows {
        links.push(Link { seq: seq_of(r.get("seq")), prev: hash32(r, "prev")?, hash: hash32(r, "hash")? });
    }
    let after = ingest::advance(before, links);
    tx.execute(
        "UPDATE chains SET through = $3, through_hash = $4, broken_at = $5, last_record = now()
         WHERE site = $1 AND epoch = $2",
        &[&site, &epoch, &db_seq(after.through), &after.hash.map(|h| h.to_vec()), &after.broken_at.map(db_seq)],
    )
    .await?;
    Ok(after)
}
