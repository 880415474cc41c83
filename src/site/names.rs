//! What the site's config calls things, for people: the site, its doors, each bus's
//! devices and the authorities it trusts. Sent in `state` (`names`) so that Central's
//! console shows "Porten", not `entrance`. Pure.

use serde::Serialize;

use crate::config::Config;

/// The config's names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SiteNames {
    /// The site's name (`[site] name`; empty when it has none).
    pub site: String,
    /// Each door's name.
    pub doors: Vec<DoorName>,
    /// Each device's name.
    pub devices: Vec<DeviceName>,
    /// Each trusted authority's name.
    pub authorities: Vec<AuthorityName>,
}

/// A door's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoorName {
    /// Its id.
    pub door: String,
    /// Its name.
    pub name: String,
}

/// A device's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceName {
    /// Its bus.
    pub bus: String,
    /// Its unit id there.
    pub unit: u8,
    /// Its name.
    pub name: String,
}

/// An authority's name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorityName {
    /// Its id.
    pub authority: String,
    /// The organisation's name.
    pub name: String,
}

impl SiteNames {
    /// The names `cfg` gives.
    pub fn of(cfg: &Config) -> Self {
        SiteNames {
            site: cfg.site.name.clone(),
            doors: cfg.policy.doors.iter().map(|d| DoorName { door: d.id.to_string(), name: d.name.clone() }).collect(),
            devices: cfg
                .buses
                .iter()
                .flat_map(|b| {
                    b.devices.iter().map(|d| DeviceName { bus: b.name.clone(), unit: d.unit, name: d.name.clone() })
                })
                .collect(),
            authorities: cfg
                .authorities
                .iter()
                .map(|a| AuthorityName { authority: a.id.to_string(), name: a.name.clone() })
                .collect(),
        }
    }
}
