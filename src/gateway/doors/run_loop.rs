//! The gateway's task loop: start (every strike locked, stored modes applied), then bus
//! events, commands, door ticks and the audit backlog, each served as it comes (ticks
//! first: a relock never waits behind a queue; the doors are judged before every command,
//! so an answered ping means they were judged at the clock's reading), and at the end every strike locked, the
//! lockouts saved and the audit writer drained.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::Gateway;
use crate::door::machine::DoorMachine;
use crate::gateway::handle::{COMMANDS, Command, Handle};
use crate::modbus::bus::BusEvent;

/// How often the free-passage windows are looked at (they are set in minutes).
const FREE_PASSAGE_CHECK: Duration = Duration::from_secs(1);

impl Gateway {
    /// Starts the gateway's task: it runs until `cancel` fires or the events end, ticking
    /// every `tick`, then locks every strike and saves the lockouts.
    pub fn spawn(
        self,
        events: mpsc::Receiver<(usize, BusEvent)>,
        tick: Duration,
        cancel: CancellationToken,
    ) -> (Handle, tokio::task::JoinHandle<()>) {
        let (tx, commands) = mpsc::channel(COMMANDS);
        let handle = Handle { tx, observed: self.observed.clone(), door_states: self.door_states.subscribe() };
        (handle, tokio::spawn(self.run(events, commands, tick, cancel)))
    }

    async fn run(
        mut self,
        mut events: mpsc::Receiver<(usize, BusEvent)>,
        mut commands: mpsc::Receiver<Command>,
        tick: Duration,
        cancel: CancellationToken,
    ) {
        self.audit.start();
        self.start().await;
        self.publish_door_states();
        let mut ticker = tokio::time::interval(tick);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut windows = tokio::time::interval(FREE_PASSAGE_CHECK);
        windows.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let backlogged = self.audit.backlogged();
            let room = async move {
                match backlogged {
                    Some(tx) => tx.reserve_owned().await.ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = cancel.cancelled() => break,
                _ = ticker.tick(), if self.machines.iter().any(DoorMachine::needs_tick) => self.tick().await,
                _ = windows.tick(), if self.watches_free_passage() => self.check_free_passage().await,
                Some(cmd) = commands.recv() => {
                    // The doors are judged at the clock's reading before every command: a
                    // command (a ping) is answered after any relock that was due.
                    if self.machines.iter().any(DoorMachine::needs_tick) {
                        self.tick().await;
                    }
                    self.command(cmd).await;
                    // New policy, clock trust or mode: a window may open or close now.
                    if self.watches_free_passage() {
                        self.check_free_passage().await;
                    }
                }
                event = events.recv() => match event {
                    Some((bus, e)) => self.on_bus_event(bus, e).await,
                    None => break,
                },
                Some(permit) = room => self.audit.flush_one(permit),
            }
            self.publish_door_states();
            self.audit.hold_if_overflowing().await;
        }
        self.lock_all("stop").await;
        self.save_lockouts();
        self.audit.finish().await;
    }
}
