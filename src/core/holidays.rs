//! Holiday calendars: the Swedish public holidays computed for any year (including the
//! Easter-based ones and Midsummer), optionally their eves, plus extra dates an owner adds.
//!
//! Pure date arithmetic on `jiff::civil::Date`; no clock, no tables to update.

use std::collections::BTreeMap;

use jiff::civil::{Date, Weekday};

/// Whether a day is an official public holiday or a de facto one (an eve).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolidayKind {
    /// An "allmän helgdag" under the Swedish act (1989:253).
    Public,
    /// An eve (Midsummer Eve, Christmas Eve, New Year's Eve, Easter Saturday): not a
    /// public holiday by law, but most buildings treat it as one.
    Eve,
    /// A date the site's owner added.
    Extra,
}

/// A holiday on a given date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    /// Swedish name, as printed on calendars.
    pub name: &'static str,
    /// Public, eve or extra.
    pub kind: HolidayKind,
}

/// Which holidays a site observes.
#[derive(Debug, Clone, Default)]
pub struct HolidayCalendar {
    swedish: bool,
    eves: bool,
    extra: BTreeMap<Date, &'static str>,
}

impl HolidayCalendar {
    /// No holidays at all.
    pub fn none() -> Self {
        Self::default()
    }

    /// The Swedish public holidays; with `eves`, also the four eves.
    pub fn swedish(eves: bool) -> Self {
        Self { swedish: true, eves, extra: BTreeMap::new() }
    }

    /// Adds an owner-defined holiday (for example a day the building is closed).
    #[must_use]
    pub fn with_extra(mut self, date: Date) -> Self {
        self.extra.insert(date, "extra holiday");
        self
    }

    /// The holiday on `date`, if any.
    pub fn holiday(&self, date: Date) -> Option<Holiday> {
        if let Some(name) = self.extra.get(&date) {
            return Some(Holiday { name, kind: HolidayKind::Extra });
        }
        if !self.swedish {
            return None;
        }
        swedish_holiday(date).filter(|h| self.eves || h.kind == HolidayKind::Public)
    }
}

/// Easter Sunday of `year` in the Gregorian calendar (anonymous Gregorian algorithm).
// The letters are the algorithm's own names, as published; longer names would hide it.
#[allow(clippy::many_single_char_names)]
pub fn easter_sunday(year: i16) -> Date {
    let y = i32::from(year);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    // month is 3 or 4 and day 1..=31 by construction of the algorithm.
    #[allow(clippy::cast_possible_truncation)]
    Date::constant(year, month as i8, day as i8)
}

fn public(name: &'static str) -> Holiday {
    Holiday { name, kind: HolidayKind::Public }
}

fn eve(name: &'static str) -> Holiday {
    Holiday { name, kind: HolidayKind::Eve }
}

