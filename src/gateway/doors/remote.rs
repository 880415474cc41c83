//! Doors changed on someone's say-so (a signed command over the uplink, the control
//! socket): a mode change and a pulse. A mode is durable before it takes effect: the
//! sealed row goes to the store first ([`Gateway::store_mode`]); only once the caller has
//! seen it committed does it ask for the change ([`Gateway::apply_mode`]), and changes
//! take effect in the order they were handed to the store (a late one is not applied
//! over a later one). The loop itself never waits on the disk.

use super::{Committed, Gateway};
use crate::core::model::{DoorIdx, DoorMode};
use crate::door::machine::Input;
use crate::gateway::handle::Actor;
use crate::store::EventKind;
use crate::store::state::DoorModeRow;

impl Gateway {
    pub(super) fn door_named(&self, door: &str) -> Result<DoorIdx, String> {
        door.parse()
            .ok()
            .and_then(|d| self.policy.door_index(&d))
            .ok_or_else(|| format!("no door \"{door}\" in the configuration"))
    }

    /// Hands a door's new mode to the store; the caller waits on the returned
    /// [`Committed`] and then asks [`Self::apply_mode`] with the generation.
    pub(super) fn store_mode(&mut self, door: &str, mode: DoorMode) -> Result<(Committed, u64), String> {
        let idx = self.door_named(door)?;
        let now = self.clock.now();
        let generation = self.mode_generation.get_mut(usize::from(idx.0)).ok_or("no such door")?;
        *generation += 1;
        let generation = *generation;
        let mut committed = Committed::default();
        self.audit.save_mode(DoorModeRow::sealed(&self.key, door, mode, now), &mut committed);
        Ok((committed, generation))
    }

    /// Puts a stored mode into effect (drives the strike, records the change), unless a
    /// later change of the same door was stored since; the caller waits on the record.
    pub(super) async fn apply_mode(
        &mut self,
        door: &str,
        mode: DoorMode,
        by: &Actor,
        generation: u64,
    ) -> Result<Committed, String> {
        let idx = self.door_named(door)?;
        // Changes take effect in the order they were handed to the store: one older than
        // the change in effect is late (that one was stored after it). A later change
        // whose write failed never asks, so an earlier stored one still takes effect.
        let applied = self.mode_applied.get_mut(usize::from(idx.0)).ok_or("no such door")?;
        if generation <= *applied {
            return Err("a later mode change of this door took effect meanwhile; it stands".into());
        }
        *applied = generation;
        let now = self.clock.now();
        self.state.set_mode(idx, mode);
        self.drive(idx, Input::Mode(mode), now).await;
        let detail = serde_json::json!({ "mode": mode, "by": by.by });
        let event = self.event(EventKind::DoorModeChanged, Some(idx), &detail, now).for_audience(&by.audience);
        let mut committed = Committed::default();
        self.audit.record_into(event, &mut committed);
        Ok(committed)
    }

    /// Releases a door for its pulse on someone's say-so; the caller waits on the
    /// returned [`Committed`] (its record) before it says the door was pulsed.
    pub(super) async fn pulse(&mut self, door: &str, by: &Actor) -> Result<Committed, String> {
        let idx = self.door_named(door)?;
        let pulse = self.policy.door(idx).map(|d| d.pulse).unwrap_or_default();
        let now = self.clock.now();
        let released = self.released(idx, Input::Grant(pulse), now).await;
        let mut detail = serde_json::json!({ "by": by.by });
        if let Err(why) = &released {
            detail["strike"] = serde_json::json!(format!("not released: {why}"));
        }
        let mut committed = Committed::default();
        let event = self.event(EventKind::DoorPulsed, Some(idx), &detail, now).for_audience(&by.audience);
        self.audit.record_into(event, &mut committed);
        released.map(|()| committed).map_err(|why| format!("the relay board did not confirm the release: {why}"))
    }
}
