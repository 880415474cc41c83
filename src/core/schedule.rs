//! Named schedules: week-day windows (a window may cross midnight, e.g. 22:00–06:00),
//! optional date ranges the schedule is active in, exception days, and a rule for
//! holidays. Evaluated on the site's local civil time, so the DST gap in March and the
//! repeated hour in October need no special cases: an instant maps to exactly one local
//! wall-clock time, and windows are wall-clock times.

use std::collections::BTreeMap;

use jiff::Timestamp;
use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;

use super::holidays::{Holiday, HolidayCalendar};
use super::ids::ScheduleId;

/// Seconds in a civil day; the largest window end (`24:00`).
pub const DAY_SECONDS: u32 = 86_400;

/// A set of week days as a bit mask (bit 0 = Monday).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WeekdaySet(u8);

impl WeekdaySet {
    /// Every day of the week.
    pub const ALL: Self = Self(0x7f);

    /// The set with one day.
    pub fn only(day: Weekday) -> Self {
        Self(1 << day.to_monday_zero_offset())
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.to_monday_zero_offset()) != 0
    }

    /// The union of two sets.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The bit mask (bit 0 = Monday).
    pub fn mask(self) -> u8 {
        self.0
    }

    /// The set of a mask; `None` for bits beyond Sunday.
    pub fn from_mask(mask: u8) -> Option<Self> {
        (mask & 0x80 == 0).then_some(Self(mask))
    }

    /// Parses `mon-fri`, `sat,sun`, `mon-sun`, `tue` (English three-letter names).
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut set = Self::default();
        for part in s.split(',').map(str::trim) {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (parse_day(a.trim())?, parse_day(b.trim())?),
                None => {
                    let d = parse_day(part)?;
                    (d, d)
                }
            };
            let mut d = a;
            loop {
                set = set.union(Self::only(d));
                if d == b {
                    break;
                }
                d = d.wrapping_add(1);
            }
        }
        Ok(set)
    }
}

fn parse_day(s: &str) -> Result<Weekday, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "mon" => Weekday::Monday,
        "tue" => Weekday::Tuesday,
        "wed" => Weekday::Wednesday,
        "thu" => Weekday::Thursday,
        "fri" => Weekday::Friday,
        "sat" => Weekday::Saturday,
        "sun" => Weekday::Sunday,
        other => {
            return Err(format!("\"{other}\" is not a day (use mon, tue, wed, thu, fri, sat, sun)"));
        }
    })
}

/// Parses `HH:MM` (00:00 to 24:00) into seconds after midnight.
pub fn parse_time_of_day(s: &str) -> Result<u32, String> {
    let bad = || format!("{s} is not a time of day (use HH:MM, 00:00 to 24:00)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let h: u32 = h.parse().map_err(|_| bad())?;
    let m: u32 = m.parse().map_err(|_| bad())?;
    if m > 59 || h > 24 || (h == 24 && m != 0) {
        return Err(bad());
    }
    Ok(h * 3600 + m * 60)
}

/// Formats seconds after midnight as `HH:MM`.
pub fn format_time_of_day(secs: u32) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

/// A span of wall-clock time within a day. `end <= start` means the span runs past
/// midnight into the next day (`22:00–06:00`); `00:00–24:00` is the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Seconds after midnight, inclusive.
    pub start: u32,
    /// Seconds after midnight, exclusive; at most [`DAY_SECONDS`].
    pub end: u32,
}

impl Span {
    /// Whether the span continues past midnight.
    pub fn crosses_midnight(self) -> bool {
        self.end <= self.start
    }

    /// Whether second `t` of the span's own start day is inside it.
    fn covers_same_day(self, t: u32) -> bool {
        t >= self.start && (self.crosses_midnight() || t < self.end)
    }

    /// Whether second `t` of the following day is inside it.
    fn covers_next_day(self, t: u32) -> bool {
        self.crosses_midnight() && t < self.end
    }
}

/// A span on some week days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeekWindow {
    /// The days the window starts on.
    pub days: WeekdaySet,
    /// The wall-clock span.
    pub span: Span,
}

