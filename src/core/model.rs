//! The access model a property owner thinks in: doors with a kind, a mode and per-role
//! rules; roles; the shared building door code with its hours; keypad lockout and
//! clock-trust policies. Built once from validated config (later also from the owner's
//! signed policy) and read by [`super::decide`].

use jiff::SignedDuration;
use jiff::tz::TimeZone;

use super::holidays::HolidayCalendar;
use super::ids::{DoorId, RoleId, ScheduleId, SiteId};
use super::schedule::Schedule;
use super::secret::Digest;

/// Most doors one gateway serves (door sets are 64-bit masks).
pub const MAX_DOORS: usize = 64;

/// Index of a door in [`SitePolicy::doors`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DoorIdx(pub u8);

/// Index of a role in [`SitePolicy::roles`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RoleIdx(pub u16);

/// Index of a schedule in [`SitePolicy::schedules`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ScheduleIdx(pub u16);

/// A set of doors of one site.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct DoorSet(u64);

impl DoorSet {
    /// Adds a door.
    #[must_use]
    pub fn with(self, door: DoorIdx) -> Self {
        Self(self.0 | 1 << door.0)
    }

    /// Whether the door is in the set.
    pub fn contains(self, door: DoorIdx) -> bool {
        self.0 & (1 << door.0) != 0
    }

    /// The set from a bit mask (bit i = door index i).
    pub fn from_bits(bits: u64) -> Self {
        Self(bits)
    }

    /// The bit mask.
    pub fn bits(self) -> u64 {
        self.0
    }

    /// Whether every door of `self` is in `other`.
    pub fn is_subset_of(self, other: Self) -> bool {
        self.0 & !other.0 == 0
    }

    /// The doors, in index order.
    pub fn iter(self) -> impl Iterator<Item = DoorIdx> {
        // Bounded by MAX_DOORS == 64, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        (0..MAX_DOORS as u8).filter(move |i| self.0 & (1 << i) != 0).map(DoorIdx)
    }
}

/// What a door leads to; used in summaries and default rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoorKind {
    /// The building's entrance.
    Entrance,
    /// The rubbish room (soprum).
    Rubbish,
    /// The laundry room (tvättstuga).
    Laundry,
    /// Any other door.
    Other,
}

impl DoorKind {
    /// The config word for the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Entrance => "entrance",
            Self::Rubbish => "rubbish",
            Self::Laundry => "laundry",
            Self::Other => "other",
        }
    }
}

/// The mode a door is in, set by the owner or remotely.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DoorMode {
    /// Credentials and schedules decide.
    #[default]
    Normal,
    /// The door is unlocked for everyone.
    FreePassage,
    /// Nobody enters except roles allowed to override a lockdown.
    Lockdown,
}

impl DoorMode {
    /// The word the config, the store and the messages use (`free_passage`).
    pub fn word(self) -> &'static str {
        match self {
            Self::Normal => "normal",
            Self::FreePassage => "free_passage",
            Self::Lockdown => "lockdown",
        }
    }

    /// The mode for its word (`free_passage`), if it is one.
    pub fn from_word(word: &str) -> Option<Self> {
        [Self::Normal, Self::FreePassage, Self::Lockdown].into_iter().find(|m| m.word() == word)
    }
}

/// A role and what it may do beyond door rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Its id.
    pub id: RoleId,
    /// Whether holders of the role enter during a lockdown (property staff, rescue).
    pub lockdown_override: bool,
    /// What the role is, for people.
    pub description: String,
}

/// Which role may open a door, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorRule {
    /// The role.
    pub role: RoleIdx,
    /// When; `None` means at all times.
    pub schedule: Option<ScheduleIdx>,
    /// Whether the holder also needs a booking covering the moment (laundry).
    pub booking_required: bool,
}

/// One door and its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Door {
    /// Its id.
    pub id: DoorId,
    /// A name people use ("Porten").
    pub name: String,
    /// What it leads to.
    pub kind: DoorKind,
    /// How long the strike stays released on a grant.
    pub pulse: SignedDuration,
    /// Which roles may open it, when.
    pub rules: Vec<DoorRule>,
    /// When the door stands open for everyone, if ever.
    pub free_passage: Option<ScheduleIdx>,
    /// How early before a booking its holder may enter.
    pub booking_grace_before: SignedDuration,
    /// How long after a booking its holder may still enter.
    pub booking_grace_after: SignedDuration,
}

