//! The access decision: `decide(policy, state, request, now) -> Decision`, pure and
//! explainable. Every grant names the rule that granted it; every refusal names its
//! reason. [`handle`] is `decide` plus the keypad-lockout bookkeeping that follows it.
//!
//! Checks run in this order, and the first that fails is the reason given:
//! door known → keypad not locked out → token known (credential or door code) → not
//! revoked → clock policy → validity window → door in the credential's scope → door mode
//! (lockdown, free passage) → a door rule for the role → the credential's own schedule →
//! the rule's schedule at `now`, or, where the rule needs a booking, a booking covering
//! `now` (with the door's grace) whose start lies inside the rule's schedule. So a 07:00
//! laundry slot with 10 minutes' grace opens at 06:50, though laundry hours start at 07:00.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use super::allowlist::{Allowlist, Revocations};
use super::booking::Bookings;
use super::clock::{ClockTrust, UntrustedReason, validity_time};
use super::credential::{Credential, Token, TokenKind};
use super::ids::{CredentialId, DoorId, HolderId, RoleId, ScheduleId};
use super::lockout::{KeypadLockout, LockoutOutcome};
use super::model::{Door, DoorIdx, DoorMode, ScheduleIdx, SitePolicy, UntrustedAction};
use super::schedule::LocalTime;

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

/// One decision in progress: the fixed inputs, so each step is a short method.
struct Ctx<'a> {
    policy: &'a SitePolicy,
    state: &'a AccessState,
    req: &'a AccessRequest,
    door: &'a Door,
    now: Timestamp,
    kind: TokenKind,
    /// The local time of `now`, computed at most once.
    local_now: std::cell::OnceCell<LocalTime>,
}

