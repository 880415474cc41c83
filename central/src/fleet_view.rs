//! The answers about the fleet: every site at a glance (`fleet`: online, last heard,
//! clock, outbox, records stored, devices, bundles, open alarms) and the alarms (`alarms`:
//! open ones, or every one raised since a time, with raised and cleared times), as a
//! table or JSON lines.

use std::fmt::Write as _;

use jiff::Timestamp;
use serde_json::{Value, json};
use tokio_postgres::Client;

use crate::db::DbError;

/// One site's line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SiteLine {
    /// The site.
    pub site: String,
    /// Its retained status (`None`: never said).
    pub online: Option<bool>,
    /// When last heard.
    pub last_seen: Option<Timestamp>,
    /// Its last `state`, if any.
    pub state: Option<Value>,
    /// Central's gap-free point.
    pub through: i64,
    /// Alarms open.
    pub alarms: i64,
    /// What its config calls it, its doors, devices and authorities (empty if unsaid).
    pub names: crate::names::SiteNames,
}

impl SiteLine {
    /// Open alarms, or offline.
    pub fn has_problem(&self) -> bool {
        self.alarms > 0 || self.online == Some(false)
    }
}

fn time(ms: Option<i64>) -> Option<Timestamp> {
    ms.and_then(|m| Timestamp::from_millisecond(m).ok())
}

fn when(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".into(), |t| format!("{t:.0}"))
}

/// Every site Central has heard of (only `only`, when given).
pub async fn sites(db: &Client, only: Option<&str>) -> Result<Vec<SiteLine>, DbError> {
    lines_of(db, only.map(|site| vec![site.to_owned()]).as_deref()).await
}

/// The lines of every site Central has heard of, or of those of `only` that it has heard
/// of: one statement however many.
pub async fn lines_of(db: &Client, only: Option<&[String]>) -> Result<Vec<SiteLine>, DbError> {
    let rows = db
        .query(
            "SELECT s.site, g.online, (extract(epoch FROM greatest(g.last_seen, r.last_record)) * 1000)::bigint AS seen, g.state,
                    g.names::text AS names, coalesce(r.through, 0) AS through,
                    (SELECT count(*) FROM alarms a WHERE a.site = s.site AND a.cleared_at IS NULL) AS alarms
             FROM (SELECT site FROM gateways UNION SELECT site FROM sites) s
             LEFT JOIN gateways g ON g.site = s.site LEFT JOIN current_chains r ON r.site = s.site
             WHERE $1::text[] IS NULL OR s.site = ANY($1)
             ORDER BY s.site",
            &[&only],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| SiteLine {
            site: r.get("site"),
            online: r.get("online"),
            last_seen: time(r.get("seen")),
            state: r.get::<_, Option<String>>("state").and_then(|t| serde_json::from_str(&t).ok()),
            through: r.get("through"),
            alarms: r.get("alarms"),
            names: r.get::<_, Option<String>>("names").and_then(|t| serde_json::from_str(&t).ok()).unwrap_or_default(),
        })
        .collect())
}

fn devices(state: Option<&Value>) -> (usize, usize) {
    let mut up = 0;
    let mut all = 0;
    for bus in state.and_then(|s| s.get("buses")).and_then(Value::as_array).into_iter().flatten() {
        for dev in bus.get("devices").and_then(Value::as_object).into_iter().flatten().map(|(_, d)| d) {
            all += 1;
            if dev.get("online").and_then(Value::as_bool) == Some(true) {
                up += 1;
            }
        }
    }
    (up, all)
}

fn bundles(state: Option<&Value>) -> String {
    let list: Vec<String> = state
        .and_then(|s| s.get("bundles"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|b| {
            let s = |k: &str| b.get(k).map(ToString::to_string).unwrap_or_default();
            let mark = if b.get("expired").and_then(Value::as_bool) == Some(true) {
                " EXPIRED"
            } else if b.get("expiring").and_then(Value::as_bool) == Some(true) {
                " expiring"
            } else {
                ""
            };
            format!(
                "{} v{} ({} d, {} h left{mark})",
                b.get("authority").and_then(Value::as_str).unwrap_or("?"),
                s("version"),
                s("age_days"),
                s("expires_in_hours")
            )
        })
        .collect();
    if list.is_empty() { "none".into() } else { list.join("; ") }
}

/// The fleet as a table.
pub fn table(lines: &[SiteLine]) -> String {
    let mut out = format!(
        "{:<20} {:<8} {:<20} {:<10} {:>6} {:>7} {:<8} {:>6}  bundles\n",
        "site", "online", "last heard", "clock", "outbox", "stored", "devices", "alarms"
    );
    for l in lines {
        let st = l.state.as_ref();
        let clock = st.and_then(|s| s.pointer("/clock/trust")).and_then(Value::as_str).unwrap_or("-");
        let outbox = st.and_then(|s| s.get("outbox_depth")).map_or_else(|| "-".into(), ToString::to_string);
        let (up, all) = devices(st);
        let online = match l.online {
            Some(true) => "yes",
            Some(false) => "OFFLINE",
            None => "-",
        };
        let _ = writeln!(
            out,
            "{:<20} {online:<8} {:<20} {clock:<10} {outbox:>6} {:>7} {:<8} {:>6}  {}",
            l.site,
            when(l.last_seen),
            l.through,
            format!("{up}/{all}"),
            l.alarms,
            bundles(st)
        );
    }
    let _ =
        writeln!(out, "{} site(s), {} with open alarms", lines.len(), lines.iter().filter(|l| l.alarms > 0).count());
    out
}

/// The fleet as JSON lines.
pub fn json_lines(lines: &[SiteLine]) -> String {
    let mut out = String::new();
    for l in lines {
        let v = json!({"site": l.site, "online": l.online, "last_seen": l.last_seen.map(|t| t.to_string()),
            "through": l.through, "alarms": l.alarms, "state": l.state});
        let _ = writeln!(out, "{v}");
    }
    out
}

/// One alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlarmLine {
    /// The site.
    pub site: String,
    /// Its kind.
    pub kind: String,
    /// What within the site.
    pub subject: String,
    /// In words.
    pub detail: String,
    /// Raised.
    pub raised_at: Option<Timestamp>,
    /// Cleared (`None`: open).
    pub cleared_at: Option<Timestamp>,
}

