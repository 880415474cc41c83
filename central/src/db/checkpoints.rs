//! Central's judging of a gateway's signed checkpoints as they arrive (`anchors` is the
//! pure rule): against the run as stored, kept in `checkpoints`, and judged again when the
//! record a checkpoint covers arrives after it.

use portvakt_wire::event::ReceivedEvent;
use tokio_postgres::Client;

use super::{DbError, db_seq, epoch_of, hash32, seq_of};
use crate::anchors;

/// Judges the checkpoint just stored as record `e` of `site` against its run as stored
/// (the key the run's newest earlier `system.device_key` record commissioned — or, in a
/// run that has none before it, as after a restored backup, the key the site's earlier
/// runs commissioned last — and the hash of the record it covers in the run) and keeps the
/// outcome in `checkpoints`.
pub async fn check_checkpoint(client: &Client, site: &str, e: &ReceivedEvent) -> Result<anchors::Judged, DbError> {
    let (epoch, seq) = (epoch_of(e), db_seq(e.seq));
    let commissioned = client
        .query_opt(
            "SELECT detail FROM records
             WHERE site = $1 AND kind = 'system.device_key' AND ((epoch = $3 AND seq < $2) OR epoch <> $3)
             ORDER BY (epoch = $3) DESC, CASE WHEN epoch = $3 THEN seq END DESC, received_at DESC LIMIT 1",
            &[&site, &seq, &epoch],
        )
        .await?
        .and_then(|r| anchors::commissioned_key(r.get("detail")));
    let covers = serde_json::from_str::<serde_json::Value>(&e.detail)
        .ok()
        .and_then(|v| v.get("seq").and_then(serde_json::Value::as_i64));
    let stored = match covers {
        Some(c) => client
            .query_opt("SELECT hash FROM records WHERE site = $1 AND epoch = $2 AND seq = $3", &[&site, &epoch, &c])
            .await?
            .map(|r| hash32(&r, "hash"))
            .transpose()?
            .map(|h| (seq_of(c), h)),
        None => None,
    };
    let judged =
        anchors::judge(site, e.seq, &e.detail, commissioned, |s| stored.filter(|(c, _)| *c == s).map(|(_, h)| h));
    let signed_ms = judged.signed_at.map(jiff::Timestamp::as_millisecond);
    client
        .execute(
            "INSERT INTO checkpoints (site, epoch, seq, covers, signed_at, key, outcome, words)
             VALUES ($1, $2, $3, $4, TIMESTAMPTZ 'epoch' + $5::bigint * INTERVAL '1 millisecond', $6, $7, $8)
             ON CONFLICT (site, epoch, seq) DO UPDATE SET covers = excluded.covers, signed_at = excluded.signed_at,
                 key = excluded.key, outcome = excluded.outcome, words = excluded.words
             WHERE checkpoints.outcome = 'not_stored'",
            &[
                &site,
                &epoch,
                &seq,
                &judged.covers.map(db_seq),
                &signed_ms,
                &judged.key.map(|k| k.to_vec()),
                &judged.outcome.word(),
                &judged.words(),
            ],
        )
        .await?;
    Ok(judged)
}

/// Judges again the checkpoints of `sites` judged `not_stored` whose covered record is
/// stored now (it arrived after the checkpoint), in one query when none waits; returns
/// those that failed, with their site.
pub async fn rejudge_checkpoints(client: &Client, sites: &[&str]) -> Result<Vec<(String, anchors::Judged)>, DbError> {
    let waiting = client
        .query(
            "SELECT c.site, r.payload FROM checkpoints c
               JOIN records r ON r.site = c.site AND r.epoch = c.epoch AND r.seq = c.seq
             WHERE c.site = ANY($1) AND c.outcome = 'not_stored'
               AND EXISTS (SELECT 1 FROM records x WHERE x.site = c.site AND x.epoch = c.epoch AND x.seq = c.covers)",
            &[&sites],
        )
        .await?;
    let mut failed = Vec::new();
    for row in waiting {
        let (site, payload): (String, Vec<u8>) = (row.get(0), row.get(1));
        let Ok(e) = ReceivedEvent::parse(&payload) else { continue };
        let judged = check_checkpoint(client, &site, &e).await?;
        if judged.outcome.failed() {
            failed.push((site, judged));
        }
    }
    Ok(failed)
}
