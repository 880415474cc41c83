//! Whether a door's `free_passage` schedule holds it open now (pure). Inside the window
//! the strike is held released — as the `free_passage` mode does — so the post carrier
//! without a credential gets in; at its end the strike locks. Only in normal mode (a
//! lockdown wins, the free-passage mode holds it anyway) and only while the clock is
//! trusted: an untrusted clock cannot say the window is open, so the door stays locked.

use jiff::Timestamp;

use super::decide::AccessState;
use super::model::{DoorIdx, DoorMode, SitePolicy};
use super::schedule::LocalTime;

/// Whether `door`'s free-passage schedule holds it released at `now`.
pub fn scheduled_open(policy: &SitePolicy, state: &AccessState, door: DoorIdx, now: Timestamp) -> bool {
    let Some(d) = policy.door(door) else { return false };
    let Some(schedule) = d.free_passage.and_then(|i| policy.schedule(i)) else { return false };
    state.mode(door) == DoorMode::Normal
        && state.clock.is_trusted()
        && schedule.admits(LocalTime::of(now, &policy.tz), &policy.calendar)
}

/// Whether any door has a free-passage schedule (only then is the time looked at).
pub fn any_scheduled(policy: &SitePolicy) -> bool {
    policy.doors.iter().any(|d| d.free_passage.is_some())
}