impl Ctx<'_> {
    fn grant(&self, rule: GrantRule, who: Option<Who>) -> Decision {
        Decision::Grant {
            door: self.door.id.clone(),
            pulse: self.door.pulse,
            rule,
            who,
            kind: self.kind,
            clock: self.state.clock,
        }
    }

    fn deny(&self, reason: DenyReason, who: Option<Who>) -> Decision {
        Decision::Deny { door: Some(self.door.id.clone()), reason, who, kind: self.kind, clock: self.state.clock }
    }

    fn local(&self) -> LocalTime {
        *self.local_now.get_or_init(|| LocalTime::of(self.now, &self.policy.tz))
    }

    fn local_at(&self, when: Timestamp) -> LocalTime {
        if when == self.now { self.local() } else { LocalTime::of(when, &self.policy.tz) }
    }

    /// The action the clock-trust policy prescribes for this kind right now.
    fn clock_action(&self, kind: TokenKind) -> UntrustedAction {
        if self.state.clock.is_trusted() {
            return UntrustedAction::Evaluate;
        }
        let p = &self.policy.untrusted;
        match kind {
            TokenKind::Phone => p.phone,
            TokenKind::Tag => p.tag,
            TokenKind::Pin => p.pin,
            TokenKind::DoorCode => p.door_code,
        }
    }

    fn untrusted_reason(&self) -> UntrustedReason {
        match self.state.clock {
            ClockTrust::Untrusted(r) => r,
            ClockTrust::Trusted => UntrustedReason::NotSynchronized,
        }
    }

    /// Lockdown and free passage, which come before any rule. `timed` is false when
    /// time cannot be used.
    fn mode_decision(&self, who: Option<&Who>, override_ok: bool, timed: bool) -> Option<Decision> {
        match self.state.mode(self.req.door) {
            DoorMode::Lockdown if override_ok => {
                Some(self.grant(GrantRule::LockdownOverride { role: who.map(|w| w.role.clone())? }, who.cloned()))
            }
            DoorMode::Lockdown => Some(self.deny(DenyReason::Lockdown, who.cloned())),
            DoorMode::FreePassage => Some(self.grant(GrantRule::FreePassage { schedule: None }, who.cloned())),
            DoorMode::Normal => {
                let fp = self.door.free_passage.and_then(|i| self.policy.schedule(i))?;
                (timed && fp.admits(self.local(), &self.policy.calendar))
                    .then(|| self.grant(GrantRule::FreePassage { schedule: Some(fp.id.clone()) }, who.cloned()))
            }
        }
    }

    /// The refusal when schedule `idx` is closed at `when`; `None` when open or absent.
    fn closed_schedule(&self, idx: Option<ScheduleIdx>, owner: ScheduleOwner, when: Timestamp) -> Option<DenyReason> {
        let s = self.policy.schedule(idx?)?;
        let v = s.verdict(self.local_at(when), &self.policy.calendar);
        (!v.open).then(|| DenyReason::OutsideSchedule {
            schedule: s.id.clone(),
            owner,
            holiday: v.holiday.map(|h| h.name),
        })
    }

    fn credential(&self, cred: &Credential) -> Decision {
        // An allowlist resolved against another policy could name a role this one lacks.
        let Some(role) = self.policy.role(cred.role) else {
            return self.deny(DenyReason::RoleNotAllowed, None);
        };
        let who = Who { credential: cred.id.clone(), holder: cred.holder.clone(), role: role.id.clone() };
        if self.state.revocations.is_revoked(cred) {
            return self.deny(DenyReason::Revoked, Some(who));
        }
        let action = self.clock_action(self.kind);
        if action == UntrustedAction::Deny {
            return self.deny(DenyReason::UntrustedClock { why: self.untrusted_reason() }, Some(who));
        }
        let timed = action == UntrustedAction::Evaluate;
        if timed && let Some(from) = cred.valid_from.filter(|&f| self.now < f) {
            return self.deny(DenyReason::NotValidYet { from }, Some(who));
        }
        // Expiry holds whatever the clock: an untrusted one is judged no earlier than the
        // floor, so what had expired before a reboot without time sync stays expired.
        let validity_now = validity_time(self.now, self.state.clock, self.state.clock_floor);
        if let Some(until) = cred.valid_until.filter(|&u| validity_now >= u) {
            return self.deny(DenyReason::Expired { until }, Some(who));
        }
        if !cred.doors.contains(self.req.door) {
            return self.deny(DenyReason::DoorNotInScope, Some(who));
        }
        if let Some(decision) = self.mode_decision(Some(&who), role.lockdown_override, timed) {
            return decision;
        }
        let Some(rule) = self.door.rules.iter().find(|r| r.role == cred.role) else {
            return self.deny(DenyReason::RoleNotAllowed, Some(who));
        };
        if !timed {
            if rule.booking_required {
                return self.deny(DenyReason::UntrustedClock { why: self.untrusted_reason() }, Some(who));
            }
            return self.grant(GrantRule::UntrustedClockPolicy { kind: self.kind }, Some(who));
        }
        if let Some(reason) = self.closed_schedule(cred.schedule, ScheduleOwner::Credential, self.now) {
            return self.deny(reason, Some(who));
        }
        if rule.booking_required {
            let b = self.state.bookings.covering(
                &cred.holder,
                self.req.door,
                self.now,
                self.door.booking_grace_before,
                self.door.booking_grace_after,
            );
            let Some(b) = b else {
                return self.deny(DenyReason::NoBooking, Some(who));
            };
            if let Some(reason) = self.closed_schedule(rule.schedule, ScheduleOwner::DoorRule, b.start) {
                return self.deny(reason, Some(who));
            }
            return self.grant(GrantRule::Booking { start: b.start, end: b.end }, Some(who));
        }
        if let Some(reason) = self.closed_schedule(rule.schedule, ScheduleOwner::DoorRule, self.now) {
            return self.deny(reason, Some(who));
        }
        let schedule = rule.schedule.and_then(|i| self.policy.schedule(i)).map(|s| s.id.clone());
        self.grant(GrantRule::Role { role: who.role.clone(), schedule }, Some(who))
    }

    fn door_code(&self) -> Option<Decision> {
        let code = self.policy.door_code.as_ref()?;
        let Token::Pin(d) = self.req.token else {
            return None;
        };
        if d != code.digest {
            return None;
        }
        if !code.doors.contains(self.req.door) {
            return Some(self.deny(DenyReason::DoorCodeNotForThisDoor, None));
        }
        let action = self.clock_action(TokenKind::DoorCode);
        if action == UntrustedAction::Deny {
            return Some(self.deny(DenyReason::UntrustedClock { why: self.untrusted_reason() }, None));
        }
        let timed = action == UntrustedAction::Evaluate;
        if let Some(d) = self.mode_decision(None, false, timed) {
            return Some(d);
        }
        let schedule = self.policy.schedule(code.schedule)?;
        if timed {
            if let Some(reason) = self.closed_schedule(Some(code.schedule), ScheduleOwner::DoorCode, self.now) {
                return Some(self.deny(reason, None));
            }
            return Some(self.grant(GrantRule::DoorCode { schedule: schedule.id.clone() }, None));
        }
        Some(self.grant(GrantRule::UntrustedClockPolicy { kind: TokenKind::DoorCode }, None))
    }
}

