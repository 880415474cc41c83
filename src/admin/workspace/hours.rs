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

    /// The schedule the door code's hours are kept in: the one the owner already uses,
    /// else the config's own (`[door_code] schedule`) when nothing else at the site uses
    /// it, else `door-code` beside it (changing a shared schedule would move another
    /// door's hours too).
    fn door_code_schedule(&self, site: &str) -> String {
        if let Some(c) = self.policies.get(site).and_then(|p| p.door_code.as_ref()) {
            return c.schedule.clone();
        }
        let Some(name) = self.bases.get(site).and_then(|b| b.door_code.as_ref()).map(|c| c.schedule.clone()) else {
            return DOOR_CODE_SCHEDULE.into();
        };
        if self.schedule_shared(site, &name, None) { DOOR_CODE_SCHEDULE.into() } else { name }
    }

    /// Whether anything else at `site` may use schedule `name`: a door rule, a door's free
    /// passage, a holder's own schedule — or nobody knows (a site imported before the
    /// workspace kept its doors' rules: `site refresh` reads them).
    /// (`door`'s own free passage aside).
    fn schedule_shared(&self, site: &str, name: &str, door: Option<&str>) -> bool {
        let Some(s) = self.settings.sites.get(site).filter(|s| !s.rules.is_empty()) else { return true };
        let by_rule = s.rules.values().flatten().any(|r| r.schedule.as_deref() == Some(name));
        let by_passage = self
            .bases
            .get(site)
            .is_some_and(|b| b.free_passage.iter().any(|(d, f)| f == name && Some(d.as_str()) != door));
        let by_holder = self.holders.holders.values().any(|h| h.schedule.as_deref() == Some(name));
        by_rule || by_passage || by_holder
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
        let name = self.door_code_schedule(site);
        self.change_policy(site, |p, base| {
            // The schedule as it stands (the owner's, else the config's), windows replaced:
            // its holiday rule, active dates and closed days stay.
            let mut s = p.schedules.get(&name).or_else(|| base.schedules.get(&name)).cloned().unwrap_or_else(|| {
                let from_base = base.door_code.as_ref().and_then(|c| base.schedules.get(&c.schedule));
                ScheduleSpec {
                    on_holiday: from_base.map_or_else(|| "normal".into(), |b| b.on_holiday.clone()),
                    ..ScheduleSpec::default()
                }
            });
            s.windows = windows;
            if let Some(rule) = on_holiday {
                rule.clone_into(&mut s.on_holiday);
            }
            p.schedules.insert(name.clone(), s);
            // The config's own schedule, changed, needs no move of the door code.
            let configured = base.door_code.as_ref().is_some_and(|c| c.schedule == name);
            p.door_code = (!configured).then(|| DoorCodeSpec { schedule: name.clone() });
            Ok(())
        })?;
        Ok(format!("door code hours at {site}: {said}"))
    }

    /// The schedule a door's free-passage hours are kept in: the config's own for that
    /// door when nothing else uses it, else `free-passage-<door>`.
    fn free_passage_schedule(&self, site: &str, door: &str) -> String {
        let own = format!("free-passage-{door}");
        let configured = self.bases.get(site).and_then(|b| b.free_passage.get(door)).filter(|n| !n.is_empty());
        match configured {
            Some(name) => {
                let code =
                    self.bases.get(site).is_some_and(|b| b.door_code.as_ref().is_some_and(|c| &c.schedule == name));
                let elsewhere = code || self.schedule_shared(site, name, Some(door));
                if elsewhere { own } else { name.clone() }
            }
            None => own,
        }
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
        let name = self.free_passage_schedule(site, door);
        let said = if windows.is_empty() { "none".to_owned() } else { describe_windows(&windows) };
        let own = name.starts_with("free-passage-");
        self.change_policy(site, |p, base| {
            if windows.is_empty() {
                if own {
                    p.schedules.remove(&name);
                }
                p.free_passage.insert(door.into(), String::new());
            } else {
                let mut s = p.schedules.get(&name).or_else(|| base.schedules.get(&name)).cloned().unwrap_or_default();
                s.windows = windows;
                p.schedules.insert(name.clone(), s);
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