/// Open alarms, or (with `since`) every alarm raised since then; of one site or all.
pub async fn alarms(db: &Client, site: Option<&str>, since: Option<Timestamp>) -> Result<Vec<AlarmLine>, DbError> {
    let since_ms = since.map(Timestamp::as_millisecond);
    let rows = db
        .query(
            "SELECT site, kind, subject, detail, (extract(epoch FROM raised_at) * 1000)::bigint AS raised,
                    (extract(epoch FROM cleared_at) * 1000)::bigint AS cleared
             FROM alarms
             WHERE ($1::text IS NULL OR site = $1)
               AND (CASE WHEN $2::bigint IS NULL THEN cleared_at IS NULL
                         ELSE raised_at >= TIMESTAMPTZ 'epoch' + $2::bigint * INTERVAL '1 millisecond' END)
             ORDER BY raised_at DESC, id DESC",
            &[&site, &since_ms],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AlarmLine {
            site: r.get("site"),
            kind: r.get("kind"),
            subject: r.get("subject"),
            detail: r.get("detail"),
            raised_at: time(r.get("raised")),
            cleared_at: time(r.get("cleared")),
        })
        .collect())
}

/// Alarms as a table, what each found put in words by `words` (its detail, cleared).
pub fn alarm_table(list: &[AlarmLine], words: &dyn Fn(&str, bool) -> String) -> String {
    let mut out =
        format!("{:<20} {:<20} {:<20} {:<18} {:<16} detail\n", "raised", "cleared", "site", "kind", "subject");
    for a in list {
        let cleared = a.cleared_at.map_or_else(|| "OPEN".into(), |t| format!("{t:.0}"));
        let _ = writeln!(
            out,
            "{:<20} {cleared:<20} {:<20} {:<18} {:<16} {}",
            when(a.raised_at),
            a.site,
            a.kind,
            a.subject,
            words(&a.detail, a.cleared_at.is_some())
        );
    }
    let _ = writeln!(out, "{} alarm(s), {} open", list.len(), list.iter().filter(|a| a.cleared_at.is_none()).count());
    out
}

/// Alarms as JSON lines: `detail` in words (`words`), and what it found as facts
/// (`found`, the stored object; `null` for an alarm from before facts were kept).
pub fn alarm_json(list: &[AlarmLine], words: &dyn Fn(&str, bool) -> String) -> String {
    let mut out = String::new();
    for a in list {
        let found = serde_json::from_str::<Value>(&a.detail).ok().filter(Value::is_object);
        let v = json!({"site": a.site, "kind": a.kind, "subject": a.subject,
            "detail": words(&a.detail, a.cleared_at.is_some()), "found": found,
            "raised_at": a.raised_at.map(|t| t.to_string()), "cleared_at": a.cleared_at.map(|t| t.to_string())});
        let _ = writeln!(out, "{v}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_site_line_shows_its_health_at_a_glance() {
        let l = SiteLine {
            site: "storgatan-12".into(),
            online: Some(false),
            last_seen: Some("2026-12-03T12:00:00Z".parse().unwrap()),
            state: Some(json!({"clock":{"trust":"untrusted"},"outbox_depth":12,
                "buses":[{"name":"rs485","devices":{"1":{"online":true},"2":{"online":false}}}],
                "bundles":[{"authority":"owner","version":7,"age_days":3,"expires_in_hours":600,"expiring":false,"expired":false}]})),
            through: 41,
            alarms: 2,
            names: crate::names::SiteNames::default(),
        };
        let t = table(&[l]);
        let line = t.lines().nth(1).unwrap();
        for part in [
            "storgatan-12",
            "OFFLINE",
            "2026-12-03T12:00:00Z",
            "untrusted",
            "12",
            "41",
            "1/2",
            "owner v7 (3 d, 600 h left)",
        ] {
            assert!(line.contains(part), "{part:?} missing in {line}");
        }
        assert!(t.ends_with("1 site(s), 1 with open alarms\n"), "{t}");
    }
}
