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

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, timeout};
use tokio_modbus::client::{Client as _, Context};
use tokio_modbus::prelude::SlaveContext as _;
use tokio_modbus::{ExceptionCode, Request, Response, Slave};

pub use super::handle::{BusCommand, BusEvent, BusHandle, DeviceHealth, RelayConfirmed};
use super::heard::Heard;
use super::keypad;
use super::relays::RelayBoard;

mod polls;
use crate::config::{BusConfig, Profile};

/// Commands waiting for a bus, at most.
pub const COMMANDS: usize = 64;
/// Events waiting for the gateway, at most.
pub const EVENTS: usize = 256;
/// Longest pause for a failing device.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// After an RTU request timed out, the line is left quiet this long so that a late reply
/// arrives before the next request (the crate discards what it buffered then).
pub const LATE_REPLY_GUARD: Duration = Duration::from_millis(50);
/// An RTU line on which no unit has answered for this many timeouts is reopened.
pub const SILENT_LINE_AFTER: u32 = 3;
/// Consecutive failures after which a device is reported offline.
pub const OFFLINE_AFTER: u32 = 2;
/// How often a relay board is read back and compared with what the gateway wants (a coil
/// found otherwise is written again); panels and inputs poll at the bus rate. It is also
/// the longest pause for a failing relay board, so one that restarted is put right within
/// two of these.
pub const RELAY_POLL: Duration = Duration::from_secs(1);

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
    relays: RelayBoard,
    /// A panel of the first keypad map (11 registers, no entry age): found when the
    /// current map's read is refused with `IllegalDataAddress`.
    keypad_v1: bool,
    /// The panel's last heartbeat and since when it has had that value.
    heartbeat: Option<(u16, Instant)>,
    reported_online: Option<bool>,
}

enum Failure {
    Timeout,
    Exception(ExceptionCode),
    Link(String),
    Bad(String),
    /// Bytes that do not make a frame (RTU: a wrong CRC, or bytes the crate could not
    /// resync past).
    Framing(String),
    /// A panel answers but its heartbeat does not move.
    Frozen(u16),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Timeout => f.write_str("no answer within the timeout"),
            Self::Exception(code) => write!(f, "Modbus exception {code:?}"),
            Self::Link(e) => write!(f, "link: {e}"),
            Self::Bad(e) => f.write_str(e),
            Self::Framing(e) => write!(f, "garbled frame: {e}"),
            Self::Frozen(hb) => {
                write!(f, "heartbeat frozen at {hb} for {} s: the panel is hung", keypad::HEARTBEAT_STALE.as_secs())
            }
        }
    }
}

struct Bus {
    cfg: BusConfig,
    ctx: Option<Context>,
    /// On RTU: what the line said during the current request.
    heard: Option<Heard>,
    /// Times the link was opened (a second one is a reopen).
    opens: u64,
    /// When the last frame ended (RTU needs an idle gap before the next).
    last_frame: Option<Instant>,
    link_retry: Instant,
    link_backoff: Duration,
    devices: Vec<DeviceState>,
    events: mpsc::Sender<BusEvent>,
    /// Counts readings of relay boards (reads and confirmed writes), to order them.
    readings: u64,
    /// After an RTU timeout: no request before this (a late reply is let in and dropped).
    quiet_until: Option<Instant>,
    /// When any unit on the bus last answered (with data or an exception).
    last_answer: Option<Instant>,
    /// The coils the gateway wants now (a write command carries what was wanted when sent).
    wanted: watch::Receiver<super::handle::WantedCoils>,
}

