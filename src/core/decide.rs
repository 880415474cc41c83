//! The access decision: `decide(policy, state, request, now) -> Decision`, pure and
//! explainable. Every grant names the rule that granted it; every refusal names its
//! reason. [`handle`] is `decide` plus the keypad-lockout bookkeeping that follows it.
//!
//! Checks run in this order, and the first that fails is the reason given:
//! door known → keypad not locked out → token known (credential or door code) → not
//! revoked → clock policy → validity window → door in the credential's scope → door mode
//! (lockdown, free passage) → a door rule for the role → the credential's own schedule →
//! the rule's schedule at `now`, and, where the rule needs a booking, a booking covering
//! `now` (with the door's grace). Both are judged at the moment of entry: a 06:00–09:00
//! slot opens at 08:00 when laundry hours start at 07:00 (and not at 06:30); a 20:00–23:00
//! slot does not open at 22:40 when the hours end at 22:00; a day's holiday, closure or
//! shortened hours are that day's, whichever day the booking began.

use jiff::Timestamp;

use super::clock::{ClockTrust, UntrustedReason, validity_time};
use super::credential::{Credential, Token, TokenKind};
use super::lockout::LockoutOutcome;
use super::model::{Door, DoorMode, ScheduleIdx, SitePolicy, UntrustedAction};
use super::schedule::LocalTime;

pub use super::decision::{AccessRequest, AccessState, Decision, DenyReason, GrantRule, ScheduleOwner, Who};

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
            exception: v.exception,
        })
    }

    fn credential(&self, cred: &Credential) -> Decision {
        // An allowlist resolved against another policy could name a role this one lacks.
        let Some(role) = self.policy.role(cred.role) else {
            return self.deny(DenyReason::RoleNotAllowed, None);
        };
        let who = Who {
            credential: cred.id.clone(),
            holder: cred.holder.clone(),
            role: role.id.clone(),
            authority: cred.authority.clone(),
        };
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
            // The door's hours are judged at the moment of entry, on that moment's own date
            // (its holidays, closures and DST), whenever the booking began.
            if let Some(reason) = self.closed_schedule(rule.schedule, ScheduleOwner::DoorRule, self.now) {
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
