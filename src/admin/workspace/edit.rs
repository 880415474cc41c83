//! Verbs that change one thing in the workspace: a site, a holder, a credential, a group
//! (team or apartment), a booking. Each checks what it is given against the rest of the
//! state (ids well formed and unique, groups and holders that exist, doors the site has),
//! changes the state in memory and says what it did; nothing is written unless it
//! succeeds. The owner's hours are in `hours`.

use std::fmt::Write as _;
use std::path::Path;

use super::Workspace;
use super::files::{Access, CredentialSpec, Group, Holder, SiteSettings};
use crate::core::credential::PhoneKey;
use crate::core::hex;
use crate::core::ids::{CredentialId, DoorId, HolderId, RoleId, SiteId};
use crate::core::secret::{CredentialKey, check_pin, check_tag};
use crate::tools::time_input::parse_time;

/// Why a verb changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    /// A name that is not a valid id.
    #[error("{what}: {message}")]
    BadId {
        /// Which argument.
        what: &'static str,
        /// Why.
        message: String,
    },
    /// Something named that the workspace does not have.
    #[error("there is no {what} \"{id}\" in the workspace{known}")]
    Unknown {
        /// A holder, group, site, credential, booking, schedule.
        what: &'static str,
        /// Its id.
        id: String,
        /// `(it has: a, b)`.
        known: String,
    },
    /// An id that is taken.
    #[error("{what} \"{id}\" is already in the workspace{place}")]
    Exists {
        /// What kind of thing.
        what: &'static str,
        /// Its id.
        id: String,
        /// Where.
        place: String,
    },
    /// A value that cannot be used.
    #[error("{what}: {message}")]
    Invalid {
        /// Which argument.
        what: String,
        /// Why.
        message: String,
    },
}

fn invalid(what: impl Into<String>, message: impl Into<String>) -> EditError {
    EditError::Invalid { what: what.into(), message: message.into() }
}

fn known<'a>(ids: impl Iterator<Item = &'a String>) -> String {
    let list: Vec<&str> = ids.map(String::as_str).collect();
    if list.is_empty() { " (it has none yet)".into() } else { format!(" (it has: {})", list.join(", ")) }
}

fn id_check<T>(what: &'static str, r: Result<T, crate::core::ids::IdError>) -> Result<(), EditError> {
    r.map(|_| ()).map_err(|e| EditError::BadId { what, message: e.to_string() })
}