/// The shared building door code (portkod): one code, some doors, certain hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoorCode {
    /// Keyed digest of the code.
    pub digest: Digest,
    /// The hours the code works.
    pub schedule: ScheduleIdx,
    /// The doors whose keypads accept it.
    pub doors: DoorSet,
}

/// Keypad brute-force lockout: `max_failures` wrong entries within `window` lock the
/// keypad for `base`, doubling with each further lockout up to `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutPolicy {
    /// Wrong entries that trigger a lockout.
    pub max_failures: u32,
    /// The window the wrong entries are counted in.
    pub window: SignedDuration,
    /// The first lockout's length.
    pub base: SignedDuration,
    /// The longest lockout.
    pub max: SignedDuration,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: SignedDuration::from_mins(5),
            base: SignedDuration::from_secs(30),
            max: SignedDuration::from_mins(15),
        }
    }
}

/// What to do with a kind of credential while the clock is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UntrustedAction {
    /// Decide with the clock as it is; the decision is marked untrusted.
    Evaluate,
    /// Admit a known, unrevoked credential for a door in its scope, skipping schedules,
    /// validity windows and free-passage hours (they cannot be checked).
    IgnoreTime,
    /// Refuse.
    Deny,
}

impl UntrustedAction {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Evaluate => "evaluate",
            Self::IgnoreTime => "ignore_time",
            Self::Deny => "deny",
        }
    }
}

/// The policy while the clock is untrusted, per kind of credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UntrustedClockPolicy {
    /// Staff phone keys.
    pub phone: UntrustedAction,
    /// Residents' tags.
    pub tag: UntrustedAction,
    /// Personal PINs.
    pub pin: UntrustedAction,
    /// The shared door code.
    pub door_code: UntrustedAction,
}

impl Default for UntrustedClockPolicy {
    /// Phone keys and tags keep working; PINs are evaluated; the time-limited door code
    /// does not work until the time is known.
    fn default() -> Self {
        Self {
            phone: UntrustedAction::IgnoreTime,
            tag: UntrustedAction::IgnoreTime,
            pin: UntrustedAction::Evaluate,
            door_code: UntrustedAction::Deny,
        }
    }
}

/// Everything the decision needs to know about the site apart from credentials.
#[derive(Debug, Clone)]
pub struct SitePolicy {
    /// The site.
    pub site: SiteId,
    /// The site's time zone (bundled tz data).
    pub tz: TimeZone,
    /// The holidays it observes.
    pub calendar: HolidayCalendar,
    /// Named schedules.
    pub schedules: Vec<Schedule>,
    /// Roles.
    pub roles: Vec<Role>,
    /// Doors.
    pub doors: Vec<Door>,
    /// The shared door code, if the building has one.
    pub door_code: Option<DoorCode>,
    /// Keypad lockout.
    pub lockout: LockoutPolicy,
    /// Behaviour while the clock is untrusted.
    pub untrusted: UntrustedClockPolicy,
}

impl SitePolicy {
    /// The index of a door.
    pub fn door_index(&self, id: &DoorId) -> Option<DoorIdx> {
        let i = self.doors.iter().position(|d| &d.id == id)?;
        u8::try_from(i).ok().map(DoorIdx)
    }

    /// The index of a role.
    pub fn role_index(&self, id: &RoleId) -> Option<RoleIdx> {
        let i = self.roles.iter().position(|r| &r.id == id)?;
        u16::try_from(i).ok().map(RoleIdx)
    }

    /// The index of a schedule.
    pub fn schedule_index(&self, id: &ScheduleId) -> Option<ScheduleIdx> {
        let i = self.schedules.iter().position(|s| &s.id == id)?;
        u16::try_from(i).ok().map(ScheduleIdx)
    }

    /// A door by index.
    pub fn door(&self, idx: DoorIdx) -> Option<&Door> {
        self.doors.get(usize::from(idx.0))
    }

    /// A role by index.
    pub fn role(&self, idx: RoleIdx) -> Option<&Role> {
        self.roles.get(usize::from(idx.0))
    }

    /// A schedule by index.
    pub fn schedule(&self, idx: ScheduleIdx) -> Option<&Schedule> {
        self.schedules.get(usize::from(idx.0))
    }

    /// Every door of the site.
    pub fn all_doors(&self) -> DoorSet {
        (0..self.doors.len()).filter_map(|i| u8::try_from(i).ok()).fold(DoorSet::default(), |s, i| s.with(DoorIdx(i)))
    }
}
