//! One site's complete bundle from the whole workspace: every holder with doors there
//! (their own and their group's), each of their credentials (narrowed to its doors),
//! every booking still to come (a group's for each member), and the owner's hours — so a
//! new bundle never drops what an earlier one carried by omission. Pure apart from
//! reading the site's key.

use jiff::{SignedDuration, Timestamp};
use smol_str::SmolStr;

use super::Workspace;
use super::files::Holder;
use crate::core::credential::{PhoneKey, Token};
use crate::core::hex;
use crate::core::secret::{CredentialKey, Digest};
use crate::credentials::bundle::{BookingEntry, Bundle, Entry};
use crate::tools::time_input::parse_time;

impl Workspace {
    /// A holder's doors at `site`: their group's, then their own, each once.
    pub fn doors_at(&self, holder: &Holder, site: &str) -> Vec<String> {
        let mut doors: Vec<String> = Vec::new();
        let group = holder.group.as_ref().and_then(|g| self.groups.groups.get(g));
        for d in group.and_then(|g| g.access.get(site)).into_iter().chain(holder.access.get(site)).flatten() {
            if !doors.contains(d) {
                doors.push(d.clone());
            }
        }
        doors
    }

    /// The bundle for `site` as the workspace now stands; every problem is reported.
    pub fn site_bundle(&self, site: &str, version: u64, issued_at: Timestamp) -> Result<Bundle, Vec<String>> {
        // What the gateway would refuse, or what would silently take access away.
        let mut problems = self.mistakes_at(site);
        let tz = self.timezone();
        let mut key: Option<CredentialKey> = None;
        let mut entries = Vec::new();
        for (holder_id, h) in &self.holders.holders {
            let doors = self.doors_at(h, site);
            if doors.is_empty() {
                continue;
            }
            let time = |v: &Option<String>, what: &str, problems: &mut Vec<String>| {
                v.as_ref().and_then(|v| {
                    parse_time(v, &tz).map_err(|e| problems.push(format!("holder {holder_id}, {what}: {e}"))).ok()
                })
            };
            let (valid_from, valid_until) =
                (time(&h.valid_from, "valid_from", &mut problems), time(&h.valid_until, "valid_until", &mut problems));
            for c in &h.credentials {
                let doors: Vec<SmolStr> =
                    doors.iter().filter(|d| c.doors.is_empty() || c.doors.contains(d)).map(SmolStr::new).collect();
                if doors.is_empty() {
                    continue;
                }
                let token = match c.kind.as_str() {
                    "tag" => {
                        if key.is_none() {
                            match self.site_key(site) {
                                Ok(k) => key = Some(k),
                                Err(e) => {
                                    problems.push(format!("tag {} of {holder_id}: {e}", c.id));
                                    continue;
                                }
                            }
                        }
                        key.as_ref().map(|k| Token::Tag(k.tag(c.uid.as_deref().unwrap_or_default())))
                    }
                    "pin" => match c.pin_digests.get(site).and_then(|d| hex::decode32(d)) {
                        Some(d) => Some(Token::Pin(Digest(d))),
                        None => {
                            problems.push(format!(
                                "PIN {} of {holder_id} is kept for {} only: give it again for {site} (`credential add` after `credential remove`)",
                                c.id,
                                c.pin_digests.keys().cloned().collect::<Vec<_>>().join(", ")
                            ));
                            None
                        }
                    },
                    "phone" => c.phone_key.as_deref().and_then(PhoneKey::from_hex).map(Token::Phone),
                    _ => None,
                };
                let Some(token) = token else {
                    if c.kind != "pin" {
                        problems.push(format!(
                            "credential {} of {holder_id}: kind \"{}\" without a usable value",
                            c.id, c.kind
                        ));
                    }
                    continue;
                };
                entries.push(Entry {
                    id: c.id.as_str().into(),
                    holder: holder_id.as_str().into(),
                    role: h.role.as_str().into(),
                    token,
                    doors,
                    schedule: h.schedule.as_deref().map(SmolStr::new),
                    valid_from,
                    valid_until,
                });
            }
        }
        let bookings = self.site_bookings(site, issued_at, &mut problems);
        let policy = match self.policies.get(site) {
            Some(p) if !p.is_empty() && !self.is_owner() => {
                problems.push(format!("policy/{site}.toml: hours are taken from the owner only"));
                None
            }
            Some(p) if !p.is_empty() => p
                .to_owner_policy()
                .map_err(|e| problems.extend(e.into_iter().map(|e| format!("policy/{site}.toml: {e}"))))
                .ok(),
            _ => None,
        };
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Bundle {
            authority: self.settings.authority.clone(),
            site: site.into(),
            version,
            issued_at,
            not_after: issued_at + SignedDuration::from_hours(self.settings.valid_days.saturating_mul(24)),
            entries,
            bookings,
            policy,
        })
    }

    /// The bookings at `site` that have not ended, a group's for each of its members.
    fn site_bookings(&self, site: &str, now: Timestamp, problems: &mut Vec<String>) -> Vec<BookingEntry> {
        let tz = self.timezone();
        let mut out = Vec::new();
        for b in self.bookings.bookings.iter().filter(|b| b.site == site) {
            let (Ok(start), Ok(end)) = (parse_time(&b.start, &tz), parse_time(&b.end, &tz)) else {
                problems.push(format!(
                    "bookings.toml: {} has a time that cannot be read",
                    super::bookings::describe_booking(b)
                ));
                continue;
            };
            if end <= now {
                continue;
            }
            let holders: Vec<&String> = match (&b.holder, &b.group) {
                (Some(h), _) => vec![h],
                (None, Some(g)) => {
                    self.holders.holders.iter().filter(|(_, h)| h.group.as_ref() == Some(g)).map(|(k, _)| k).collect()
                }
                (None, None) => Vec::new(),
            };
            let able: Vec<&String> = holders
                .into_iter()
                .filter(|id| self.holders.holders.get(*id).is_some_and(|h| self.doors_at(h, site).contains(&b.door)))
                .collect();
            if able.is_empty() {
                problems.push(format!(
                    "booking {}: nobody it is for has the door {} at {site}",
                    super::bookings::describe_booking(b),
                    b.door
                ));
            }
            out.extend(able.into_iter().map(|h| BookingEntry { holder: h.clone(), door: b.door.clone(), start, end }));
        }
        out
    }
}