/// What a holiday does to a schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HolidayRule {
    /// Holidays are ordinary days.
    #[default]
    Normal,
    /// A holiday uses the schedule's Sunday windows.
    AsSunday,
    /// Nothing is open on a holiday.
    Closed,
}

/// What happens on one particular date instead of the week-day windows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Exception {
    /// Closed all day.
    Closed,
    /// Open only in these spans.
    Open(Vec<Span>),
}

/// An inclusive range of dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateRange {
    /// First date.
    pub from: Date,
    /// Last date (inclusive).
    pub to: Date,
}

/// A named schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Its name.
    pub id: ScheduleId,
    /// Week-day windows.
    pub windows: Vec<WeekWindow>,
    /// Dates the schedule is active on; empty means always.
    pub active: Vec<DateRange>,
    /// Per-date replacements of the week-day windows.
    pub exceptions: BTreeMap<Date, Exception>,
    /// How holidays are treated.
    pub on_holiday: HolidayRule,
}

/// A local wall-clock moment: a civil date and the second of that day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalTime {
    /// The civil date in the site's zone.
    pub date: Date,
    /// Seconds after local midnight.
    pub second: u32,
}

impl LocalTime {
    /// The local time of `now` in `tz`.
    pub fn of(now: Timestamp, tz: &TimeZone) -> Self {
        let dt = tz.to_datetime(now);
        let t = dt.time();
        // Components are small non-negative numbers.
        #[allow(clippy::cast_sign_loss)]
        let second = t.hour() as u32 * 3600 + t.minute() as u32 * 60 + t.second() as u32;
        Self { date: dt.date(), second }
    }
}

/// Why a schedule admits or refuses at a moment, for explanations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Whether the moment is inside the schedule.
    pub open: bool,
    /// The holiday of the day, if one applied.
    pub holiday: Option<Holiday>,
    /// The schedule's own exception for the day (an owner's closed or shortened day), if
    /// one replaced its week-day windows.
    pub exception: Option<DayException>,
}

/// What an exception did to a day, in a refusal's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DayException {
    /// Closed all day.
    Closed,
    /// Open only in the exception's spans.
    Shortened,
}

impl Schedule {
    /// A schedule open at all times.
    pub fn always(id: ScheduleId) -> Self {
        Self {
            id,
            windows: vec![WeekWindow { days: WeekdaySet::ALL, span: Span { start: 0, end: DAY_SECONDS } }],
            active: Vec::new(),
            exceptions: BTreeMap::new(),
            on_holiday: HolidayRule::Normal,
        }
    }

    /// Whether the schedule is open at local time `at`.
    pub fn admits(&self, at: LocalTime, calendar: &HolidayCalendar) -> bool {
        self.verdict(at, calendar).open
    }

    /// Whether the schedule is open at `at`, and which holiday (if any) decided it.
    pub fn verdict(&self, at: LocalTime, calendar: &HolidayCalendar) -> Verdict {
        let mut holiday = None;
        let exception = self.exceptions.get(&at.date).map(|e| match e {
            Exception::Closed => DayException::Closed,
            Exception::Open(_) => DayException::Shortened,
        });
        let today = self.spans_starting_on(at.date, calendar, &mut holiday, |s| s.covers_same_day(at.second));
        if today {
            return Verdict { open: true, holiday, exception };
        }
        let yesterday = at.date.yesterday().ok().is_some_and(|y| {
            let mut ignored = None;
            self.spans_starting_on(y, calendar, &mut ignored, |s| s.covers_next_day(at.second))
        });
        Verdict { open: yesterday, holiday, exception }
    }

