//! What the buses report besides keypad entries: contacts and exit buttons drive the door
//! machines, devices going offline and back are audited (a contact that cannot be read is
//! unknown), a strike's coil found otherwise than wanted is audited once per episode; and
//! every event goes to `watch`ers first.

use super::{Gateway, door_idx};
use crate::core::model::DoorIdx;
use crate::door::machine::{Input, Strike};
use crate::gateway::handle::Observed;
use crate::modbus::bus::BusEvent;
use crate::store::EventKind;

impl Gateway {
    async fn on_input(&mut self, bus: usize, unit: u8, channel: u16, on: bool) {
        let now = self.clock.now();
        if let Some(&(door, inverted)) = self.contacts.get(&(bus, unit, channel)) {
            self.drive(door, Input::Contact(Some(on != inverted)), now).await;
        }
        if let Some(&(door, inverted)) = self.exits.get(&(bus, unit, channel))
            && on != inverted
        {
            self.drive(door, Input::ExitButton, now).await;
        }
    }

    async fn on_health(&mut self, bus: usize, unit: u8, online: bool, why: Option<String>) {
        let now = self.clock.now();
        let first = self.seen_online.insert((bus, unit));
        if online {
            self.offline.remove(&(bus, unit));
        } else {
            self.offline.insert((bus, unit));
        }
        if !(online && first) {
            let detail = serde_json::json!({ "bus": bus, "unit": unit, "online": online, "why": why });
            self.system_event(EventKind::DeviceHealth, None, &detail, now);
        }
        if !online {
            self.strikes.on_offline(bus, unit);
            let doors: Vec<DoorIdx> =
                self.contacts.iter().filter(|((b, u, _), _)| *b == bus && *u == unit).map(|(_, (d, _))| *d).collect();
            for door in doors {
                self.drive(door, Input::Contact(None), now).await;
            }
        }
    }

    /// A strike's coil was found otherwise than wanted and written again: audited once
    /// per episode (the bus reports it so).
    fn on_coil_corrected(&mut self, bus: usize, unit: u8, channel: u16, found: bool, wanted: bool) {
        let Some((door, relay)) = self.strikes.door_on(bus, unit, channel) else { return };
        let word = |coil| if relay.strike_for(coil) == Strike::Released { "released" } else { "locked" };
        let detail = serde_json::json!({
            "bus": self.bus_names.get(bus), "unit": unit, "channel": channel,
            "found": word(found), "wanted": word(wanted),
        });
        log::warn!(
            "door {door}: strike found {} on the relay board, wanted {}: written again",
            word(found),
            word(wanted)
        );
        let now = self.clock.now();
        self.system_event(EventKind::DoorStrikeCorrected, Some(door_idx(door)), &detail, now);
    }

    /// Handles one bus event.
    pub async fn on_bus_event(&mut self, bus: usize, event: BusEvent) {
        if self.observed.receiver_count() > 0 {
            let name = self.bus_names.get(bus).cloned().unwrap_or_default();
            let _ = self.observed.send(Observed { bus: name, event: event.clone() });
        }
        match event {
            BusEvent::Entered { unit, entered, age_secs } => self.on_entry(bus, unit, &entered, age_secs).await,
            BusEvent::Input { unit, channel, on } => self.on_input(bus, unit, channel, on).await,
            BusEvent::Coils { unit, coils, reading } => {
                self.strikes.on_coils(bus, unit, &coils, reading);
            }
            BusEvent::CoilCorrected { unit, channel, found, wanted } => {
                self.on_coil_corrected(bus, unit, channel, found, wanted);
            }
            BusEvent::Online { unit } => self.on_health(bus, unit, true, None).await,
            BusEvent::Offline { unit, why } => self.on_health(bus, unit, false, Some(why)).await,
        }
    }
}
