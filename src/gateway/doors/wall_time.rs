//! What the gateway does by the wall clock rather than by elapsed time: opening and
//! closing each door's free-passage window, and moving keypad lockouts (kept in wall
//! time, as they are persisted) when the wall clock is stepped.

use jiff::Timestamp;

use super::{Gateway, door_idx};
use crate::core::free_passage::{any_scheduled, scheduled_open};
use crate::door::machine::Input;
use crate::store::EventKind;

/// A change of wall minus monotonic time beyond this is a step of the wall clock (time
/// sync slews smaller corrections).
const WALL_STEP: jiff::SignedDuration = jiff::SignedDuration::from_secs(2);

impl Gateway {
    /// Opens or closes each door's free-passage window as the wall clock says (each
    /// change audited as `door.free_passage`).
    pub(super) async fn check_free_passage(&mut self) {
        let now = self.clock.now();
        for i in 0..self.machines.len() {
            let door = door_idx(i);
            let open = scheduled_open(&self.policy, &self.state, door, now);
            if self.scheduled_open.get(i).copied() == Some(open) {
                continue;
            }
            self.scheduled_open[i] = open;
            self.drive(door, Input::Scheduled(open), now).await;
            let schedule = self
                .policy
                .door(door)
                .and_then(|d| d.free_passage)
                .and_then(|s| self.policy.schedule(s))
                .map(|s| s.id.to_string());
            let detail = serde_json::json!({ "open": open, "schedule": schedule });
            self.system_event(EventKind::DoorFreePassage, Some(door), &detail, now);
        }
    }

    /// Whether any door has a free-passage window to watch.
    pub(super) fn watches_free_passage(&self) -> bool {
        any_scheduled(&self.policy)
    }

    /// Keypad lockouts are kept in wall time (they survive a restart); when the wall clock
    /// has been stepped since the last look, they move with it, so a lockout lasts what it
    /// should in elapsed time; and none ends later than the policy's longest lockout from
    /// now (a lockout restored under a wrong clock, then moved by time sync).
    pub(super) fn follow_wall_steps(&mut self, now: Timestamp) {
        let offset = jiff::SignedDuration::from_millis(now.as_millisecond()) - self.clock.monotonic().since_origin();
        if let Some(before) = self.wall_offset.replace(offset) {
            let step = offset - before;
            if step.abs() > WALL_STEP {
                log::info!("the wall clock was stepped by {step:#}: keypad lockouts follow it");
                self.state.lockout.shift(step);
            }
        }
        self.state.lockout.clamp(now, self.policy.lockout.max);
    }
}
