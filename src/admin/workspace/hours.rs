//! The owner's hours, one change at a time: the door code's hours, a door's free-passage
//! hours, any schedule's week windows, and holidays or closures on single dates. A
//! schedule the owner has not changed yet starts as the site config's copy (imported with
//! `site add --config`), so changing its windows keeps its holidays, and closing a date
//! keeps its windows.

use super::Workspace;
use super::edit::EditError;
use super::policy_file::{DoorCodeSpec, ExceptionSpec, PolicyFile, ScheduleSpec, SpanSpec, WindowSpec};
use crate::core::ids::{DoorId, ScheduleId};

/// The schedule the owner's door-code hours are kept in.
pub const DOOR_CODE_SCHEDULE: &str = "door-code";

fn invalid(what: impl Into<String>, message: impl Into<String>) -> EditError {
    EditError::Invalid { what: what.into(), message: message.into() }
}

fn check_holiday_rule(rule: &str) -> Result<(), EditError> {
    if matches!(rule, "normal" | "as_sunday" | "closed") {
        Ok(())
    } else {
        Err(invalid("--on-holiday", format!("\"{rule}\" is not normal, as_sunday or closed")))
    }
}

impl Workspace {
    /// The owner's policy for `site` after `change`, checked by the gateway's reader;
    /// nothing changes when the result would be refused.
    fn change_policy(
        &mut self,
        site: &str,
        change: impl FnOnce(&mut PolicyFile, &PolicyFile) -> Result<(), EditError>,
    ) -> Result<(), EditError> {
        if !self.is_owner() {
            return Err(invalid("hours", "gateways take hours and schedules from the owner only"));
        }
        let site = self.site_or_only(Some(site))?;
        let mut policy = self.policies.get(&site).cloned().unwrap_or_default();
        let base = self.bases.get(&site).cloned().unwrap_or_default();
        change(&mut policy, &base)?;
        policy.to_owner_policy().map_err(|p| invalid(format!("the hours for {site}"), p.join("; ")))?;
        self.policies.insert(site, policy);
        Ok(())
    }

    /// Sets the door code's hours.
    pub fn door_code_hours(
        &mut self,
        site: &str,
        windows: Vec<WindowSpec>,
        on_holiday: Option<&str>,
    ) -> Result<String, EditError> {
        if let Some(r) = on_holiday {
            check_holiday_rule(r)?;
        }
        let said = describe_windows(&windows);
        self.change_policy(site, |p, base| {
            let from_base =
                base.door_code.as_ref().and_then(|c| base.schedules.get(&c.schedule)).map(|s| s.on_holiday.clone());
            let current = p.schedules.get(DOOR_CODE_SCHEDULE).map(|s| s.on_holiday.clone());
            let rule = on_holiday.map(str::to_owned).or(current).or(from_base).unwrap_or_else(|| "normal".into());
            p.schedules.insert(
                DOOR_CODE_SCHEDULE.into(),
                ScheduleSpec { windows, on_holiday: rule, ..ScheduleSpec::default() },
            );
            p.door_code = Some(DoorCodeSpec { schedule: DOOR_CODE_SCHEDULE.into() });
            Ok(())
        })?;
        Ok(format!("door code hours at {site}: {said}"))
    }

    /// Sets a door's free-passage hours (none: no free passage).
    pub fn free_passage_hours(
        &mut self,
        site: &str,
        door: &str,
        windows: Vec<WindowSpec>,
    ) -> Result<String, EditError> {
        DoorId::new(door).map_err(|e| invalid("--door", e.to_string()))?;
        if let Some(s) = self.settings.sites.get(site)
            && !s.doors.is_empty()
            && !s.doors.iter().any(|d| d == door)
        {
            return Err(invalid(
                format!("door \"{door}\""),
                format!("{site} has no such door (its doors: {})", s.doors.join(", ")),
            ));
        }
        let name = format!("free-passage-{door}");
        let said = if windows.is_empty() { "none".to_owned() } else { describe_windows(&windows) };
        self.change_policy(site, |p, _| {
            if windows.is_empty() {
                p.schedules.remove(&name);
                p.free_passage.insert(door.into(), String::new());
            } else {
                p.schedules.insert(name.clone(), ScheduleSpec { windows, ..ScheduleSpec::default() });
                p.free_passage.insert(door.into(), name.clone());
            }
            Ok(())
        })?;
        Ok(format!("free passage at {site} {door}: {said}"))
    }

