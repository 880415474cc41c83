//! The quarantine: a message Central would not store, kept with why (bounded per site).

use tokio_postgres::Client;

use super::DbError;

/// Quarantines a message that could not be taken, with why (`refused`): whatever it
/// held, the row can be stored — NUL replaced, the reason and site bounded, the first
/// 64 KiB of the message kept with its length — and the site's alarms are brought up to
/// date (`records_quarantined`). Past `boundary::MAX_QUARANTINED` unreviewed messages of
/// the site, it is only counted (`refused_dropped`).
pub async fn refuse(client: &Client, site: &str, reason: &str, payload: &[u8]) -> Result<(), DbError> {
    use crate::boundary::{KEPT_OF_QUARANTINED, MAX_NAME, storable_text};
    let site = storable_text(site, MAX_NAME);
    let reason = storable_text(reason, 1024);
    let kept = &payload[..payload.len().min(KEPT_OF_QUARANTINED)];
    let length = i64::try_from(payload.len()).unwrap_or(i64::MAX);
    let held: i64 = client
        .query_one("SELECT count(*) FROM refused WHERE site = $1 AND reviewed_at IS NULL", &[&site])
        .await?
        .get(0);
    if usize::try_from(held).unwrap_or(usize::MAX) >= crate::boundary::MAX_QUARANTINED {
        client
            .execute(
                "INSERT INTO refused_dropped (site, messages, bytes) VALUES ($1, 1, $2)
                 ON CONFLICT (site) DO UPDATE SET messages = refused_dropped.messages + 1,
                     bytes = refused_dropped.bytes + excluded.bytes, last_at = now()",
                &[&site, &length],
            )
            .await?;
    } else {
        client
            .execute(
                "INSERT INTO refused (site, reason, payload, length) VALUES ($1, $2, $3, $4)",
                &[&site, &reason, &kept, &length],
            )
            .await?;
    }
    crate::fleet::reconcile(client, &site, jiff::Timestamp::now(), &crate::alarms::Rules::default()).await?;
    Ok(())
}
