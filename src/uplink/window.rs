//! The in-flight window of one MQTT connection: which publish carried which audit record,
//! so the broker's PUBACK (which names only a packet id) confirms the right sequence
//! number. rumqttc reports each publish's packet id as it writes it, in the order the
//! publishes were queued; the window pairs them up in that order. One window per
//! connection: a reconnect starts a fresh client, a fresh window, and a fresh drain from
//! the oldest unconfirmed record. Pure.

use std::collections::{HashMap, VecDeque};

/// What a queued publish carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// The audit record with this sequence number.
    Event(u64),
    /// Anything else (birth, state, door state, a reply).
    Other,
}

/// Events in flight on one connection.
#[derive(Debug)]
pub struct Window {
    capacity: usize,
    queued: VecDeque<Slot>,
    by_packet: HashMap<u16, u64>,
    events_in_flight: usize,
    next_after: u64,
}

impl Window {
    /// A window for at most `capacity` unacknowledged events.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, queued: VecDeque::new(), by_packet: HashMap::new(), events_in_flight: 0, next_after: 0 }
    }

    /// The last sequence number handed to the client (the drain continues after it).
    pub fn next_after(&self) -> u64 {
        self.next_after
    }

    /// How many more events may be queued now.
    pub fn room(&self) -> usize {
        self.capacity.saturating_sub(self.events_in_flight)
    }

    /// Events queued or sent and not yet acknowledged.
    pub fn in_flight(&self) -> usize {
        self.events_in_flight
    }

    /// Nothing unconfirmed is left up to `seq`: the drain continues after it.
    pub fn skip_to(&mut self, seq: u64) {
        self.next_after = self.next_after.max(seq);
    }

    /// Continue the drain after `seq` again (records after it are published once more).
    pub fn rewind(&mut self, seq: u64) {
        self.next_after = self.next_after.min(seq);
    }

    /// A publish was handed to the client.
    pub fn queued(&mut self, slot: Slot) {
        if let Slot::Event(seq) = slot {
            self.events_in_flight += 1;
            self.next_after = self.next_after.max(seq);
        }
        self.queued.push_back(slot);
    }

    /// The client wrote the oldest queued publish with this packet id (0 for QoS 0).
    pub fn written(&mut self, packet: u16) {
        if let Some(Slot::Event(seq)) = self.queued.pop_front()
            && packet != 0
        {
            self.by_packet.insert(packet, seq);
        }
    }

    /// The broker acknowledged this packet id: the event it carried, if it was one.
    pub fn acknowledged(&mut self, packet: u16) -> Option<u64> {
        let seq = self.by_packet.remove(&packet)?;
        self.events_in_flight = self.events_in_flight.saturating_sub(1);
        Some(seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledgements_confirm_the_events_their_packets_carried() {
        let mut w = Window::new(3);
        w.queued(Slot::Other);
        w.queued(Slot::Event(10));
        w.queued(Slot::Event(11));
        assert_eq!((w.room(), w.next_after()), (1, 11));
        w.written(1);
        w.written(2);
        w.written(3);
        assert_eq!(w.acknowledged(1), None);
        assert_eq!(w.acknowledged(3), Some(11));
        assert_eq!(w.acknowledged(3), None);
        assert_eq!(w.acknowledged(2), Some(10));
        assert_eq!((w.room(), w.in_flight()), (3, 0));
    }

    #[test]
    fn packet_ids_reused_after_an_acknowledgement_map_to_the_new_event() {
        let mut w = Window::new(2);
        w.queued(Slot::Event(1));
        w.written(1);
        assert_eq!(w.acknowledged(1), Some(1));
        w.queued(Slot::Event(2));
        w.written(1);
        assert_eq!(w.acknowledged(1), Some(2));
    }
}
