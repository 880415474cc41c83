//! The clocks at the edge: wall time (schedules, validity, audit timestamps) and
//! monotonic time (pulses, held-open limits, nonce lifetimes, rate limits), read together
//! from one [`Clock`]: the system's in the daemon, a manual one in tests and the demo. The
//! core never reads a clock; the gateway reads this one and passes `now` in.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

use jiff::{SignedDuration, Timestamp};

use crate::core::monotonic::Monotonic;

/// Where the gateway reads the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current wall time.
    fn now(&self) -> Timestamp;
    /// The current monotonic time (never set back, unaffected by time sync).
    fn monotonic(&self) -> Monotonic;
}

/// The system clock: `CLOCK_REALTIME` for wall time, tokio's `Instant` (`CLOCK_MONOTONIC`,
/// and paused time in tests) for monotonic time.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

fn origin() -> tokio::time::Instant {
    static ORIGIN: OnceLock<tokio::time::Instant> = OnceLock::new();
    *ORIGIN.get_or_init(tokio::time::Instant::now)
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    fn monotonic(&self) -> Monotonic {
        let since = tokio::time::Instant::now().saturating_duration_since(origin());
        Monotonic::from_origin(SignedDuration::try_from(since).unwrap_or(SignedDuration::MAX))
    }
}

/// A clock that moves only when told (tests, and the demo's scripted day). Time passing
/// moves both readings; a step of the wall clock (what time sync does) moves only wall time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    wall_ms: Arc<AtomicI64>,
    mono_ms: Arc<AtomicI64>,
}

fn millis(d: SignedDuration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(if d.is_negative() { i64::MIN } else { i64::MAX })
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        Self { wall_ms: Arc::new(AtomicI64::new(at.as_millisecond())), mono_ms: Arc::new(AtomicI64::new(0)) }
    }

    /// Time passes until `at`; a time before the current one is a step of the wall clock
    /// back (monotonic time does not move).
    pub fn set(&self, at: Timestamp) {
        let before = self.wall_ms.swap(at.as_millisecond(), Ordering::SeqCst);
        let passed = at.as_millisecond().saturating_sub(before).max(0);
        self.mono_ms.fetch_add(passed, Ordering::SeqCst);
    }

    /// Time passes: both readings move forward by `by`.
    pub fn advance(&self, by: SignedDuration) {
        let ms = millis(by).max(0);
        self.wall_ms.fetch_add(ms, Ordering::SeqCst);
        self.mono_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// The wall clock is stepped by `by` (either way), as time sync does; no time passes.
    pub fn step_wall(&self, by: SignedDuration) {
        self.wall_ms.fetch_add(millis(by), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millisecond(self.wall_ms.load(Ordering::SeqCst)).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    fn monotonic(&self) -> Monotonic {
        Monotonic::from_origin(SignedDuration::from_millis(self.mono_ms.load(Ordering::SeqCst)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_step_moves_no_monotonic_time_and_passing_time_moves_both() {
        let c = ManualClock::new(Timestamp::UNIX_EPOCH + SignedDuration::from_hours(500_000));
        let (w0, m0) = (c.now(), c.monotonic());
        c.step_wall(SignedDuration::from_hours(-1));
        assert_eq!((c.now(), c.monotonic()), (w0 - SignedDuration::from_hours(1), m0));
        c.advance(SignedDuration::from_secs(5));
        assert_eq!(c.monotonic().duration_since(m0), SignedDuration::from_secs(5));
        c.set(w0); // from w0 - 1 h + 5 s: 59 min 55 s pass
        assert_eq!(c.monotonic().duration_since(m0), SignedDuration::from_hours(1), "set forward: time passed");
        c.set(w0 - SignedDuration::from_hours(2));
        assert_eq!(c.monotonic().duration_since(m0), SignedDuration::from_hours(1), "set back: a step");
    }
}
