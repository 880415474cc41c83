//! `portvakt-central visits`: who came through which door when, across the fleet — a
//! table, JSON lines, or CSV for the invoicing and for relatives' requests. A visit list
//! holds only the visits whose names this Central reads (its own audiences' records,
//! opened with its reading key): a resident's entry, sealed to the owner, is never one,
//! nor a record from before audiences (format 1), whose audience is unknown.
//! Visit lists are personal data: every read is itself recorded in `reads` (who, why, the
//! query, how many records), in the same transaction as the read.

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
    /// Every holder whose id holds this part (as [`fold`] writes it): the console's search
    /// by a name's fragment. The command line's `--holder` stays exact.
    pub holder_part: Option<String>,
    /// With `holder_part`, also these (holder, audience): the staff whose name in the
    /// roster holds the part, on the roster's authority's records.
    pub holders_named: Vec<(String, String)>,
    /// One door.
    pub door: Option<String>,
    /// From this time (RFC 3339), inclusive.
    pub since: Option<jiff::Timestamp>,
    /// Until this time, exclusive.
    pub until: Option<jiff::Timestamp>,
}

/// Text as ids are written, for searching them by a fragment: lower case, å ä → a,
/// ö → o, é è → e, ü → u, and runs of spaces as one `-` ("Storgatan 12" → "storgatan-12",
/// "Öster" → "oster").
pub fn fold(text: &str) -> String {
    let mut out = String::new();
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push('-');
        }
        for c in word.chars().flat_map(char::to_lowercase) {
            out.push(match c {
                'å' | 'ä' | 'á' | 'à' => 'a',
                'ö' | 'ó' | 'ò' => 'o',
                'é' | 'è' | 'ë' => 'e',
                'ü' | 'ú' => 'u',
                c => c,
            });
        }
    }
    out
}

impl Filter {
    /// What is searched for, as facts (kept with the read in `reads.query`, put in words
    /// by the console): only the fields given, times in RFC 3339.
    pub fn facts(&self) -> serde_json::Value {
        let mut f = serde_json::Map::new();
        for (k, v) in
            [("site", &self.site), ("holder", &self.holder), ("holder_part", &self.holder_part), ("door", &self.door)]
        {
            if let Some(v) = v {
                f.insert(k.into(), v.clone().into());
            }
        }
        if !self.holders_named.is_empty() {
            let named: Vec<&str> = self.holders_named.iter().map(|(h, _)| h.as_str()).collect();
            f.insert("holders_named".into(), named.into());
        }
        for (k, v) in [("since", self.since), ("until", self.until)] {
            if let Some(t) = v {
                f.insert(k.into(), format!("{t:.0}").into());
            }
        }
        serde_json::Value::Object(f)
    }
}

/// A LIKE pattern matching any text that holds `part` (its `%`, `_` and `\` taken as
/// themselves).
fn containing(part: &str) -> String {
    let mut p = String::from("%");
    for c in part.chars() {
        if matches!(c, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(c);
    }
    p.push('%');
    p
}

/// Why a visit list is read (`docs/privacy.md`): one of a short list, kept with the read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// A relative's request.
    Relatives,
    /// The basis for invoicing.
    Invoicing,
    /// A deviation to look into.
    Deviation,
    /// A request from the police.
    Police,
    /// Something else, said in words.
    Other(String),
}

impl Purpose {
    /// The words a purpose is given by (`--purpose`, the console's form).
    pub const WORDS: [&'static str; 5] = ["relatives", "invoicing", "deviation", "police", "other"];

    /// From its word, and for `other` the reason (required, at most 200 characters).
    pub fn from_words(word: &str, note: Option<&str>) -> Result<Self, String> {
        let note = note.map(str::trim).filter(|n| !n.is_empty());
        match (word, note) {
            ("relatives", _) => Ok(Self::Relatives),
            ("invoicing", _) => Ok(Self::Invoicing),
            ("deviation", _) => Ok(Self::Deviation),
            ("police", _) => Ok(Self::Police),
            ("other", Some(n)) if n.chars().count() <= 200 && !n.contains('\0') => Ok(Self::Other(n.to_owned())),
            ("other", Some(_)) => Err("the reason is at most 200 characters".into()),
            ("other", None) => Err("with purpose other, say why (--note, or the form's reason)".into()),
            (w, _) => Err(format!("\"{w}\" is not a purpose; use {}", Self::WORDS.join(", "))),
        }
    }

    /// Its word, as kept in `reads.purpose`.
    pub fn word(&self) -> &'static str {
        match self {
            Self::Relatives => "relatives",
            Self::Invoicing => "invoicing",
            Self::Deviation => "deviation",
            Self::Police => "police",
            Self::Other(_) => "other",
        }
    }