    /// Changes a schedule's week windows and/or holiday rule, keeping the rest of it.
    pub fn schedule_set(
        &mut self,
        site: &str,
        name: &str,
        windows: Option<Vec<WindowSpec>>,
        on_holiday: Option<&str>,
    ) -> Result<String, EditError> {
        ScheduleId::new(name).map_err(|e| invalid("schedule", e.to_string()))?;
        if let Some(r) = on_holiday {
            check_holiday_rule(r)?;
        }
        let mut said = String::new();
        self.change_policy(site, |p, base| {
            let mut s = p.schedules.get(name).or_else(|| base.schedules.get(name)).cloned().unwrap_or_default();
            if let Some(w) = windows {
                s.windows = w;
            }
            if let Some(r) = on_holiday {
                s.on_holiday = r.into();
            }
            said = s.describe();
            p.schedules.insert(name.into(), s);
            Ok(())
        })?;
        Ok(format!("schedule {name} at {site}: {said}"))
    }

    /// Closes `schedules` on `date` (or opens them only in `open`), e.g. the laundry on
    /// a holiday the calendar does not know.
    pub fn holiday_add(
        &mut self,
        site: &str,
        date: &str,
        schedules: &[String],
        open: Vec<SpanSpec>,
    ) -> Result<String, EditError> {
        date.parse::<jiff::civil::Date>()
            .map_err(|_| invalid("--date", format!("\"{date}\" is not a date; write 2026-12-26")))?;
        if schedules.is_empty() {
            return Err(invalid("--schedule", "name the schedule(s) the date changes, e.g. --schedule laundry-hours"));
        }
        let exception = ExceptionSpec { date: date.into(), closed: open.is_empty(), open };
        self.change_policy(site, |p, base| {
            for name in schedules {
                let mut s = p.schedules.get(name).or_else(|| base.schedules.get(name)).cloned().ok_or_else(|| {
                    EditError::Unknown {
                        what: "schedule",
                        id: name.clone(),
                        known: format!(
                            " for this site (import its config with `site add {site} --config FILE`; it has: {})",
                            names(p, base)
                        ),
                    }
                })?;
                s.exceptions.retain(|e| e.date != date);
                s.exceptions.push(exception.clone());
                s.exceptions.sort_by(|a, b| a.date.cmp(&b.date));
                p.schedules.insert(name.clone(), s);
            }
            Ok(())
        })?;
        let what = if exception.closed {
            "closed".to_owned()
        } else {
            format!(
                "open only {}",
                exception.open.iter().map(|s| format!("{}-{}", s.from, s.to)).collect::<Vec<_>>().join(",")
            )
        };
        Ok(format!("{date} at {site}: {} {what}", schedules.join(", ")))
    }

    /// Takes a date's exception away again.
    pub fn holiday_remove(&mut self, site: &str, date: &str, schedules: &[String]) -> Result<String, EditError> {
        let mut removed = Vec::new();
        self.change_policy(site, |p, _| {
            for (name, s) in &mut p.schedules {
                if schedules.is_empty() || schedules.contains(name) {
                    let before = s.exceptions.len();
                    s.exceptions.retain(|e| e.date != date);
                    if s.exceptions.len() != before {
                        removed.push(name.clone());
                    }
                }
            }
            Ok(())
        })?;
        if removed.is_empty() {
            return Err(EditError::Unknown {
                what: "date",
                id: date.into(),
                known: " among the owner's schedules".into(),
            });
        }
        Ok(format!("{date} at {site}: {} as usual again", removed.join(", ")))
    }

    /// Every schedule of `site` as it will be in force: the config's, with the owner's over them.
    pub fn hours_in_force(&self, site: &str) -> Vec<(String, String, &'static str)> {
        let empty = PolicyFile::default();
        let base = self.bases.get(site).unwrap_or(&empty);
        let policy = self.policies.get(site).unwrap_or(&empty);
        let mut out = Vec::new();
        for (name, s) in &base.schedules {
            if !policy.schedules.contains_key(name) {
                out.push((name.clone(), s.describe(), "config"));
            }
        }
        for (name, s) in &policy.schedules {
            out.push((name.clone(), s.describe(), "owner"));
        }
        out.sort();
        out
    }
}

fn names(p: &PolicyFile, base: &PolicyFile) -> String {
    let mut n: Vec<&str> = p.schedules.keys().chain(base.schedules.keys()).map(String::as_str).collect();
    n.sort_unstable();
    n.dedup();
    if n.is_empty() { "none".into() } else { n.join(", ") }
}

fn describe_windows(w: &[WindowSpec]) -> String {
    w.iter().map(|w| format!("{} {}-{}", w.days, w.from, w.to)).collect::<Vec<_>>().join(", ")
}
