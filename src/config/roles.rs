//! `[roles.<id>]` over the roles every site has.

use super::fields::id;
use super::problems::Problems;
use super::raw::RawRole;
use crate::core::ids::RoleId;
use crate::core::model::Role;

/// Roles every site has; `[roles.<id>]` may add more or change these.
pub(super) const BUILTIN_ROLES: [(&str, bool, &str); 4] = [
    ("resident", false, "lives in the building"),
    ("home_care", false, "municipal home care staff"),
    ("contractor", false, "external contractor"),
    ("property_staff", true, "the property owner's staff"),
];

pub(super) fn roles(raw: &[(String, RawRole)], problems: &mut Problems) -> Vec<Role> {
    let mut roles: Vec<Role> = BUILTIN_ROLES
        .iter()
        .filter_map(|(name, lockdown_override, description)| {
            RoleId::new(*name).ok().map(|id| Role {
                id,
                lockdown_override: *lockdown_override,
                description: (*description).to_owned(),
            })
        })
        .collect();
    for (name, given) in raw {
        let Some(role_id) = id::<RoleId>(name, &format!("roles.{name}"), problems) else { continue };
        if let Some(existing) = roles.iter_mut().find(|r| r.id == role_id) {
            existing.lockdown_override = given.lockdown_override;
            if let Some(text) = &given.description {
                existing.description.clone_from(text);
            }
        } else {
            roles.push(Role {
                id: role_id,
                lockdown_override: given.lockdown_override,
                description: given.description.clone().unwrap_or_default(),
            });
        }
    }
    roles
}
