//! The clock watcher: once a second it reads the wall clock, the monotonic clock and the
//! time-sync flag file, judges trust with the core's rules, and publishes changes (the
//! supervisor passes them to the gateway; each change is audited). While trusted it
//! raises the persisted last-known-good floor every [`FLOOR_EVERY`] — seldom, for the SD
//! card. Start-up never waits for time sync: the first judgement is immediate.
//!
//! A step of the wall clock against the monotonic clock makes the clock untrusted until
//! time sync confirms it again (the flag file is touched after the step).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::core::clock::{
    ClockObservation, ClockState, ClockTrust, EARLIEST_TRUSTED, JumpDetector, assess, next_floor,
};
use crate::store::{EventKind, NewEvent};

/// How often the clock is looked at.
pub const PERIOD: Duration = Duration::from_secs(1);
/// How often a trusted clock's time is persisted as the floor.
pub const FLOOR_EVERY: SignedDuration = SignedDuration::from_mins(10);

/// The watcher's memory between observations (pure: readings are passed in).
#[derive(Debug, Clone)]
pub struct TrustTracker {
    detector: JumpDetector,
    tolerance: SignedDuration,
    floor: Option<Timestamp>,
    jumped_at: Option<Timestamp>,
}

/// One round's readings.
#[derive(Debug, Clone, Copy)]
pub struct Readings {
    /// Time since any fixed origin, from the monotonic clock.
    pub monotonic: SignedDuration,
    /// The wall clock.
    pub wall: Timestamp,
    /// When time sync last confirmed the clock (the flag file's mtime), if it has.
    pub synced_at: Option<Timestamp>,
}

impl TrustTracker {
    /// A tracker starting from the persisted floor.
    pub fn new(floor: Option<Timestamp>, tolerance: SignedDuration) -> Self {
        Self { detector: JumpDetector::new(tolerance), tolerance, floor, jumped_at: None }
    }

    /// The floor as it stands (persist it when it moved).
    pub fn floor(&self) -> Option<Timestamp> {
        self.floor
    }

    /// Judges one round's readings.
    pub fn observe(&mut self, r: Readings) -> ClockTrust {
        if let Some(jump) = self.detector.observe(r.monotonic, r.wall) {
            log::warn!("the wall clock stepped by {:#} against the monotonic clock", jump.by);
            // The step happened at most one period (plus the tolerance) before now.
            let period = SignedDuration::try_from(PERIOD).unwrap_or(SignedDuration::from_secs(1));
            self.jumped_at = Some(r.wall.checked_sub(period + self.tolerance).unwrap_or(r.wall));
        }
        let jumped = match (self.jumped_at, r.synced_at) {
            (Some(j), Some(s)) if s >= j => {
                self.jumped_at = None;
                false
            }
            (j, _) => j.is_some(),
        };
        let obs = ClockObservation { wall: r.wall, synchronized: r.synced_at.is_some(), floor: self.floor, jumped };
        self.floor = next_floor(obs).or(self.floor);
        assess(obs)
    }
}

fn synced_at(flag: &std::path::Path) -> Option<Timestamp> {
    let modified = std::fs::metadata(flag).and_then(|m| m.modified()).ok()?;
    Timestamp::try_from(modified).ok()
}

