//! Bookings that are probably mistakes, said before signing: two apartments booked into
//! the same slot of one door, a booking on a day (or at hours) the door's rules keep it
//! closed for all of it (its grace included), and a booking nobody it is for can use
//! (their credentials for that door revoked, removed or not given yet). The gateway would
//! take each of them and the resident would stand at a shut door; `publish` refuses them
//! unless told they are meant (`--accept-warnings`), `renew` only says them (it keeps
//! access alive). A warning accepted when the last bundle was issued is not said again
//! while it stays the same (`publish`).

use jiff::{SignedDuration, Timestamp};

use super::Workspace;
use super::bookings::describe_booking;
use super::files::BookingSpec;
use super::policy_file::PolicyFile;
use crate::core::holidays::HolidayCalendar;
use crate::core::schedule::{LocalTime, Schedule};
use crate::tools::time_input::parse_time;

/// How finely a booking's span is looked at for an open moment: schedules change on
/// whole minutes.
const STEP: SignedDuration = SignedDuration::from_mins(1);
/// Longer bookings are not looked at moment by moment.
const LONGEST_LOOKED_AT: SignedDuration = SignedDuration::from_hours(24 * 7);

impl Workspace {
    /// Every warning about the bookings at `site` still to come at `now`.
    pub fn warnings_at(&self, site: &str, now: Timestamp) -> Vec<String> {
        let tz = self.timezone();
        let mut out = Vec::new();
        let coming: Vec<(&BookingSpec, Timestamp, Timestamp)> = self
            .bookings
            .bookings
            .iter()
            .filter(|b| b.site == site)
            .filter_map(|b| Some((b, parse_time(&b.start, &tz).ok()?, parse_time(&b.end, &tz).ok()?)))
            .filter(|(_, _, end)| *end > now)
            .collect();
        for (i, (a, a_start, a_end)) in coming.iter().enumerate() {
            for (b, b_start, b_end) in &coming[i + 1..] {
                let overlap = a.door == b.door && a_start < b_end && b_start < a_end;
                if overlap && !self.same_household(a, b) {
                    out.push(format!(
                        "bookings {} and {} overlap at the same door",
                        describe_booking(a),
                        describe_booking(b)
                    ));
                }
            }
            if let Some(w) = self.closed_all_of_it(site, a, *a_start, *a_end) {
                out.push(w);
            }
            if let Some(w) = self.nobody_can_use(site, a) {
                out.push(w);
            }
        }
        out
    }

    /// Whether two bookings are the same people's: the same holder or group, or a holder
    /// and their own group.
    fn same_household(&self, a: &BookingSpec, b: &BookingSpec) -> bool {
        let group_of =
            |h: &Option<String>| h.as_ref().and_then(|h| self.holders.holders.get(h)).and_then(|h| h.group.clone());
        let (ga, gb) =
            (a.group.clone().or_else(|| group_of(&a.holder)), b.group.clone().or_else(|| group_of(&b.holder)));
        (a.holder.is_some() && a.holder == b.holder) || (ga.is_some() && ga == gb)
    }

    /// The holders a booking is for.
    fn booked_holders(&self, b: &BookingSpec) -> Vec<&String> {
        match (&b.holder, &b.group) {
            (Some(h), _) => self.holders.holders.get_key_value(h).map(|(k, _)| k).into_iter().collect(),
            (None, Some(g)) => {
                self.holders.holders.iter().filter(|(_, h)| h.group.as_ref() == Some(g)).map(|(k, _)| k).collect()
            }
            (None, None) => Vec::new(),
        }
    }

