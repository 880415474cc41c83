//! What a bus actor reports and is asked, and the cloneable [`BusHandle`] that asks it.
//! Relay writes are answered with what the board confirmed (its echo), so the gateway
//! reports what the board holds, not what it asked for. The coil the gateway wants is
//! registered with the bus synchronously ([`BusHandle::want`], a `watch` the actor reads
//! before each round): a command that waits for a full queue and is given up on is still
//! enforced at the board's next read-back; only the wait for the echo can time out.

use std::collections::BTreeMap;

use tokio::sync::{mpsc, oneshot, watch};

use super::keypad::{Entered, Feedback};

/// What a bus reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    /// Someone entered digits or a tag at a panel.
    Entered {
        /// The panel's unit.
        unit: u8,
        /// What was entered.
        entered: Entered,
        /// Seconds since it was entered, as the panel says (`None`: a panel of the first
        /// map, which cannot tell).
        age_secs: Option<u16>,
    },
    /// A discrete input changed (channel 1-based).
    Input {
        /// The module's unit.
        unit: u8,
        /// The channel.
        channel: u16,
        /// Its new value.
        on: bool,
    },
    /// A relay board's coils as read back, when they differ from what was last reported
    /// (after any corrections were written). `reading` orders readings: a reading older
    /// than one the gateway has (from a confirmed write) is stale.
    Coils {
        /// The board's unit.
        unit: u8,
        /// Coil states, channel 1 first.
        coils: Vec<bool>,
        /// The bus's reading counter.
        reading: u64,
    },
    /// A coil was found not as the gateway wants it and was written again (once per
    /// episode: until it reads as wanted again).
    CoilCorrected {
        /// The board's unit.
        unit: u8,
        /// The channel (1-based).
        channel: u16,
        /// What the board held.
        found: bool,
        /// What the gateway wants.
        wanted: bool,
    },
    /// A device answers again (or for the first time).
    Online {
        /// Its unit.
        unit: u8,
    },
    /// A device stopped answering properly.
    Offline {
        /// Its unit.
        unit: u8,
        /// Why.
        why: String,
    },
}

pub use crate::site::status::DeviceHealth;

/// A relay write the board confirmed: the reading it counts as (see [`BusEvent::Coils`]).
pub type RelayConfirmed = u64;

/// A request to a bus.
#[derive(Debug)]
pub enum BusCommand {
    /// Set a relay (channel 1-based) and keep it so: every later read of the board is
    /// compared with it.
    Relay {
        /// The board's unit.
        unit: u8,
        /// The channel.
        channel: u16,
        /// Energise or not.
        on: bool,
        /// Confirmed by the board, or why not.
        reply: oneshot::Sender<Result<RelayConfirmed, String>>,
    },
    /// Show feedback on a panel.
    Feedback {
        /// The panel's unit.
        unit: u8,
        /// What to show.
        feedback: Feedback,
        /// For how long, in tenths of a second.
        tenths: u16,
    },
    /// Report device health.
    Health(oneshot::Sender<BTreeMap<u8, DeviceHealth>>),
}

/// The cloneable way to reach a bus actor.
#[derive(Debug, Clone)]
pub struct BusHandle {
    pub(super) tx: mpsc::Sender<BusCommand>,
    /// The coils the gateway wants, by (unit, channel): latest wins.
    pub(super) wanted: watch::Sender<WantedCoils>,
}

/// The coils wanted on one bus, by (unit, channel 1-based).
pub type WantedCoils = BTreeMap<(u8, u16), bool>;

impl BusHandle {
    /// Sets a relay and waits for the board to confirm it (the bus's timeout bounds the
    /// write itself; whatever the outcome, the bus keeps enforcing the wanted state).
    pub async fn relay(&self, unit: u8, channel: u16, on: bool) -> Result<RelayConfirmed, String> {
        self.want(unit, channel, on);
        self.write_relay(unit, channel, on).await
    }

    /// Registers the coil as wanted, at once and without waiting: from the board's next
    /// read on, the bus enforces it whether or not a write command reaches it.
    pub fn want(&self, unit: u8, channel: u16, on: bool) {
        self.wanted.send_if_modified(|w| w.insert((unit, channel), on) != Some(on));
    }

    /// The coils wanted on this bus.
    pub fn wanted(&self) -> WantedCoils {
        self.wanted.borrow().clone()
    }

    /// Writes a relay already registered with [`Self::want`] and waits for the board's
    /// echo (cancelling this only gives up the wait: the want stays).
    pub async fn write_relay(&self, unit: u8, channel: u16, on: bool) -> Result<RelayConfirmed, String> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(BusCommand::Relay { unit, channel, on, reply }).await.map_err(|_| "the bus has stopped")?;
        rx.await.map_err(|_| "the bus has stopped".to_owned())?
    }

    /// Shows feedback on a panel.
    pub async fn feedback(&self, unit: u8, feedback: Feedback, tenths: u16) -> bool {
        self.tx.send(BusCommand::Feedback { unit, feedback, tenths }).await.is_ok()
    }

    /// Device health, or `None` when the actor has stopped.
    pub async fn health(&self) -> Option<BTreeMap<u8, DeviceHealth>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(BusCommand::Health(tx)).await.ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_relay_given_up_on_while_the_queue_is_full_is_still_wanted() {
        let (tx, mut rx) = mpsc::channel(1);
        let (wanted, _) = watch::channel(WantedCoils::new());
        let bus = BusHandle { tx, wanted };
        // The queue is full (the actor is busy with a slow device).
        bus.tx.try_send(BusCommand::Feedback { unit: 1, feedback: Feedback::Granted, tenths: 30 }).unwrap();
        let gave_up = tokio::time::timeout(std::time::Duration::from_millis(300), bus.relay(2, 3, true)).await.is_err();
        assert!(gave_up, "the write could not be queued in time");
        assert_eq!(bus.wanted().get(&(2, 3)), Some(&true), "but the coil is wanted all the same");
        assert!(matches!(rx.recv().await, Some(BusCommand::Feedback { .. })));
    }
}
