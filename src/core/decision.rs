//! The vocabulary of the access decision: what is asked ([`AccessRequest`]), what it is
//! decided from ([`AccessState`]), and what comes out ([`Decision`]: a grant with the
//! rule and who, or a refusal with its reason). Plain data; the deciding is in
//! [`super::decide`].

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::allowlist::{Allowlist, Revocations};
use super::booking::Bookings;
use super::clock::{ClockTrust, UntrustedReason};
use super::credential::{Token, TokenKind};
use super::ids::{CredentialId, DoorId, HolderId, RoleId, ScheduleId};
use super::lockout::KeypadLockout;
use super::model::{DoorIdx, DoorMode};

/// A request to open a door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccessRequest {
    /// The door.
    pub door: DoorIdx,
    /// What was presented.
    pub token: Token,
}

/// Everything that changes at run time.
#[derive(Debug, Clone, Default)]
pub struct AccessState {
    /// Credentials.
    pub allowlist: Allowlist,
    /// Revoked ids and keys.
    pub revocations: Revocations,
    /// Laundry bookings.
    pub bookings: Bookings,
    /// Per-door mode set by the owner or remotely; missing doors are `Normal`.
    pub modes: Vec<DoorMode>,
    /// Keypad lockout.
    pub lockout: KeypadLockout,
    /// Whether the clock is trusted now.
    pub clock: ClockTrust,
    /// The latest time known to have passed (the persisted clock floor): while the clock
    /// is untrusted, expiry is judged at the later of it and the clock.
    pub clock_floor: Option<Timestamp>,
}

impl Default for ClockTrust {
    fn default() -> Self {
        Self::Untrusted(UntrustedReason::NotSynchronized)
    }
}

impl AccessState {
    /// The mode of a door.
    pub fn mode(&self, door: DoorIdx) -> DoorMode {
        self.modes.get(usize::from(door.0)).copied().unwrap_or_default()
    }

    /// Sets the mode of a door.
    pub fn set_mode(&mut self, door: DoorIdx, mode: DoorMode) {
        let i = usize::from(door.0);
        if self.modes.len() <= i {
            self.modes.resize(i + 1, DoorMode::Normal);
        }
        self.modes[i] = mode;
    }
}

/// Who presented the credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Who {
    /// The credential.
    pub credential: CredentialId,
    /// Its holder.
    pub holder: HolderId,
    /// The holder's role.
    pub role: RoleId,
    /// The authority that issued the credential (the record's audience), if known.
    pub authority: Option<crate::core::ids::AuthorityId>,
}

/// Which schedule refused: the door's rule, the credential's own, or the door code's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScheduleOwner {
    /// The door's rule for the role.
    DoorRule,
    /// The credential's own schedule.
    Credential,
    /// The building door code's hours.
    DoorCode,
}

/// Why a door opens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum GrantRule {
    /// The door's rule for the role, at a time its schedule (if any) allows.
    Role {
        /// The role.
        role: RoleId,
        /// The rule's schedule; `None` is at all times.
        schedule: Option<ScheduleId>,
    },
    /// A booking of the holder covers the moment.
    Booking {
        /// The slot's start.
        start: Timestamp,
        /// The slot's end.
        end: Timestamp,
    },
    /// The shared door code during its hours.
    DoorCode {
        /// The door code's hours.
        schedule: ScheduleId,
    },
    /// The door is in free passage.
    FreePassage {
        /// The free-passage schedule, or `None` when the mode was set.
        schedule: Option<ScheduleId>,
    },
    /// The role may enter during a lockdown.
    LockdownOverride {
        /// The role.
        role: RoleId,
    },
    /// The clock is untrusted and the policy admits this kind without time checks.
    UntrustedClockPolicy {
        /// The kind of token.
        kind: TokenKind,
    },
}