/// Watches the clock until `cancel`; publishes trust on `trust`.
pub async fn run(
    flag: PathBuf,
    mut tracker: TrustTracker,
    store: crate::store::Handle,
    trust: watch::Sender<ClockState>,
    cancel: CancellationToken,
) {
    let origin = Instant::now();
    let mut persisted = tracker.floor();
    let mut ticker = tokio::time::interval(PERIOD);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = ticker.tick() => {}
        }
        let readings = Readings {
            monotonic: SignedDuration::try_from(origin.elapsed()).unwrap_or(SignedDuration::MAX),
            wall: Timestamp::now(),
            synced_at: synced_at(&flag),
        };
        let now = tracker.observe(readings);
        let floor = tracker.floor().unwrap_or(EARLIEST_TRUSTED);
        // The floor is kept current for whoever reads it (it only matters while the clock
        // is untrusted, and does not move then); only a change of trust wakes the
        // watchers, and is logged and audited.
        let changed = |t: &mut ClockState| std::mem::replace(t, ClockState { trust: now, floor }).trust != now;
        if trust.send_if_modified(changed) {
            log::info!("clock trust: {now:?}");
            let detail = serde_json::to_value(now).unwrap_or_default();
            let event = NewEvent::system(EventKind::ClockTrust, readings.wall, now.is_trusted(), None, &detail);
            if let Err(e) = store.append(event).await {
                log::error!("clock trust change not audited: {e}");
            }
        }
        if let Some(floor) = tracker.floor()
            && persisted.is_none_or(|p| floor.duration_since(p) >= FLOOR_EVERY)
        {
            match store.call(move |s| s.raise_clock_floor(floor)).await {
                Ok(()) => persisted = Some(floor),
                Err(e) => log::error!("clock floor not persisted: {e}"),
            }
        }
    }
}

/// The trust to start with, judged at once from the flag file and the floor.
pub fn initial(flag: &std::path::Path, floor: Option<Timestamp>) -> ClockState {
    let trust = assess(ClockObservation {
        wall: Timestamp::now(),
        synchronized: synced_at(flag).is_some(),
        floor,
        jumped: false,
    });
    ClockState { trust, floor: floor.unwrap_or(EARLIEST_TRUSTED) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn read(mono: i64, wall: i64, synced: Option<i64>) -> Readings {
        Readings { monotonic: SignedDuration::from_secs(mono), wall: ts(wall), synced_at: synced.map(ts) }
    }

    #[test]
    fn a_clock_is_untrusted_until_time_sync_confirms_it() {
        let mut t = TrustTracker::new(None, SignedDuration::from_secs(2));
        assert!(!t.observe(read(0, 1_000, None)).is_trusted());
        assert!(t.observe(read(1, 1_001, Some(1_001))).is_trusted());
    }

    #[test]
    fn a_step_makes_the_clock_untrusted_until_sync_is_confirmed_after_it() {
        let mut t = TrustTracker::new(None, SignedDuration::from_secs(2));
        assert!(t.observe(read(0, 1_000_000, Some(999_000))).is_trusted());
        // Someone sets the clock back an hour; the old sync does not vouch for it.
        assert!(!t.observe(read(1, 996_401, Some(999_000))).is_trusted());
        assert!(!t.observe(read(2, 996_402, Some(999_000))).is_trusted());
        // Time sync corrects it and touches its flag: the correction vouches for itself.
        assert!(t.observe(read(3, 1_000_003, Some(1_000_003))).is_trusted());
    }

    #[test]
    fn the_first_sync_step_at_boot_is_vouched_for_by_the_sync_that_made_it() {
        // A Pi boots in 1970 (no RTC), then timesyncd steps the clock and touches the flag.
        let mut t = TrustTracker::new(Some(ts(1_790_000_000)), SignedDuration::from_secs(2));
        assert!(!t.observe(read(0, 10, None)).is_trusted());
        assert!(t.observe(read(1, 1_795_000_000, Some(1_795_000_000))).is_trusted());
    }

    #[test]
    fn the_floor_only_moves_forward_while_trusted() {
        let mut t = TrustTracker::new(Some(ts(5_000)), SignedDuration::from_secs(2));
        t.observe(read(0, 4_000, Some(4_000)));
        assert_eq!(t.floor(), Some(ts(5_000)), "a clock before the floor does not lower it");
        let mut t = TrustTracker::new(Some(ts(5_000)), SignedDuration::from_secs(2));
        t.observe(read(0, 6_000, Some(6_000)));
        assert_eq!(t.floor(), Some(ts(6_000)));
    }
}
