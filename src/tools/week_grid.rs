//! `portvakt schedule`: a week grid in the terminal showing, per door and per role (and
//! for the door code and free passage), in which hours access is open, with holidays
//! marked. It evaluates the same schedules the decision uses, on local civil time.

use std::fmt::Write as _;

use jiff::civil::{Date, ISOWeekDate, Weekday};

use crate::core::holidays::HolidayCalendar;
use crate::core::model::{Door, DoorIdx, SitePolicy};
use crate::core::schedule::{LocalTime, Schedule};

const OPEN: char = '█';
const PART: char = '▄';
const SHUT: char = '·';

/// The Monday of ISO week `spec` (`2026-W52`).
pub fn parse_week(spec: &str) -> Result<Date, String> {
    let bad = || format!("\"{spec}\" is not an ISO week; write e.g. 2026-W52");
    let (y, w) = spec.split_once("-W").ok_or_else(bad)?;
    let year: i16 = y.parse().map_err(|_| bad())?;
    let week: i8 = w.parse().map_err(|_| bad())?;
    ISOWeekDate::new(year, week, Weekday::Monday).map(ISOWeekDate::date).map_err(|_| bad())
}

/// One hour as a character: open all of it, part of it, or closed (sampled per minute).
fn hour_cell(open: impl Fn(LocalTime) -> bool, date: Date, hour: u32) -> char {
    let n = (0..60).filter(|m| open(LocalTime { date, second: hour * 3600 + m * 60 })).count();
    match n {
        0 => SHUT,
        60 => OPEN,
        _ => PART,
    }
}

fn day_row(out: &mut String, cal: &HolidayCalendar, date: Date, open: &dyn Fn(LocalTime) -> bool) {
    let mut row = String::new();
    for h in 0..24 {
        if h % 6 == 0 && h > 0 {
            row.push(' ');
        }
        row.push(hour_cell(open, date, h));
    }
    let holiday = cal.holiday(date).map_or_else(String::new, |h| format!("  {}", h.name));
    let _ = writeln!(out, "    {} {row}{holiday}", date.strftime("%a %d"));
}

fn block(out: &mut String, title: &str, monday: Date, cal: &HolidayCalendar, open: &dyn Fn(LocalTime) -> bool) {
    let _ = writeln!(out, "  {title}");
    let _ = writeln!(out, "           00     06     12     18");
    let mut d = monday;
    for _ in 0..7 {
        day_row(out, cal, d, open);
        d = d.tomorrow().unwrap_or(d);
    }
}

fn door_blocks(out: &mut String, policy: &SitePolicy, idx: DoorIdx, door: &Door, monday: Date) {
    let cal = &policy.calendar;
    let sched = |i| policy.schedule(i);
    let _ = writeln!(out, "\n{} \"{}\" ({})", door.id, door.name, door.kind.as_str());
    let free: Option<&Schedule> = door.free_passage.and_then(sched);
    if let Some(fp) = free {
        block(out, &format!("free passage for everyone ({})", fp.id), monday, cal, &|t| fp.admits(t, cal));
    }
    if let Some(code) = policy.door_code.as_ref().filter(|c| c.doors.contains(idx))
        && let Some(s) = sched(code.schedule)
    {
        block(out, &format!("door code ({})", s.id), monday, cal, &|t| s.admits(t, cal));
    }
    for rule in &door.rules {
        let Some(role) = policy.role(rule.role) else {
            continue;
        };
        let rs = rule.schedule.and_then(sched);
        let when = rs.map_or_else(|| "at all times".to_owned(), |s| format!("{}", s.id));
        let booking = if rule.booking_required { ", with a booking" } else { "" };
        let title = format!("{} ({when}{booking})", role.id);
        block(out, &title, monday, cal, &|t| rs.is_none_or(|s| s.admits(t, cal)));
    }
}

/// Renders the week starting `monday` for every door, or one.
pub fn render(policy: &SitePolicy, monday: Date, only: Option<DoorIdx>) -> String {
    let sunday = monday.checked_add(jiff::Span::new().days(6)).unwrap_or(monday);
    let week = monday.iso_week_date();
    let mut out = format!(
        "Week {}-W{:02} ({monday} – {sunday}), local time {}\n{OPEN} open the whole hour   {PART} open part of the hour   {SHUT} closed\n",
        week.year(),
        week.week(),
        policy.tz.iana_name().unwrap_or("(zone)"),
    );
    for (i, door) in policy.doors.iter().enumerate() {
        let idx = DoorIdx(u8::try_from(i).unwrap_or(u8::MAX));
        if only.is_none_or(|o| o == idx) {
            door_blocks(&mut out, policy, idx, door, monday);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_iso_weeks() {
        assert_eq!(parse_week("2026-W52"), Ok(jiff::civil::date(2026, 12, 21)));
        assert_eq!(parse_week("2027-W01"), Ok(jiff::civil::date(2027, 1, 4)));
        assert!(parse_week("2026-W54").is_err());
        assert!(parse_week("2026-52").is_err());
    }
}
