//! Monotonic time for everything that measures an interval: pulses, held-open limits,
//! nonce and challenge lifetimes, rate limits. It only moves forward and is unaffected
//! by the wall clock being set (time sync stepping it, an installer fixing the date).
//! Wall time ([`jiff::Timestamp`]) is for schedules, validity and audit timestamps only;
//! the two are never mixed. A [`Monotonic`] is a reading taken at the edge (the gateway's
//! clock) and passed in, like `now` for wall time.

use std::ops::{Add, Sub};

use jiff::SignedDuration;

/// A reading of the monotonic clock: time since an arbitrary origin (the process start).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Monotonic(SignedDuration);

impl Monotonic {
    /// The origin.
    pub const ZERO: Self = Self(SignedDuration::ZERO);

    /// The reading `since` after the origin.
    pub const fn from_origin(since: SignedDuration) -> Self {
        Self(since)
    }

    /// Time since the origin.
    pub const fn since_origin(self) -> SignedDuration {
        self.0
    }

    /// How long after `earlier` this reading is (negative if it is before).
    pub fn duration_since(self, earlier: Self) -> SignedDuration {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<SignedDuration> for Monotonic {
    type Output = Self;
    fn add(self, d: SignedDuration) -> Self {
        Self(self.0.saturating_add(d))
    }
}

impl Sub<SignedDuration> for Monotonic {
    type Output = Self;
    fn sub(self, d: SignedDuration) -> Self {
        Self(self.0.saturating_sub(d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_add_durations_and_measure_the_time_between_them() {
        let t = Monotonic::from_origin(SignedDuration::from_secs(10));
        let later = t + SignedDuration::from_millis(1500);
        assert_eq!(later.duration_since(t), SignedDuration::from_millis(1500));
        assert_eq!(t.duration_since(later), SignedDuration::from_millis(-1500));
        assert!(later > t);
        assert_eq!(later - SignedDuration::from_millis(1500), t);
        assert_eq!(
            Monotonic::ZERO + SignedDuration::MAX + SignedDuration::MAX,
            Monotonic::from_origin(SignedDuration::MAX)
        );
    }
}
