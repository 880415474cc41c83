//! The bus actor: one task owns one Modbus link (RTU over a serial port, or TCP) and
//! every request on it. On RTU it keeps the 3.5-character idle gap between frames. Relay commands are served before polling; every request has a
//! timeout; a device that times out or fails is backed off (doubling, capped) so it
//! cannot stall the others; a lost link is reopened with backoff. Keypad entries are
//! acknowledged once (a repeated sequence is re-acknowledged, not re-reported); inputs
//! are reported when they change; devices are reported online and offline. Relay boards
//! are read once a second ([`RELAY_POLL`]), panels and input modules at the bus's rate.
//!
//! Channels: commands in (bounded, [`COMMANDS`]; senders wait: door commands are never
//! dropped), events out (bounded, [`EVENTS`]; the actor waits: entries are never dropped).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout};
use tokio_modbus::client::{Client as _, Context};
use tokio_modbus::prelude::SlaveContext as _;
use tokio_modbus::{ExceptionCode, Request, Response, Slave};

use super::keypad::{self, Entered, Feedback};
use crate::config::{BusConfig, Profile};

/// Commands waiting for a bus, at most.
pub const COMMANDS: usize = 64;
/// Events waiting for the gateway, at most.
pub const EVENTS: usize = 256;
/// Longest pause for a failing device.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Consecutive failures after which a device is reported offline.
pub const OFFLINE_AFTER: u32 = 2;
/// How often a relay board is read: only to know it answers (its state is what the
/// gateway writes), so once a second is enough; panels and inputs poll at the bus rate.
pub const RELAY_POLL: Duration = Duration::from_secs(1);

/// What a bus reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BusEvent {
    /// Someone entered digits or a tag at a panel.
    Entered {
        /// The panel's unit.
        unit: u8,
        /// What was entered.
        entered: Entered,
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

/// Counters per device, for the state message and the installer tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DeviceHealth {
    /// Requests sent.
    pub requests: u64,
    /// Requests that timed out.
    pub timeouts: u64,
    /// Modbus exceptions received.
    pub exceptions: u64,
    /// Replies that did not fit the device's map.
    pub bad_replies: u64,
    /// Whether it answers now.
    pub online: bool,
    /// Last round-trip time in microseconds.
    pub last_latency_us: u64,
}