/// Why a door stays shut.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
pub enum DenyReason {
    /// The door is not one of the site's.
    UnknownDoor,
    /// No credential (and not the door code) matches what was presented.
    UnknownCredential,
    /// The credential or its phone key is revoked.
    Revoked,
    /// The credential's validity starts later.
    NotValidYet {
        /// When it starts.
        from: Timestamp,
    },
    /// The credential's validity has ended.
    Expired {
        /// When it ended.
        until: Timestamp,
    },
    /// The credential does not include this door.
    DoorNotInScope,
    /// No rule of the door admits the holder's role.
    RoleNotAllowed,
    /// A schedule is closed at this moment.
    OutsideSchedule {
        /// The schedule.
        schedule: ScheduleId,
        /// Whose schedule it is.
        owner: ScheduleOwner,
        /// The holiday that closed or changed the day, if one did.
        holiday: Option<&'static str>,
        /// The schedule's exception for the day (an owner's closed or shortened day), if
        /// one replaced its usual hours.
        #[serde(skip_serializing_if = "Option::is_none")]
        exception: Option<super::schedule::DayException>,
    },
    /// The door is in lockdown.
    Lockdown,
    /// The keypad is locked after too many wrong entries.
    KeypadLockedOut {
        /// Until when.
        until: Timestamp,
    },
    /// The door needs a booking and the holder has none now.
    NoBooking,
    /// The clock is not trusted and the policy refuses this kind meanwhile.
    UntrustedClock {
        /// Why the clock is untrusted.
        why: UntrustedReason,
    },
    /// The door code was entered on a door it does not open.
    DoorCodeNotForThisDoor,
    /// The entry waited at the panel longer than the bus's `max_entry_age` before the
    /// gateway read it (the gateway was down or the bus out): the person has likely left.
    StaleEntry {
        /// How old the entry was, in seconds, as the panel said.
        age_secs: u16,
    },
}

impl DenyReason {
    /// A stable `snake_case` code for audit records and MQTT.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnknownDoor => "unknown_door",
            Self::UnknownCredential => "unknown_credential",
            Self::Revoked => "revoked",
            Self::NotValidYet { .. } => "not_valid_yet",
            Self::Expired { .. } => "expired",
            Self::DoorNotInScope => "door_not_in_scope",
            Self::RoleNotAllowed => "role_not_allowed",
            Self::OutsideSchedule { .. } => "outside_schedule",
            Self::Lockdown => "lockdown",
            Self::KeypadLockedOut { .. } => "keypad_locked_out",
            Self::NoBooking => "no_booking",
            Self::UntrustedClock { .. } => "untrusted_clock",
            Self::DoorCodeNotForThisDoor => "door_code_not_for_this_door",
            Self::StaleEntry { .. } => "stale_entry",
        }
    }
}

/// The outcome of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "decision")]
pub enum Decision {
    /// Open the door.
    Grant {
        /// The door.
        door: DoorId,
        /// How long to release the strike.
        #[serde(with = "pulse_ms")]
        pulse: SignedDuration,
        /// Why.
        #[serde(flatten)]
        rule: GrantRule,
        /// Who, when a credential was used.
        who: Option<Who>,
        /// The kind of token presented.
        kind: TokenKind,
        /// The clock's trust at the decision.
        clock: ClockTrust,
    },
    /// Keep it shut.
    Deny {
        /// The door, when known.
        door: Option<DoorId>,
        /// Why.
        #[serde(flatten)]
        reason: DenyReason,
        /// Who, when a credential was identified.
        who: Option<Who>,
        /// The kind of token presented.
        kind: TokenKind,
        /// The clock's trust at the decision.
        clock: ClockTrust,
    },
}

mod pulse_ms {
    use jiff::SignedDuration;
    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &SignedDuration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }
}

impl Decision {
    /// Whether the door opens.
    pub fn is_grant(&self) -> bool {
        matches!(self, Self::Grant { .. })
    }

    /// The refusal reason, if refused.
    pub fn deny_reason(&self) -> Option<&DenyReason> {
        match self {
            Self::Deny { reason, .. } => Some(reason),
            Self::Grant { .. } => None,
        }
    }

    /// The grant rule, if granted.
    pub fn grant_rule(&self) -> Option<&GrantRule> {
        match self {
            Self::Grant { rule, .. } => Some(rule),
            Self::Deny { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_reason_is_one_central_has_words_for() {
        let at = Timestamp::UNIX_EPOCH;
        let schedule = ScheduleId::new("t").unwrap_or_else(|_| unreachable!());
        let all = [
            DenyReason::UnknownDoor,
            DenyReason::UnknownCredential,
            DenyReason::Revoked,
            DenyReason::NotValidYet { from: at },
            DenyReason::Expired { until: at },
            DenyReason::DoorNotInScope,
            DenyReason::RoleNotAllowed,
            DenyReason::OutsideSchedule { schedule, owner: ScheduleOwner::DoorRule, holiday: None, exception: None },
            DenyReason::Lockdown,
            DenyReason::KeypadLockedOut { until: at },
            DenyReason::NoBooking,
            DenyReason::UntrustedClock { why: UntrustedReason::Jumped },
            DenyReason::DoorCodeNotForThisDoor,
            DenyReason::StaleEntry { age_secs: 9 },
        ];
        let codes: Vec<&str> = all.iter().map(DenyReason::code).collect();
        assert_eq!(codes, portvakt_wire::kinds::DENY_REASONS, "the shared list names every reason, in order");
    }
}
