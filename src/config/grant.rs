//! What one authority was granted at a site, read from the site's config text alone (no
//! secret files needed): the site's doors and roles, which roles each door has a rule
//! for, and the authority's own doors and rights, validated by the same code the gateway
//! uses. An authority's workspace keeps this so that it never signs what the gateway
//! would refuse (`docs/owner.md`, "What your workspace knows of the site").

use std::collections::BTreeMap;

use serde::Deserialize;

use super::authority::{AuthorityClass, RawAuthority, authorities};
use super::problems::Problems;
use super::raw::RawRole;
use super::rights::Rights;

/// One authority's grant at one site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SiteGrant {
    /// The site's id (`[site] id`).
    pub site: String,
    /// The authority's class.
    pub class: AuthorityClass,
    /// Every door of the site, in config order.
    pub site_doors: Vec<String>,
    /// Every role of the site (the built-in ones and `[roles.<id>]`).
    pub site_roles: Vec<String>,
    /// For each door, its rules: the role, the schedule, whether with a booking.
    pub door_rules: BTreeMap<String, Vec<DoorRule>>,
    /// The holiday calendar: `sweden` or `none`, whether eves count, further dates.
    pub holidays: (String, bool, Vec<String>),
    /// Each door's booking grace, before and after a booked slot.
    pub booking_grace: BTreeMap<String, (jiff::SignedDuration, jiff::SignedDuration)>,
    /// The doors this authority may grant.
    pub doors: Vec<String>,
    /// What it may do there.
    pub rights: Rights,
}

#[derive(Deserialize)]
struct Site {
    id: String,
}

/// One rule of a door, as written in its `access`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DoorRule {
    /// The role it admits.
    pub role: String,
    /// The schedule it admits it in (`None`: at all times).
    #[serde(default)]
    pub schedule: Option<String>,
    /// Whether it needs a booking.
    #[serde(default)]
    pub booking: bool,
}

#[derive(Deserialize)]
struct Holidays {
    #[serde(default = "sweden")]
    calendar: String,
    #[serde(default = "yes")]
    eves: bool,
    #[serde(default)]
    extra: Vec<String>,
}

fn sweden() -> String {
    "sweden".into()
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct Door {
    id: String,
    #[serde(default)]
    access: Vec<DoorRule>,
    booking: Option<super::raw::RawBooking>,
}

/// The parts of a site config a grant is made of; everything else is ignored here (the
/// gateway validates it).
#[derive(Deserialize)]
struct Parts {
    site: Site,
    holidays: Option<Holidays>,
    #[serde(default)]
    doors: Vec<Door>,
    #[serde(default)]
    roles: BTreeMap<String, RawRole>,
    #[serde(default)]
    authorities: Vec<RawAuthority>,
}

/// The grant of `authority` in the site config `text`; the error says what is wrong (the
/// authority missing from the config, or its table as the gateway would refuse it).
pub fn site_grant(text: &str, authority: &str) -> Result<SiteGrant, String> {
    let parts: Parts = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
    let ids: Vec<String> = parts.authorities.iter().map(|a| a.id().to_owned()).collect();
    let Some(position) = ids.iter().position(|id| id == authority) else {
        return Err(format!(
            "the site config does not trust authority \"{authority}\" (its [[authorities]]: {}): the owner adds it \
             there first",
            if ids.is_empty() { "none".to_owned() } else { ids.join(", ") }
        ));
    };
    let mut problems = Problems::default();
    let raw_roles: Vec<(String, RawRole)> = parts.roles.into_iter().collect();
    let roles = super::roles::roles(&raw_roles, &mut problems);
    let site_doors: Vec<String> = parts.doors.iter().map(|d| d.id.clone()).collect();
    let mut only = parts.authorities;
    let mine = only.swap_remove(position);
    let found = authorities(&[Some(mine)], &site_doors, &roles, &mut problems);
    if !problems.0.is_empty() {
        let said: Vec<String> = problems
            .0
            .iter()
            .map(|p| {
                format!("{}: {}", p.path.replacen("authorities[0]", &format!("authorities[{position}]"), 1), p.message)
            })
            .collect();
        return Err(said.join("; "));
    }
    let Some(grant) = found.into_iter().next() else {
        return Err(format!("authority \"{authority}\" could not be read from the site config"));
    };
    let doors = grant.doors.iter().filter_map(|d| site_doors.get(usize::from(d.0)).cloned()).collect();
    let holidays = parts.holidays.map_or_else(|| (sweden(), true, Vec::new()), |h| (h.calendar, h.eves, h.extra));
    let mut grace_problems = Problems::default();
    let booking_grace = parts
        .doors
        .iter()
        .map(|d| {
            let (before, after) =
                d.booking.as_ref().map_or((None, None), |b| (b.grace_before.as_deref(), b.grace_after.as_deref()));
            let p = &mut grace_problems;
            let before = super::fields::duration(before, super::doors::GRACE_BEFORE, "booking.grace_before", p);
            let after = super::fields::duration(after, super::doors::GRACE_AFTER, "booking.grace_after", p);
            (d.id.clone(), (before, after))
        })
        .collect();
    Ok(SiteGrant {
        site: parts.site.id,
        class: grant.class,
        holidays,
        booking_grace,
        door_rules: parts.doors.into_iter().map(|d| (d.id, d.access)).collect(),
        site_doors,
        site_roles: roles.iter().map(|r| r.id.to_string()).collect(),
        doors,
        rights: grant.rights,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = include_str!("../../config/portvakt.toml");

    #[test]
    fn the_municipality_of_the_example_site_has_two_doors_and_the_home_care_role() {
        let g = site_grant(EXAMPLE, "hemtjansten").unwrap();
        assert_eq!(g.site, "storgatan-12");
        assert_eq!(g.class, AuthorityClass::Municipality);
        assert_eq!(g.doors, ["entrance", "rubbish"]);
        assert_eq!(g.site_doors, ["entrance", "rubbish", "laundry"]);
        assert!(g.rights.may_give("home_care") && !g.rights.may_give("property_staff"));
        assert!(!g.rights.bookings);
        assert!(g.site_roles.iter().any(|r| r == "property_staff"));
        let resident = g.door_rules["laundry"].iter().find(|r| r.role == "resident").unwrap();
        assert!(resident.booking && resident.schedule.as_deref() == Some("laundry-hours"));
        assert_eq!(g.holidays.0, "sweden");
    }

    #[test]
    fn the_owner_has_every_door_and_an_unknown_authority_is_named_with_those_there() {
        let g = site_grant(EXAMPLE, "owner").unwrap();
        assert_eq!(g.doors, g.site_doors);
        assert!(g.rights.may_give("property_staff") && g.rights.bookings);
        let e = site_grant(EXAMPLE, "kommunen").unwrap_err();
        assert!(e.contains("\"kommunen\"") && e.contains("hemtjansten"), "{e}");
    }

    #[test]
    fn an_authority_table_the_gateway_would_refuse_is_not_taken_as_a_grant() {
        let text = EXAMPLE.replacen("doors = [\"entrance\", \"rubbish\"]", "doors = [\"entrance\", \"atic\"]", 1);
        let e = site_grant(&text, "hemtjansten").unwrap_err();
        assert!(e.contains("authorities[1].doors[1]") && e.contains("\"atic\""), "{e}");
    }
}
