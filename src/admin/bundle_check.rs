//! A bundle checked against what the owner granted its authority at the site, before it
//! is written (`bundle build --config`): every role the site has and the grant allows,
//! every door the site has and the grant covers, bookings only where allowed, site policy
//! only from the owner, and a lifetime within the grant. Each problem names the entry.

use crate::config::{AuthorityClass, SiteGrant};
use crate::credentials::bundle::Bundle;

/// Every reason the gateway of `grant`'s site would refuse `bundle`.
pub fn refusals(grant: &SiteGrant, bundle: &Bundle) -> Vec<String> {
    let mut out = Vec::new();
    if bundle.site != grant.site {
        out.push(format!("the bundle is for site {}, the config is of {}", bundle.site, grant.site));
    }
    for e in &bundle.entries {
        let role = e.role.as_str();
        if !grant.site_roles.iter().any(|r| r == role) {
            out.push(format!(
                "{}: no role \"{role}\" at {} (its roles: {})",
                e.id,
                grant.site,
                grant.site_roles.join(", ")
            ));
        } else if !grant.rights.may_give(role) {
            out.push(format!("{}: role {role} is not granted (it may give: {})", e.id, grant.rights.roles_text()));
        }
        for d in &e.doors {
            if !grant.site_doors.iter().any(|x| x == d.as_str()) {
                out.push(format!(
                    "{}: no door \"{d}\" at {} (its doors: {})",
                    e.id,
                    grant.site,
                    grant.site_doors.join(", ")
                ));
            } else if !grant.doors.iter().any(|x| x == d.as_str()) {
                out.push(format!("{}: door {d} is not granted (it may grant: {})", e.id, grant.doors.join(", ")));
            }
        }
    }
    if !bundle.bookings.is_empty() && !grant.rights.bookings {
        out.push("bookings: this authority may not carry bookings (the owner's grant)".to_owned());
    }
    if bundle.policy.is_some() && grant.class != AuthorityClass::Owner {
        out.push("policy: hours and schedules come from the owner only".to_owned());
    }
    let lifetime = bundle.not_after.duration_since(bundle.issued_at);
    if lifetime > grant.rights.max_bundle {
        out.push(format!(
            "valid for {} days: the owner lets this authority issue bundles of at most {} days",
            lifetime.as_hours() / 24,
            grant.rights.max_bundle.as_hours() / 24
        ));
    }
    out
}
