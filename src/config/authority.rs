//! Signing authorities, set at installation: who may issue credentials for which doors.
//! The property owner covers every door; the municipality's home care and contractor
//! companies get only the doors the owner delegated. Signatures are checked with these
//! keys by the credentials part; here they are only read and validated.

use std::collections::BTreeSet;

use serde::Deserialize;

use super::problems::Problems;
use super::rights::{RawRights, Rights};
use crate::core::ids::AuthorityId;
use crate::core::model::{DoorIdx, DoorSet, Role, SitePolicy};

/// What kind of party an authority is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorityClass {
    /// The property owner: may grant every door and set site policy.
    Owner,
    /// The municipality (home care).
    Municipality,
    /// A contractor company.
    Contractor,
}

impl AuthorityClass {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Municipality => "municipality",
            Self::Contractor => "contractor",
        }
    }
}

/// One trusted authority.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorityConfig {
    /// Its id (as in bundle topics: `bundle/<authority>`).
    pub id: AuthorityId,
    /// The organisation's name.
    pub name: String,
    /// Owner, municipality or contractor.
    pub class: AuthorityClass,
    /// Its Ed25519 public key.
    pub public_key: [u8; 32],
    /// Its reading key (X25519 public): the personal parts of its records leave the
    /// gateway sealed to it; without one they never leave (`docs/audit.md`, Audiences).
    pub reading_key: Option<[u8; 32]>,
    /// The doors it may grant.
    pub doors: DoorSet,
    /// What it may do there (roles, commands, lifetimes, bookings).
    pub rights: Rights,
}

/// `[[authorities]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAuthority {
    id: String,
    name: Option<String>,
    class: String,
    public_key: String,
    reading_key: Option<String>,
    doors: Option<Vec<String>>,
    roles: Option<Vec<String>>,
    commands: Option<Vec<String>>,
    modes: Option<Vec<String>>,
    max_certificate: Option<String>,
    max_bundle: Option<String>,
    bookings: Option<bool>,
    expiry_grace: Option<String>,
}

impl RawAuthority {
    /// Its id as written.
    pub(super) fn id(&self) -> &str {
        &self.id
    }
}

/// Validates the authorities against the site's doors.
pub(super) fn authorities(
    raw: &[Option<RawAuthority>],
    policy_doors: &[String],
    roles: &[Role],
    problems: &mut Problems,
) -> Vec<AuthorityConfig> {
    let mut out = Vec::new();
    let mut ids = BTreeSet::new();
    let mut keys = BTreeSet::new();
    for (i, given) in raw.iter().enumerate() {
        let Some(given) = given else { continue };
        let path = format!("authorities[{i}]");
        let id = given.id.parse::<AuthorityId>().map_err(|e| problems.push(format!("{path}.id"), e.to_string())).ok();
        if given.id == crate::store::record::SITE {
            problems
                .push(format!("{path}.id"), "\"site\" is the building's own audience; give the authority another id");
        }
        if !ids.insert(given.id.clone()) {
            problems.push(format!("{path}.id"), format!("authority \"{}\" is defined twice", given.id));
        }
        let class = match given.class.as_str() {
            "owner" => Some(AuthorityClass::Owner),
            "municipality" => Some(AuthorityClass::Municipality),
            "contractor" => Some(AuthorityClass::Contractor),
            other => {
                let msg = format!("\"{other}\" is not a class; use \"owner\", \"municipality\" or \"contractor\"");
                problems.push(format!("{path}.class"), msg);
                None
            }
        };
        let key = crate::core::hex::decode32(&given.public_key);
        if key.is_none() {
            problems.push(format!("{path}.public_key"), "an Ed25519 public key is 64 hexadecimal digits");
        }
        if key.is_some_and(|k| !keys.insert(k)) {
            problems.push(format!("{path}.public_key"), "the same key as another authority");
        }
        let reading_key = given.reading_key.as_deref().and_then(|k| {
            let key = crate::core::hex::decode32(k).filter(sealable);
            if key.is_none() {
                problems.push(
                    format!("{path}.reading_key"),
                    "not a reading key: 64 hexadecimal digits of an X25519 public key (portvakt-admin keygen --reading)",
                );
            }
            key
        });
        let all = policy_doors
            .iter()
            .enumerate()
            .fold(DoorSet::default(), |s, (j, _)| s.with(DoorIdx(u8::try_from(j).unwrap_or(u8::MAX))));
        let doors = match (&given.doors, class) {
            (None, Some(AuthorityClass::Owner)) => all,
            (None, _) => {
                problems.push(format!("{path}.doors"), "list the doors this authority may grant, e.g. [\"entrance\"]");
                DoorSet::default()
            }
            (Some(list), _) => {
                let mut set = DoorSet::default();
                for (j, name) in list.iter().enumerate() {
                    match policy_doors.iter().position(|d| d == name) {
                        Some(k) => set = set.with(DoorIdx(u8::try_from(k).unwrap_or(u8::MAX))),
                        None => problems.push(format!("{path}.doors[{j}]"), format!("door \"{name}\" is not defined")),
                    }
                }
                if class == Some(AuthorityClass::Owner) && set != all {
                    problems.push(format!("{path}.doors"), "the owner covers every door; leave doors out");
                }
                set
            }
        };
        let raw_rights = RawRights {
            roles: given.roles.as_deref(),
            commands: given.commands.as_deref(),
            modes: given.modes.as_deref(),
            max_certificate: given.max_certificate.as_deref(),
            max_bundle: given.max_bundle.as_deref(),
            bookings: given.bookings,
            expiry_grace: given.expiry_grace.as_deref(),
        };
        let rights = class.map(|c| super::rights::rights(&raw_rights, c, roles, &path, problems));
        if let (Some(id), Some(class), Some(public_key), Some(rights)) = (id, class, key, rights) {
            out.push(AuthorityConfig {
                id,
                name: given.name.clone().unwrap_or_else(|| given.id.clone()),
                class,
                public_key,
                reading_key,
                doors,
                rights,
            });
        }
    }
    out
}

/// Whether a personal part can be sealed to `key` (an X25519 public key that is not of
/// low order: sealing to such a key fails, and would keep every part on the box).
fn sealable(key: &[u8; 32]) -> bool {
    let part = portvakt_wire::chain::Personal { holder: Some("check"), credential: None };
    portvakt_wire::personal::seal(key, "check", 1, &[0; 16], &part, &[1; 32]).is_ok()
}

/// The warning when no owner can sign anything.
pub(super) fn check_owner_present(list: &[AuthorityConfig], warnings: &mut Problems) {
    if !list.iter().any(|a| a.class == AuthorityClass::Owner) {
        warnings
            .push("authorities", "no owner authority: nobody can issue credentials or site policy for this gateway");
    }
}

/// The doors of an authority as names, for summaries.
pub fn door_names(policy: &SitePolicy, doors: DoorSet) -> Vec<&str> {
    doors.iter().filter_map(|d| policy.door(d)).map(|d| d.id.as_str()).collect()
}
