//! The owner's site policy inside a bundle (schedules, door-code hours, free passage), in
//! the wire layout. Decoding checks every value (day masks, times of day, real dates,
//! valid names), so a bundle that passes carries a policy the core can apply.

use std::collections::BTreeMap;

use jiff::civil::Date;

use super::wire::{Reader, WireError, Writer};
use crate::core::owner_policy::OwnerPolicy;
use crate::core::schedule::{DAY_SECONDS, DateRange, Exception, HolidayRule, Schedule, Span, WeekWindow, WeekdaySet};

fn write_date(w: &mut Writer, d: Date) {
    w.u16(u16::try_from(d.year()).unwrap_or(0));
    w.u8(u8::try_from(d.month()).unwrap_or(0));
    w.u8(u8::try_from(d.day()).unwrap_or(0));
}

fn read_date(r: &mut Reader<'_>, what: &str) -> Result<Date, WireError> {
    let (y, m, d) = (r.u16(what)?, r.u8(what)?, r.u8(what)?);
    let bad = || r.error(format!("{what}: {y:04}-{m:02}-{d:02} is not a date"));
    let y = i16::try_from(y).map_err(|_| bad())?;
    Date::new(y, i8::try_from(m).map_err(|_| bad())?, i8::try_from(d).map_err(|_| bad())?).map_err(|_| bad())
}

fn write_span(w: &mut Writer, s: Span) {
    w.u32(s.start);
    w.u32(s.end);
}

fn read_span(r: &mut Reader<'_>) -> Result<Span, WireError> {
    let (start, end) = (r.u32("window start")?, r.u32("window end")?);
    if start >= DAY_SECONDS || end == 0 || end > DAY_SECONDS || start == end {
        return Err(r.error(format!("window {start}..{end} s is not a span of a day")));
    }
    Ok(Span { start, end })
}

fn count_u16(r: &mut Reader<'_>, what: &str) -> Result<u16, WireError> {
    r.u16(what)
}

fn len16<T>(v: &[T]) -> u16 {
    u16::try_from(v.len()).unwrap_or(u16::MAX)
}

/// Writes a policy.
pub fn encode(w: &mut Writer, p: &OwnerPolicy) {
    w.u16(len16(&p.schedules));
    for s in &p.schedules {
        w.str(s.id.as_str());
        w.u8(match s.on_holiday {
            HolidayRule::Normal => 0,
            HolidayRule::AsSunday => 1,
            HolidayRule::Closed => 2,
        });
        w.u16(len16(&s.windows));
        for win in &s.windows {
            w.u8(win.days.mask());
            write_span(w, win.span);
        }
        w.u16(len16(&s.active));
        for r in &s.active {
            write_date(w, r.from);
            write_date(w, r.to);
        }
        w.u16(u16::try_from(s.exceptions.len()).unwrap_or(u16::MAX));
        for (date, ex) in &s.exceptions {
            write_date(w, *date);
            match ex {
                Exception::Closed => {
                    w.u8(1);
                    w.u16(0);
                }
                Exception::Open(spans) => {
                    w.u8(0);
                    w.u16(len16(spans));
                    for sp in spans {
                        write_span(w, *sp);
                    }
                }
            }
        }
    }
    w.opt_str(p.door_code_schedule.as_ref().map(crate::core::ids::ScheduleId::as_str));
    w.u8(u8::try_from(p.free_passage.len()).unwrap_or(u8::MAX));
    for (door, schedule) in p.free_passage.iter().take(usize::from(u8::MAX)) {
        w.str(door.as_str());
        w.opt_str(schedule.as_ref().map(crate::core::ids::ScheduleId::as_str));
    }
}

fn id<T: std::str::FromStr>(r: &Reader<'_>, s: &str, what: &str) -> Result<T, WireError> {
    s.parse().map_err(|_| r.error(format!("{what}: \"{s}\" is not a valid id")))
}

/// Reads a policy, checking every value.
pub fn decode(r: &mut Reader<'_>) -> Result<OwnerPolicy, WireError> {
    let n = count_u16(r, "schedule count")?;
    let mut schedules = Vec::new();
    for _ in 0..n {
        let name = r.str("schedule name")?;
        let id = id(r, &name, "schedule name")?;
        let on_holiday = match r.u8("holiday rule")? {
            0 => HolidayRule::Normal,
            1 => HolidayRule::AsSunday,
            2 => HolidayRule::Closed,
            other => return Err(r.error(format!("holiday rule {other}; expected 0, 1 or 2"))),
        };
        let mut windows = Vec::new();
        for _ in 0..count_u16(r, "window count")? {
            let mask = r.u8("days")?;
            let days = WeekdaySet::from_mask(mask).filter(|d| !d.is_empty());
            let days = days.ok_or_else(|| r.error(format!("days mask {mask:#04x} names no week day or too many")))?;
            windows.push(WeekWindow { days, span: read_span(r)? });
        }
        let mut active = Vec::new();
        for _ in 0..count_u16(r, "date range count")? {
            let (from, to) = (read_date(r, "range start")?, read_date(r, "range end")?);
            if to < from {
                return Err(r.error(format!("date range {from}..{to} ends before it starts")));
            }
            active.push(DateRange { from, to });
        }
        let mut exceptions = BTreeMap::new();
        for _ in 0..count_u16(r, "exception count")? {
            let date = read_date(r, "exception date")?;
            let closed = r.u8("exception kind")?;
            let spans = (0..count_u16(r, "span count")?).map(|_| read_span(r)).collect::<Result<Vec<_>, _>>()?;
            let ex = match (closed, spans.is_empty()) {
                (1, true) => Exception::Closed,
                (0, false) => Exception::Open(spans),
                _ => return Err(r.error("an exception is either closed, or open with spans")),
            };
            if exceptions.insert(date, ex).is_some() {
                return Err(r.error(format!("exception date {date} twice")));
            }
        }
        schedules.push(Schedule { id, windows, active, exceptions, on_holiday });
    }
    let door_code_schedule = match r.opt_str("door code schedule")? {
        Some(s) => Some(id(r, &s, "door code schedule")?),
        None => None,
    };
    let mut free_passage = Vec::new();
    for _ in 0..r.u8("free passage count")? {
        let door = r.str("free passage door")?;
        let door = id(r, &door, "free passage door")?;
        let schedule = match r.opt_str("free passage schedule")? {
            Some(s) => Some(id(r, &s, "free passage schedule")?),
            None => None,
        };
        free_passage.push((door, schedule));
    }
    Ok(OwnerPolicy { schedules, door_code_schedule, free_passage })
}
