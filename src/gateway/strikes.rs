//! The strikes as the relay boards report them: which coil drives each door's strike,
//! what the gateway last asked of it, and what the board last confirmed (a write's echo
//! or a read-back). Every strike change is a relay write the gateway waits for, bounded
//! by the bus's timeout; the bus actor keeps enforcing the wanted coil afterwards, and
//! its read-backs ([`BusEvent::Coils`](crate::modbus::bus::BusEvent::Coils)) update the
//! readings. What `status`, the retained door state and the audit say about a strike is
//! what the board reported, never what was assumed.

use std::time::Duration;

use crate::door::machine::Strike;
use crate::modbus::bus::{BusHandle, RelayConfirmed};

type Written = Result<RelayConfirmed, String>;

/// Where one door's strike is wired.
#[derive(Debug, Clone, Copy)]
pub(super) struct Relay {
    pub bus: usize,
    pub unit: u8,
    pub channel: u16,
    pub energize_to_unlock: bool,
    /// How long a write may take to be confirmed (twice the bus timeout, plus a little:
    /// a poll in progress, then the write).
    pub confirm_within: Duration,
}

impl Relay {
    fn coil_for(&self, strike: Strike) -> bool {
        (strike == Strike::Released) == self.energize_to_unlock
    }

    /// What a coil's state means for this door's strike.
    pub fn strike_for(&self, coil: bool) -> Strike {
        if coil == self.energize_to_unlock { Strike::Released } else { Strike::Locked }
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Reading {
    /// What the board reported, `None` while unknown (not yet read, offline, a write failed).
    strike: Option<Strike>,
    /// The bus's reading counter when it was reported (an older reading is stale).
    seq: u64,
}

/// Every door's strike wiring and reading, in door order.
#[derive(Debug, Default)]
pub(super) struct Strikes {
    relays: Vec<Relay>,
    readings: Vec<Reading>,
}

impl Strikes {
    pub fn push(&mut self, relay: Relay) {
        self.relays.push(relay);
        self.readings.push(Reading::default());
    }

    /// The strike of `door` as its board last reported it.
    pub fn reported(&self, door: usize) -> Option<Strike> {
        self.readings.get(door).and_then(|r| r.strike)
    }

    /// Drives `door`'s strike and waits (bounded) for the board to confirm it.
    pub async fn set(&mut self, buses: &[BusHandle], door: usize, strike: Strike) -> Result<(), String> {
        let outcome = self.write(buses, door, strike).await;
        self.apply(door, strike, outcome)
    }

    /// The relay write for `door`, bounded by its confirmation time (not yet applied).
    fn write(&self, buses: &[BusHandle], door: usize, strike: Strike) -> impl Future<Output = Written> + use<> {
        let target = self.relays.get(door).copied().and_then(|r| Some((r, buses.get(r.bus)?.clone())));
        // Registered with the bus now, synchronously: whatever becomes of the write below,
        // the bus enforces this coil from the board's next read-back.
        if let Some((r, bus)) = &target {
            bus.want(r.unit, r.channel, r.coil_for(strike));
        }
        async move {
            let Some((r, bus)) = target else { return Err("the door's relay bus is not running".into()) };
            let write = bus.write_relay(r.unit, r.channel, r.coil_for(strike));
            match tokio::time::timeout(r.confirm_within, write).await {
                Ok(outcome) => outcome,
                Err(_) => Err(format!("no confirmation within {} ms", r.confirm_within.as_millis())),
            }
        }
    }

    /// Takes a write's outcome as `door`'s reading (a failed write leaves it unknown).
    fn apply(&mut self, door: usize, strike: Strike, outcome: Written) -> Result<(), String> {
        let Some(reading) = self.readings.get_mut(door) else { return Err("no such door".into()) };
        match &outcome {
            Ok(seq) if *seq >= reading.seq => *reading = Reading { strike: Some(strike), seq: *seq },
            Ok(_) => {}
            Err(_) => reading.strike = None,
        }
        outcome.map(|_| ())
    }

    /// A read-back of the board `unit` on `bus`; returns whether any door's reading changed.
    pub fn on_coils(&mut self, bus: usize, unit: u8, coils: &[bool], seq: u64) -> bool {
        let mut changed = false;
        for (r, reading) in self.relays.iter().zip(self.readings.iter_mut()) {
            if r.bus != bus || r.unit != unit || seq < reading.seq {
                continue;
            }
            let Some(&coil) = coils.get(usize::from(r.channel.saturating_sub(1))) else { continue };
            let strike = Some(r.strike_for(coil));
            changed |= reading.strike != strike;
            *reading = Reading { strike, seq };
        }
        changed
    }

    /// The board `unit` on `bus` cannot be reached: its strikes are unknown.
    pub fn on_offline(&mut self, bus: usize, unit: u8) {
        for (r, reading) in self.relays.iter().zip(self.readings.iter_mut()) {
            if r.bus == bus && r.unit == unit {
                reading.strike = None;
            }
        }
    }

    /// The door whose strike is on this coil, and its wiring.
    pub fn door_on(&self, bus: usize, unit: u8, channel: u16) -> Option<(usize, Relay)> {
        let i = self.relays.iter().position(|r| r.bus == bus && r.unit == unit && r.channel == channel)?;
        Some((i, self.relays[i]))
    }

    /// Drives every strike to locked at once (at start and stop: the safe state) and waits
    /// for the confirmations; says which doors were not confirmed, and why.
    pub async fn lock_all(&mut self, buses: &[BusHandle]) -> Vec<(usize, String)> {
        let writes: Vec<_> = (0..self.relays.len()).map(|door| self.write(buses, door, Strike::Locked)).collect();
        let outcomes = futures_util::future::join_all(writes).await;
        let mut failed = Vec::new();
        for (door, outcome) in outcomes.into_iter().enumerate() {
            if let Err(why) = self.apply(door, Strike::Locked, outcome) {
                failed.push((door, why));
            }
        }
        failed
    }
}