/// Doors for one site from `a,b` or `a;b`.
pub fn door_list(text: &str) -> Vec<String> {
    text.split([',', ';', ' ']).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

impl Workspace {
    pub(super) fn site(&self, site: &str) -> Result<&SiteSettings, EditError> {
        self.settings.sites.get(site).ok_or_else(|| EditError::Unknown {
            what: "site",
            id: site.into(),
            known: known(self.settings.sites.keys()),
        })
    }

    /// The one site when there is just one; otherwise the caller must name it.
    pub fn site_or_only(&self, site: Option<&str>) -> Result<String, EditError> {
        match site {
            Some(s) => self.site(s).map(|_| s.to_owned()),
            None if self.settings.sites.len() == 1 => {
                Ok(self.settings.sites.keys().next().cloned().unwrap_or_default())
            }
            None => Err(invalid("--site", format!("say which site{}", known(self.settings.sites.keys())))),
        }
    }

    /// Checks doors against the site's known doors.
    fn check_access(&self, access: &Access) -> Result<(), EditError> {
        for (site, doors) in access {
            self.check_access_of(site, doors)?;
        }
        Ok(())
    }

    /// Checks doors at one site: well formed, the site's, granted to this authority.
    pub(super) fn check_access_of(&self, site: &str, doors: &[String]) -> Result<(), EditError> {
        let s = self.site(site)?;
        for d in doors {
            id_check("door", DoorId::new(d))?;
            if !s.doors.is_empty() && !s.doors.contains(d) {
                return Err(invalid(
                    format!("door \"{d}\""),
                    format!("{site} has no such door (its doors: {})", s.doors.join(", ")),
                ));
            }
        }
        self.check_granted_doors(site, doors)
    }

    /// The site's credential key, for hashing PINs and tags.
    pub fn site_key(&self, site: &str) -> Result<CredentialKey, EditError> {
        let path = self
            .site(site)?
            .site_key
            .as_ref()
            .ok_or_else(|| invalid(format!("site {site}"), "has no site_key: add it with `site add --site-key`"))?;
        let path = self.resolve(path);
        let text = std::fs::read_to_string(&path).map_err(|e| invalid(path.display().to_string(), e.to_string()))?;
        CredentialKey::from_hex(&text).map_err(|e| invalid(path.display().to_string(), e.to_string()))
    }

    /// Adds a site (or updates its key, doors and inbox), importing its schedules and
    /// doors from its config when given.
    pub fn site_add(
        &mut self,
        id: &str,
        site_key: Option<&Path>,
        config_text: Option<&str>,
        inbox: Option<&Path>,
    ) -> Result<String, EditError> {
        id_check("site", SiteId::new(id))?;
        let mut s = self.settings.sites.get(id).cloned().unwrap_or_default();
        if let Some(k) = site_key {
            s.site_key = Some(k.into());
        }
        if let Some(i) = inbox {
            s.inbox = Some(i.into());
        }
        let mut said = format!("site {id}");
        if let Some(text) = config_text {
            let (base, doors) = super::policy_file::PolicyFile::from_site_config(text)
                .map_err(|e| invalid("--config", format!("not a Portvakt config: {e}")))?;
            let grant = self.import_site_config(id, &mut s, text)?;
            let _ = write!(
                said,
                ": doors {}, {} schedule(s) from its config; {grant}",
                doors.join(", "),
                base.schedules.len()
            );
            self.bases.insert(id.into(), base);
        }
        self.settings.sites.insert(id.into(), s);
        if site_key.is_some() {
            self.site_key(id)?;
        }
        Ok(said)
    }

    fn holder_mut(&mut self, id: &str) -> Result<&mut Holder, EditError> {
        let known = known(self.holders.holders.keys());
        self.holders.holders.get_mut(id).ok_or_else(|| EditError::Unknown { what: "holder", id: id.into(), known })
    }

    fn check_times(&self, from: Option<&str>, until: Option<&str>) -> Result<(), EditError> {
        let tz = self.timezone();
        let parse =
            |what: &str, v: Option<&str>| v.map(|v| parse_time(v, &tz).map_err(|e| invalid(what, e))).transpose();
        if let (Some(a), Some(b)) = (parse("--valid-from", from)?, parse("--valid-until", until)?)
            && b <= a
        {
            return Err(invalid("--valid-until", "is not after --valid-from"));
        }
        Ok(())
    }

    pub(super) fn check_group(&self, group: Option<&str>) -> Result<(), EditError> {
        match group {
            Some(g) if !self.groups.groups.contains_key(g) => {
                Err(EditError::Unknown { what: "group", id: g.into(), known: known(self.groups.groups.keys()) })
            }
            _ => Ok(()),
        }
    }

    /// Adds a holder.
    pub fn holder_add(&mut self, id: &str, holder: Holder) -> Result<String, EditError> {
        id_check("holder", HolderId::new(id))?;
        id_check("--role", RoleId::new(&holder.role))?;
        if self.holders.holders.contains_key(id) {
            return Err(EditError::Exists { what: "holder", id: id.into(), place: String::new() });
        }
        self.check_group(holder.group.as_deref())?;
        self.check_access(&holder.access)?;
        self.check_granted_role(&holder.role, &self.sites_of(&holder))?;
        self.check_times(holder.valid_from.as_deref(), holder.valid_until.as_deref())?;
        let said = format!(
            "holder {id} ({}{}){}",
            holder.name.as_ref().map(|n| format!("{n}, ")).unwrap_or_default(),
            holder.role,
            holder.group.as_ref().map(|g| format!(" in {g}")).unwrap_or_default()
        );
        self.holders.holders.insert(id.into(), holder);
        Ok(said)
    }

    /// Replaces a holder's record with `changed` (made from the old one by the caller).
    pub fn holder_change(&mut self, id: &str, change: impl FnOnce(&mut Holder)) -> Result<String, EditError> {
        let mut h = self.holder_mut(id)?.clone();
        let before = h.clone();
        change(&mut h);
        id_check("--role", RoleId::new(&h.role))?;
        self.check_group(h.group.as_deref())?;
        self.check_access(&h.access)?;
        self.check_granted_role(&h.role, &self.sites_of(&h))?;
        self.check_times(h.valid_from.as_deref(), h.valid_until.as_deref())?;
        let mut parts = Vec::new();
        if h.role != before.role {
            parts.push(format!("role {} -> {}", before.role, h.role));
        }
        if h.group != before.group {
            let g = |g: &Option<String>| g.clone().unwrap_or_else(|| "no group".into());
            parts.push(format!("group {} -> {}", g(&before.group), g(&h.group)));
        }
        if h.access != before.access {
            parts.push("own doors changed".into());
        }
        if h.valid_until != before.valid_until || h.valid_from != before.valid_from {
            parts.push("validity changed".into());
        }
        *self.holder_mut(id)? = h;
        Ok(format!("holder {id}: {}", if parts.is_empty() { "unchanged".into() } else { parts.join(", ") }))
    }

    /// Removes a holder; with `revoke`, their credential ids and phone keys are revoked too.
    pub fn holder_remove(&mut self, id: &str, revoke: bool) -> Result<String, EditError> {
        let h = self.holder_mut(id)?.clone();
        self.holders.holders.remove(id);
        let before = self.bookings.bookings.len();
        self.bookings.bookings.retain(|b| b.holder.as_deref() != Some(id));
        let dropped = before - self.bookings.bookings.len();
        let mut said = format!("holder {id} removed with {} credential(s)", h.credentials.len());
        if dropped > 0 {
            let _ = write!(said, " and {dropped} booking(s)");
        }
        if revoke {
            for c in &h.credentials {
                self.revoke_credential(c);
            }
            let _ = write!(said, "; {} revoked", ids_of(&h.credentials));
        }
        Ok(said)
    }

    /// Revokes ids and phone keys (whether or not the workspace still holds them).
    pub fn revoke(&mut self, ids: &[String], phone_keys: &[String]) -> Result<String, EditError> {
        if ids.is_empty() && phone_keys.is_empty() {
            return Err(invalid("revoke", "name a credential id or give --phone-key"));
        }
        for id in ids {
            id_check("id", CredentialId::new(id))?;
        }
        let keys = phone_keys
            .iter()
            .map(|k| {
                PhoneKey::from_hex(k.trim())
                    .map(|k| hex::encode(&k.0))
                    .ok_or_else(|| invalid("--phone-key", format!("\"{k}\" is not 64 hexadecimal digits")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        for id in ids {
            if !self.revoked.ids.contains(id) {
                self.revoked.ids.push(id.clone());
            }
        }
        for k in keys {
            if !self.revoked.phone_keys.contains(&k) {
                self.revoked.phone_keys.push(k);
            }
        }
        Ok(format!(
            "revoked: {}{}",
            ids.join(", "),
            if phone_keys.is_empty() { String::new() } else { format!(" and {} phone key(s)", phone_keys.len()) }
        ))
    }

    fn revoke_credential(&mut self, c: &CredentialSpec) {
        if !self.revoked.ids.contains(&c.id) {
            self.revoked.ids.push(c.id.clone());
        }
        if let Some(k) = &c.phone_key {
            let k = k.to_ascii_lowercase();
            if !self.revoked.phone_keys.contains(&k) {
                self.revoked.phone_keys.push(k);
            }
        }
    }

    /// Where a credential id is used, if anywhere.
    fn credential_owner(&self, id: &str) -> Option<&str> {
        self.holders.holders.iter().find(|(_, h)| h.credentials.iter().any(|c| c.id == id)).map(|(k, _)| k.as_str())
    }

    /// Gives a holder a tag (`kind` = `tag`, `value` its UID), a PIN (its digits: kept
    /// only as a digest under each of the holder's sites' keys) or a phone key (hex).
    pub fn credential_add(
        &mut self,
        holder: &str,
        id: &str,
        kind: &str,
        value: &str,
        doors: Vec<String>,
    ) -> Result<String, EditError> {
        id_check("--id", CredentialId::new(id))?;
        if let Some(h) = self.credential_owner(id) {
            return Err(EditError::Exists { what: "credential", id: id.into(), place: format!(" (holder {h})") });
        }
        if self.revoked.ids.iter().any(|r| r == id) {
            return Err(invalid(
                "--id",
                format!("\"{id}\" was revoked and can never be used again; choose another id"),
            ));
        }
        let sites: Vec<String> = self.holder_sites(holder)?;
        for d in &doors {
            id_check("--doors", DoorId::new(d))?;
        }
        let mut spec = CredentialSpec { id: id.into(), kind: kind.into(), doors, ..CredentialSpec::default() };
        match kind {
            "tag" => {
                check_tag(value).map_err(|e| invalid("--tag", e))?;
                spec.uid = Some(value.trim().to_ascii_uppercase());
            }
            "pin" => {
                check_pin(value).map_err(|e| invalid("--pin", e))?;
                if sites.is_empty() {
                    return Err(invalid(
                        "--pin",
                        format!(
                            "{holder} has no doors at any site yet: give them doors first (the PIN is kept only as a digest under each site's key)"
                        ),
                    ));
                }
                for site in &sites {
                    let key = self.site_key(site)?;
                    spec.pin_digests.insert(site.clone(), hex::encode(&key.pin(value).0));
                }
            }
            "phone" => {
                let key = PhoneKey::from_hex(value.trim())
                    .ok_or_else(|| invalid("--phone-key", "a phone key is 64 hexadecimal digits"))?;
                if self.revoked.phone_keys.iter().any(|k| *k == hex::encode(&key.0)) {
                    return Err(invalid(
                        "--phone-key",
                        "this phone key was revoked (a lost phone): make a new key on the phone",
                    ));
                }
                spec.phone_key = Some(hex::encode(&key.0));
            }
            other => return Err(invalid("kind", format!("\"{other}\" is not tag, pin or phone"))),
        }
        let said = format!("{kind} {id} for {holder}");
        self.holder_mut(holder)?.credentials.push(spec);
        Ok(said)
    }

    /// The sites a holder has doors at, their own and their group's.
    pub fn holder_sites(&self, holder: &str) -> Result<Vec<String>, EditError> {
        let h = self.holders.holders.get(holder).ok_or_else(|| EditError::Unknown {
            what: "holder",
            id: holder.into(),
            known: known(self.holders.holders.keys()),
        })?;
        Ok(self.sites_of(h))
    }

    /// The sites `h` has doors at, their own and their group's.
    pub(super) fn sites_of(&self, h: &Holder) -> Vec<String> {
        let mut sites: Vec<String> = h.access.keys().cloned().collect();
        if let Some(g) = h.group.as_ref().and_then(|g| self.groups.groups.get(g)) {
            sites.extend(g.access.keys().cloned());
        }
        sites.sort();
        sites.dedup();
        sites
    }

    /// Takes a credential away; with `revoke` it is also revoked (a lost tag or phone).
    pub fn credential_remove(&mut self, id: &str, revoke: bool) -> Result<String, EditError> {
        let holder = self.credential_owner(id).map(str::to_owned).ok_or_else(|| EditError::Unknown {
            what: "credential",
            id: id.into(),
            known: String::new(),
        })?;
        let h = self.holder_mut(&holder)?;
        let pos = h.credentials.iter().position(|c| c.id == id).unwrap_or_default();
        let c = h.credentials.remove(pos);
        if revoke {
            self.revoke_credential(&c);
            return Ok(format!("{} {id} of {holder} removed and revoked", c.kind));
        }
        Ok(format!("{} {id} of {holder} removed", c.kind))
    }

    /// Adds a group (team or apartment) with its doors.
    pub fn group_add(&mut self, id: &str, group: Group) -> Result<String, EditError> {
        id_check("group", HolderId::new(id))?;
        if self.groups.groups.contains_key(id) {
            return Err(EditError::Exists { what: "group", id: id.into(), place: String::new() });
        }
        self.check_access(&group.access)?;
        self.groups.groups.insert(id.into(), group);
        Ok(format!("group {id}"))
    }

    /// Sets a group's doors at one site (none: the group no longer has that site).
    pub fn group_doors(&mut self, id: &str, site: &str, doors: &[String]) -> Result<String, EditError> {
        let mut access = Access::new();
        access.insert(site.into(), doors.to_vec());
        self.check_access(&access)?;
        let known = known(self.groups.groups.keys());
        let g =
            self.groups.groups.get_mut(id).ok_or_else(|| EditError::Unknown { what: "group", id: id.into(), known })?;
        if doors.is_empty() {
            g.access.remove(site);
        } else {
            g.access.insert(site.into(), doors.to_vec());
        }
        let members = self.holders.holders.values().filter(|h| h.group.as_deref() == Some(id)).count();
        Ok(format!(
            "group {id} at {site}: {} (for its {members} member(s))",
            if doors.is_empty() { "no doors".into() } else { doors.join(", ") }
        ))
    }

    /// Removes a group that has no members left.
    pub fn group_remove(&mut self, id: &str) -> Result<String, EditError> {
        let members: Vec<&String> =
            self.holders.holders.iter().filter(|(_, h)| h.group.as_deref() == Some(id)).map(|(k, _)| k).collect();
        if !members.is_empty() {
            return Err(invalid(
                format!("group {id}"),
                format!(
                    "still has members: {}; move them first",
                    members.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        let known = known(self.groups.groups.keys());
        self.groups.groups.remove(id).ok_or(EditError::Unknown { what: "group", id: id.into(), known })?;
        self.bookings.bookings.retain(|b| b.group.as_deref() != Some(id));
        Ok(format!("group {id} removed"))
    }
}

fn ids_of(c: &[CredentialSpec]) -> String {
    if c.is_empty() { "nothing".into() } else { c.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ") }
}