/// The Swedish holiday (public or eve) on `date`, if any.
pub fn swedish_holiday(date: Date) -> Option<Holiday> {
    let (m, d, wd) = (date.month(), date.day(), date.weekday());
    match (m, d) {
        (1, 1) => return Some(public("Nyårsdagen")),
        (1, 6) => return Some(public("Trettondedag jul")),
        (5, 1) => return Some(public("Första maj")),
        (6, 6) => return Some(public("Sveriges nationaldag")),
        (12, 24) => return Some(eve("Julafton")),
        (12, 25) => return Some(public("Juldagen")),
        (12, 26) => return Some(public("Annandag jul")),
        (12, 31) => return Some(eve("Nyårsafton")),
        _ => {}
    }
    if m == 6 && (19..=25).contains(&d) && wd == Weekday::Friday {
        return Some(eve("Midsommarafton"));
    }
    if m == 6 && (20..=26).contains(&d) && wd == Weekday::Saturday {
        return Some(public("Midsommardagen"));
    }
    // Alla helgons dag: the Saturday between 31 October and 6 November.
    if ((m == 10 && d == 31) || (m == 11 && d <= 6)) && wd == Weekday::Saturday {
        return Some(public("Alla helgons dag"));
    }
    let easter = easter_sunday(date.year());
    let offset = easter.until(date).ok()?.get_days();
    match offset {
        -2 => Some(public("Långfredagen")),
        -1 => Some(eve("Påskafton")),
        0 => Some(public("Påskdagen")),
        1 => Some(public("Annandag påsk")),
        39 => Some(public("Kristi himmelsfärdsdag")),
        49 => Some(public("Pingstdagen")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    fn public_holidays(year: i16) -> Vec<(Date, &'static str)> {
        let mut out = Vec::new();
        let mut d = date(year, 1, 1);
        while d.year() == year {
            if let Some(h) = swedish_holiday(d).filter(|h| h.kind == HolidayKind::Public) {
                out.push((d, h.name));
            }
            d = d.tomorrow().unwrap_or(d);
        }
        out
    }

    #[test]
    fn computes_easter_for_known_years() {
        for (y, m, d) in [(2024, 3, 31), (2025, 4, 20), (2026, 4, 5), (2027, 3, 28), (2038, 4, 25), (2285, 3, 22)] {
            assert_eq!(easter_sunday(y), date(y, m, d), "Easter {y}");
        }
    }

    // The official Swedish calendar of public holidays ("röda dagar", excluding
    // ordinary Sundays) for 2026 and 2027.
    #[test]
    fn lists_every_swedish_public_holiday_of_2026() {
        let expected = vec![
            (date(2026, 1, 1), "Nyårsdagen"),
            (date(2026, 1, 6), "Trettondedag jul"),
            (date(2026, 4, 3), "Långfredagen"),
            (date(2026, 4, 5), "Påskdagen"),
            (date(2026, 4, 6), "Annandag påsk"),
            (date(2026, 5, 1), "Första maj"),
            (date(2026, 5, 14), "Kristi himmelsfärdsdag"),
            (date(2026, 5, 24), "Pingstdagen"),
            (date(2026, 6, 6), "Sveriges nationaldag"),
            (date(2026, 6, 20), "Midsommardagen"),
            (date(2026, 10, 31), "Alla helgons dag"),
            (date(2026, 12, 25), "Juldagen"),
            (date(2026, 12, 26), "Annandag jul"),
        ];
        assert_eq!(public_holidays(2026), expected);
    }

    #[test]
    fn lists_every_swedish_public_holiday_of_2027() {
        let expected = vec![
            (date(2027, 1, 1), "Nyårsdagen"),
            (date(2027, 1, 6), "Trettondedag jul"),
            (date(2027, 3, 26), "Långfredagen"),
            (date(2027, 3, 28), "Påskdagen"),
            (date(2027, 3, 29), "Annandag påsk"),
            (date(2027, 5, 1), "Första maj"),
            (date(2027, 5, 6), "Kristi himmelsfärdsdag"),
            (date(2027, 5, 16), "Pingstdagen"),
            (date(2027, 6, 6), "Sveriges nationaldag"),
            (date(2027, 6, 26), "Midsommardagen"),
            (date(2027, 11, 6), "Alla helgons dag"),
            (date(2027, 12, 25), "Juldagen"),
            (date(2027, 12, 26), "Annandag jul"),
        ];
        assert_eq!(public_holidays(2027), expected);
    }

    #[test]
    fn finds_the_eves_only_when_asked() {
        let with = HolidayCalendar::swedish(true);
        let without = HolidayCalendar::swedish(false);
        for d in [date(2026, 6, 19), date(2026, 12, 24), date(2026, 12, 31), date(2026, 4, 4), date(2027, 6, 25)] {
            assert_eq!(with.holiday(d).map(|h| h.kind), Some(HolidayKind::Eve), "{d}");
            assert_eq!(without.holiday(d), None, "{d}");
        }
    }

    #[test]
    fn treats_an_ordinary_leap_day_as_a_working_day() {
        assert_eq!(swedish_holiday(date(2028, 2, 29)), None);
    }

    #[test]
    fn honours_extra_dates_and_the_empty_calendar() {
        let cal = HolidayCalendar::none().with_extra(date(2026, 3, 2));
        assert_eq!(cal.holiday(date(2026, 3, 2)).map(|h| h.kind), Some(HolidayKind::Extra));
        assert_eq!(cal.holiday(date(2026, 12, 25)), None);
    }
}
