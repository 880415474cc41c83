//! `[schedules.<id>]`: week windows, date ranges, exceptions and the holiday rule.

use std::collections::BTreeMap;

use super::fields::{date, id};
use super::problems::Problems;
use super::raw::RawSchedule;
use crate::core::ids::ScheduleId;
use crate::core::schedule::{
    DAY_SECONDS, DateRange, Exception, HolidayRule, Schedule, Span, WeekWindow, WeekdaySet, parse_time_of_day,
};

pub(super) fn span(from: &str, to: &str, path: &str, p: &mut Problems) -> Option<Span> {
    let start = parse_time_of_day(from).map_err(|e| p.push(format!("{path}.from"), e)).ok();
    let end = parse_time_of_day(to).map_err(|e| p.push(format!("{path}.to"), e)).ok();
    let (start, end) = (start?, end?);
    if start == DAY_SECONDS {
        p.push(format!("{path}.from"), "a window cannot start at 24:00; use 00:00");
        return None;
    }
    if start == end || (start == 0 && end == 0) {
        p.push(path, format!("from and to are both {from}; write 00:00 to 24:00 for a whole day"));
        return None;
    }
    Some(Span { start, end: if end == 0 { DAY_SECONDS } else { end } })
}

pub(super) fn schedule(name: &str, raw: &RawSchedule, p: &mut Problems) -> Option<Schedule> {
    let path = format!("schedules.{name}");
    let sid = id::<ScheduleId>(name, &path, p);
    let mut windows = Vec::new();
    for (i, w) in raw.windows.iter().enumerate() {
        let wp = format!("{path}.windows[{i}]");
        let days = WeekdaySet::parse(&w.days).map_err(|e| p.push(format!("{wp}.days"), e)).ok();
        if let (Some(days), Some(span)) = (days, span(&w.from, &w.to, &wp, p)) {
            windows.push(WeekWindow { days, span });
        }
    }
    let mut active = Vec::new();
    for (i, r) in raw.active.iter().enumerate() {
        let rp = format!("{path}.active[{i}]");
        if let (Some(from), Some(to)) = (date(&r.from, &format!("{rp}.from"), p), date(&r.to, &format!("{rp}.to"), p)) {
            if to < from {
                p.push(rp, format!("ends ({to}) before it starts ({from})"));
            } else {
                active.push(DateRange { from, to });
            }
        }
    }
    let mut exceptions = BTreeMap::new();
    for (i, e) in raw.exceptions.iter().enumerate() {
        let ep = format!("{path}.exceptions[{i}]");
        let Some(d) = date(&e.date, &format!("{ep}.date"), p) else {
            continue;
        };
        let rule = match (e.closed, e.open.is_empty()) {
            (true, true) => Exception::Closed,
            (false, false) => Exception::Open(
                e.open
                    .iter()
                    .enumerate()
                    .filter_map(|(j, s)| span(&s.from, &s.to, &format!("{ep}.open[{j}]"), p))
                    .collect(),
            ),
            (true, false) => {
                p.push(ep, "says both closed = true and open hours; choose one");
                continue;
            }
            (false, true) => {
                p.push(ep, "needs closed = true or open = [{ from = \"HH:MM\", to = \"HH:MM\" }]");
                continue;
            }
        };
        if exceptions.insert(d, rule).is_some() {
            p.push(format!("{ep}.date"), format!("{d} is listed twice"));
        }
    }
    let on_holiday = match raw.on_holiday.as_str() {
        "normal" => HolidayRule::Normal,
        "as_sunday" => HolidayRule::AsSunday,
        "closed" => HolidayRule::Closed,
        other => {
            p.push(
                format!("{path}.on_holiday"),
                format!("\"{other}\" is not a rule; use \"normal\", \"as_sunday\" or \"closed\""),
            );
            HolidayRule::Normal
        }
    };
    if raw.windows.is_empty() && raw.exceptions.is_empty() {
        p.push(format!("{path}.windows"), "the schedule has no windows, so it is never open");
    }
    Some(Schedule { id: sid?, windows, active, exceptions, on_holiday })
}
