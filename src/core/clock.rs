//! Clock trust. A Pi without a real-time clock boots with a stale time and jumps at
//! time sync; schedules and validity windows are only as good as the clock. This module
//! turns observations (sync status, the persisted last-known-good floor, wall-clock jumps
//! seen against the monotonic clock) into a trust state the decision records and obeys.

use jiff::{SignedDuration, Timestamp};

/// Why the clock is not trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UntrustedReason {
    /// Time sync has not confirmed the clock since boot.
    NotSynchronized,
    /// The clock reads earlier than a time this gateway has already seen.
    BeforeFloor,
    /// The wall clock moved against the monotonic clock since the last sync.
    Jumped,
}

impl UntrustedReason {
    /// For people.
    pub fn words(self) -> &'static str {
        match self {
            Self::NotSynchronized => "time sync has not confirmed the clock since start",
            Self::BeforeFloor => "the clock reads earlier than a time already seen",
            Self::Jumped => "the clock jumped since it was last synchronised",
        }
    }
}

/// Whether the wall clock can be believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case", tag = "trust", content = "reason")]
pub enum ClockTrust {
    /// Synchronised, not before the floor, no jump since.
    Trusted,
    /// Not to be believed, and why.
    Untrusted(UntrustedReason),
}

impl ClockTrust {
    /// Whether the clock is trusted.
    pub fn is_trusted(self) -> bool {
        self == Self::Trusted
    }
}

/// The earliest time a clock may read and be trusted: the start of the year this
/// release was made. A Pi without a real-time clock boots in 1970, and on a new SD card
/// there is no persisted floor yet: this one holds from the first boot.
pub const EARLIEST_TRUSTED: Timestamp = Timestamp::constant(1_767_225_600, 0); // 2026-01-01T00:00:00Z

/// The floor to judge by: the persisted one, but never earlier than [`EARLIEST_TRUSTED`].
pub fn floor_at_least_release(persisted: Option<Timestamp>) -> Timestamp {
    persisted.map_or(EARLIEST_TRUSTED, |f| f.max(EARLIEST_TRUSTED))
}

/// How far ahead of a trusted clock a bundle may say it was issued (the issuer's clock
/// may run a little fast); beyond it the bundle is refused (`issued_in_future`).
pub const ISSUED_AHEAD_TOLERANCE: SignedDuration = SignedDuration::from_mins(5);

/// The time validity (expiry) is judged at. A trusted clock is believed. An untrusted one
/// may be behind (a Pi without a real-time clock boots at an old time), but time has
/// certainly passed the persisted floor: the later of the two. So a certificate or bundle
/// that had expired before the floor never opens again after a reboot without time sync.
/// (An untrusted clock that runs ahead makes things expire early, never late.)
pub fn validity_time(wall: Timestamp, trust: ClockTrust, floor: Option<Timestamp>) -> Timestamp {
    match (trust, floor) {
        (ClockTrust::Trusted, _) | (ClockTrust::Untrusted(_), None) => wall,
        (ClockTrust::Untrusted(_), Some(f)) => wall.max(f),
    }
}

/// The clock as the daemon's parts see it: the trust and the floor (the latest time this
/// gateway has proof of: persisted, never earlier than [`EARLIEST_TRUSTED`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockState {
    /// Whether the wall clock is believed.
    pub trust: ClockTrust,
    /// The latest time known to have passed.
    pub floor: Timestamp,
}

impl ClockState {
    /// A trusted clock (tests, the demo).
    pub fn trusted() -> Self {
        Self { trust: ClockTrust::Trusted, floor: EARLIEST_TRUSTED }
    }

    /// Whether the clock is trusted.
    pub fn is_trusted(self) -> bool {
        self.trust.is_trusted()
    }

    /// The time validity is judged at, with the wall clock at `wall` ([`validity_time`]).
    pub fn validity_time(self, wall: Timestamp) -> Timestamp {
        validity_time(wall, self.trust, Some(self.floor))
    }
}

/// What the edges observed about the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockObservation {
    /// The wall clock now.
    pub wall: Timestamp,
    /// Whether time sync reported success since boot.
    pub synchronized: bool,
    /// The persisted last-known-good time, if any.
    pub floor: Option<Timestamp>,
    /// Whether a jump was detected since the last sync.
    pub jumped: bool,
}

/// Judges an observation. A clock before the floor is never trusted, whatever sync says.
pub fn assess(obs: ClockObservation) -> ClockTrust {
    if obs.floor.is_some_and(|f| obs.wall < f) {
        ClockTrust::Untrusted(UntrustedReason::BeforeFloor)
    } else if obs.jumped {
        ClockTrust::Untrusted(UntrustedReason::Jumped)
    } else if !obs.synchronized {
        ClockTrust::Untrusted(UntrustedReason::NotSynchronized)
    } else {
        ClockTrust::Trusted
    }
}

/// The floor to persist after an observation: it only moves forward, and only on a
/// trusted clock.
pub fn next_floor(obs: ClockObservation) -> Option<Timestamp> {
    match (assess(obs), obs.floor) {
        (ClockTrust::Trusted, Some(f)) => Some(f.max(obs.wall)),
        (ClockTrust::Trusted, None) => Some(obs.wall),
        (ClockTrust::Untrusted(_), f) => f,
    }
}

