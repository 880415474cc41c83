//! Bringing lists in: bookings from an iCalendar export of a booking system (holders and
//! credentials from CSV are in `import_csv`). Every event is checked first; nothing is
//! changed unless all of them can be taken.

use super::Workspace;
use super::bookings::describe_booking;
use super::edit::EditError;
use super::files::BookingSpec;

pub(super) fn problems(what: &str, list: &[String]) -> EditError {
    EditError::Invalid {
        what: what.into(),
        message: format!("{} problem(s), nothing changed:\n  {}", list.len(), list.join("\n  ")),
    }
}

impl Workspace {
    /// Takes the bookings of an iCalendar export for `door` at `site`. Each event's
    /// `SUMMARY` names the holder or the group (apartment) that booked, as a word of it;
    /// an event imported before (same `UID`) is replaced, a cancelled one dropped; with
    /// `replace`, earlier imported bookings still to come that the file no longer has are
    /// dropped too.
    pub fn import_ics(
        &mut self,
        text: &str,
        site: &str,
        door: &str,
        replace: bool,
        now: jiff::Timestamp,
    ) -> Result<String, EditError> {
        let tz = self.timezone();
        let events = super::ical::events(text, &tz).map_err(|p| problems("--ics", &p))?;
        let mut next = self.clone();
        let mut bad = Vec::new();
        let (mut taken, mut cancelled, mut over) = (0, 0, 0);
        for e in &events {
            next.bookings.bookings.retain(|b| b.uid.as_deref() != Some(e.uid.as_str()));
            if e.cancelled {
                cancelled += 1;
                continue;
            }
            if e.end <= now {
                over += 1;
                continue;
            }
            let words: Vec<String> = e
                .summary
                .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
                .map(str::to_lowercase)
                .collect();
            let holder = words.iter().find(|w| next.holders.holders.contains_key(*w)).cloned();
            let group = words.iter().find(|w| next.groups.groups.contains_key(*w)).cloned();
            if holder.is_none() && group.is_none() {
                bad.push(format!(
                    "line {}: event {}: its SUMMARY \"{}\" names no holder or group of the workspace",
                    e.line, e.uid, e.summary
                ));
                continue;
            }
            let spec = BookingSpec {
                start: local_minutes(e.start, &tz),
                end: local_minutes(e.end, &tz),
                site: site.into(),
                door: door.into(),
                group: if holder.is_none() { group } else { None },
                holder,
                uid: Some(e.uid.clone()),
            };
            match next.booking_add(spec.clone()) {
                Ok(_) => taken += 1,
                Err(err) => bad.push(format!("line {}: {}: {err}", e.line, describe_booking(&spec))),
            }
        }
        let mut dropped = 0;
        if replace {
            let uids: Vec<&str> = events.iter().map(|e| e.uid.as_str()).collect();
            let before = next.bookings.bookings.len();
            next.bookings.bookings.retain(|b| {
                let future = crate::tools::time_input::parse_time(&b.end, &tz).is_ok_and(|t| t > now);
                !(b.site == site && b.door == door && future && b.uid.as_deref().is_some_and(|u| !uids.contains(&u)))
            });
            dropped = before - next.bookings.bookings.len();
        }
        if !bad.is_empty() {
            return Err(problems("--ics", &bad));
        }
        *self = next;
        Ok(format!(
            "{taken} booking(s) at {door} of {site} taken, {cancelled} cancelled, {over} already over not taken, {dropped} no longer in the file dropped"
        ))
    }
}

/// `2026-12-10T07:00` in the zone (seconds only when there are any).
fn local_minutes(t: jiff::Timestamp, tz: &jiff::tz::TimeZone) -> String {
    let z = t.to_zoned(tz.clone());
    if z.second() == 0 { z.strftime("%Y-%m-%dT%H:%M").to_string() } else { z.strftime("%Y-%m-%dT%H:%M:%S").to_string() }
}
