//! `portvakt-central sealed`: another audience's records as this Central keeps them — the
//! header, the commitment and the personal part still sealed to that audience's reading
//! key — as JSON lines, for handing to that audience (the owner reads its residents'
//! passages with `portvakt-admin personal --key owner.reading.key`). This Central cannot
//! open them; the hand-over is still a read of personal data, recorded in `reads`.

use tokio_postgres::Client;

use crate::db::DbError;

/// The sealed records of `audience` at `site` not yet erased, oldest first, as JSON lines
/// (`site`, `epoch`, `seq`, `at`, `kind`, `door`, `audience`, `commitment`, `personal`);
/// the read recorded as `who`'s.
pub async fn sealed(client: &mut Client, site: &str, audience: &str, who: &str) -> Result<String, DbError> {
    let tx = client.transaction().await?;
    let rows = tx
        .query(
            "SELECT epoch, seq, (extract(epoch FROM at) * 1000)::bigint AS at_ms, kind, door, commitment, sealed
             FROM records WHERE site = $1 AND audience = $2 AND sealed IS NOT NULL AND erased_at IS NULL
             ORDER BY at, seq",
            &[&site, &audience],
        )
        .await?;
    let mut out = String::new();
    for r in &rows {
        let at = jiff::Timestamp::from_millisecond(r.get("at_ms")).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let line = serde_json::json!({
            "site": site,
            "epoch": r.get::<_, String>("epoch"),
            "seq": r.get::<_, i64>("seq"),
            "at": format!("{at:.3}"),
            "kind": r.get::<_, String>("kind"),
            "door": r.get::<_, Option<String>>("door"),
            "audience": audience,
            "commitment": portvakt_wire::hex::encode(&r.get::<_, Vec<u8>>("commitment")),
            "personal": portvakt_wire::hex::encode(&r.get::<_, Vec<u8>>("sealed")),
        });
        out.push_str(&line.to_string());
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
