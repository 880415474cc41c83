//! What each authority may do beyond its doors, set by the owner in the gateway's config
//! (`[[authorities]]`): the roles it may give, the signed commands and door modes it may
//! send, the longest certificate and bundle it may issue, and whether it may carry
//! bookings. Defaults follow the trust model of `docs/credentials.md`: the owner may do
//! everything; the municipality gives the home-care role, pulses doors in its scope, reads
//! their visit list (`audit.query`) and issues certificates of at most 7 days (staff keys
//! per shift), but sets no door modes and cannot reload; a contractor gives its own role,
//! pulses doors in its scope and does nothing else.

use std::collections::BTreeSet;

use jiff::SignedDuration;

use super::authority::AuthorityClass;
use super::problems::Problems;
use crate::core::model::{DoorMode, Role};

/// The longest phone certificate the owner may issue unless the config says otherwise.
pub const OWNER_MAX_CERTIFICATE: SignedDuration = SignedDuration::from_hours(24 * 366);
/// The longest phone certificate another authority may issue unless the config says otherwise.
pub const STAFF_MAX_CERTIFICATE: SignedDuration = SignedDuration::from_hours(24 * 7);
/// The longest bundle the owner may issue unless the config says otherwise.
pub const OWNER_MAX_BUNDLE: SignedDuration = SignedDuration::from_hours(24 * 366);
/// How long an owner's residents keep their access past the bundle's end unless the
/// config says otherwise: a week to notice and re-issue, rather than a locked-out house.
pub const OWNER_EXPIRY_GRACE: SignedDuration = SignedDuration::from_hours(24 * 7);
/// The longest grace the config may give.
pub const MAX_EXPIRY_GRACE: SignedDuration = SignedDuration::from_hours(24 * 30);
/// The longest bundle another authority may issue unless the config says otherwise.
pub const STAFF_MAX_BUNDLE: SignedDuration = SignedDuration::from_hours(24 * 90);

/// A signed command an authority may be granted (`door.mode` goes by `modes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Granted {
    /// `door.pulse`.
    Pulse,
    /// `audit.query`: the visit list of the doors in its scope.
    Query,
    /// `reload`.
    Reload,
}

const GRANTED: [(Granted, &str); 3] =
    [(Granted::Pulse, "door.pulse"), (Granted::Query, "audit.query"), (Granted::Reload, "reload")];

impl Granted {
    /// The command's name.
    pub fn word(self) -> &'static str {
        GRANTED.iter().find(|(g, _)| *g == self).map_or("?", |(_, w)| w)
    }
}

/// What an authority may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rights {
    /// The roles it may give in bundles and certificates (`None`: every role).
    pub roles: Option<BTreeSet<String>>,
    /// The signed commands it may send besides `door.mode`.
    pub commands: BTreeSet<Granted>,
    /// The modes it may set with `door.mode` (empty: it may not send `door.mode`).
    pub modes: Vec<DoorMode>,
    /// The longest phone certificate it may issue (`not_after - not_before`).
    pub max_certificate: SignedDuration,
    /// The longest bundle it may issue (`not_after - issued_at`).
    pub max_bundle: SignedDuration,
    /// Whether its bundles may carry bookings.
    pub bookings: bool,
    /// How long the credentials of its bundle stay in use after the bundle's end
    /// (`not_after`) when no newer bundle came: zero refuses them at once.
    pub expiry_grace: SignedDuration,
}

impl Rights {
    /// The defaults for a class of authority.
    pub fn default_for(class: AuthorityClass) -> Self {
        match class {
            AuthorityClass::Owner => Self {
                roles: None,
                commands: BTreeSet::from([Granted::Pulse, Granted::Query, Granted::Reload]),
                modes: vec![DoorMode::Normal, DoorMode::FreePassage, DoorMode::Lockdown],
                max_certificate: OWNER_MAX_CERTIFICATE,
                max_bundle: OWNER_MAX_BUNDLE,
                bookings: true,
                expiry_grace: OWNER_EXPIRY_GRACE,
            },
            AuthorityClass::Municipality => Self {
                roles: Some(BTreeSet::from(["home_care".to_owned()])),
                commands: BTreeSet::from([Granted::Pulse, Granted::Query]),
                modes: Vec::new(),
                max_certificate: STAFF_MAX_CERTIFICATE,
                max_bundle: STAFF_MAX_BUNDLE,
                bookings: false,
                expiry_grace: SignedDuration::ZERO,
            },
            AuthorityClass::Contractor => Self {
                roles: Some(BTreeSet::from(["contractor".to_owned()])),
                commands: BTreeSet::from([Granted::Pulse]),
                modes: Vec::new(),
                max_certificate: STAFF_MAX_CERTIFICATE,
                max_bundle: STAFF_MAX_BUNDLE,
                bookings: false,
                expiry_grace: SignedDuration::ZERO,
            },
        }
    }

    /// Whether it may give `role`.
    pub fn may_give(&self, role: &str) -> bool {
        self.roles.as_ref().is_none_or(|r| r.contains(role))
    }

    /// Whether it may set a door to `mode`.
    pub fn may_set(&self, mode: DoorMode) -> bool {
        self.modes.contains(&mode)
    }

    /// The signed commands it may send besides `door.mode`, for messages.
    pub fn commands_text(&self) -> String {
        let words: Vec<&str> = self.commands.iter().map(|g| g.word()).collect();
        if words.is_empty() { "no commands".into() } else { words.join(", ") }
    }

