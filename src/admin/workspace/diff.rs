//! What a new bundle changes against the last one issued to the site: holders,
//! credentials (added, removed, doors or token changed), bookings, and the owner's hours;
//! and whether the change is empty or looks like a mistake (every resident gone, every
//! booking dropped, the hours put back to the config's), which `publish` refuses unless
//! told otherwise. Pure.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::policy_file::PolicyFile;
use crate::credentials::bundle::{BookingEntry, Bundle, Entry};
use crate::tools::time_input::local;

/// The changes, one line each, and what makes them suspicious.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Diff {
    /// `+ …`, `- …`, `~ …` lines.
    pub lines: Vec<String>,
    /// Why publishing it would probably be a mistake (empty: it looks fine).
    pub suspicious: Vec<String>,
}

impl Diff {
    /// Nothing changes.
    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// The lines, indented, or `no changes`.
    pub fn render(&self) -> String {
        if self.lines.is_empty() {
            return "  no changes\n".into();
        }
        let mut out = String::new();
        for l in &self.lines {
            let _ = writeln!(out, "  {l}");
        }
        out
    }
}

fn kind(e: &Entry) -> &'static str {
    crate::credentials::bundle::token_kind(&e.token)
}

fn booking_line(b: &BookingEntry, tz: &TimeZone) -> String {
    format!("booking {} {} .. {} for {}", b.door, local(b.start, tz), local(b.end, tz), b.holder)
}

/// Compares `new` (with its `policy`) with `old` (what was issued, with its policy).
pub fn diff(old: Option<(&Bundle, &PolicyFile)>, new: (&Bundle, &PolicyFile), now: Timestamp, tz: &TimeZone) -> Diff {
    let empty_bundle = Bundle { entries: Vec::new(), bookings: Vec::new(), policy: None, ..new.0.clone() };
    let empty_policy = PolicyFile::default();
    let (old_b, old_p) = old.unwrap_or((&empty_bundle, &empty_policy));
    let (new_b, new_p) = new;
    let mut d = Diff::default();

    let holders =
        |b: &Bundle| b.entries.iter().map(|e| (e.holder.to_string(), e.role.to_string())).collect::<BTreeMap<_, _>>();
    let (old_h, new_h) = (holders(old_b), holders(new_b));
    for (h, role) in &new_h {
        match old_h.get(h) {
            None => d.lines.push(format!("+ holder {h} ({role})")),
            Some(r) if r != role => d.lines.push(format!("~ holder {h}: role {r} -> {role}")),
            Some(_) => {}
        }
    }
    let removed_holders: Vec<&String> = old_h.keys().filter(|h| !new_h.contains_key(*h)).collect();
    for h in &removed_holders {
        d.lines.push(format!("- holder {h}"));
    }

    let by_id = |b: &Bundle| b.entries.iter().map(|e| (e.id.to_string(), e.clone())).collect::<BTreeMap<_, _>>();
    let (old_e, new_e) = (by_id(old_b), by_id(new_b));
    for (id, e) in &new_e {
        match old_e.get(id) {
            None => d.lines.push(format!("+ {} {id} of {}: {}", kind(e), e.holder, e.doors.join(", "))),
            Some(o) => {
                let mut what = Vec::new();
                if o.doors != e.doors {
                    what.push(format!("doors {} -> {}", o.doors.join(", "), e.doors.join(", ")));
                }
                if o.token != e.token {
                    what.push(format!("a new {}", kind(e)));
                }
                if o.holder != e.holder {
                    what.push(format!("holder {} -> {}", o.holder, e.holder));
                }
                if o.schedule != e.schedule || o.valid_from != e.valid_from || o.valid_until != e.valid_until {
                    what.push("validity or schedule changed".into());
                }
                if !what.is_empty() {
                    d.lines.push(format!("~ {} {id} of {}: {}", kind(e), e.holder, what.join("; ")));
                }
            }
        }
    }
    for (id, e) in old_e.iter().filter(|(id, _)| !new_e.contains_key(*id)) {
        d.lines.push(format!("- {} {id} of {}", kind(e), e.holder));
    }

    let set = |b: &Bundle| {
        b.bookings.iter().map(|b| (b.start, b.door.clone(), b.holder.clone(), b.end)).collect::<BTreeSet<_>>()
    };
    let (old_k, new_k) = (set(old_b), set(new_b));
    for (start, door, holder, end) in new_k.difference(&old_k) {
        d.lines.push(format!(
            "+ {}",
            booking_line(&BookingEntry { holder: holder.clone(), door: door.clone(), start: *start, end: *end }, tz)
        ));
    }
    let dropped: Vec<_> = old_k.difference(&new_k).filter(|(_, _, _, end)| *end > now).collect();
    for (start, door, holder, end) in &dropped {
        d.lines.push(format!(
            "- {}",
            booking_line(&BookingEntry { holder: holder.clone(), door: door.clone(), start: *start, end: *end }, tz)
        ));
    }

    hours_lines(old_p, new_p, &mut d.lines);

    if !old_e.is_empty() && new_e.is_empty() {
        d.suspicious.push(format!("every credential is removed ({} in the last bundle)", old_e.len()));
    } else if old_h.len() >= 4 && removed_holders.len() * 2 > old_h.len() {
        d.suspicious.push(format!("{} of {} holders are removed", removed_holders.len(), old_h.len()));
    }
    let still_to_come = old_k.iter().filter(|(_, _, _, end)| *end > now).count();
    if still_to_come >= 2 && dropped.len() == still_to_come {
        d.suspicious.push(format!("every booking still to come is dropped ({still_to_come})"));
    }
    if !old_p.is_empty() && new_p.is_empty() {
        d.suspicious.push("the owner's hours are removed: the site would go back to its config's".into());
    }
    d
}

