//! Bookings from an iCalendar file (RFC 5545), the common export of booking systems:
//! each `VEVENT` with its `UID`, `SUMMARY`, `DTSTART` and `DTEND` (or `DURATION`), times
//! in UTC (`…Z`), in a `TZID`, or floating (read in the workspace's zone). Folded lines
//! are unfolded and text escapes undone. All-day and recurring events are not slots and
//! are reported; cancelled ones are returned as such, so an import drops them. Pure.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

/// One event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its `UID`.
    pub uid: String,
    /// Its `SUMMARY` (who booked, in a booking system's export).
    pub summary: String,
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// `STATUS:CANCELLED`.
    pub cancelled: bool,
    /// The line its `BEGIN:VEVENT` is on.
    pub line: usize,
}

/// Unfolds content lines: a line starting with a space or tab continues the previous one.
fn unfold(text: &str) -> Vec<(usize, String)> {
    let mut out: Vec<(usize, String)> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        match (raw.strip_prefix([' ', '\t']), out.last_mut()) {
            (Some(rest), Some(last)) => last.1.push_str(rest),
            _ => out.push((i + 1, raw.to_owned())),
        }
    }
    out
}

fn unescape(v: &str) -> String {
    let mut out = String::new();
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some('n' | 'N') => out.push('\n'),
                Some(o) => out.push(o),
                None => {}
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parameters of a property: `TZID=Europe/Stockholm` as (`TZID`, `Europe/Stockholm`).
type Params = Vec<(String, String)>;

/// One content line of an event.
struct Prop {
    line: usize,
    name: String,
    params: Params,
    value: String,
}

/// `NAME;P1=a;P2=b:value` as a property.
fn split(line: usize, content: &str) -> Option<Prop> {
    let colon = content.find(':')?;
    let (head, value) = (&content[..colon], &content[colon + 1..]);
    let mut parts = head.split(';');
    let name = parts.next()?.to_ascii_uppercase();
    let params = parts
        .filter_map(|p| p.split_once('=').map(|(k, v)| (k.to_ascii_uppercase(), v.trim_matches('"').to_owned())))
        .collect();
    Some(Prop { line, name, params, value: value.to_owned() })
}

fn time(params: &Params, value: &str, tz: &TimeZone) -> Result<Timestamp, String> {
    if params.iter().any(|(k, v)| k == "VALUE" && v.eq_ignore_ascii_case("DATE")) || !value.contains('T') {
        return Err(format!("\"{value}\" is a whole day, not a slot"));
    }
    let (text, utc) = match value.strip_suffix('Z') {
        Some(t) => (t, true),
        None => (value, false),
    };
    let dt = DateTime::strptime("%Y%m%dT%H%M%S", text).map_err(|_| format!("\"{value}\" is not a date-time"))?;
    let zone = if utc {
        TimeZone::UTC
    } else if let Some((_, name)) = params.iter().find(|(k, _)| k == "TZID") {
        TimeZone::get(name).map_err(|_| format!("TZID \"{name}\" is not an IANA zone"))?
    } else {
        tz.clone()
    };
    zone.to_ambiguous_zoned(dt).compatible().map(|z| z.timestamp()).map_err(|e| e.to_string())
}

/// `PT3H`, `PT1H30M`, `P1D`.
fn duration(v: &str) -> Option<SignedDuration> {
    let rest = v.strip_prefix('P')?;
    let (days, time) = rest.split_once('T').unwrap_or((rest, ""));
    let mut secs: i64 = 0;
    if !days.is_empty() {
        secs += days.strip_suffix('D')?.parse::<i64>().ok()? * 86_400;
    }
    let mut num = String::new();
    for c in time.chars() {
        match c {
            '0'..='9' => num.push(c),
            'H' | 'M' | 'S' => {
                let n: i64 = num.parse().ok()?;
                secs += n * match c {
                    'H' => 3600,
                    'M' => 60,
                    _ => 1,
                };
                num.clear();
            }
            _ => return None,
        }
    }
    Some(SignedDuration::from_secs(secs))
}

/// Every event, or every problem (`line N: …`).
pub fn events(text: &str, tz: &TimeZone) -> Result<Vec<Event>, Vec<String>> {
    let mut out = Vec::new();
    let mut problems = Vec::new();
    let mut current: Option<(usize, Vec<Prop>)> = None;
    for (line, content) in unfold(text) {
        if content.trim().is_empty() {
            continue;
        }
        let Some(prop) = split(line, &content) else {
            problems.push(format!("line {line}: not a content line (NAME:value)"));
            continue;
        };
        match (prop.name.as_str(), prop.value.to_ascii_uppercase().as_str(), current.as_mut()) {
            ("BEGIN", "VEVENT", _) => current = Some((line, Vec::new())),
            ("END", "VEVENT", Some(_)) => {
                if let Some((begin, props)) = current.take() {
                    match event(begin, &props, tz) {
                        Ok(e) => out.push(e),
                        Err(e) => problems.push(e),
                    }
                }
            }
            (_, _, Some((_, props))) => props.push(prop),
            _ => {}
        }
    }
    if current.is_some() {
        problems.push("the file ends inside a VEVENT (no END:VEVENT)".into());
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

fn event(begin: usize, props: &[Prop], tz: &TimeZone) -> Result<Event, String> {
    let get = |n: &str| props.iter().find(|p| p.name == n);
    let at = |p: &Prop| time(&p.params, p.value.trim(), tz).map_err(|e| format!("line {}: {}: {e}", p.line, p.name));
    if let Some(p) = get("RRULE") {
        return Err(format!("line {}: a recurring event (RRULE) is not a booking; export single bookings", p.line));
    }
    let uid =
        get("UID").map(|p| unescape(p.value.trim())).ok_or_else(|| format!("line {begin}: the event has no UID"))?;
    let start = at(get("DTSTART").ok_or_else(|| format!("line {begin}: event {uid} has no DTSTART"))?)?;
    let end = match (get("DTEND"), get("DURATION")) {
        (Some(p), _) => at(p)?,
        (None, Some(p)) => {
            start
                + duration(p.value.trim())
                    .ok_or_else(|| format!("line {}: DURATION \"{}\" is not read", p.line, p.value))?
        }
        (None, None) => return Err(format!("line {begin}: event {uid} has neither DTEND nor DURATION")),
    };
    if end <= start {
        return Err(format!("line {begin}: event {uid} ends before it starts"));
    }
    Ok(Event {
        summary: get("SUMMARY").map(|p| unescape(&p.value)).unwrap_or_default(),
        cancelled: get("STATUS").is_some_and(|p| p.value.trim().eq_ignore_ascii_case("CANCELLED")),
        uid,
        start,
        end,
        line: begin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> TimeZone {
        TimeZone::get("Europe/Stockholm").unwrap()
    }

    #[test]
    fn events_in_utc_in_a_zone_floating_and_by_duration_are_read() {
        let text = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\n\
            BEGIN:VEVENT\r\nUID:a@tvatt\r\nSUMMARY:Tvättstuga lgh-1101\r\nDTSTART:20261210T060000Z\r\nDTEND:20261210T090000Z\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:b@tvatt\r\nSUMMARY:lgh-1203\r\nDTSTART;TZID=Europe/Stockholm:20261210T100000\r\nDURATION:PT3H\r\nEND:VEVENT\r\n\
            BEGIN:VEVENT\r\nUID:c@tv\r\n att\r\nSUMMARY:x\\, y\r\nDTSTART:20261211T070000\r\nDTEND:20261211T100000\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n\
            END:VCALENDAR\r\n";
        let e = events(text, &tz()).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].start.to_string(), "2026-12-10T06:00:00Z");
        assert_eq!(e[1].start.to_string(), "2026-12-10T09:00:00Z");
        assert_eq!(e[1].end.to_string(), "2026-12-10T12:00:00Z");
        assert_eq!(e[2].uid, "c@tvatt", "a folded line is unfolded");
        assert_eq!(e[2].summary, "x, y");
        assert_eq!(e[2].start.to_string(), "2026-12-11T06:00:00Z", "floating time read in the workspace's zone");
        assert!(e[2].cancelled);
    }

    #[test]
    fn whole_days_recurring_events_and_missing_ends_are_each_reported_with_their_line() {
        let text = "BEGIN:VEVENT\nUID:a\nDTSTART;VALUE=DATE:20261210\nDTEND;VALUE=DATE:20261211\nEND:VEVENT\n\
                    BEGIN:VEVENT\nUID:b\nDTSTART:20261210T070000\nRRULE:FREQ=WEEKLY\nDTEND:20261210T100000\nEND:VEVENT\n\
                    BEGIN:VEVENT\nUID:c\nDTSTART:20261210T070000\nEND:VEVENT\n";
        let p = events(text, &tz()).unwrap_err();
        assert_eq!(p.len(), 3, "{p:#?}");
        assert!(p[0].starts_with("line 3: DTSTART: \"20261210\" is a whole day"), "{p:#?}");
        assert!(p[1].starts_with("line 9: a recurring event"), "{p:#?}");
        assert!(p[2].contains("neither DTEND nor DURATION"), "{p:#?}");
    }
}