    /// Calls `hit` for every span that starts on `date`; true when one returns true.
    fn spans_starting_on(
        &self,
        date: Date,
        calendar: &HolidayCalendar,
        holiday_seen: &mut Option<Holiday>,
        hit: impl Fn(Span) -> bool,
    ) -> bool {
        if !self.active.is_empty() && !self.active.iter().any(|r| r.from <= date && date <= r.to) {
            return false;
        }
        if let Some(ex) = self.exceptions.get(&date) {
            return match ex {
                Exception::Closed => false,
                Exception::Open(spans) => spans.iter().any(|s| hit(*s)),
            };
        }
        let mut weekday = date.weekday();
        if self.on_holiday != HolidayRule::Normal
            && let Some(h) = calendar.holiday(date)
        {
            *holiday_seen = Some(h);
            match self.on_holiday {
                HolidayRule::Closed => return false,
                HolidayRule::AsSunday => weekday = Weekday::Sunday,
                HolidayRule::Normal => {}
            }
        }
        self.windows.iter().any(|w| w.days.contains(weekday) && hit(w.span))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn sched(windows: &[(&str, &str, &str)], on_holiday: HolidayRule) -> Schedule {
        Schedule {
            id: ScheduleId::new("t").unwrap_or_else(|_| unreachable!()),
            windows: windows
                .iter()
                .map(|(d, a, b)| WeekWindow {
                    days: WeekdaySet::parse(d).unwrap_or_default(),
                    span: Span {
                        start: parse_time_of_day(a).unwrap_or_default(),
                        end: parse_time_of_day(b).unwrap_or_default(),
                    },
                })
                .collect(),
            active: Vec::new(),
            exceptions: BTreeMap::new(),
            on_holiday,
        }
    }

    fn stockholm() -> TimeZone {
        TimeZone::get("Europe/Stockholm").unwrap_or(TimeZone::UTC)
    }

    fn at_utc(s: &str) -> LocalTime {
        let ts: Timestamp = s.parse().unwrap_or(Timestamp::UNIX_EPOCH);
        LocalTime::of(ts, &stockholm())
    }

    #[test]
    fn parses_day_sets_and_times() {
        assert_eq!(WeekdaySet::parse("mon-fri").map(|s| s.0), Ok(0b001_1111));
        assert_eq!(WeekdaySet::parse("sat, sun").map(|s| s.0), Ok(0b110_0000));
        assert_eq!(WeekdaySet::parse("fri-mon").map(|s| s.0), Ok(0b111_0001));
        assert!(WeekdaySet::parse("funday").is_err());
        assert_eq!(parse_time_of_day("24:00"), Ok(DAY_SECONDS));
        assert_eq!(parse_time_of_day("06:30"), Ok(6 * 3600 + 30 * 60));
        for bad in ["25:00", "24:01", "7:00", "12:60", "noon", "12-00"] {
            assert!(parse_time_of_day(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_window_across_midnight_covers_both_evenings_and_mornings() {
        let night = sched(&[("mon", "22:00", "06:00")], HolidayRule::Normal);
        let cal = HolidayCalendar::none();
        // 2026-11-23 is a Monday.
        let cases = [
            (date(2026, 11, 23), "21:59", false),
            (date(2026, 11, 23), "22:00", true),
            (date(2026, 11, 23), "23:59", true),
            (date(2026, 11, 24), "00:00", true),
            (date(2026, 11, 24), "05:59", true),
            (date(2026, 11, 24), "06:00", false),
            (date(2026, 11, 24), "22:30", false), // Tuesday evening is not in the set
            (date(2026, 11, 23), "03:00", false), // Monday morning belongs to Sunday's night
        ];
        for (d, t, want) in cases {
            let at = LocalTime { date: d, second: parse_time_of_day(t).unwrap_or_default() };
            assert_eq!(night.admits(at, &cal), want, "{d} {t}");
        }
    }

    #[test]
    fn keeps_wall_clock_hours_on_the_day_summer_time_starts() {
        // 2026-03-29: clocks go 02:00 -> 03:00 in Stockholm.
        let day = sched(&[("mon-sun", "06:00", "22:00")], HolidayRule::Normal);
        let cal = HolidayCalendar::none();
        assert!(!day.admits(at_utc("2026-03-29T03:59:59Z"), &cal)); // 05:59:59 CEST
        assert!(day.admits(at_utc("2026-03-29T04:00:00Z"), &cal)); // 06:00 CEST
        assert!(day.admits(at_utc("2026-03-29T19:59:59Z"), &cal)); // 21:59:59 CEST
        assert!(!day.admits(at_utc("2026-03-29T20:00:00Z"), &cal)); // 22:00 CEST
        // A window inside the missing hour never opens that day; 01:59 CET then 03:00 CEST.
        let gap = sched(&[("sun", "02:15", "02:45")], HolidayRule::Normal);
        assert!(!gap.admits(at_utc("2026-03-29T00:59:59Z"), &cal));
        assert!(!gap.admits(at_utc("2026-03-29T01:00:00Z"), &cal));
    }

    #[test]
    fn covers_the_repeated_hour_twice_on_the_day_summer_time_ends() {
        // 2026-10-25: clocks go 03:00 CEST -> 02:00 CET; 02:30 local happens twice.
        let w = sched(&[("sun", "02:00", "03:00")], HolidayRule::Normal);
        let cal = HolidayCalendar::none();
        assert!(!w.admits(at_utc("2026-10-24T23:59:59Z"), &cal)); // 01:59:59 CEST
        assert!(w.admits(at_utc("2026-10-25T00:30:00Z"), &cal)); // 02:30 CEST
        assert!(w.admits(at_utc("2026-10-25T00:59:59Z"), &cal)); // 02:59:59 CEST
        assert!(w.admits(at_utc("2026-10-25T01:00:00Z"), &cal)); // 02:00 CET, the hour again
        assert!(w.admits(at_utc("2026-10-25T01:30:00Z"), &cal)); // 02:30 CET
        assert!(!w.admits(at_utc("2026-10-25T02:00:00Z"), &cal)); // 03:00 CET
    }

    #[test]
    fn applies_holiday_rules() {
        let cal = HolidayCalendar::swedish(true);
        let weekdays = [("mon-fri", "07:00", "16:00"), ("sun", "10:00", "12:00")];
        let christmas_day_noon = LocalTime { date: date(2026, 12, 25), second: 11 * 3600 }; // a Friday
        let christmas_day_3pm = LocalTime { date: date(2026, 12, 25), second: 15 * 3600 };
        assert!(sched(&weekdays, HolidayRule::Normal).admits(christmas_day_3pm, &cal));
        assert!(!sched(&weekdays, HolidayRule::Closed).admits(christmas_day_noon, &cal));
        let as_sunday = sched(&weekdays, HolidayRule::AsSunday);
        assert!(as_sunday.admits(christmas_day_noon, &cal));
        assert!(!as_sunday.admits(christmas_day_3pm, &cal));
        assert_eq!(as_sunday.verdict(christmas_day_noon, &cal).holiday.map(|h| h.name), Some("Juldagen"));
    }

    #[test]
    fn exception_days_replace_the_week_and_date_ranges_bound_it() {
        let cal = HolidayCalendar::none();
        let mut s = sched(&[("mon-sun", "08:00", "20:00")], HolidayRule::Normal);
        s.exceptions.insert(date(2026, 11, 24), Exception::Closed);
        s.exceptions.insert(date(2026, 11, 25), Exception::Open(vec![Span { start: 10 * 3600, end: 11 * 3600 }]));
        s.active.push(DateRange { from: date(2026, 11, 1), to: date(2026, 11, 30) });
        let noon = |d| LocalTime { date: d, second: 12 * 3600 };
        assert!(s.admits(noon(date(2026, 11, 23)), &cal));
        assert!(!s.admits(noon(date(2026, 11, 24)), &cal));
        assert!(!s.admits(noon(date(2026, 11, 25)), &cal));
        assert!(s.admits(LocalTime { date: date(2026, 11, 25), second: 10 * 3600 + 1 }, &cal));
        assert!(!s.admits(noon(date(2026, 12, 1)), &cal));
        assert!(!s.admits(noon(date(2026, 10, 31)), &cal));
    }

    #[test]
    fn handles_the_leap_day() {
        let cal = HolidayCalendar::none();
        let thu = sched(&[("thu", "23:00", "01:00")], HolidayRule::Normal);
        // 2028-02-29 is a Tuesday; 2028-02-24 a Thursday. 2028-03-02 a Thursday.
        assert!(thu.admits(LocalTime { date: date(2028, 3, 3), second: 1800 }, &cal));
        let tue = sched(&[("tue", "23:00", "01:00")], HolidayRule::Normal);
        assert!(tue.admits(LocalTime { date: date(2028, 3, 1), second: 1800 }, &cal));
        assert!(tue.admits(LocalTime { date: date(2028, 2, 29), second: 23 * 3600 }, &cal));
    }
}