fn hours_lines(old: &PolicyFile, new: &PolicyFile, lines: &mut Vec<String>) {
    let code = |p: &PolicyFile| {
        p.door_code.as_ref().map_or_else(|| "the config's".to_owned(), |c| format!("schedule {}", c.schedule))
    };
    if old.door_code != new.door_code {
        lines.push(format!("~ door code hours: {} -> {}", code(old), code(new)));
    }
    for (name, s) in &new.schedules {
        match old.schedules.get(name) {
            None => lines.push(format!("+ schedule {name}: {}", s.describe())),
            Some(o) if o != s => lines.push(format!("~ schedule {name}: {} -> {}", o.describe(), s.describe())),
            Some(_) => {}
        }
    }
    for name in old.schedules.keys().filter(|n| !new.schedules.contains_key(*n)) {
        lines.push(format!("- schedule {name} (the config's applies again)"));
    }
    let fp = |s: Option<&String>| match s.map(String::as_str) {
        None => "the config's".to_owned(),
        Some("") => "none".to_owned(),
        Some(x) => format!("schedule {x}"),
    };
    let doors: BTreeSet<&String> = old.free_passage.keys().chain(new.free_passage.keys()).collect();
    for door in doors {
        let (a, b) = (old.free_passage.get(door), new.free_passage.get(door));
        if a != b {
            lines.push(format!("~ free passage at {door}: {} -> {}", fp(a), fp(b)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::credential::{PhoneKey, Token};

    fn entry(id: &str, holder: &str) -> Entry {
        Entry {
            id: id.into(),
            holder: holder.into(),
            role: "resident".into(),
            token: Token::Phone(PhoneKey([1; 32])),
            doors: vec!["entrance".into()],
            schedule: None,
            valid_from: None,
            valid_until: None,
        }
    }

    fn bundle(entries: Vec<Entry>, bookings: Vec<BookingEntry>) -> Bundle {
        Bundle {
            authority: "owner".into(),
            site: "s".into(),
            version: 1,
            issued_at: Timestamp::UNIX_EPOCH,
            not_after: Timestamp::MAX,
            entries,
            bookings,
            policy: None,
        }
    }

    fn booking(h: &str, start_s: i64) -> BookingEntry {
        BookingEntry {
            holder: h.into(),
            door: "laundry".into(),
            start: Timestamp::from_second(start_s).unwrap(),
            end: Timestamp::from_second(start_s + 3600).unwrap(),
        }
    }

    #[test]
    fn the_same_state_twice_is_an_empty_diff() {
        let b = bundle(vec![entry("a", "anna")], vec![booking("anna", 1000)]);
        let p = PolicyFile::default();
        let d = diff(Some((&b, &p)), (&b, &p), Timestamp::UNIX_EPOCH, &TimeZone::UTC);
        assert!(d.is_empty(), "{d:?}");
        assert!(d.suspicious.is_empty());
    }

    #[test]
    fn a_new_tag_and_a_dropped_booking_are_each_one_line() {
        let old = bundle(vec![entry("a", "anna")], vec![booking("anna", 1000), booking("lars", 9000)]);
        let new = bundle(vec![entry("a", "anna"), entry("b", "bo")], vec![booking("lars", 9000)]);
        let p = PolicyFile::default();
        let d = diff(Some((&old, &p)), (&new, &p), Timestamp::UNIX_EPOCH, &TimeZone::UTC);
        assert_eq!(d.lines.len(), 3, "{:#?}", d.lines);
        assert!(d.lines[0].starts_with("+ holder bo"), "{:#?}", d.lines);
        assert!(d.lines[1].starts_with("+ phone b of bo: entrance"), "{:#?}", d.lines);
        assert!(d.lines[2].starts_with("- booking laundry"), "{:#?}", d.lines);
        assert!(d.suspicious.is_empty(), "one booking of two is not suspicious");
    }

    #[test]
    fn removing_most_holders_or_every_booking_or_the_hours_is_suspicious() {
        let many: Vec<Entry> = (0..6).map(|i| entry(&format!("c{i}"), &format!("h{i}"))).collect();
        let old = bundle(many.clone(), vec![booking("h0", 1000), booking("h1", 2000)]);
        let new = bundle(many[..2].to_vec(), Vec::new());
        let mut hours = PolicyFile::default();
        hours.free_passage.insert("entrance".into(), String::new());
        let d = diff(Some((&old, &hours)), (&new, &PolicyFile::default()), Timestamp::UNIX_EPOCH, &TimeZone::UTC);
        assert_eq!(d.suspicious.len(), 3, "{:#?}", d.suspicious);
        assert!(d.suspicious[0].contains("4 of 6 holders"), "{:#?}", d.suspicious);
        let none = bundle(Vec::new(), Vec::new());
        let d = diff(Some((&old, &hours)), (&none, &hours), Timestamp::UNIX_EPOCH, &TimeZone::UTC);
        assert!(d.suspicious[0].starts_with("every credential is removed (6"), "{:#?}", d.suspicious);
    }

    #[test]
    fn a_booking_that_has_ended_is_not_reported_as_dropped() {
        let old = bundle(vec![entry("a", "anna")], vec![booking("anna", 1000)]);
        let new = bundle(vec![entry("a", "anna")], Vec::new());
        let p = PolicyFile::default();
        let d = diff(Some((&old, &p)), (&new, &p), Timestamp::from_second(5000).unwrap(), &TimeZone::UTC);
        assert!(d.is_empty(), "{d:?}");
    }
}
