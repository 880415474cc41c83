//! What the owner granted this workspace's authority at each site, kept in
//! `workspace.toml` from the site's config (`site add --config`, again to refresh): the
//! site's doors, roles, door rules and holidays, and the authority's own doors, roles,
//! lifetimes and whether it may carry bookings. Verbs refuse what lies outside it, so a
//! municipality's workspace never signs the laundry door or `property_staff` that the
//! gateway would refuse (and with them the whole bundle).

use std::fmt::Write as _;

use super::Workspace;
use super::edit::EditError;
use super::files::{GrantSpec, HolidaysSpec, RuleSpec, SiteSettings};
use crate::config::{SiteGrant, site_grant};

fn invalid(what: impl Into<String>, message: impl Into<String>) -> EditError {
    EditError::Invalid { what: what.into(), message: message.into() }
}

fn hours(d: jiff::SignedDuration) -> i64 {
    d.as_secs() / 3600
}

/// The grant as the workspace keeps it.
pub fn spec(g: &SiteGrant) -> GrantSpec {
    GrantSpec {
        doors: g.doors.clone(),
        roles: g.rights.roles.as_ref().map(|r| r.iter().cloned().collect()),
        commands: g.rights.commands.iter().map(|c| c.word().to_owned()).collect(),
        modes: g.rights.modes.iter().map(|m| m.word().to_owned()).collect(),
        max_certificate_hours: hours(g.rights.max_certificate),
        max_bundle_hours: hours(g.rights.max_bundle),
        bookings: g.rights.bookings,
    }
}

impl GrantSpec {
    /// Whether it may give `role`.
    pub fn may_give(&self, role: &str) -> bool {
        self.roles.as_ref().is_none_or(|r| r.iter().any(|x| x == role))
    }

    /// The roles it may give, for messages.
    pub fn roles_text(&self) -> String {
        match &self.roles {
            None => "every role".into(),
            Some(r) if r.is_empty() => "no role".into(),
            Some(r) => r.join(", "),
        }
    }
}

impl Workspace {
    /// Takes a site's doors, roles, rules, holidays and this authority's grant from the
    /// site's config into `s`; says what it took.
    pub(super) fn import_site_config(&self, id: &str, s: &mut SiteSettings, text: &str) -> Result<String, EditError> {
        let g = site_grant(text, &self.settings.authority).map_err(|e| invalid("--config", e))?;
        if g.site != id {
            return Err(invalid("--config", format!("is the config of site \"{}\", not of {id}", g.site)));
        }
        s.doors.clone_from(&g.site_doors);
        s.roles.clone_from(&g.site_roles);
        s.rules = g
            .door_rules
            .iter()
            .map(|(door, rules)| {
                let rules = rules
                    .iter()
                    .map(|r| RuleSpec { role: r.role.clone(), schedule: r.schedule.clone(), booking: r.booking })
                    .collect();
                (door.clone(), rules)
            })
            .collect();
        s.booking_grace = g
            .booking_grace
            .iter()
            .map(|(door, (before, after))| (door.clone(), [before.as_secs() / 60, after.as_secs() / 60]))
            .collect();
        s.holidays =
            Some(HolidaysSpec { calendar: g.holidays.0.clone(), eves: g.holidays.1, extra: g.holidays.2.clone() });
        let grant = spec(&g);
        let mut said = format!(
            "{} may grant {} and give {}",
            self.settings.authority,
            if grant.doors == g.site_doors { "every door".to_owned() } else { grant.doors.join(", ") },
            grant.roles_text()
        );
        let _ = write!(
            said,
            "; certificates of at most {} h, bundles of at most {} days{}",
            grant.max_certificate_hours,
            grant.max_bundle_hours / 24,
            if grant.bookings { ", with bookings" } else { "" }
        );
        s.grant = Some(grant);
        Ok(said)
    }

    /// The grant at `site`, when the workspace knows it.
    pub fn grant_at(&self, site: &str) -> Option<&GrantSpec> {
        self.settings.sites.get(site).and_then(|s| s.grant.as_ref())
    }

