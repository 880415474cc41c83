//! Mistakes caught before signing: what the gateway would refuse, or what would silently
//! take access away, found in the workspace's own files and named with file and line — a
//! door the site does not have (a misspelt `laundy` would leave a resident's booking
//! `door_not_in_scope`), a role the site lacks, a door, role, booking or bundle lifetime
//! the owner did not grant this authority, the same tag or PIN given to two credentials at
//! one site.
//! `site_bundle` refuses a bundle with any of these; nothing they describe is signed.

use std::collections::BTreeMap;
use std::path::Path;

use super::Workspace;

/// The line (1-based) in `text` of the first line after one starting with `section` that
/// contains `needle`; the section's own line when no such line follows; `None` without it.
fn line_in(text: &str, section: &str, needle: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.trim_start().starts_with(section))?;
    let found = lines[start..].iter().position(|l| l.contains(needle)).map(|k| start + k);
    Some(found.unwrap_or(start) + 1)
}

/// `file, line N` (or just the file when the place cannot be found).
fn place(dir: &Path, file: &str, section: &str, needle: &str) -> String {
    let line = std::fs::read_to_string(dir.join(file)).ok().and_then(|t| line_in(&t, section, needle));
    match line {
        Some(n) => format!("{file}, line {n}"),
        None => file.to_owned(),
    }
}

fn table(kind: &str, id: &str) -> String {
    let bare = id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if bare { format!("[{kind}.{id}") } else { format!("[{kind}.\"{id}\"") }
}

impl Workspace {
    /// Every mistake of these kinds at `site`, each naming its file and line.
    pub fn mistakes_at(&self, site: &str) -> Vec<String> {
        let mut out = Vec::new();
        self.unknown_doors(site, &mut out);
        self.outside_grant(site, &mut out);
        self.same_secret_twice(site, &mut out);
        out
    }

    /// What is wrong with door `d` at `site`: not a door of the site, or not one the
    /// owner granted this authority.
    fn door_problem(&self, site: &str, d: &str) -> Option<String> {
        let s = self.settings.sites.get(site)?;
        if !s.doors.is_empty() && !s.doors.iter().any(|k| k == d) {
            return Some(format!("no door \"{d}\" at {site} ({site}'s doors are {})", s.doors.join(", ")));
        }
        let g = s.grant.as_ref().filter(|g| !g.doors.iter().any(|k| k == d))?;
        Some(format!(
            "door \"{d}\" at {site} is not granted to {} (it may grant: {})",
            self.settings.authority,
            g.doors.join(", ")
        ))
    }

    fn unknown_doors(&self, site: &str, out: &mut Vec<String>) {
        for (id, group) in &self.groups.groups {
            for d in group.access.get(site).into_iter().flatten() {
                if let Some(why) = self.door_problem(site, d) {
                    let at = place(&self.dir, "groups.toml", &table("groups", id), &format!("\"{d}\""));
                    out.push(format!("{at}: group {id}: {why}"));
                }
            }
        }
        for (id, h) in &self.holders.holders {
            let section = table("holders", id);
            for d in h.access.get(site).into_iter().flatten() {
                if let Some(why) = self.door_problem(site, d) {
                    let at = place(&self.dir, "holders.toml", &section, &format!("\"{d}\""));
                    out.push(format!("{at}: holder {id}: {why}"));
                }
            }
            if self.doors_at(h, site).is_empty() {
                continue;
            }
            // A credential's doors narrow the holder's at each of their sites: a door none
            // of those sites has is a misspelling (the credential would never open it); one
            // another site has, or one outside this site's grant, is simply not signed here.
            let sites = self.sites_of(h);
            let somewhere = |d: &String| {
                sites
                    .iter()
                    .any(|s| self.settings.sites.get(s).is_none_or(|x| x.doors.is_empty() || x.doors.contains(d)))
            };
            for c in &h.credentials {
                for d in c.doors.iter().filter(|d| !somewhere(d)) {
                    let at = place(&self.dir, "holders.toml", &section, &format!("\"{d}\""));
                    out.push(format!(
                        "{at}: credential {} of {id}: no door \"{d}\" at any of {id}'s sites ({})",
                        c.id,
                        sites.join(", ")
                    ));
                }
            }
        }
    }

