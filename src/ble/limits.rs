//! Per-phone rate limiting: a token bucket per peer. Every open request and every
//! malformed message costs a token; a proof answering an open challenge costs nothing.
//! Pure: `now` is passed in; a clock jump back refills nothing, and refilling goes on
//! from the new time (a phone is not locked out by a clock correction).

use jiff::Timestamp;

/// How many attempts a phone may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Attempts in a burst.
    pub burst: u32,
    /// Attempts regained per minute.
    pub per_minute: u32,
}

/// One peer's bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Tokens in thousandths, so slow rates refill smoothly.
    milli: u64,
    at: Timestamp,
    /// Whether this bout of limiting has been audited already.
    announced: bool,
}

/// What a bucket said to an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allowed,
    /// Refused; audit it (the first refusal of a bout).
    LimitedFirst,
    /// Refused again (not audited: a flood must not flood the log).
    Limited,
}

impl Bucket {
    /// A full bucket.
    pub fn full(rate: Rate, now: Timestamp) -> Self {
        Self { milli: u64::from(rate.burst) * 1000, at: now, announced: false }
    }

    fn refill(&mut self, rate: Rate, now: Timestamp) {
        if now < self.at {
            // The clock moved back: count from the new time, grant nothing for the jump.
            self.at = now;
            return;
        }
        let elapsed = now.duration_since(self.at);
        let gained =
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX).saturating_mul(u64::from(rate.per_minute)) / 60;
        self.milli = (self.milli.saturating_add(gained)).min(u64::from(rate.burst) * 1000);
        self.at = now;
    }

    /// Whether the bucket is full at `now` (the peer can be forgotten).
    pub fn is_full(&mut self, rate: Rate, now: Timestamp) -> bool {
        self.refill(rate, now);
        self.milli >= u64::from(rate.burst) * 1000
    }

    /// Takes a token for an attempt.
    pub fn attempt(&mut self, rate: Rate, now: Timestamp) -> Verdict {
        self.refill(rate, now);
        if self.milli >= 1000 {
            self.milli -= 1000;
            self.announced = false;
            Verdict::Allowed
        } else if self.announced {
            Verdict::Limited
        } else {
            self.announced = true;
            Verdict::LimitedFirst
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::SignedDuration;

    const RATE: Rate = Rate { burst: 3, per_minute: 6 };

    #[test]
    fn a_burst_is_allowed_then_one_attempt_every_ten_seconds() {
        let t0: Timestamp = "2026-11-25T02:30:00Z".parse().unwrap();
        let mut b = Bucket::full(RATE, t0);
        for _ in 0..3 {
            assert_eq!(b.attempt(RATE, t0), Verdict::Allowed);
        }
        assert_eq!(b.attempt(RATE, t0), Verdict::LimitedFirst);
        assert_eq!(b.attempt(RATE, t0 + SignedDuration::from_secs(9)), Verdict::Limited);
        assert_eq!(b.attempt(RATE, t0 + SignedDuration::from_secs(10)), Verdict::Allowed);
        assert_eq!(b.attempt(RATE, t0 + SignedDuration::from_secs(10)), Verdict::LimitedFirst);
        assert!(!b.is_full(RATE, t0 + SignedDuration::from_secs(30)));
        assert!(b.is_full(RATE, t0 + SignedDuration::from_secs(40)));
    }

    #[test]
    fn a_clock_that_moves_back_refills_nothing() {
        let t0: Timestamp = "2026-11-25T02:30:00Z".parse().unwrap();
        let mut b = Bucket::full(Rate { burst: 1, per_minute: 60 }, t0);
        assert_eq!(b.attempt(Rate { burst: 1, per_minute: 60 }, t0), Verdict::Allowed);
        let back = t0 - SignedDuration::from_hours(1);
        assert_eq!(b.attempt(Rate { burst: 1, per_minute: 60 }, back), Verdict::LimitedFirst);
        assert_eq!(b.attempt(Rate { burst: 1, per_minute: 60 }, back + SignedDuration::from_secs(1)), Verdict::Allowed);
    }
}
