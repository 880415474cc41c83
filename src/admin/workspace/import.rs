//! Bringing lists in: holders and their credentials from the CSV a staff or resident
//! system exports (the same columns as `bundle build --csv`), and bookings from an
//! iCalendar export of a booking system. Every row or event is checked first; nothing is
//! changed unless all of them can be taken.

use super::Workspace;
use super::bookings::describe_booking;
use super::edit::EditError;
use super::files::{BookingSpec, CredentialSpec, Holder};
use crate::admin::csv_import::credential_rows;
use crate::core::hex;

fn prefixed(who: &str, e: &EditError) -> EditError {
    EditError::Invalid { what: who.into(), message: e.to_string() }
}

fn problems(what: &str, list: &[String]) -> EditError {
    EditError::Invalid {
        what: what.into(),
        message: format!("{} problem(s), nothing changed:\n  {}", list.len(), list.join("\n  ")),
    }
}

impl Workspace {
    /// Adds or updates the holders and credentials of a CSV list, for `site`.
    pub fn import_csv(&mut self, text: &str, site: &str) -> Result<String, EditError> {
        let tz = self.timezone();
        let rows = credential_rows(text, &tz)
            .map_err(|p| problems("--csv", &p.iter().map(ToString::to_string).collect::<Vec<_>>()))?;
        let site = self.site_or_only(Some(site))?;
        let site = site.as_str();
        let mut next = self.clone();
        let key = if rows.iter().any(|r| r.kind == "pin") { Some(self.site_key(site)?) } else { None };
        let mut bad = Vec::new();
        let (mut added, mut updated) = (0, 0);
        for r in &rows {
            let h = next
                .holders
                .holders
                .entry(r.holder.clone())
                .or_insert_with(|| Holder { role: r.role.clone(), ..Holder::default() });
            if h.role != r.role {
                bad.push(format!("line {}: {} is a {} in the workspace, not a {}", r.line, r.holder, h.role, r.role));
                continue;
            }
            if let Some(n) = &r.name {
                h.name = Some(n.clone());
            }
            let doors: Vec<String> = r.doors.iter().map(ToString::to_string).collect();
            // An apartment or team: the doors are the group's (made when new), the holder
            // one of its members; otherwise the holder's own.
            let own = match &r.group {
                Some(g) if h.group.as_ref().is_some_and(|x| x != g) => {
                    let was = h.group.clone().unwrap_or_default();
                    bad.push(format!("line {}: {} is in group {was} in the workspace, not in {g}", r.line, r.holder));
                    continue;
                }
                Some(g) => {
                    h.group = Some(g.clone());
                    next.groups.groups.entry(g.clone()).or_default().access.entry(site.into()).or_default()
                }
                None => h.access.entry(site.into()).or_default(),
            };
            for d in &doors {
                if !own.contains(d) {
                    own.push(d.clone());
                }
            }
            if let Some(s) = &r.schedule {
                h.schedule = Some(s.to_string());
            }
            if let Some(t) = r.valid_from {
                h.valid_from = Some(t.to_string());
            }
            if let Some(t) = r.valid_until {
                h.valid_until = Some(t.to_string());
            }
            let mut spec =
                CredentialSpec { id: r.id.clone(), kind: r.kind.clone(), doors, ..CredentialSpec::default() };
            match (r.kind.as_str(), key.as_ref()) {
                ("pin", Some(k)) => {
                    spec.pin_digests.insert(site.into(), hex::encode(&k.pin(&r.secret).0));
                }
                ("tag", _) => spec.uid = Some(r.secret.to_ascii_uppercase()),
                _ => spec.phone_key = Some(r.secret.to_ascii_lowercase()),
            }
            if next.revoked.ids.contains(&r.id) {
                bad.push(format!("line {}: credential id {} was revoked and can never be used again", r.line, r.id));
                continue;
            }
            match h.credentials.iter_mut().find(|c| c.id == r.id) {
                Some(c) => {
                    if *c != spec {
                        *c = spec;
                        updated += 1;
                    }
                }
                None => {
                    h.credentials.push(spec);
                    added += 1;
                }
            }
        }
        let owners: Vec<(String, String)> = next
            .holders
            .holders
            .iter()
            .flat_map(|(h, x)| x.credentials.iter().map(move |c| (c.id.clone(), h.clone())))
            .collect();
        for r in &rows {
            if let Some((_, other)) = owners.iter().find(|(id, h)| *id == r.id && *h != r.holder) {
                bad.push(format!("line {}: credential id {} already belongs to {other}", r.line, r.id));
            }
        }
        next.widen_group_credentials(&rows, site);
        if let Err(e) = next.check_import(site) {
            bad.push(e.to_string());
        }
        if !bad.is_empty() {
            return Err(problems("--csv", &bad));
        }
        *self = next;
        Ok(format!("{} row(s) for {site}: {added} credential(s) added, {updated} changed", rows.len()))
    }

    /// A credential of a group member whose doors are all of the group's opens whatever
    /// the group is given later (an apartment's laundry added, say): its doors are left
    /// to the group.
    fn widen_group_credentials(&mut self, rows: &[crate::admin::csv_import::CredentialRow], site: &str) {
        for r in rows {
            let Some(g) = &r.group else { continue };
            let Some(all) = self.groups.groups.get(g).and_then(|x| x.access.get(site)).cloned() else { continue };
            let Some(h) = self.holders.holders.get_mut(&r.holder) else { continue };
            if let Some(c) = h.credentials.iter_mut().find(|c| c.id == r.id)
                && c.doors.len() == all.len()
                && c.doors.iter().all(|d| all.contains(d))
            {
                c.doors.clear();
            }
        }
    }

    /// What the verbs check of doors and roles, for everything an import touched.
    fn check_import(&self, site: &str) -> Result<(), EditError> {
        for (id, g) in &self.groups.groups {
            if let Some(doors) = g.access.get(site) {
                self.check_access_of(site, doors).map_err(|e| prefixed(&format!("group {id}"), &e))?;
            }
        }
        for (id, h) in &self.holders.holders {
            self.check_granted_role(&h.role, &self.sites_of(h)).map_err(|e| prefixed(&format!("holder {id}"), &e))?;
        }
        Ok(())
    }

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