    /// Refuses doors at `site` outside the authority's grant.
    pub(super) fn check_granted_doors(&self, site: &str, doors: &[String]) -> Result<(), EditError> {
        let Some(g) = self.grant_at(site) else { return Ok(()) };
        match doors.iter().find(|d| !g.doors.contains(d)) {
            Some(d) => Err(invalid(
                format!("door \"{d}\""),
                format!(
                    "the owner has not granted it to {} at {site} (it may grant: {})",
                    self.settings.authority,
                    g.doors.join(", ")
                ),
            )),
            None => Ok(()),
        }
    }

    /// Refuses a role that a site the holder reaches does not have, or that this
    /// authority may not give there.
    pub(super) fn check_granted_role<'a>(
        &self,
        role: &str,
        sites: impl IntoIterator<Item = &'a String>,
    ) -> Result<(), EditError> {
        for site in sites {
            let Some(s) = self.settings.sites.get(site) else { continue };
            if let Some(why) = role_refusal(&s.roles, s.grant.as_ref(), &self.settings.authority, site, role) {
                return Err(invalid(format!("--role {role}"), why));
            }
        }
        Ok(())
    }

    /// Refuses a phone certificate the gateways of `site` (`*`: every site of the
    /// workspace) would refuse: a role the site lacks, a role or door outside the grant,
    /// a lifetime beyond it. Where no grant is known, no more than 168 h (the most any
    /// authority but the owner may issue by default).
    pub fn check_certificate(&self, site: &str, role: &str, doors: &[String], hours: i64) -> Result<(), EditError> {
        let sites: Vec<String> =
            if site == "*" { self.settings.sites.keys().cloned().collect() } else { vec![site.into()] };
        self.check_granted_role(role, &sites)?;
        for s in &sites {
            let grant = self.grant_at(s);
            if let Some(why) = certificate_refusal(grant, &self.settings.authority, s, doors, hours) {
                return Err(invalid("certificate", why));
            }
        }
        if sites.is_empty()
            && let Some(why) = certificate_refusal(None, &self.settings.authority, site, doors, hours)
        {
            return Err(invalid("certificate", why));
        }
        Ok(())
    }
}

/// Why `role` would be refused at `site`: a role the site lacks (`site_roles`, empty when
/// not known), or one the owner did not grant `authority` there (`grant`, when known).
pub fn role_refusal(
    site_roles: &[String],
    grant: Option<&GrantSpec>,
    authority: &str,
    site: &str,
    role: &str,
) -> Option<String> {
    if !site_roles.is_empty() && !site_roles.iter().any(|r| r == role) {
        return Some(format!("{site} has no such role (its roles: {})", site_roles.join(", ")));
    }
    grant
        .filter(|g| !g.may_give(role))
        .map(|g| format!("the owner has not granted it to {authority} at {site} (it may give: {})", g.roles_text()))
}

/// Why a certificate of `hours` for `doors` (`*`: the whole scope) would be refused at
/// `site` under `grant` (`None`: not known), if it would.
pub fn certificate_refusal(
    grant: Option<&GrantSpec>,
    authority: &str,
    site: &str,
    doors: &[String],
    hours: i64,
) -> Option<String> {
    if hours < 1 {
        return Some(format!("--hours {hours}: a certificate lasts at least one hour"));
    }
    let Some(g) = grant else {
        return (hours > 168).then(|| {
            format!(
                "--hours {hours}: without the site's grant (--config, or `site add --config` in the workspace) no \
                 certificate longer than 168 h is signed"
            )
        });
    };
    let whole = doors.len() == 1 && doors[0] == "*";
    if let Some(d) = doors.iter().find(|d| !whole && !g.doors.contains(d)) {
        return Some(format!(
            "door \"{d}\" is not granted to {authority} at {site} (it may grant: {})",
            g.doors.join(", ")
        ));
    }
    (hours > g.max_certificate_hours).then(|| {
        format!(
            "--hours {hours}: the owner lets {authority} issue certificates of at most {} h at {site}",
            g.max_certificate_hours
        )
    })
}
