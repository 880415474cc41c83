//! The fleet's state in PostgreSQL: what each gateway's retained `status`, `state` and
//! door states said, when it was last heard (a forced door is set with the records that
//! say so, in `db::take_many`); and its alarm
//! rows kept in step with `alarms::wanted` — a new alarm raised, one that no longer holds
//! cleared, one still open left alone — after each observation and at every sweep (which
//! is what notices a gateway gone silent).

use std::fmt::Write as _;

use jiff::Timestamp;
use tokio_postgres::{Client, GenericClient};

use crate::alarms::{self, DoorFacts, Facts, Rules};
use crate::db::DbError;

/// Something heard from a gateway.
#[derive(Debug, Clone)]
pub enum Observation<'a> {
    /// Its `status`: `online` or `offline`.
    Status(&'a str),
    /// Its `state` JSON.
    State(&'a str),
    /// A door's `door/<door>/state` JSON.
    Door(&'a str, &'a str),
}

fn ms(t: Timestamp) -> i64 {
    t.as_millisecond()
}

/// The SQL for the time bound as `$2` (ms since 1970), for `concat!`: each statement is
/// one string made at compile time, not put together at every call.
macro_rules! at {
    () => {
        "TIMESTAMPTZ 'epoch' + $2::bigint * INTERVAL '1 millisecond'"
    };
}

/// Records what was heard; raises or clears the site's alarms when it can change them.
pub async fn observe(
    db: &Client,
    site: &str,
    o: &Observation<'_>,
    now: Timestamp,
    rules: &Rules,
) -> Result<(), DbError> {
    let now_ms = ms(now);
    db.execute(
        concat!(
            "INSERT INTO gateways (site, last_seen) VALUES ($1, ",
            at!(),
            ")
             ON CONFLICT (site) DO UPDATE SET last_seen = greatest(gateways.last_seen, excluded.last_seen)"
        ),
        &[&site, &now_ms],
    )
    .await?;
    match o {
        Observation::Status(s) => {
            let online = *s == "online";
            db.execute(
                concat!("UPDATE gateways SET online = $3, status_at = ", at!(), " WHERE site = $1"),
                &[&site, &now_ms, &online],
            )
            .await?;
        }
        Observation::State(text) => {
            // A running gateway's state also says it is online: a stream made after the
            // gateway connected (NATS keeps no retained `online` for it) still knows.
            let parsed = serde_json::from_str::<serde_json::Value>(text).ok();
            let running = parsed.as_ref().and_then(|v| v.get("running")?.as_bool()).unwrap_or(false);
            // What its config calls things; a state without them leaves the last ones.
            let names = parsed.as_ref().and_then(crate::names::SiteNames::from_state);
            if let Some((_, left_out)) = names.as_ref().filter(|(_, l)| !l.is_empty()) {
                log::warn!("{site}: names left out of its state (not shown, the id is): {}", left_out.join(", "));
            }
            let (name, names) = names.map(|(n, _)| (n.site.clone(), n.to_json())).unzip();
            db.execute(
                concat!(
                    "UPDATE gateways SET state = $3, state_at = ",
                    at!(),
                    ",
                            online = CASE WHEN $4 THEN true ELSE online END,
                            name = CASE WHEN $6 THEN $5 ELSE name END,
                            names = COALESCE($7::text::jsonb, names) WHERE site = $1"
                ),
                &[&site, &now_ms, text, &running, &name.flatten(), &names.is_some(), &names],
            )
            .await?;
        }
        Observation::Door(door, text) => {
            db.execute(
                concat!(
                    "INSERT INTO doors (site, door, state, state_at) VALUES ($1, $3, $4, ",
                    at!(),
                    ")
                     ON CONFLICT (site, door) DO UPDATE SET state = excluded.state, state_at = excluded.state_at"
                ),
                &[&site, &now_ms, door, text],
            )
            .await?;
        }
    }
    reconcile(db, site, now, rules).await?;
    notify(db, site).await
}

/// What a retained message of `site` says, taken in if it can be kept: one that cannot
/// (not UTF-8, a NUL, too large — or refused by PostgreSQL anyway) is quarantined with its
/// reason instead of failing the batch it came in; only a lost connection is an error.
pub async fn observe_message<'a>(
    db: &Client,
    site: &str,
    payload: &'a [u8],
    what: impl FnOnce(&'a str) -> Observation<'a>,
    now: Timestamp,
    rules: &Rules,
) -> Result<(), DbError> {
    let text = match crate::boundary::check_observation(site, payload) {
        Ok(t) => t,
        Err(why) => {
            log::warn!("{site}: quarantined: {why}");
            return crate::db::refuse(db, site, &why.to_string(), payload).await;
        }
    };
    match observe(db, site, &what(text), now, rules).await {
        Err(e) if e.is_refused_statement() => {
            log::warn!("{site}: quarantined: refused by {e}");
            crate::db::refuse(db, site, &format!("refused by {e}"), payload).await
        }
        other => other,
    }
}

/// The PostgreSQL channel on which a changed site's name is notified.
pub const CHANNEL: &str = "portvakt_fleet";

/// Tells whoever LISTENs (the console) that `site` changed.
pub async fn notify(db: &impl GenericClient, site: &str) -> Result<(), DbError> {
    db.execute(&format!("SELECT pg_notify('{CHANNEL}', $1)"), &[&site]).await?;
    Ok(())
}

fn time(ms: Option<i64>) -> Option<Timestamp> {
    ms.and_then(|m| Timestamp::from_millisecond(m).ok())
}

fn json(text: Option<String>) -> Option<serde_json::Value> {
    text.and_then(|t| serde_json::from_str(&t).ok())
}

/// What Central knows of `site`.
pub async fn facts(db: &impl GenericClient, site: &str) -> Result<Facts, DbError> {
    let mut f = Facts::default();
    if let Some(g) = db
        .query_opt(
            "SELECT online, (extract(epoch FROM last_seen) * 1000)::bigint AS seen, state FROM gateways WHERE site = $1",
            &[&site],
        )
        .await?
    {
        f.online = g.get("online");
        f.last_seen = time(g.get("seen"));
        f.state = json(g.get("state"));
    }
    for d in db
        .query(
            "SELECT door, state, (extract(epoch FROM forced_at) * 1000)::bigint AS forced FROM doors WHERE site = $1 ORDER BY door",
            &[&site],
        )
        .await?
    {
        f.doors.push(DoorFacts { door: d.get("door"), state: json(d.get("state")), forced_at: time(d.get("forced")) });
    }
    if let Some(s) = db
        .query_opt(
            "SELECT epoch, through, broken_at, (extract(epoch FROM last_record) * 1000)::bigint AS record,
                    (extract(epoch FROM replaced_at) * 1000)::bigint AS replaced
             FROM current_chains WHERE site = $1",
            &[&site],
        )
        .await?
    {
        f.last_seen = f.last_seen.max(time(s.get("record")));
        let (epoch, through): (String, i64) = (s.get("epoch"), s.get("through"));
        f.broken_at = s.get::<_, Option<i64>>("broken_at").and_then(|v| u64::try_from(v).ok());
        f.replaced = time(s.get("replaced")).map(|at| (epoch.clone(), at));
        let past = db
            .query_one(
                "SELECT (extract(epoch FROM min(received_at)) * 1000)::bigint AS since FROM records
                 WHERE site = $1 AND epoch = $2 AND seq > $3",
                &[&site, &epoch, &through],
            )
            .await?;
        if f.broken_at.is_none()
            && let Some(since) = time(past.get("since"))
        {
            f.gap = Some((u64::try_from(through).unwrap_or(0), since));
        }
    }
    f.checkpoint_failed = db
        .query_opt(
            "SELECT seq, covers, outcome FROM checkpoints WHERE site = $1 AND outcome NOT IN ('verified', 'not_stored')
             ORDER BY checked_at DESC, seq DESC LIMIT 1",
            &[&site],
        )
        .await?
        .map(|r| {
            let seq = u64::try_from(r.get::<_, i64>("seq")).unwrap_or(0);
            let covers = r.get::<_, Option<i64>>("covers").and_then(|c| u64::try_from(c).ok());
            (seq, covers, r.get("outcome"))
        });
    let q = db
        .query_one(
            "SELECT count(*) AS n, (array_agg(reason ORDER BY id DESC))[1] AS why FROM refused
             WHERE site = $1 AND reviewed_at IS NULL",
            &[&site],
        )
        .await?;
    let n: i64 = q.get("n");
    let dropped: i64 =
        db.query_opt("SELECT messages FROM refused_dropped WHERE site = $1", &[&site]).await?.map_or(0, |r| r.get(0));
    if n > 0 || dropped > 0 {
        let mut why = q.get::<_, Option<String>>("why").unwrap_or_default();
        if dropped > 0 {
            let cap = crate::boundary::MAX_QUARANTINED;
            let _ = write!(why, "; {dropped} more not kept (the quarantine keeps {cap} unreviewed per site)");
        }
        f.quarantined = Some((u64::try_from(n + dropped).unwrap_or(0), why));
    }
    Ok(f)
}

/// Raises the alarms `site` now calls for and clears those that no longer hold; returns
/// (raised, cleared).
pub async fn reconcile(
    db: &impl GenericClient,
    site: &str,
    now: Timestamp,
    rules: &Rules,
) -> Result<(usize, usize), DbError> {
    // The open alarms before the facts: where nothing holds the site (an observation, a
    // run not yet committed), the facts are at least as new as the alarms, so an alarm
    // raised meanwhile with its fact is kept, never cleared on facts from before it.
    let open = db
        .query("SELECT id, kind, subject FROM alarms WHERE site = $1 AND cleared_at IS NULL ORDER BY id", &[&site])
        .await?;
    let wanted = alarms::wanted(&facts(db, site).await?, now, rules);
    let now_ms = ms(now);
    let mut cleared = 0;
    for row in &open {
        let (kind, subject): (String, String) = (row.get("kind"), row.get("subject"));
        if !wanted.iter().any(|w| w.kind == kind && w.subject == subject) {
            let id: i64 = row.get("id");
            let n = db
                .execute(
                    concat!("UPDATE alarms SET cleared_at = ", at!(), " WHERE id = $1 AND cleared_at IS NULL"),
                    &[&id, &now_ms],
                )
                .await?;
            cleared += usize::try_from(n).unwrap_or(0);
        }
    }
    let mut raised = 0;
    for w in &wanted {
        let n = db
            .execute(
                concat!(
                    "INSERT INTO alarms (site, raised_at, kind, subject, detail) VALUES ($1, ",
                    at!(),
                    ", $3, $4, $5)
                     ON CONFLICT (site, kind, subject) WHERE cleared_at IS NULL DO NOTHING"
                ),
                &[&site, &now_ms, &w.kind, &w.subject, &w.detail.to_json()],
            )
            .await?;
        if n > 0 {
            log::warn!("{site}: alarm {} {}: {}", w.kind, w.subject, w.detail.to_json());
            raised += 1;
        }
    }
    if raised + cleared > 0 {
        notify(db, site).await?;
    }
    Ok((raised, cleared))
}

/// Reconciles every known site (a gateway gone silent sends nothing that would), each in
/// a transaction of its own that first locks the site's runs, as ingest holds them when a
/// door forced or closed makes it reconcile: of the two, whichever comes second reads what
/// the first committed, so neither clears an alarm the other has just raised. A site that
/// fails is said and left for the next sweep; a lost database ends the sweep.
pub async fn sweep(db: &mut Client, now: Timestamp, rules: &Rules) -> Result<(), DbError> {
    let sites: Vec<String> = db
        .query("SELECT site FROM gateways UNION SELECT site FROM sites ORDER BY 1", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    for site in sites {
        let alone = async {
            let tx = db.transaction().await?;
            tx.execute("SELECT 1 FROM chains WHERE site = $1 ORDER BY epoch FOR UPDATE", &[&site]).await?;
            reconcile(&tx, &site, now, rules).await?;
            tx.commit().await?;
            Ok::<_, DbError>(())
        };
        match alone.await {
            Ok(()) => {}
            Err(e) if e.is_connection_lost() => return Err(e),
            Err(e) => log::warn!("{site}: its alarms were not reconciled ({e}); again at the next sweep"),
        }
    }
    Ok(())
}