    /// The warning when the booked door's rules keep it closed for the whole booking,
    /// its grace before and after included, for every role it is booked for.
    fn closed_all_of_it(&self, site: &str, b: &BookingSpec, start: Timestamp, end: Timestamp) -> Option<String> {
        if end.duration_since(start) > LONGEST_LOOKED_AT {
            return None;
        }
        let s = self.settings.sites.get(site)?;
        let roles: Vec<&str> = self
            .booked_holders(b)
            .into_iter()
            .filter_map(|h| self.holders.holders.get(h).map(|h| h.role.as_str()))
            .collect();
        let rules: Vec<_> =
            s.rules.get(&b.door)?.iter().filter(|r| r.booking && roles.contains(&r.role.as_str())).collect();
        if rules.is_empty() {
            return None;
        }
        let [before, after] = s.booking_grace.get(&b.door).copied().unwrap_or([10, 15]);
        let from = start.checked_sub(SignedDuration::from_mins(before)).ok()?;
        let until = end.checked_add(SignedDuration::from_mins(after)).ok()?;
        let calendar = self.calendar(site);
        let tz = self.timezone();
        let mut names = Vec::new();
        for rule in rules {
            let name = rule.schedule.as_ref()?; // a rule at all hours: open
            let schedule = self.schedule_in_force(site, name)?;
            let mut t = from;
            while t < until {
                if schedule.admits(LocalTime::of(t, &tz), &calendar) {
                    return None;
                }
                // The next whole minute (schedules change on minutes).
                let next = t.checked_add(STEP).ok()?;
                t = next
                    .round(jiff::TimestampRound::new().smallest(jiff::Unit::Minute).mode(jiff::RoundMode::Trunc))
                    .ok()?;
            }
            names.push(name.clone());
        }
        let name = names.first()?;
        Some(format!(
            "booking {}: {} is closed for all of it, its grace included ({name}: {})",
            describe_booking(b),
            b.door,
            self.policies
                .get(site)
                .and_then(|p| p.schedules.get(name))
                .or_else(|| self.bases.get(site).and_then(|p| p.schedules.get(name)))
                .map(super::policy_file::ScheduleSpec::describe)
                .unwrap_or_default()
        ))
    }

    /// Schedule `name` at `site` as it will be in force: the owner's, else the config's.
    fn schedule_in_force(&self, site: &str, name: &str) -> Option<Schedule> {
        let spec = self
            .policies
            .get(site)
            .and_then(|p| p.schedules.get(name))
            .or_else(|| self.bases.get(site).and_then(|p| p.schedules.get(name)))?;
        let only = PolicyFile { schedules: [(name.to_owned(), spec.clone())].into(), ..PolicyFile::default() };
        only.to_owner_policy().ok()?.schedules.into_iter().next()
    }

    /// The site's holiday calendar, as imported from its config (Sweden's by default).
    fn calendar(&self, site: &str) -> HolidayCalendar {
        let spec = self.settings.sites.get(site).and_then(|s| s.holidays.as_ref());
        let Some(h) = spec else { return HolidayCalendar::swedish(true) };
        let base = if h.calendar == "none" { HolidayCalendar::none() } else { HolidayCalendar::swedish(h.eves) };
        h.extra.iter().filter_map(|d| d.parse().ok()).fold(base, HolidayCalendar::with_extra)
    }

    /// The warning when nobody the booking is for has a credential for its door.
    fn nobody_can_use(&self, site: &str, b: &BookingSpec) -> Option<String> {
        let holders = self.booked_holders(b);
        let usable = holders.iter().any(|id| {
            self.holders.holders.get(*id).is_some_and(|h| {
                self.doors_at(h, site).contains(&b.door)
                    && h.credentials
                        .iter()
                        .any(|c| (c.doors.is_empty() || c.doors.contains(&b.door)) && !self.revoked.ids.contains(&c.id))
            })
        });
        // Nobody with the door at all is a refusal (`site_bundle`), not a warning.
        let with_door = holders
            .iter()
            .any(|id| self.holders.holders.get(*id).is_some_and(|h| self.doors_at(h, site).contains(&b.door)));
        (with_door && !usable).then(|| {
            format!(
                "booking {}: nobody it is for has a credential for {} (revoked, removed or not given yet)",
                describe_booking(b),
                b.door
            )
        })
    }
}
