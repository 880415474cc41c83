//! `portvakt-central visits`: who came through which door when, across the fleet — a
//! table, JSON lines, or CSV for the invoicing and for relatives' requests. Visit lists
//! are personal data: every read is itself recorded in `reads` (who, the query, how many
//! records), in the same transaction as the read.

use std::fmt::Write as _;

use tokio_postgres::Client;
use tokio_postgres::types::ToSql;

use crate::db::DbError;

/// Which records.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// One site.
    pub site: Option<String>,
    /// One holder.
    pub holder: Option<String>,
    /// One door.
    pub door: Option<String>,
    /// From this time (RFC 3339), inclusive.
    pub since: Option<jiff::Timestamp>,
    /// Until this time, exclusive.
    pub until: Option<jiff::Timestamp>,
}

/// One visit (an access decision).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visit {
    /// The site.
    pub site: String,
    /// Its sequence number there.
    pub seq: u64,
    /// When.
    pub at: jiff::Timestamp,
    /// Whether the gateway's clock was trusted then.
    pub trusted: bool,
    /// `access.granted` or `access.denied`.
    pub kind: String,
    /// The door.
    pub door: Option<String>,
    /// The holder.
    pub holder: Option<String>,
    /// The credential.
    pub credential: Option<String>,
}

/// The visits matching `filter`, oldest first, the read recorded as `who`'s.
pub async fn read(client: &mut Client, filter: &Filter, who: &str) -> Result<Vec<Visit>, DbError> {
    let mut sql = String::from(
        "SELECT site, seq, (extract(epoch FROM at) * 1000)::bigint AS at_ms, trusted, kind, door, holder, credential
         FROM records WHERE kind IN ('access.granted', 'access.denied', 'access.strike_failed')",
    );
    let since = filter.since.map(jiff::Timestamp::as_millisecond);
    let until = filter.until.map(jiff::Timestamp::as_millisecond);
    let mut params: Vec<&(dyn ToSql + Sync)> = Vec::new();
    let at = |n: usize| format!("TIMESTAMPTZ 'epoch' + ${n}::bigint * INTERVAL '1 millisecond'");
    for (column, value) in [("site", &filter.site), ("holder", &filter.holder), ("door", &filter.door)] {
        if let Some(v) = value {
            params.push(v);
            let _ = write!(sql, " AND {column} = ${}", params.len());
        }
    }
    for (op, value) in [(">=", &since), ("<", &until)] {
        if let Some(v) = value {
            params.push(v);
            let _ = write!(sql, " AND at {op} {}", at(params.len()));
        }
    }
    sql.push_str(" ORDER BY at, site, seq");
    let tx = client.transaction().await?;
    let rows = tx.query(&sql, &params).await?;
    let visits: Vec<Visit> = rows.iter().map(from_row).collect();
    let query = format!("{filter:?}");
    let count = i64::try_from(visits.len()).unwrap_or(i64::MAX);
    tx.execute("INSERT INTO reads (who, query, records) VALUES ($1, $2, $3)", &[&who, &query, &count]).await?;
    tx.commit().await?;
    Ok(visits)
}

/// A record row as a visit: the columns `site`, `seq`, `at_ms` (milliseconds), `trusted`,
/// `kind`, `door`, `holder`, `credential`.
pub fn from_row(r: &tokio_postgres::Row) -> Visit {
    Visit {
        site: r.get("site"),
        seq: u64::try_from(r.get::<_, i64>("seq")).unwrap_or(0),
        at: jiff::Timestamp::from_millisecond(r.get("at_ms")).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        trusted: r.get("trusted"),
        kind: r.get("kind"),
        door: r.get("door"),
        holder: r.get("holder"),
        credential: r.get("credential"),
    }
}

fn word(kind: &str) -> &str {
    match kind {
        "access.granted" => "granted",
        "access.denied" => "refused",
        "access.strike_failed" => "granted, strike not confirmed",
        other => other,
    }
}

/// As a table.
pub fn table(visits: &[Visit]) -> String {
    let mut out = format!(
        "{:<20} {:>7}  {:<24} {:<12} {:<20} {:<14} what\n",
        "site", "seq", "time (UTC)", "door", "holder", "credential"
    );
    for v in visits {
        let _ = writeln!(
            out,
            "{:<20} {:>7}  {:<24} {:<12} {:<20} {:<14} {}{}",
            v.site,
            v.seq,
            format!("{:.0}", v.at),
            v.door.as_deref().unwrap_or("-"),
            v.holder.as_deref().unwrap_or("-"),
            v.credential.as_deref().unwrap_or("-"),
            word(&v.kind),
            if v.trusted { "" } else { " (clock untrusted)" }
        );
    }
    let _ = writeln!(out, "{} visit(s)", visits.len());
    out
}

/// As JSON lines.
pub fn json_lines(visits: &[Visit]) -> String {
    let mut out = String::new();
    for v in visits {
        let line = serde_json::json!({
            "site": v.site, "seq": v.seq, "at": format!("{:.3}", v.at), "clock_trusted": v.trusted,
            "kind": v.kind, "door": v.door, "holder": v.holder, "credential": v.credential,
        });
        let _ = writeln!(out, "{line}");
    }
    out
}

/// One CSV field: quoted when it must be; and a text a spreadsheet would take for a formula
/// (`=`, `+`, `-`, `@`, tab, carriage return first — what a gateway sent, opened in the
/// invoicing's spreadsheet) is prefixed with `'` so that it stays text.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
}

/// As CSV with a header row.
pub fn csv(visits: &[Visit]) -> String {
    let mut out = String::from("site,seq,at,clock_trusted,outcome,door,holder,credential\n");
    for v in visits {
        let fields = [
            csv_field(&v.site),
            v.seq.to_string(),
            format!("{:.3}", v.at),
            v.trusted.to_string(),
            csv_field(word(&v.kind)),
            csv_field(v.door.as_deref().unwrap_or("")),
            csv_field(v.holder.as_deref().unwrap_or("")),
            csv_field(v.credential.as_deref().unwrap_or("")),
        ];
        let _ = writeln!(out, "{}", fields.join(","));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(holder: &str) -> Visit {
        Visit {
            site: "storgatan-12".into(),
            seq: 7,
            at: jiff::Timestamp::from_second(1_795_000_000).unwrap(),
            trusted: false,
            kind: "access.denied".into(),
            door: Some("entrance".into()),
            holder: Some(holder.into()),
            credential: None,
        }
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_says_refused_not_a_code() {
        let out = csv(&[visit("lgh, 1101 \"A\"")]);
        let row = out.lines().nth(1).unwrap();
        assert_eq!(row, "storgatan-12,7,2026-11-18T11:06:40.000Z,false,refused,entrance,\"lgh, 1101 \"\"A\"\"\",");
    }

    #[test]
    fn the_table_marks_a_visit_decided_on_an_untrusted_clock() {
        let out = table(&[visit("anna-lgh1101")]);
        assert!(out.contains("anna-lgh1101") && out.contains("refused (clock untrusted)"), "{out}");
        assert!(out.ends_with("1 visit(s)\n"), "{out}");
    }

    #[test]
    fn a_field_a_spreadsheet_would_run_as_a_formula_stays_text() {
        assert_eq!(csv_field("=HYPERLINK(\"http://x\")"), "\"'=HYPERLINK(\"\"http://x\"\")\"");
        assert_eq!(csv_field("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_field("anna-lgh1101"), "anna-lgh1101");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
    }
}