    /// Whether it may send `command`.
    pub fn may_send(&self, command: Granted) -> bool {
        self.commands.contains(&command)
    }

    /// The roles it may give, for messages.
    pub fn roles_text(&self) -> String {
        match &self.roles {
            None => "every role".into(),
            Some(r) if r.is_empty() => "no role".into(),
            Some(r) => r.iter().map(String::as_str).collect::<Vec<_>>().join(", "),
        }
    }
}

/// The rights keys of one `[[authorities]]` table as written.
#[derive(Debug, Default)]
pub(super) struct RawRights<'a> {
    pub roles: Option<&'a [String]>,
    pub commands: Option<&'a [String]>,
    pub modes: Option<&'a [String]>,
    pub max_certificate: Option<&'a str>,
    pub max_bundle: Option<&'a str>,
    pub bookings: Option<bool>,
    pub expiry_grace: Option<&'a str>,
}

/// Validates the rights of the authority at `path`, starting from its class's defaults.
pub(super) fn rights(
    raw: &RawRights<'_>,
    class: AuthorityClass,
    roles: &[Role],
    path: &str,
    problems: &mut Problems,
) -> Rights {
    let mut r = Rights::default_for(class);
    if let Some(given) = raw.roles {
        let mut set = BTreeSet::new();
        for (i, name) in given.iter().enumerate() {
            if roles.iter().any(|role| role.id.as_str() == name) {
                set.insert(name.clone());
            } else {
                let known: Vec<&str> = roles.iter().map(|role| role.id.as_str()).collect();
                problems.push(
                    format!("{path}.roles[{i}]"),
                    format!("role \"{name}\" is not defined ({})", known.join(", ")),
                );
            }
        }
        r.roles = Some(set);
    }
    if let Some(given) = raw.commands {
        r.commands.clear();
        for (i, c) in given.iter().enumerate() {
            match (c.as_str(), GRANTED.iter().find(|(_, w)| w == c)) {
                (_, Some((g, _))) => {
                    r.commands.insert(*g);
                }
                ("door.mode", None) => {} // allowed through `modes`
                (other, None) => problems.push(
                    format!("{path}.commands[{i}]"),
                    format!(
                        "\"{other}\" is not a signed command (\"door.pulse\", \"audit.query\", \"reload\"; \
                         door modes are set with `modes`)"
                    ),
                ),
            }
        }
    }
    if let Some(given) = raw.modes {
        r.modes.clear();
        for (i, m) in given.iter().enumerate() {
            match DoorMode::from_word(m) {
                Some(mode) => r.modes.push(mode),
                None => problems.push(
                    format!("{path}.modes[{i}]"),
                    format!("\"{m}\" is not a door mode (\"normal\", \"free_passage\", \"lockdown\")"),
                ),
            }
        }
    }
    let cap = SignedDuration::from_hours(24 * 3660);
    let key = format!("{path}.max_certificate");
    r.max_certificate = super::fields::duration_within(
        raw.max_certificate,
        r.max_certificate,
        (SignedDuration::from_mins(1), cap),
        &key,
        problems,
    );
    let key = format!("{path}.max_bundle");
    r.max_bundle = super::fields::duration_within(
        raw.max_bundle,
        r.max_bundle,
        (SignedDuration::from_hours(1), cap),
        &key,
        problems,
    );
    if let Some(b) = raw.bookings {
        r.bookings = b;
    }
    // Zero is a choice here (refuse at once), so it is read apart from the other durations.
    let key = format!("{path}.expiry_grace");
    match raw.expiry_grace.map(str::parse::<SignedDuration>) {
        None => {}
        Some(Ok(d)) if !d.is_negative() && d <= MAX_EXPIRY_GRACE => r.expiry_grace = d,
        Some(Ok(d)) => problems.push(key, format!("{d:#} is outside 0h to {MAX_EXPIRY_GRACE:#}")),
        Some(Err(_)) => problems.push(key, "not a duration (write e.g. \"0h\", \"168h\")"),
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_municipality_by_default_gives_home_care_pulses_and_sets_no_modes() {
        let r = Rights::default_for(AuthorityClass::Municipality);
        assert!(r.may_give("home_care") && !r.may_give("property_staff"));
        assert!(r.may_send(Granted::Pulse) && !r.may_set(DoorMode::Lockdown) && !r.may_set(DoorMode::FreePassage));
        assert!(r.may_send(Granted::Query) && !r.may_send(Granted::Reload));
        assert_eq!(r.max_certificate, SignedDuration::from_hours(168));
        assert!(!r.bookings && r.expiry_grace.is_zero());
        let owner = Rights::default_for(AuthorityClass::Owner);
        assert!(owner.may_give("property_staff") && owner.may_set(DoorMode::Lockdown) && owner.bookings);
        assert!(owner.may_send(Granted::Query) && owner.may_send(Granted::Reload));
        assert_eq!(owner.expiry_grace, SignedDuration::from_hours(168));
        let contractor = Rights::default_for(AuthorityClass::Contractor);
        assert!(contractor.may_give("contractor") && contractor.may_send(Granted::Pulse));
        assert!(!contractor.may_send(Granted::Query) && !contractor.may_send(Granted::Reload));
    }
}
