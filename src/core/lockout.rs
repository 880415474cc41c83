//! Keypad brute-force lockout, per door keypad: wrong entries within a window lock the
//! keypad; each lockout that follows another without a good entry in between is twice as
//! long, up to a maximum. Pure state updated with `now` passed in.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};

use super::model::{DoorIdx, LockoutPolicy};

#[derive(Debug, Clone, Default)]
struct KeypadState {
    failures: VecDeque<Timestamp>,
    locked_until: Option<Timestamp>,
    streak: u32,
}

/// What a wrong entry led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockoutOutcome {
    /// Counted; the keypad stays open.
    Counted {
        /// Wrong entries in the current window.
        failures: u32,
    },
    /// The keypad is now locked until this moment.
    LockedUntil(Timestamp),
}

/// Lockout state for every keypad of the site.
#[derive(Debug, Clone, Default)]
pub struct KeypadLockout {
    keypads: Vec<KeypadState>,
}

impl KeypadLockout {
    fn state(&mut self, door: DoorIdx) -> &mut KeypadState {
        let i = usize::from(door.0);
        if self.keypads.len() <= i {
            self.keypads.resize_with(i + 1, KeypadState::default);
        }
        &mut self.keypads[i]
    }

    /// Until when the keypad of `door` is locked, if it is at `now`.
    pub fn locked_until(&self, door: DoorIdx, now: Timestamp) -> Option<Timestamp> {
        self.keypads.get(usize::from(door.0))?.locked_until.filter(|&t| now < t)
    }

    /// Records a wrong entry.
    pub fn record_failure(&mut self, door: DoorIdx, now: Timestamp, policy: &LockoutPolicy) -> LockoutOutcome {
        let s = self.state(door);
        while s.failures.front().is_some_and(|&t| t <= now.saturating_sub(policy.window).unwrap_or(now)) {
            s.failures.pop_front();
        }
        s.failures.push_back(now);
        let count = u32::try_from(s.failures.len()).unwrap_or(u32::MAX);
        if count < policy.max_failures {
            return LockoutOutcome::Counted { failures: count };
        }
        s.failures.clear();
        let factor = 1i32.checked_shl(s.streak.min(16)).unwrap_or(i32::MAX);
        let length = policy.base.checked_mul(factor).unwrap_or(policy.max).min(policy.max);
        s.streak += 1;
        let until = now.saturating_add(length).unwrap_or(now);
        s.locked_until = Some(until);
        LockoutOutcome::LockedUntil(until)
    }

    /// The wall clock was stepped by `by` (time sync, someone setting the date): every
    /// time kept here moves with it, so a lockout lasts what it was meant to in elapsed
    /// time, neither an hour longer nor over at once.
    pub fn shift(&mut self, by: SignedDuration) {
        let moved = |t: Timestamp| t.saturating_add(by).unwrap_or(t);
        for s in &mut self.keypads {
            for f in &mut s.failures {
                *f = moved(*f);
            }
            s.locked_until = s.locked_until.map(moved);
        }
    }

    /// No lockout ends later than `max` after `now` (a lockout restored at start, or moved
    /// with a wall-clock step from a wrong time, can never last longer than one may).
    pub fn clamp(&mut self, now: Timestamp, max: SignedDuration) {
        let latest = now.saturating_add(max).unwrap_or(now);
        for s in &mut self.keypads {
            s.locked_until = s.locked_until.map(|t| t.min(latest));
        }
    }

    /// Records a good entry: the count and the growing backoff start over.
    pub fn record_success(&mut self, door: DoorIdx) {
        let s = self.state(door);
        s.failures.clear();
        s.streak = 0;
    }

    /// Restores persisted keypads (from [`Self::snapshot`]); wrong entries within the
    /// window are not persisted, only lockouts and their streak.
    pub fn restore(rows: impl IntoIterator<Item = (DoorIdx, Option<Timestamp>, u32)>) -> Self {
        let mut l = Self::default();
        for (door, locked_until, streak) in rows {
            let s = l.state(door);
            s.locked_until = locked_until;
            s.streak = streak;
        }
        l
    }

