//! Rate limiting for BLE attempts: token buckets, one per radio address and one per
//! proven phone key, both kept across reconnects. An open request or a malformed message
//! costs a token from the address's; a proof that verifies costs one from its key's. Pure, on monotonic time passed in: setting the wall clock
//! neither refills a bucket nor locks a phone out.

use crate::core::monotonic::Monotonic;

pub use crate::config::Rate;

/// One peer's bucket.
#[derive(Debug, Clone)]
pub struct Bucket {
    /// Tokens in thousandths, so slow rates refill smoothly.
    milli: u64,
    at: Monotonic,
    /// When an attempt last took (or asked for) a token.
    charged: Monotonic,
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
    pub fn full(rate: Rate, now: Monotonic) -> Self {
        Self { milli: u64::from(rate.burst) * 1000, at: now, charged: now, announced: false }
    }

    fn refill(&mut self, rate: Rate, now: Monotonic) {
        if now < self.at {
            // Readings out of order (not from one clock): grant nothing for it.
            self.at = now;
            return;
        }
        let elapsed = now.duration_since(self.at);
        let gained =
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX).saturating_mul(u64::from(rate.per_minute)) / 60;
        self.milli = (self.milli.saturating_add(gained)).min(u64::from(rate.burst) * 1000);
        self.at = now;
    }

    /// When an attempt was last made against this bucket.
    pub fn charged_at(&self) -> Monotonic {
        self.charged
    }

    /// Whether the bucket is full at `now` (the peer can be forgotten).
    pub fn is_full(&mut self, rate: Rate, now: Monotonic) -> bool {
        self.refill(rate, now);
        self.milli >= u64::from(rate.burst) * 1000
    }

    /// Takes a token for an attempt.
    pub fn attempt(&mut self, rate: Rate, now: Monotonic) -> Verdict {
        self.refill(rate, now);
        self.charged = self.charged.max(now);
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
        let t0 = Monotonic::from_origin(SignedDuration::from_secs(100));
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
}
