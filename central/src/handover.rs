//! `portvakt-central sealed`: another audience's records as this Central keeps them — the
//! header, the commitment and the personal part still sealed to that audience's reading
//! key — as JSON lines, for handing to that audience (the owner reads its residents'
//! passages with `portvakt-admin personal --key owner.reading.key`). This Central cannot
//! open them; the hand-over is still a read of personal data, recorded in `reads`.

use std::collections::BTreeMap;

use serde_json::value::RawValue;
use tokio_postgres::Client;

use crate::db::DbError;

/// The sealed records of `audience` at `site` not yet erased, oldest first, as JSON lines:
/// each the `events` message as the gateway sent it (its hash covers the header and the
/// commitment, so the receiver can check what it is shown) with its `personal` part and
/// `site`; the read recorded as `who`'s.
pub async fn sealed(client: &mut Client, site: &str, audience: &str, who: &str) -> Result<String, DbError> {
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT payload, sealed FROM records
             WHERE site = $1 AND audience = $2 AND sealed IS NOT NULL AND erased_at IS NULL ORDER BY at, seq",
            &[&site, &audience],
        )
        .await?;
    let mut out = String::new();
    for r in &rows {
        let payload: Vec<u8> = r.get("payload");
        let Ok(mut message) = serde_json::from_slice::<BTreeMap<String, Box<RawValue>>>(&payload) else { continue };
        let raw = |v: String| RawValue::from_string(v).ok();
        let sealed = portvakt_wire::hex::encode(&r.get::<_, Vec<u8>>("sealed"));
        if let (Some(p), Some(s)) = (raw(format!("\"{sealed}\"")), raw(serde_json::to_string(site).unwrap_or_default()))
        {
            message.insert("personal".into(), p);
            message.insert("site".into(), s);
        }
        out.push_str(&serde_json::to_string(&message).unwrap_or_default());
        out.push('\n');
    }
    let query = format!("sealed parts of {audience} at {site}, to hand over");
    let count = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    tx.execute(
        "INSERT INTO reads (who, query, records, purpose) VALUES ($1, $2, $3, 'handover')",
        &[&who, &query, &count],
    )
    .await?;
    tx.commit().await?;
    Ok(out)
}