    /// The persisted form: per keypad, its lock end and streak (restored at start).
    pub fn snapshot(&self) -> Vec<(DoorIdx, Option<Timestamp>, u32)> {
        self.keypads
            .iter()
            .enumerate()
            .filter_map(|(i, s)| u8::try_from(i).ok().map(|i| (DoorIdx(i), s.locked_until, s.streak)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + secs).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    const POLICY: LockoutPolicy = LockoutPolicy {
        max_failures: 3,
        window: SignedDuration::from_secs(60),
        base: SignedDuration::from_secs(30),
        max: SignedDuration::from_secs(100),
    };

    #[test]
    fn locks_after_the_third_wrong_entry_in_a_minute() {
        let mut l = KeypadLockout::default();
        let d = DoorIdx(0);
        assert_eq!(l.record_failure(d, t(0), &POLICY), LockoutOutcome::Counted { failures: 1 });
        assert_eq!(l.record_failure(d, t(10), &POLICY), LockoutOutcome::Counted { failures: 2 });
        assert_eq!(l.record_failure(d, t(20), &POLICY), LockoutOutcome::LockedUntil(t(50)));
        assert_eq!(l.locked_until(d, t(49)), Some(t(50)));
        assert_eq!(l.locked_until(d, t(50)), None);
        assert_eq!(l.locked_until(DoorIdx(1), t(30)), None, "other keypads are not affected");
    }

    #[test]
    fn forgets_wrong_entries_older_than_the_window() {
        let mut l = KeypadLockout::default();
        let d = DoorIdx(0);
        l.record_failure(d, t(0), &POLICY);
        l.record_failure(d, t(30), &POLICY);
        assert_eq!(l.record_failure(d, t(61), &POLICY), LockoutOutcome::Counted { failures: 2 });
    }

    #[test]
    fn doubles_each_lockout_up_to_the_maximum_until_a_good_entry() {
        let mut l = KeypadLockout::default();
        let d = DoorIdx(2);
        let mut now = 0;
        let mut lengths = Vec::new();
        for _ in 0..4 {
            let mut outcome = LockoutOutcome::Counted { failures: 0 };
            for _ in 0..3 {
                outcome = l.record_failure(d, t(now), &POLICY);
            }
            if let LockoutOutcome::LockedUntil(until) = outcome {
                lengths.push(until.duration_since(t(now)).as_secs());
                now = until.duration_since(t(0)).as_secs();
            }
        }
        assert_eq!(lengths, vec![30, 60, 100, 100]);
        l.record_success(d);
        for _ in 0..2 {
            l.record_failure(d, t(now), &POLICY);
        }
        assert_eq!(l.record_failure(d, t(now), &POLICY), LockoutOutcome::LockedUntil(t(now + 30)));
    }

    #[test]
    fn a_wall_clock_step_moves_a_lockout_with_it() {
        let d = DoorIdx(0);
        let mut l = KeypadLockout::default();
        for _ in 0..POLICY.max_failures {
            l.record_failure(d, t(0), &POLICY);
        }
        let until = l.locked_until(d, t(0)).unwrap();
        l.shift(SignedDuration::from_hours(-1));
        let back = t(0) - SignedDuration::from_hours(1);
        assert_eq!(l.locked_until(d, back), Some(until - SignedDuration::from_hours(1)));
        assert_eq!(l.locked_until(d, back + until.duration_since(t(0))), None, "over after the same elapsed time");
        // A step from a wrong clock (a boot at 1970, then time sync) cannot make it last years.
        l.shift(SignedDuration::from_hours(24 * 365 * 50));
        l.clamp(back, POLICY.max);
        assert!(l.locked_until(d, back).is_some_and(|u| u.duration_since(back) <= POLICY.max));
    }
}
