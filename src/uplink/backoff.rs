//! Reconnect delays: exponential from one second, capped, with full jitter so a building
//! full of gateways does not reconnect in step after a broker restart. Pure: the random
//! part is passed in.

use std::time::Duration;

/// The first delay's ceiling.
pub const FIRST: Duration = Duration::from_secs(1);
/// No delay is longer.
pub const CAP: Duration = Duration::from_secs(60);

/// The delay before attempt `failures + 1`, given `unit` in `[0, 1)`: uniformly between
/// half the ceiling and the ceiling, the ceiling doubling per failure up to [`CAP`].
pub fn delay(failures: u32, unit: f64) -> Duration {
    let ceiling = FIRST.saturating_mul(1u32 << failures.min(16)).min(CAP);
    let unit = if unit.is_finite() { unit.clamp(0.0, 1.0) } else { 0.5 };
    ceiling.mul_f64(0.5 + unit / 2.0)
}

/// A cheap, seedable source of jitter (xorshift); jitter needs spread, not secrecy.
#[derive(Debug, Clone)]
pub struct Jitter(u64);

impl Jitter {
    /// Seeded from the clock and the process id.
    pub fn seeded() -> Self {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos());
        #[allow(clippy::cast_possible_truncation)]
        Self((nanos as u64) ^ u64::from(std::process::id()).rotate_left(32) | 1)
    }

    /// The next value in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        #[allow(clippy::cast_precision_loss)]
        let v = (self.0 >> 11) as f64 / (1u64 << 53) as f64;
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_a_second_and_stop_at_the_cap() {
        assert_eq!(delay(0, 1.0), Duration::from_secs(1));
        assert_eq!(delay(0, 0.0), Duration::from_millis(500));
        assert_eq!(delay(3, 1.0), Duration::from_secs(8));
        assert_eq!(delay(6, 1.0), CAP);
        assert_eq!(delay(u32::MAX, 1.0), CAP);
        assert_eq!(delay(u32::MAX, 0.0), CAP / 2);
        assert_eq!(delay(2, f64::NAN), Duration::from_secs(3));
    }

    #[test]
    fn jitter_spreads_over_the_unit_interval() {
        let mut j = Jitter(12345);
        let v: Vec<f64> = (0..1000).map(|_| j.unit()).collect();
        assert!(v.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(v.iter().any(|x| *x < 0.1) && v.iter().any(|x| *x > 0.9));
    }
}