/// A request to a bus.
#[derive(Debug)]
pub enum BusCommand {
    /// Set a relay (channel 1-based).
    Relay {
        /// The board's unit.
        unit: u8,
        /// The channel.
        channel: u16,
        /// Energise or not.
        on: bool,
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
    tx: mpsc::Sender<BusCommand>,
}

impl BusHandle {
    /// Sets a relay; waits only for a place in the queue.
    pub async fn relay(&self, unit: u8, channel: u16, on: bool) -> bool {
        self.tx.send(BusCommand::Relay { unit, channel, on }).await.is_ok()
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

#[derive(Debug)]
struct DeviceState {
    unit: u8,
    profile: Profile,
    channels: u16,
    health: DeviceHealth,
    failures: u32,
    next_try: Instant,
    last_ack: Option<u16>,
    inputs: Option<Vec<bool>>,
    reported_online: Option<bool>,
}

enum Failure {
    Timeout,
    Exception(ExceptionCode),
    Link(String),
    Bad(String),
}

struct Bus {
    cfg: BusConfig,
    ctx: Option<Context>,
    /// When the last frame ended (RTU needs an idle gap before the next).
    last_frame: Option<Instant>,
    link_retry: Instant,
    link_backoff: Duration,
    devices: Vec<DeviceState>,
    events: mpsc::Sender<BusEvent>,
}

impl Bus {
    async fn link(&mut self) -> Option<&mut Context> {
        if self.ctx.is_none() && Instant::now() >= self.link_retry {
            let connected = match super::link::open(&self.cfg).await {
                Ok(ctx) => Some(ctx),
                Err(e) => {
                    log::warn!("{e}");
                    None
                }
            };
            match connected {
                Some(ctx) => {
                    self.ctx = Some(ctx);
                    self.link_backoff = Duration::from_millis(100);
                }
                None => {
                    self.link_retry = Instant::now() + self.link_backoff;
                    self.link_backoff = (self.link_backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
        self.ctx.as_mut()
    }

    fn cfg_timeout(&self) -> Duration {
        self.cfg.timeout.unsigned_abs()
    }

    /// Runs one request to `unit` with the bus timeout; classifies what went wrong.
    async fn request(&mut self, unit: u8, req: Request<'_>) -> Result<Response, Failure> {
        let limit = self.cfg_timeout();
        if let (Some(gap), Some(last)) = (super::link::frame_gap(&self.cfg), self.last_frame) {
            tokio::time::sleep_until(last + gap).await;
        }
        let Some(ctx) = self.link().await else { return Err(Failure::Link("link not open".into())) };
        ctx.set_slave(Slave(unit));
        let started = Instant::now();
        let outcome = timeout(limit, ctx.call(req)).await;
        self.last_frame = Some(Instant::now());
        let elapsed = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if let Some(d) = self.devices.iter_mut().find(|d| d.unit == unit) {
            d.health.requests += 1;
            d.health.last_latency_us = elapsed;
        }
        match outcome {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(code))) => Err(Failure::Exception(code)),
            Ok(Err(e)) => {
                self.ctx = None; // reopen: a broken stream is not recovered by the crate
                Err(Failure::Link(e.to_string()))
            }
            Err(_) => {
                // A late reply could be taken for the next request's: start afresh.
                self.ctx = None;
                Err(Failure::Timeout)
            }
        }
    }

    async fn emit(&mut self, e: BusEvent) {
        let _ = self.events.send(e).await;
    }

    async fn command(&mut self, cmd: BusCommand) {
        match cmd {
            BusCommand::Relay { unit, channel, on } => {
                let addr = channel.saturating_sub(1);
                if let Err(f) = self.request(unit, Request::WriteSingleCoil(addr, on)).await {
                    self.failed(unit, f).await;
                    log::error!("bus {}: relay {unit}/{channel} could not be set", self.cfg.name);
                }
            }
            BusCommand::Feedback { unit, feedback, tenths } => {
                let words = keypad::feedback_registers(feedback, tenths);
                let req = Request::WriteMultipleRegisters(keypad::FEEDBACK_REGISTER, words[..].into());
                if let Err(f) = self.request(unit, req).await {
                    self.failed(unit, f).await;
                }
            }
            BusCommand::Health(reply) => {
                let _ = reply.send(self.devices.iter().map(|d| (d.unit, d.health.clone())).collect());
            }
        }
    }

    async fn failed(&mut self, unit: u8, f: Failure) {
        let Some(d) = self.devices.iter_mut().find(|d| d.unit == unit) else { return };
        let why = match f {
            Failure::Timeout => {
                d.health.timeouts += 1;
                "no answer within the timeout".to_owned()
            }
            Failure::Exception(code) => {
                d.health.exceptions += 1;
                format!("Modbus exception {code:?}")
            }
            Failure::Link(e) => format!("link: {e}"),
            Failure::Bad(e) => {
                d.health.bad_replies += 1;
                e
            }
        };
        d.failures += 1;
        let pause = Duration::from_millis(200).saturating_mul(1 << d.failures.min(8)).min(MAX_BACKOFF);
        d.next_try = Instant::now() + pause;
        if d.failures >= OFFLINE_AFTER && d.reported_online != Some(false) {
            d.reported_online = Some(false);
            d.health.online = false;
            let unit = d.unit;
            self.emit(BusEvent::Offline { unit, why }).await;
        }
    }

    async fn succeeded(&mut self, unit: u8) {
        let Some(d) = self.devices.iter_mut().find(|d| d.unit == unit) else { return };
        d.failures = 0;
        d.health.online = true;
        if d.profile == Profile::RelayCoils {
            d.next_try = Instant::now() + RELAY_POLL;
        }
        if d.reported_online != Some(true) {
            d.reported_online = Some(true);
            self.emit(BusEvent::Online { unit }).await;
        }
    }

    async fn poll(&mut self, i: usize) {
        let (unit, profile, channels) = (self.devices[i].unit, self.devices[i].profile, self.devices[i].channels);
        let outcome = match profile {
            Profile::PortvaktKeypad => self.poll_keypad(i, unit).await,
            Profile::DiscreteInputs => self.poll_inputs(i, unit, channels).await,
            Profile::RelayCoils => self.request(unit, Request::ReadCoils(0, channels.max(1))).await.map(|_| ()),
        };
        match outcome {
            Ok(()) => self.succeeded(unit).await,
            Err(f) => self.failed(unit, f).await,
        }
    }

    async fn poll_keypad(&mut self, i: usize, unit: u8) -> Result<(), Failure> {
        let Response::ReadInputRegisters(regs) =
            self.request(unit, Request::ReadInputRegisters(0, keypad::POLL_REGISTERS)).await?
        else {
            return Err(Failure::Bad("the reply is not input registers".into()));
        };
        let poll = keypad::decode_poll(&regs).map_err(|e| Failure::Bad(e.to_string()))?;
        let Some((seq, entered)) = poll.entry else { return Ok(()) };
        let repeated = self.devices[i].last_ack == Some(seq);
        self.request(unit, Request::WriteSingleRegister(keypad::ACK_REGISTER, seq)).await?;
        self.devices[i].last_ack = Some(seq);
        if !repeated {
            self.emit(BusEvent::Entered { unit, entered }).await;
        }
        Ok(())
    }

    async fn poll_inputs(&mut self, i: usize, unit: u8, channels: u16) -> Result<(), Failure> {
        let Response::ReadDiscreteInputs(now) = self.request(unit, Request::ReadDiscreteInputs(0, channels)).await?
        else {
            return Err(Failure::Bad("the reply is not discrete inputs".into()));
        };
        let now = super::inputs::channels_in_reply(now, channels).map_err(Failure::Bad)?;
        let changes = super::inputs::changed(self.devices[i].inputs.as_deref(), &now);
        self.devices[i].inputs = Some(now);
        for (channel, on) in changes {
            self.emit(BusEvent::Input { unit, channel, on }).await;
        }
        Ok(())
    }
}

/// Starts the actor for one bus. It stops when every handle is dropped.
pub fn spawn(cfg: BusConfig, events: mpsc::Sender<BusEvent>) -> (BusHandle, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(COMMANDS);
    let now = Instant::now();
    let devices = cfg
        .devices
        .iter()
        .map(|d| DeviceState {
            unit: d.unit,
            profile: d.profile,
            channels: d.channels,
            health: DeviceHealth::default(),
            failures: 0,
            next_try: now,
            last_ack: None,
            inputs: None,
            reported_online: None,
        })
        .collect();
    let mut bus = Bus {
        cfg,
        ctx: None,
        last_frame: None,
        link_retry: now,
        link_backoff: Duration::from_millis(100),
        devices,
        events,
    };
    let task = tokio::spawn(async move {
        let interval = bus.cfg.poll_interval.unsigned_abs().max(Duration::from_millis(5));
        let mut next = Instant::now();
        loop {
            // Door commands are served the moment they arrive; polling keeps its own
            // strict period (a command must not push the next poll further away).
            while let Ok(cmd) = rx.try_recv() {
                bus.command(cmd).await;
            }
            if Instant::now() >= next {
                for i in 0..bus.devices.len() {
                    while let Ok(cmd) = rx.try_recv() {
                        bus.command(cmd).await;
                    }
                    if Instant::now() >= bus.devices[i].next_try {
                        bus.poll(i).await;
                    }
                }
                next += interval;
                if next < Instant::now() {
                    next = Instant::now() + interval;
                }
            }
            tokio::select! {
                () = tokio::time::sleep_until(next) => {}
                cmd = rx.recv() => match cmd {
                    Some(cmd) => bus.command(cmd).await,
                    None => break,
                },
            }
        }
    });
    (BusHandle { tx }, task)
}