    /// The reason in words, for `other`.
    pub fn note(&self) -> Option<&str> {
        match self {
            Self::Other(n) => Some(n),
            _ => None,
        }
    }
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
    /// Whose the record is (none: from before audiences).
    pub audience: Option<String>,
    /// The holder (none when the record names no one, or its names are sealed to an
    /// audience this Central does not read, or erased).
    pub holder: Option<String>,
    /// The credential.
    pub credential: Option<String>,
    /// Why a refused entry was refused (`outside_schedule`, …), when the record says.
    pub reason: Option<String>,
}

/// The visits matching `filter` whose names this Central reads, oldest first, the read
/// recorded as `who`'s, for `purpose`.
pub async fn read(client: &mut Client, filter: &Filter, who: &str, purpose: &Purpose) -> Result<Vec<Visit>, DbError> {
    let mut sql = String::from(
        "SELECT site, seq, (extract(epoch FROM at) * 1000)::bigint AS at_ms, trusted, kind, door, audience, holder,
                credential, detail
         FROM records WHERE kind IN ('access.granted', 'access.denied', 'access.strike_failed')
           AND format = 2 AND holder IS NOT NULL AND audience <> 'site'",
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
    let part = filter.holder_part.as_deref().map(containing);
    let (named, audiences): (Vec<String>, Vec<String>) = filter.holders_named.iter().cloned().unzip();
    if let Some(p) = &part {
        params.push(p);
        params.push(&named);
        params.push(&audiences);
        let n = params.len();
        let _ = write!(
            sql,
            " AND (holder LIKE ${} ESCAPE '\\' OR (holder, audience) IN (SELECT * FROM unnest(${}::text[], ${n}::text[])))",
            n - 2,
            n - 1
        );
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
    let query = filter.facts().to_string();
    let count = i64::try_from(visits.len()).unwrap_or(i64::MAX);
    // Whose visits were read: the holder asked for, or every one a fragment found.
    let whose = if filter.holder_part.is_some() {
        let mut found: Vec<&str> = visits.iter().filter_map(|v| v.holder.as_deref()).collect();
        found.sort_unstable();
        found.dedup();
        (!found.is_empty()).then(|| found.join(", "))
    } else {
        filter.holder.clone()
    };
    tx.execute(
        "INSERT INTO reads (who, query, records, purpose, note, holder) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&who, &query, &count, &purpose.word(), &purpose.note(), &whose],
    )
    .await?;
    tx.commit().await?;
    Ok(visits)
}

/// A record row as a visit: the columns `site`, `seq`, `at_ms` (milliseconds), `trusted`,
/// `kind`, `door`, `audience`, `holder`, `credential`, and `detail` when selected (a
/// refusal's reason is read from it).
pub fn from_row(r: &tokio_postgres::Row) -> Visit {
    let reason = r
        .try_get::<_, String>("detail")
        .ok()
        .and_then(|d| serde_json::from_str::<serde_json::Value>(&d).ok())
        .and_then(|d| d.get("reason").and_then(|x| x.as_str()).map(str::to_owned));
    Visit {
        site: r.get("site"),
        seq: u64::try_from(r.get::<_, i64>("seq")).unwrap_or(0),
        at: jiff::Timestamp::from_millisecond(r.get("at_ms")).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
        trusted: r.get("trusted"),
        kind: r.get("kind"),
        door: r.get("door"),
        audience: r.get("audience"),
        holder: r.get("holder"),
        credential: r.get("credential"),
        reason,
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
    field(s, ',')
}

/// [`csv_field`] for a file whose fields are separated by `sep`.
pub fn field(s: &str, sep: char) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_owned() };
    if s.contains([sep, '"', '\n', '\r']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s }
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

    #[test]
    fn a_name_is_folded_as_ids_are_written_and_a_fragment_matches_only_itself() {
        assert_eq!(fold("  Storgatan  12 "), "storgatan-12");
        assert_eq!(fold("Ekvägen"), "ekvagen");
        assert_eq!(fold("ÖSTER Ån"), "oster-an");
        assert_eq!(containing("natt_5%"), "%natt\\_5\\%%");
    }

    fn visit(holder: &str) -> Visit {
        Visit {
            site: "storgatan-12".into(),
            seq: 7,
            at: jiff::Timestamp::from_second(1_795_000_000).unwrap(),
            trusted: false,
            kind: "access.denied".into(),
            door: Some("entrance".into()),
            audience: Some("kommunen".into()),
            holder: Some(holder.into()),
            credential: None,
            reason: None,
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
