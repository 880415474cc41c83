//! Taking a batch of records in, set-based: one statement per step for the whole batch,
//! whatever its size and however many sites it holds, so that a batch costs six round
//! trips (BEGIN, records, runs, links, advance, COMMIT) instead of several per record. The
//! four statements are prepared once per connection ([`Prepared`]): parsed and planned
//! once, not at every batch.
//!
//! 1. **Records**: one multi-row insert (arrays through `unnest`), in (site, run, seq)
//!    order; for each key the stored hash comes back, so each record is classified new,
//!    duplicate or equivocation without asking again. No run is locked yet, so a
//!    collector holds its runs' rows only for the short steps after it.
//! 2. **Runs**: every run of the batch is begun if new and its row locked, in (site, run)
//!    order, so collectors taking overlapping batches never wait on each other in a cycle;
//!    a site whose run began here takes it as its current run. The runs' gap-free points
//!    come back.
//! 3. **Links**: the records after each run's gap-free point, read in a statement of
//!    their own (after the lock, so that what another collector committed is seen: its
//!    records, inserted before it took the lock, are committed by the time the lock is
//!    ours, and ours are seen by whoever locks after us).
//! 4. **Advance**: every run's gap-free point moved in one update; the doors whose forced
//!    state changed are set in the same statement (by their latest record by seq), and the
//!    console is told which sites changed. Only a site whose forced door changed has its
//!    alarms reconciled (a few statements, rarely), and only equivocations or a personal
//!    part arriving late cost a statement more.

use std::collections::HashMap;

use portvakt_wire::event::ReceivedEvent;
use tokio_postgres::{Client, GenericClient};

use super::{DbError, Incoming, Taken, db_seq, epoch_of, seq_of, stored_payload};
use crate::ingest::{self, Arrival, Link, Whole};

mod statements;

pub use statements::Prepared;

fn e<'a>(i: &Incoming<'a>) -> &'a ReceivedEvent {
    i.event
}

fn opt_hash(bytes: Option<Vec<u8>>) -> Result<Option<[u8; 32]>, DbError> {
    bytes.map(|h| h.try_into().map_err(|_| DbError::Damaged("a hash is not 32 bytes".into()))).transpose()
}