/// Decides a request. Pure: reads the policy and state, returns the decision.
pub fn decide(policy: &SitePolicy, state: &AccessState, req: &AccessRequest, now: Timestamp) -> Decision {
    let mut kind = req.token.kind();
    let Some(door) = policy.door(req.door) else {
        return Decision::Deny { door: None, reason: DenyReason::UnknownDoor, who: None, kind, clock: state.clock };
    };
    if matches!(req.token, Token::Pin(d) if policy.door_code.as_ref().is_some_and(|c| c.digest == d)) {
        kind = TokenKind::DoorCode;
    }
    let ctx = Ctx { policy, state, req, door, now, kind, local_now: std::cell::OnceCell::new() };
    if matches!(req.token, Token::Pin(_))
        && let Some(until) = state.lockout.locked_until(req.door, now)
    {
        return ctx.deny(DenyReason::KeypadLockedOut { until }, None);
    }
    if let Some(cred) = state.allowlist.by_token(&req.token) {
        return ctx.credential(cred);
    }
    ctx.door_code().unwrap_or_else(|| ctx.deny(DenyReason::UnknownCredential, None))
}

/// Decides a request presented with a credential that is not in the allowlist: a phone
/// certificate, verified and resolved by the caller. Every check after identification
/// runs exactly as for allowlist credentials (revocation, clock, validity, scope, mode,
/// rules, schedules).
pub fn decide_with(
    policy: &SitePolicy,
    state: &AccessState,
    req: &AccessRequest,
    credential: &Credential,
    now: Timestamp,
) -> Decision {
    let kind = req.token.kind();
    let Some(door) = policy.door(req.door) else {
        return Decision::Deny { door: None, reason: DenyReason::UnknownDoor, who: None, kind, clock: state.clock };
    };
    let ctx = Ctx { policy, state, req, door, now, kind, local_now: std::cell::OnceCell::new() };
    ctx.credential(credential)
}

/// Decides a request and updates the keypad lockout: a wrong PIN or door code counts
/// against the keypad; a PIN that opens resets its count.
pub fn handle(
    policy: &SitePolicy,
    state: &mut AccessState,
    req: &AccessRequest,
    now: Timestamp,
) -> (Decision, Option<LockoutOutcome>) {
    let decision = decide(policy, state, req, now);
    let mut outcome = None;
    if matches!(req.token, Token::Pin(_)) {
        match decision.deny_reason() {
            Some(DenyReason::UnknownCredential) => {
                outcome = Some(state.lockout.record_failure(req.door, now, &policy.lockout));
            }
            None => state.lockout.record_success(req.door),
            Some(_) => {}
        }
    }
    (decision, outcome)
}