/// A detected step of the wall clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jump {
    /// How far the wall clock moved beyond the monotonic clock (negative: backwards).
    pub by: SignedDuration,
}

/// Detects wall-clock steps by comparing elapsed wall time with elapsed monotonic time.
#[derive(Debug, Clone)]
pub struct JumpDetector {
    tolerance: SignedDuration,
    last: Option<(SignedDuration, Timestamp)>,
}

impl JumpDetector {
    /// A detector ignoring drift up to `tolerance` between two observations.
    pub fn new(tolerance: SignedDuration) -> Self {
        Self { tolerance, last: None }
    }

    /// Feeds one pair of readings; `monotonic` is time since any fixed origin.
    pub fn observe(&mut self, monotonic: SignedDuration, wall: Timestamp) -> Option<Jump> {
        let prev = self.last.replace((monotonic, wall));
        let (m0, w0) = prev?;
        let skew = wall.duration_since(w0) - (monotonic - m0);
        (skew.abs() > self.tolerance).then_some(Jump { by: skew })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_untrusted_clock_reason_is_one_central_has_words_for() {
        let all = [UntrustedReason::NotSynchronized, UntrustedReason::BeforeFloor, UntrustedReason::Jumped];
        let codes: Vec<String> = all.iter().map(|r| serde_json::to_value(r).unwrap_or_default().to_string()).collect();
        let shared: Vec<String> = portvakt_wire::kinds::CLOCK_REASONS.iter().map(|c| format!("\"{c}\"")).collect();
        assert_eq!(codes, shared);
    }

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap_or(Timestamp::UNIX_EPOCH)
    }

    #[test]
    fn trusts_only_a_synchronised_clock_after_the_floor_without_jumps() {
        let base = ClockObservation { wall: ts(2_000), synchronized: true, floor: Some(ts(1_000)), jumped: false };
        assert_eq!(assess(base), ClockTrust::Trusted);
        assert_eq!(
            assess(ClockObservation { synchronized: false, ..base }),
            ClockTrust::Untrusted(UntrustedReason::NotSynchronized)
        );
        assert_eq!(
            assess(ClockObservation { wall: ts(0), ..base }),
            ClockTrust::Untrusted(UntrustedReason::BeforeFloor)
        );
        assert_eq!(assess(ClockObservation { jumped: true, ..base }), ClockTrust::Untrusted(UntrustedReason::Jumped));
    }

    #[test]
    fn a_clock_booted_in_1970_is_untrusted_even_if_sync_claims_success() {
        let obs = ClockObservation { wall: ts(5), synchronized: true, floor: Some(ts(1_790_000_000)), jumped: false };
        assert_eq!(assess(obs), ClockTrust::Untrusted(UntrustedReason::BeforeFloor));
        assert_eq!(next_floor(obs), Some(ts(1_790_000_000)), "the floor never moves back");
    }

    #[test]
    fn a_clock_in_1970_is_untrusted_even_when_synchronised_and_nothing_was_persisted() {
        let floor = floor_at_least_release(None);
        let obs = ClockObservation { wall: ts(794), synchronized: true, floor: Some(floor), jumped: false };
        assert_eq!(assess(obs), ClockTrust::Untrusted(UntrustedReason::BeforeFloor));
        assert_eq!(floor_at_least_release(Some(ts(1_790_000_000))), ts(1_790_000_000), "a later floor stands");
        assert_eq!(EARLIEST_TRUSTED.to_string(), "2026-01-01T00:00:00Z");
    }

    #[test]
    fn the_floor_moves_forward_only_on_trusted_time() {
        let obs = ClockObservation { wall: ts(3_000), synchronized: true, floor: Some(ts(1_000)), jumped: false };
        assert_eq!(next_floor(obs), Some(ts(3_000)));
        assert_eq!(next_floor(ClockObservation { synchronized: false, ..obs }), Some(ts(1_000)));
    }

    #[test]
    fn detects_jumps_forward_and_back_but_not_drift() {
        let mut d = JumpDetector::new(SignedDuration::from_secs(2));
        let m = SignedDuration::from_secs;
        assert_eq!(d.observe(m(0), ts(100)), None);
        assert_eq!(d.observe(m(10), ts(111)), None, "one second of drift is tolerated");
        assert_eq!(d.observe(m(20), ts(3_721)), Some(Jump { by: m(3_600) }));
        assert_eq!(d.observe(m(30), ts(3_131)), Some(Jump { by: m(-600) }));
    }

    #[test]
    fn an_untrusted_clock_is_judged_no_earlier_than_the_floor() {
        let untrusted = ClockTrust::Untrusted(UntrustedReason::NotSynchronized);
        assert_eq!(validity_time(ts(10), untrusted, Some(ts(5_000))), ts(5_000));
        assert_eq!(validity_time(ts(9_000), untrusted, Some(ts(5_000))), ts(9_000));
        assert_eq!(validity_time(ts(10), ClockTrust::Trusted, Some(ts(5_000))), ts(10), "a trusted clock is believed");
        assert_eq!(validity_time(ts(10), untrusted, None), ts(10));
    }
}