impl Bus {
    async fn link(&mut self) -> Option<&mut Context> {
        if self.ctx.is_none() && Instant::now() >= self.link_retry {
            let connected = match super::link::open_heard(&self.cfg).await {
                Ok(opened) => Some(opened),
                Err(e) => {
                    log::warn!("{e}");
                    None
                }
            };
            match connected {
                Some((ctx, heard)) => {
                    self.ctx = Some(ctx);
                    self.heard = heard;
                    self.opens += 1;
                    if self.opens > 1 {
                        log::info!("bus {}: link reopened ({} opens since start)", self.cfg.name, self.opens);
                    }
                    self.link_backoff = Duration::from_millis(100);
                    // The devices were failing because the link was: try each at once,
                    // not after the backoff it built up meanwhile.
                    let now = Instant::now();
                    for d in &mut self.devices {
                        d.next_try = d.next_try.min(now);
                    }
                }
                None => {
                    self.link_retry = Instant::now() + self.link_backoff;
                    // A bus with strikes on it is never left alone long: a relay board that
                    // comes back must be put right within two relay polls.
                    let has_relays = self.devices.iter().any(|d| d.profile == Profile::RelayCoils);
                    let cap = if has_relays { RELAY_POLL } else { MAX_BACKOFF };
                    self.link_backoff = (self.link_backoff * 2).min(cap);
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
        if let Some(quiet) = self.quiet_until.take() {
            tokio::time::sleep_until(quiet).await;
        }
        if self.link().await.is_none() {
            return Err(Failure::Link("link not open".into()));
        }
        if let Some(heard) = &self.heard {
            heard.clear();
        }
        let Some(ctx) = self.ctx.as_mut() else { return Err(Failure::Link("link not open".into())) };
        ctx.set_slave(Slave(unit));
        let started = Instant::now();
        let outcome = timeout(limit, ctx.call(req)).await;
        self.last_frame = Some(Instant::now());
        // On RTU the crate drops bytes that fail the CRC and waits on: a "timeout" during
        // which the line said something is a garbled reply, not a silent unit.
        let garbled = if outcome.is_err() { self.heard.as_ref().and_then(Heard::garbled) } else { None };
        let elapsed = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        if let Some(d) = self.devices.iter_mut().find(|d| d.unit == unit) {
            d.health.requests += 1;
            d.health.last_latency_us = elapsed;
        }
        let rtu = super::link::frame_gap(&self.cfg).is_some();
        if matches!(outcome, Ok(Ok(_))) || garbled.is_some() {
            self.last_answer = Some(Instant::now());
        }
        match outcome {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(code))) => Err(Failure::Exception(code)),
            // A frame that does not answer this request (another unit's, a late one): the
            // line is fine; the crate clears what it buffered before the next request.
            Ok(Err(tokio_modbus::Error::Protocol(e))) => Err(Failure::Bad(format!("a reply to another request: {e}"))),
            Ok(Err(tokio_modbus::Error::Transport(e))) if e.kind() == std::io::ErrorKind::InvalidData => {
                if !rtu {
                    self.ctx = None;
                }
                Err(Failure::Framing(e.to_string()))
            }
            Ok(Err(e)) => {
                self.ctx = None; // reopen: a broken stream is not recovered by the crate
                Err(Failure::Link(e.to_string()))
            }
            Err(_) if let Some(why) = garbled => {
                // Someone answered, and the line is alive: keep the port, let the rest of
                // the garbled frame pass, and count it as what it was.
                self.quiet_until = Some(Instant::now() + LATE_REPLY_GUARD);
                Err(Failure::Framing(why))
            }
            Err(_) if rtu && self.last_answer.is_some_and(|t| t.elapsed() < limit * SILENT_LINE_AFTER) => {
                // One silent unit must not make the whole port reopen while others answer:
                // keep the port, and let a late reply arrive (and be discarded) first.
                self.quiet_until = Some(Instant::now() + LATE_REPLY_GUARD);
                Err(Failure::Timeout)
            }
            Err(_) => {
                // TCP (a late reply could be taken for the next request's), or an RTU line
                // on which nothing has answered for a while (the adapter may be gone):
                // start afresh.
                self.ctx = None;
                Err(Failure::Timeout)
            }
        }
    }

    /// Takes the coils the gateway registered as wanted (a write command may follow, or
    /// may have been given up on while the queue was full): each read-back enforces them.
    fn take_wanted(&mut self, wanted: &super::handle::WantedCoils) {
        for (&(unit, channel), &on) in wanted {
            if let Some(d) = self.devices.iter_mut().find(|d| d.unit == unit) {
                d.relays.want(channel, on);
            }
        }
    }

    async fn emit(&mut self, e: BusEvent) {
        let _ = self.events.send(e).await;
    }

    async fn command(&mut self, cmd: BusCommand) {
        match cmd {
            BusCommand::Relay { unit, channel, on, reply } => {
                // The coil as wanted now, which a newer want (whose own command may have
                // been given up on, unsent) can have changed since this command was sent:
                // never an older command over a newer want.
                let wanted = self.wanted.borrow().get(&(unit, channel)).copied().unwrap_or(on);
                if let Some(d) = self.devices.iter_mut().find(|d| d.unit == unit) {
                    d.relays.want(channel, wanted);
                }
                let outcome = match self.write_coil(unit, channel, wanted).await {
                    Ok(_) if wanted != on => Err("superseded: the coil is wanted otherwise now".into()),
                    other => other,
                };
                if let Err(why) = &outcome {
                    log::error!("bus {}: relay {unit}/{channel} not confirmed: {why}", self.cfg.name);
                }
                let _ = reply.send(outcome);
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

    /// Writes one coil and checks the board's echo; a confirmed write is a reading.
    /// (A correction after a read-back is not: only the next read says it took.)
    async fn write_coil(&mut self, unit: u8, channel: u16, on: bool) -> Result<RelayConfirmed, String> {
        let addr = channel.saturating_sub(1);
        let outcome = match self.request(unit, Request::WriteSingleCoil(addr, on)).await {
            Ok(Response::WriteSingleCoil(a, v)) if a == addr && v == on => Ok(()),
            Ok(other) => Err(Failure::Bad(format!("the reply to a coil write is {other:?}"))),
            Err(f) => Err(f),
        };
        match outcome {
            Ok(()) => {
                self.readings += 1;
                if let Some(d) = self.devices.iter_mut().find(|d| d.unit == unit) {
                    d.relays.wrote(channel, on);
                }
                Ok(self.readings)
            }
            Err(f) => {
                let why = f.to_string();
                self.failed(unit, f).await;
                Err(why)
            }
        }
    }

    async fn failed(&mut self, unit: u8, f: Failure) {
        let Some(d) = self.devices.iter_mut().find(|d| d.unit == unit) else { return };
        match f {
            Failure::Timeout => d.health.timeouts += 1,
            Failure::Exception(_) => d.health.exceptions += 1,
            Failure::Link(_) => d.health.link_errors += 1,
            Failure::Bad(_) => d.health.bad_replies += 1,
            Failure::Framing(_) => d.health.framing_errors += 1,
            Failure::Frozen(_) => d.health.heartbeat_stalls += 1,
        }
        let why = f.to_string();
        d.failures += 1;
        // A relay board is never left alone long: the strikes on it must be put right.
        let cap = if d.profile == Profile::RelayCoils { RELAY_POLL } else { MAX_BACKOFF };
        let pause = Duration::from_millis(200).saturating_mul(1 << d.failures.min(8)).min(cap);
        d.next_try = Instant::now() + pause;
        if d.failures >= OFFLINE_AFTER && d.reported_online != Some(false) {
            d.reported_online = Some(false);
            d.health.online = false;
            d.relays.forget();
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
}

/// Starts the actor for one bus. It stops when every handle is dropped.
pub fn spawn(cfg: BusConfig, events: mpsc::Sender<BusEvent>) -> (BusHandle, tokio::task::JoinHandle<()>) {
    let (tx, mut rx) = mpsc::channel(COMMANDS);
    let (wanted, mut wanted_rx) = watch::channel(super::handle::WantedCoils::new());
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
            relays: RelayBoard::default(),
            keypad_v1: false,
            heartbeat: None,
            reported_online: None,
        })
        .collect();
    let mut bus = Bus {
        cfg,
        ctx: None,
        heard: None,
        opens: 0,
        last_frame: None,
        link_retry: now,
        link_backoff: Duration::from_millis(100),
        devices,
        events,
        readings: 0,
        quiet_until: None,
        last_answer: None,
        wanted: wanted_rx.clone(),
    };
    let task = tokio::spawn(async move {
        let interval = bus.cfg.poll_interval.unsigned_abs().max(Duration::from_millis(5));
        let mut next = Instant::now();
        loop {
            // Coils wanted but not (yet) commanded: enforced from the board's next read.
            if wanted_rx.has_changed().unwrap_or(false) {
                bus.take_wanted(&wanted_rx.borrow_and_update());
            }
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
                Ok(()) = wanted_rx.changed() => bus.take_wanted(&wanted_rx.borrow_and_update()),
                cmd = rx.recv() => match cmd {
                    Some(cmd) => bus.command(cmd).await,
                    None => break,
                },
            }
        }
    });
    (BusHandle { tx, wanted }, task)
}