/// Takes several records in, in one transaction; returns what became of each, in order,
/// and how many round trips to PostgreSQL it took.
pub(super) async fn take_batch(
    client: &mut Client,
    prepared: &Prepared,
    batch: &[Incoming<'_>],
) -> Result<(Vec<Taken>, usize), DbError> {
    let mut trips = 1; // BEGIN
    let tx = client.transaction().await?;
    let mut runs: Vec<(&str, &str)> = batch.iter().map(|i| (i.site, epoch_of(i.event))).collect();
    runs.sort_unstable();
    runs.dedup();
    let keys: RunKeys = (runs.iter().map(|r| r.0).collect(), runs.iter().map(|r| r.1).collect());

    // 1. Records: inserted at once; each classified by the hash stored under its key.
    let mut stored = insert_records(&tx, prepared, batch).await?;
    trips += 1;
    trips += settle_unseen(&tx, &mut stored).await?;
    let arrivals = classify(batch, &stored);
    trips += late_parts_and_equivocations(&tx, batch, &arrivals).await?;

    // 2. Runs: begun if new, locked, in order.
    let state = lock_runs(&tx, prepared, batch, &runs, &keys).await?;
    trips += 1;

    // 3. Links after each run's gap-free point, read after the lock.
    let befores = runs.iter().map(|(s, e)| whole_of(&state, s, e)).collect::<Result<Vec<_>, _>>()?;
    let mut links = read_links(&tx, prepared, &keys, &befores).await?;
    trips += 1;

    // 4. Advance every run, set the forced doors, tell the console.
    let mut after = Vec::with_capacity(runs.len());
    for (&(site, epoch), before) in runs.iter().zip(befores) {
        let found = links.remove(&(site.to_owned(), epoch.to_owned())).unwrap_or_default();
        after.push(ingest::advance(before, found));
    }
    advance_all(&tx, prepared, batch, &keys, &after).await?;
    trips += 1;
    tx.commit().await?;
    trips += 1;
    let taken = batch
        .iter()
        .zip(arrivals)
        .map(|(i, arrival)| {
            let at = runs.binary_search(&(i.site, epoch_of(i.event))).unwrap_or(0);
            Taken { arrival, whole: after[at] }
        })
        .collect();
    Ok((taken, trips))
}

/// The batch's runs in (site, run) order: their sites, their runs.
type RunKeys<'a> = (Vec<&'a str>, Vec<&'a str>);

/// Step 2: every run of the batch begun if new and locked; each run's state.
async fn lock_runs(
    tx: &impl GenericClient,
    prepared: &Prepared,
    batch: &[Incoming<'_>],
    runs: &[(&str, &str)],
    keys: &RunKeys<'_>,
) -> Result<HashMap<(String, String), Whole>, DbError> {
    // Where each run starts, from its first record in the batch (one pass, not one per run).
    let mut from: HashMap<(&str, &str), Option<u64>> = HashMap::with_capacity(runs.len());
    for i in batch {
        from.entry((i.site, epoch_of(i.event))).or_insert_with(|| i.event.epoch.as_ref().map(|e| e.from));
    }
    let (mut first, mut through, mut hash) = (Vec::new(), Vec::new(), Vec::new());
    for run in runs {
        let start = ingest::start(from.get(run).copied().flatten());
        first.push(db_seq(start.through + 1));
        through.push(db_seq(start.through));
        hash.push(start.hash.map(|h| h.to_vec()));
    }
    let mut state = HashMap::with_capacity(runs.len());
    for r in &tx.query(&prepared.runs, &[&keys.0, &keys.1, &first, &through, &hash]).await? {
        let (site, epoch): (String, String) = (r.get("site"), r.get("epoch"));
        if r.get::<_, bool>("begun") {
            log::info!("{site}: run {} of its chain begins", if epoch.is_empty() { "(unnamed)" } else { &epoch });
        }
        let whole = Whole {
            through: seq_of(r.get("through")),
            hash: opt_hash(r.get("through_hash"))?,
            broken_at: r.get::<_, Option<i64>>("broken_at").map(seq_of),
        };
        state.insert((site, epoch), whole);
    }
    // A run another collector began after this statement's snapshot is in neither of its
    // parts: the whole transaction runs again (asking only for it now would lock it after
    // runs that sort later, out of order).
    if let Some((site, epoch)) = runs.iter().find(|(s, e)| !state.contains_key(&((*s).to_owned(), (*e).to_owned()))) {
        return Err(DbError::Raced { site: (*site).to_owned(), epoch: (*epoch).to_owned() });
    }
    Ok(state)
}

/// Step 3: the records after each run's gap-free point.
async fn read_links(
    tx: &impl GenericClient,
    prepared: &Prepared,
    keys: &RunKeys<'_>,
    befores: &[Whole],
) -> Result<HashMap<(String, String), Vec<Link>>, DbError> {
    let throughs: Vec<i64> = befores.iter().map(|w| db_seq(w.through)).collect();
    let rows = tx.query(&prepared.links, &[&keys.0, &keys.1, &throughs]).await?;
    let mut links: HashMap<(String, String), Vec<Link>> = HashMap::new();
    for r in &rows {
        let key: (String, String) = (r.get("site"), r.get("epoch"));
        links.entry(key).or_default().push(Link {
            seq: seq_of(r.get("seq")),
            prev: super::hash32(r, "prev")?,
            hash: super::hash32(r, "hash")?,
        });
    }
    Ok(links)
}

/// Step 4: every run's gap-free point moved, the forced doors set, the console told; the
/// alarms of a site whose forced door changed reconciled.
async fn advance_all(
    tx: &impl GenericClient,
    prepared: &Prepared,
    batch: &[Incoming<'_>],
    keys: &RunKeys<'_>,
    after: &[Whole],
) -> Result<(), DbError> {
    let (door_sites, doors): (Vec<&str>, Vec<&str>) = batch
        .iter()
        .filter(|i| matches!(i.event.kind.as_str(), "door.forced_open" | "door.closed"))
        .filter_map(|i| i.event.door.as_deref().map(|d| (i.site, d)))
        .unzip();
    let mut sites = keys.0.clone();
    sites.dedup();
    let throughs: Vec<i64> = after.iter().map(|w| db_seq(w.through)).collect();
    let hashes: Vec<Option<Vec<u8>>> = after.iter().map(|w| w.hash.map(|h| h.to_vec())).collect();
    let broken: Vec<Option<i64>> = after.iter().map(|w| w.broken_at.map(db_seq)).collect();
    let row = tx
        .query_one(
            &prepared.advance,
            &[&keys.0, &keys.1, &throughs, &hashes, &broken, &door_sites, &doors, &sites, &crate::fleet::CHANNEL],
        )
        .await?;
    let moved: i64 = row.get("moved");
    if usize::try_from(moved).ok() != Some(after.len()) {
        return Err(DbError::Damaged(format!("{moved} of {} runs moved: a run's row vanished", after.len())));
    }
    let now = jiff::Timestamp::now();
    for site in row.get::<_, Vec<String>>("changed") {
        // Rare (a door forced or closed after being forced): its own few statements.
        crate::fleet::reconcile(tx, &site, now, &crate::alarms::Rules::default()).await?;
    }
    Ok(())
}

/// The state of a run locked in step 1; a run missing there is damage, never "nothing yet"
/// (that would accept any chain).
fn whole_of(state: &HashMap<(String, String), Whole>, site: &str, epoch: &str) -> Result<Whole, DbError> {
    state
        .get(&(site.to_owned(), epoch.to_owned()))
        .copied()
        .ok_or_else(|| DbError::Damaged(format!("run {epoch:?} of {site} was not locked")))
}

/// Keys neither inserted now nor seen stored before the insert: another writer committed
/// them in between. Their stored hash, read again (rare: one statement when there are any).
async fn settle_unseen(tx: &impl GenericClient, stored: &mut Stored) -> Result<usize, DbError> {
    let unseen: Vec<(String, String, i64)> =
        stored.iter().filter(|(_, (a, b))| a.is_none() && b.is_none()).map(|(k, _)| k.clone()).collect();
    if unseen.is_empty() {
        return Ok(0);
    }
    let (sites, epochs, seqs): (Vec<&str>, Vec<&str>, Vec<i64>) = (
        unseen.iter().map(|k| k.0.as_str()).collect(),
        unseen.iter().map(|k| k.1.as_str()).collect(),
        unseen.iter().map(|k| k.2).collect(),
    );
    let rows = tx
        .query(
            "SELECT r.site, r.epoch, r.seq, r.hash FROM records r
             JOIN unnest($1::text[], $2::text[], $3::bigint[]) AS u(site, epoch, seq)
               ON r.site = u.site AND r.epoch = u.epoch AND r.seq = u.seq",
            &[&sites, &epochs, &seqs],
        )
        .await?;
    for r in &rows {
        let key = (r.get("site"), r.get("epoch"), r.get("seq"));
        stored.insert(key, (None, opt_hash(r.get("hash"))?));
    }
    if let Some(k) = stored.iter().find(|(_, (a, b))| a.is_none() && b.is_none()).map(|(k, _)| k.clone()) {
        return Err(DbError::Damaged(format!("record {} of {} neither inserted nor stored", k.2, k.0)));
    }
    Ok(2)
}

/// Per key: the hash inserted now, or the one stored before.
type Stored = HashMap<(String, String, i64), (Option<[u8; 32]>, Option<[u8; 32]>)>;

async fn insert_records(
    tx: &impl GenericClient,
    prepared: &Prepared,
    batch: &[Incoming<'_>],
) -> Result<Stored, DbError> {
    let col = |f: &dyn Fn(&Incoming<'_>) -> Option<String>| batch.iter().map(f).collect::<Vec<Option<String>>>();
    let sites: Vec<&str> = batch.iter().map(|i| i.site).collect();
    let epochs: Vec<&str> = batch.iter().map(|i| epoch_of(i.event)).collect();
    let seqs: Vec<i64> = batch.iter().map(|i| db_seq(e(i).seq)).collect();
    let ats: Vec<i64> = batch.iter().map(|i| e(i).at_ms).collect();
    let trusted: Vec<bool> = batch.iter().map(|i| e(i).trusted).collect();
    let kinds: Vec<&str> = batch.iter().map(|i| e(i).kind.as_str()).collect();
    let doors = col(&|i| e(i).door.clone());
    let holders = col(&|i| e(i).holder.clone());
    let credentials = col(&|i| e(i).credential.clone());
    let details: Vec<&str> = batch.iter().map(|i| e(i).detail.as_str()).collect();
    let prevs: Vec<&[u8]> = batch.iter().map(|i| &e(i).prev[..]).collect();
    let hashes: Vec<&[u8]> = batch.iter().map(|i| &e(i).hash[..]).collect();
    let payloads: Vec<Vec<u8>> = batch.iter().map(|i| stored_payload(i.event, i.payload)).collect();
    let formats: Vec<i16> = batch.iter().map(|i| i16::from(e(i).format)).collect();
    let audiences = col(&|i| e(i).audience.clone());
    let commitments: Vec<Option<Vec<u8>>> = batch.iter().map(|i| e(i).commitment.map(|c| c.to_vec())).collect();
    let salts: Vec<Option<Vec<u8>>> = batch.iter().map(|i| i.salt.map(|s| s.to_vec())).collect();
    let sealed: Vec<Option<&[u8]>> = batch.iter().map(|i| e(i).sealed.as_deref()).collect();
    let rows = tx
        .query(
            &prepared.records,
            &[
                &sites,
                &epochs,
                &seqs,
                &ats,
                &trusted,
                &kinds,
                &doors,
                &holders,
                &credentials,
                &details,
                &prevs,
                &hashes,
                &payloads,
                &formats,
                &audiences,
                &commitments,
                &salts,
                &sealed,
            ],
        )
        .await?;
    let mut out = Stored::with_capacity(rows.len());
    for r in &rows {
        let key = (r.get("site"), r.get("epoch"), r.get("seq"));
        out.insert(key, (opt_hash(r.get("inserted"))?, opt_hash(r.get("stored"))?));
    }
    Ok(out)
}

/// New, duplicate or equivocation, for each record of the batch in order. Of two copies
/// of one key in the batch, the one inserted is new and the other is judged against it.
fn classify(batch: &[Incoming<'_>], stored: &Stored) -> Vec<Arrival> {
    let mut claimed: HashMap<(String, String, i64), bool> = HashMap::new();
    batch
        .iter()
        .map(|i| {
            let key = (i.site.to_owned(), epoch_of(i.event).to_owned(), db_seq(i.event.seq));
            let (inserted, before) = stored.get(&key).copied().unwrap_or((None, None));
            match (inserted, before) {
                (Some(h), _) if h == i.event.hash && !claimed.get(&key).copied().unwrap_or(false) => {
                    claimed.insert(key, true);
                    Arrival::New
                }
                (Some(h), _) | (None, Some(h)) => ingest::classify(&i.event.hash, Some(&h)),
                (None, None) => Arrival::Duplicate,
            }
        })
        .collect()
}

/// Equivocations kept beside the first record, and a personal part that arrives with a
/// duplicate when the first copy lacked it (a reading key added since): one statement
/// each, only when there are any. Returns the round trips taken.
async fn late_parts_and_equivocations(
    tx: &impl GenericClient,
    batch: &[Incoming<'_>],
    arrivals: &[Arrival],
) -> Result<usize, DbError> {
    let mut trips = 0;
    let late: Vec<&Incoming<'_>> = batch
        .iter()
        .zip(arrivals)
        .filter(|(i, a)| **a == Arrival::Duplicate && (i.event.sealed.is_some() || i.salt.is_some()))
        .map(|(i, _)| i)
        .collect();
    if !late.is_empty() {
        tx.execute(
            "UPDATE records r SET holder = u.holder, credential = u.credential, salt = u.salt, sealed = u.sealed
             FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bytea[], $7::bytea[])
                  AS u(site, epoch, seq, holder, credential, salt, sealed)
             WHERE r.site = u.site AND r.epoch = u.epoch AND r.seq = u.seq AND r.format = 2
               AND r.erased_at IS NULL AND r.holder IS NULL AND r.sealed IS NULL AND r.commitment IS NOT NULL",
            &[
                &late.iter().map(|i| i.site).collect::<Vec<_>>(),
                &late.iter().map(|i| epoch_of(i.event)).collect::<Vec<_>>(),
                &late.iter().map(|i| db_seq(i.event.seq)).collect::<Vec<_>>(),
                &late.iter().map(|i| i.event.holder.as_deref()).collect::<Vec<_>>(),
                &late.iter().map(|i| i.event.credential.as_deref()).collect::<Vec<_>>(),
                &late.iter().map(|i| i.salt.map(|s| s.to_vec())).collect::<Vec<_>>(),
                &late.iter().map(|i| i.event.sealed.as_deref()).collect::<Vec<_>>(),
            ],
        )
        .await?;
        trips += 2; // prepared, then executed
    }
    let twins: Vec<&Incoming<'_>> =
        batch.iter().zip(arrivals).filter(|(_, a)| **a == Arrival::Equivocation).map(|(i, _)| i).collect();
    if !twins.is_empty() {
        tx.execute(
            "INSERT INTO equivocations (site, epoch, seq, hash, payload)
             SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[], $5::bytea[])
             ON CONFLICT DO NOTHING",
            &[
                &twins.iter().map(|i| i.site).collect::<Vec<_>>(),
                &twins.iter().map(|i| epoch_of(i.event)).collect::<Vec<_>>(),
                &twins.iter().map(|i| db_seq(i.event.seq)).collect::<Vec<_>>(),
                &twins.iter().map(|i| &i.event.hash[..]).collect::<Vec<_>>(),
                &twins.iter().map(|i| stored_payload(i.event, i.payload)).collect::<Vec<_>>(),
            ],
        )
        .await?;
        trips += 2; // prepared, then executed
    }
    Ok(trips)
}
