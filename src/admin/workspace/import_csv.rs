//! Holders and their credentials from the CSV a staff or resident system exports (the
//! same columns as `bundle build --csv`, with `name` and `group`): each row a credential
//! of a holder, who is made when new — with the id made from their name when the list
//! gives none — and joins the row's apartment or team. Every row is checked first;
//! nothing changes unless all of them can be taken. Two different people whose names make
//! one id are refused (their ids must be given), never merged into one holder.

use std::collections::{BTreeMap, BTreeSet};

use super::Workspace;
use super::edit::EditError;
use super::files::{CredentialSpec, Holder};
use super::import::problems;
use crate::admin::csv_import::{CredentialRow, credential_rows};
use crate::core::hex;

fn prefixed(who: &str, e: &EditError) -> EditError {
    EditError::Invalid { what: who.into(), message: e.to_string() }
}

impl Workspace {
    /// Adds or updates the holders and credentials of a CSV list, for `site`.
    pub fn import_csv(&mut self, text: &str, site: &str) -> Result<String, EditError> {
        let tz = self.timezone();
        let rows = credential_rows(text, &tz)
            .map_err(|p| problems("--csv", &p.iter().map(ToString::to_string).collect::<Vec<_>>()))?;
        let site = self.site_or_only(Some(site))?;
        let site = site.as_str();
        let mut bad = self.names_that_collide(&rows);
        let mut next = self.clone();
        let key = if rows.iter().any(|r| r.kind == "pin") { Some(self.site_key(site)?) } else { None };
        for r in &rows {
            if let Err(e) = next.take_row(r, site, key.as_ref()) {
                bad.push(e);
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
        next.leave_doors_to_groups(&rows, site);
        if let Err(e) = next.check_touched(&rows, site) {
            bad.push(e.to_string());
        }
        if !bad.is_empty() {
            return Err(problems("--csv", &bad));
        }
        let (added, changed) = self.counted(&next, &rows);
        *self = next;
        Ok(format!("{} row(s) for {site}: {added} credential(s) added, {changed} changed", rows.len()))
    }

    /// Rows whose holder id was made from a name that another person's name also makes:
    /// two rows of one id with another name, group or role, or an id the workspace already
    /// has for someone of another name.
    fn names_that_collide(&self, rows: &[CredentialRow]) -> Vec<String> {
        let mut first: BTreeMap<&str, &CredentialRow> = BTreeMap::new();
        let mut out = Vec::new();
        for r in rows.iter().filter(|r| r.holder_from_name) {
            let name = r.name.as_deref().unwrap_or_default();
            if let Some(f) = first.get(r.holder.as_str()) {
                if (f.name.as_deref(), &f.group, &f.role) != (Some(name), &r.group, &r.role) {
                    out.push(format!(
                        "line {}: \"{name}\" makes the id {}, as \"{}\" on line {} does: are they one person? give \
                         each their holder id",
                        r.line,
                        r.holder,
                        f.name.as_deref().unwrap_or_default(),
                        f.line
                    ));
                }
                continue;
            }
            first.insert(&r.holder, r);
            if let Some(h) = self.holders.holders.get(&r.holder)
                && h.name.as_deref() != Some(name)
            {
                out.push(format!(
                    "line {}: \"{name}\" makes the id {}, which the workspace has for {}: give this one a holder id",
                    r.line,
                    r.holder,
                    h.name.as_deref().map_or_else(|| "someone else".to_owned(), |n| format!("\"{n}\""))
                ));
            }
        }
        out
    }

    /// Takes one row into the state: its holder (made when new), their name, group and
    /// doors, and the credential.
    fn take_row(
        &mut self,
        r: &CredentialRow,
        site: &str,
        key: Option<&crate::core::secret::CredentialKey>,
    ) -> Result<(), String> {
        if self.revoked.ids.contains(&r.id) {
            return Err(format!("line {}: credential id {} was revoked and can never be used again", r.line, r.id));
        }
        let h = self
            .holders
            .holders
            .entry(r.holder.clone())
            .or_insert_with(|| Holder { role: r.role.clone(), ..Holder::default() });
        if h.role != r.role {
            return Err(format!("line {}: {} is a {} in the workspace, not a {}", r.line, r.holder, h.role, r.role));
        }
        if let Some(n) = &r.name {
            h.name = Some(n.clone());
        }
        let doors: Vec<String> = r.doors.iter().map(ToString::to_string).collect();
        // An apartment or team: the doors are the group's (made when new), the holder one
        // of its members; otherwise the holder's own.
        let own = match &r.group {
            Some(g) if h.group.as_ref().is_some_and(|x| x != g) => {
                let was = h.group.clone().unwrap_or_default();
                return Err(format!("line {}: {} is in group {was} in the workspace, not in {g}", r.line, r.holder));
            }
            Some(g) => {
                h.group = Some(g.clone());
                self.groups.groups.entry(g.clone()).or_default().access.entry(site.into()).or_default()
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
        let mut spec = CredentialSpec { id: r.id.clone(), kind: r.kind.clone(), doors, ..CredentialSpec::default() };
        match (r.kind.as_str(), key) {
            ("pin", Some(k)) => {
                spec.pin_digests.insert(site.into(), hex::encode(&k.pin(&r.secret).0));
            }
            ("tag", _) => spec.uid = Some(r.secret.to_ascii_uppercase()),
            _ => spec.phone_key = Some(r.secret.to_ascii_lowercase()),
        }
        match h.credentials.iter_mut().find(|c| c.id == r.id) {
            Some(c) => *c = spec,
            None => h.credentials.push(spec),
        }
        Ok(())
    }

    /// A credential of a group member whose doors are all of the group's opens whatever
    /// the group is given later (an apartment's laundry added, say): its doors are left
    /// to the group — only where that widens nothing (the holder has no doors of their
    /// own, and the group none at another site).
    fn leave_doors_to_groups(&mut self, rows: &[CredentialRow], site: &str) {
        for r in rows {
            let Some(group) = r.group.as_ref().and_then(|g| self.groups.groups.get(g)) else { continue };
            if group.access.keys().any(|s| s != site) {
                continue;
            }
            let Some(all) = group.access.get(site).cloned() else { continue };
            let Some(h) = self.holders.holders.get_mut(&r.holder).filter(|h| h.access.is_empty()) else { continue };
            if let Some(c) = h.credentials.iter_mut().find(|c| c.id == r.id)
                && c.doors.len() == all.len()
                && c.doors.iter().all(|d| all.contains(d))
            {
                c.doors.clear();
            }
        }
    }

    /// What the verbs check of doors and roles, for the holders and groups the rows touch.
    fn check_touched(&self, rows: &[CredentialRow], site: &str) -> Result<(), EditError> {
        let groups: BTreeSet<&String> = rows.iter().filter_map(|r| r.group.as_ref()).collect();
        for id in groups {
            if let Some(doors) = self.groups.groups.get(id).and_then(|g| g.access.get(site)) {
                self.check_access_of(site, doors).map_err(|e| prefixed(&format!("group {id}"), &e))?;
            }
        }
        let holders: BTreeSet<&String> = rows.iter().map(|r| &r.holder).collect();
        for id in holders {
            let Some(h) = self.holders.holders.get(id) else { continue };
            if let Some(doors) = h.access.get(site) {
                self.check_access_of(site, doors).map_err(|e| prefixed(&format!("holder {id}"), &e))?;
            }
            self.check_granted_role(&h.role, &self.sites_of(h)).map_err(|e| prefixed(&format!("holder {id}"), &e))?;
        }
        Ok(())
    }

    /// Credentials of the rows new in `next`, and those changed from this state.
    fn counted(&self, next: &Workspace, rows: &[CredentialRow]) -> (usize, usize) {
        let find = |ws: &Workspace, holder: &str, id: &str| {
            ws.holders.holders.get(holder).and_then(|h| h.credentials.iter().find(|c| c.id == id)).cloned()
        };
        let ids: BTreeSet<(&str, &str)> = rows.iter().map(|r| (r.holder.as_str(), r.id.as_str())).collect();
        let (mut added, mut changed) = (0, 0);
        for (holder, id) in ids {
            match (find(self, holder, id), find(next, holder, id)) {
                (None, Some(_)) => added += 1,
                (Some(a), Some(b)) if a != b => changed += 1,
                _ => {}
            }
        }
        (added, changed)
    }
}