    /// Roles the site lacks or the owner did not grant, bookings and bundle lifetimes
    /// the grant does not allow.
    fn outside_grant(&self, site: &str, out: &mut Vec<String>) {
        let Some(s) = self.settings.sites.get(site) else { return };
        let me = &self.settings.authority;
        for (id, h) in &self.holders.holders {
            if self.doors_at(h, site).is_empty() {
                continue;
            }
            let at = || place(&self.dir, "holders.toml", &table("holders", id), "role =");
            if !s.roles.is_empty() && !s.roles.contains(&h.role) {
                out.push(format!(
                    "{}: holder {id}: no role \"{}\" at {site} (its roles: {})",
                    at(),
                    h.role,
                    s.roles.join(", ")
                ));
            } else if let Some(g) = s.grant.as_ref().filter(|g| !g.may_give(&h.role)) {
                out.push(format!(
                    "{}: holder {id}: role {} is not granted to {me} at {site} (it may give: {})",
                    at(),
                    h.role,
                    g.roles_text()
                ));
            }
        }
        let Some(g) = &s.grant else { return };
        if !g.bookings
            && let Some(b) = self.bookings.bookings.iter().find(|b| b.site == site)
        {
            let at = place(&self.dir, "bookings.toml", "[[bookings]]", &format!("\"{}\"", b.start));
            out.push(format!("{at}: {me} may not carry bookings at {site} (the owner's grant)"));
        }
        if self.settings.valid_days.saturating_mul(24) > g.max_bundle_hours {
            let at = place(&self.dir, "workspace.toml", "valid_days", "valid_days");
            out.push(format!(
                "{at}: valid_days = {}: the owner lets {me} issue bundles of at most {} days at {site}",
                self.settings.valid_days,
                g.max_bundle_hours / 24
            ));
        }
    }

    fn same_secret_twice(&self, site: &str, out: &mut Vec<String>) {
        let mut seen: BTreeMap<String, (String, String)> = BTreeMap::new();
        for (id, h) in &self.holders.holders {
            if self.doors_at(h, site).is_empty() {
                continue;
            }
            for c in &h.credentials {
                let secret = match c.kind.as_str() {
                    "tag" => c.uid.as_deref().map(|u| format!("tag {}", normalise_uid(u))),
                    "pin" => c.pin_digests.get(site).map(|d| format!("pin {d}")),
                    "phone" => c.phone_key.as_deref().map(|k| format!("phone key {}", k.to_ascii_lowercase())),
                    _ => None,
                };
                let Some(secret) = secret else { continue };
                if let Some((other, other_holder)) = seen.get(&secret) {
                    let what = secret.split_whitespace().next().unwrap_or("credential");
                    let what = if what == "pin" { "PIN".to_owned() } else { what.to_owned() };
                    let at = place(&self.dir, "holders.toml", &table("holders", id), &format!("\"{}\"", c.id));
                    out.push(format!(
                        "{at}: credential {} of {id} is the same {what} as credential {other} of {other_holder} at \
                         {site}: the gateway would refuse the bundle",
                        c.id
                    ));
                } else {
                    seen.insert(secret, (c.id.clone(), id.clone()));
                }
            }
        }
    }
}

/// A tag's UID as the gateway reads it: hex digits only, upper case.
fn normalise_uid(uid: &str) -> String {
    uid.chars().filter(char::is_ascii_hexdigit).map(|c| c.to_ascii_uppercase()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_place_is_the_line_of_the_value_inside_its_entrys_table() {
        let text = "[holders.anna]\nrole = \"resident\"\n\n[holders.anna.access]\nsite = [\"entrance\", \"laundy\"]\n";
        assert_eq!(line_in(text, "[holders.anna", "\"laundy\""), Some(5));
        assert_eq!(line_in(text, "[holders.bo", "\"laundy\""), None);
        assert_eq!(table("holders", "anna-1101"), "[holders.anna-1101");
        assert_eq!(table("holders", "åsa"), "[holders.\"åsa\"");
        assert_eq!(normalise_uid("04:a2:19:7f"), "04A2197F");
    }
}
