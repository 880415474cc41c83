//! The simulated building: a real Modbus TCP server on loopback (tokio-modbus) playing
//! the devices of a site's config — keypad panels (the Portvakt keypad profile), relay
//! boards (coils) and input modules (discrete inputs) — with fault switches: a device that
//! stays silent, answers with an exception or slowly, a relay board that loses writes or
//! restarts with every coil off, a coil changed behind the gateway's back, a panel whose
//! heartbeat freezes, and (on the RS-485 line of [`super::sim_line`]) replies with a wrong
//! CRC. The gateway
//! talks to it over real Modbus framing, exactly as to hardware. The simulated devices
//! live behind one lock inside the simulator (they are the "hardware", not an actor).

use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::net::TcpListener;
use tokio_modbus::server::tcp::{Server, accept_tcp_connection};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use super::keypad::{self, Entered};
use crate::config::{BusConfig, Profile};

/// A fault switched on for one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// No answer at all (the gateway's request times out).
    Silent,
    /// Answers every request with this exception.
    Exception(ExceptionCode),
    /// A relay board acknowledges coil writes but does not carry them out (a write lost
    /// inside the board; only a read-back shows it).
    LosesWrites,
    /// A panel answers, but its heartbeat no longer moves (its firmware hung).
    FrozenHeartbeat,
    /// Answers, but only after this long.
    Slow(std::time::Duration),
    /// On the RS-485 line ([`super::sim_line`]): answers with a wrong CRC, as through
    /// noise or a bad termination. Over TCP, which has no CRC, the device answers normally.
    CrcGarbage,
}

/// What a simulated device remembers of what it was told (acknowledgements, feedback,
/// relay writes), at most: a demo or daemon left running for weeks must not grow.
pub const SIM_LOG: usize = 4096;

/// Adds `item` to a simulator's log; past [`SIM_LOG`] the older half is forgotten.
fn remember<T>(log: &mut Vec<T>, item: T) {
    if log.len() >= SIM_LOG {
        log.drain(..SIM_LOG / 2);
    }
    log.push(item);
}

#[derive(Debug, Default)]
struct Panel {
    heartbeat: u16,
    queue: VecDeque<(u16, Entered, std::time::Instant)>,
    /// Plays a panel of the first keypad map (11 registers, no entry age).
    first_map: bool,
    next_seq: u16,
    feedback: Vec<(u16, u16)>,
    acked: Vec<u16>,
}

#[derive(Debug)]
enum Device {
    Keypad(Panel),
    Relays(Vec<bool>),
    Inputs(Vec<bool>),
}

#[derive(Debug, Default)]
struct Building {
    devices: BTreeMap<u8, Device>,
    faults: BTreeMap<u8, Fault>,
    relay_writes: Vec<(u8, u16, bool)>,
    relay_write_times: Vec<std::time::Instant>,
    /// Requests served per unit (tests count real round trips instead of sleeping).
    served: BTreeMap<u8, u64>,
}

/// Controls the simulated devices (for the demo, tests and manual exploration).
#[derive(Debug, Clone, Default)]
pub struct SimBuilding {
    inner: Arc<Mutex<Building>>,
}

impl SimBuilding {
    fn lock(&self) -> MutexGuard<'_, Building> {
        // A panic while holding the lock cannot leave the devices inconsistent in a way
        // that matters for a simulator; keep serving.
        self.inner.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The devices of one bus of a config.
    pub fn for_bus(bus: &BusConfig) -> Self {
        let sim = Self::default();
        {
            let mut b = sim.lock();
            for d in &bus.devices {
                let n = usize::from(d.channels);
                let device = match d.profile {
                    Profile::PortvaktKeypad => Device::Keypad(Panel::default()),
                    Profile::RelayCoils => Device::Relays(vec![false; n]),
                    Profile::DiscreteInputs => Device::Inputs(vec![false; n]),
                };
                b.devices.insert(d.unit, device);
            }
        }
        sim
    }

    /// Someone types digits (then `#`) or holds a tag at the panel `unit`.
    pub fn enter(&self, unit: u8, entered: Entered) {
        self.enter_earlier(unit, entered, std::time::Duration::ZERO);
    }

    /// An entry made `ago` before now is waiting at the panel (queued while the gateway
    /// was not reading it).
    pub fn enter_earlier(&self, unit: u8, entered: Entered, ago: std::time::Duration) {
        let at = std::time::Instant::now().checked_sub(ago).unwrap_or_else(std::time::Instant::now);
        if let Some(Device::Keypad(p)) = self.lock().devices.get_mut(&unit) {
            p.next_seq = p.next_seq.wrapping_add(1);
            let seq = p.next_seq;
            if p.queue.len() < 8 {
                p.queue.push_back((seq, entered, at));
            }
        }
    }

    /// The panel `unit` plays a panel of the first keypad map (no entry age register).
    pub fn use_first_keypad_map(&self, unit: u8) {
        if let Some(Device::Keypad(p)) = self.lock().devices.get_mut(&unit) {
            p.first_map = true;
        }
    }

    /// Sets a discrete input (channel 1-based), e.g. a door contact or exit button.
    pub fn set_input(&self, unit: u8, channel: u16, on: bool) {
        if let Some(Device::Inputs(v)) = self.lock().devices.get_mut(&unit)
            && let Some(slot) = v.get_mut(usize::from(channel.saturating_sub(1)))
        {
            *slot = on;
        }
    }

    /// A relay's state (channel 1-based).
    pub fn relay(&self, unit: u8, channel: u16) -> Option<bool> {
        match self.lock().devices.get(&unit) {
            Some(Device::Relays(v)) => v.get(usize::from(channel.saturating_sub(1))).copied(),
            _ => None,
        }
    }

    /// Every relay write so far: (unit, channel 1-based, on).
    pub fn relay_writes(&self) -> Vec<(u8, u16, bool)> {
        self.lock().relay_writes.clone()
    }

    /// Relay writes with the moment the simulator received each (for latency benches).
    pub fn relay_writes_timed(&self) -> Vec<(u8, u16, bool, std::time::Instant)> {
        let b = self.lock();
        b.relay_writes.iter().zip(&b.relay_write_times).map(|(&(u, c, on), &t)| (u, c, on, t)).collect()
    }

    /// Feedback written to a panel so far: (code, tenths of a second).
    pub fn feedback(&self, unit: u8) -> Vec<(u16, u16)> {
        match self.lock().devices.get(&unit) {
            Some(Device::Keypad(p)) => p.feedback.clone(),
            _ => Vec::new(),
        }
    }

    /// Entries waiting at a panel.
    pub fn queued(&self, unit: u8) -> usize {
        match self.lock().devices.get(&unit) {
            Some(Device::Keypad(p)) => p.queue.len(),
            _ => 0,
        }
    }

    /// A relay board restarts: every coil is off, as after a power cut.
    pub fn restart(&self, unit: u8) {
        if let Some(Device::Relays(v)) = self.lock().devices.get_mut(&unit) {
            v.fill(false);
        }
    }

    /// Someone or something sets a coil behind the gateway's back (channel 1-based).
    pub fn set_relay(&self, unit: u8, channel: u16, on: bool) {
        if let Some(Device::Relays(v)) = self.lock().devices.get_mut(&unit)
            && let Some(slot) = v.get_mut(usize::from(channel.saturating_sub(1)))
        {
            *slot = on;
        }
    }

    /// Switches a fault on (`Some`) or off (`None`) for a device.
    pub fn set_fault(&self, unit: u8, fault: Option<Fault>) {
        let mut b = self.lock();
        match fault {
            Some(f) => b.faults.insert(unit, f),
            None => b.faults.remove(&unit),
        };
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.lock().served.values().sum()
    }

    /// Requests unit `unit` has been sent so far (whether it answered or not): a test
    /// waits for the gateway's next polls of a device by this count, not by sleeping.
    pub fn requests_to(&self, unit: u8) -> u64 {
        self.lock().served.get(&unit).copied().unwrap_or(0)
    }

    /// How long the device `unit` waits before it answers.
    fn delay(&self, unit: u8) -> Option<std::time::Duration> {
        match self.fault(unit) {
            Some(Fault::Slow(d)) => Some(d),
            _ => None,
        }
    }

    /// The fault switched on for `unit`, if any.
    pub(super) fn fault(&self, unit: u8) -> Option<Fault> {
        self.lock().faults.get(&unit).copied()
    }

    /// What the device `unit` answers to one request (`None`: nothing).
    pub(super) fn serve(&self, req: &SlaveRequest<'_>) -> Result<Option<Response>, ExceptionCode> {
        let mut b = self.lock();
        let unit = req.slave;
        *b.served.entry(unit).or_default() += 1;
        let fault = b.faults.get(&unit).copied();
        match fault {
            Some(Fault::Silent) => return Ok(None),
            Some(Fault::Exception(code)) => return Err(code),
            _ => {}
        }
        let building = &mut *b;
        let Some(device) = building.devices.get_mut(&unit) else { return Ok(None) };
        let out_of_range = |n: usize, addr: u16, cnt: u16| usize::from(addr) + usize::from(cnt) > n;
        let response = match (device, &req.request) {
            (Device::Keypad(p), Request::ReadInputRegisters(0, count))
                if *count == keypad::POLL_REGISTERS_V1 || (*count == keypad::POLL_REGISTERS && !p.first_map) =>
            {
                if fault != Some(Fault::FrozenHeartbeat) {
                    p.heartbeat = p.heartbeat.wrapping_add(1);
                }
                let depth = u16::try_from(p.queue.len()).unwrap_or(8);
                let front = p.queue.front().map(|(s, e, _)| (*s, e));
                let age =
                    p.queue.front().map_or(0, |(_, _, at)| u16::try_from(at.elapsed().as_secs()).unwrap_or(u16::MAX));
                let regs = keypad::encode_poll_aged(p.heartbeat, depth, front, age);
                Response::ReadInputRegisters(regs[..usize::from(*count)].to_vec())
            }
            (Device::Keypad(p), Request::WriteSingleRegister(keypad::ACK_REGISTER, seq)) => {
                if p.queue.front().is_some_and(|(s, _, _)| s == seq) {
                    p.queue.pop_front();
                }
                remember(&mut p.acked, *seq);
                Response::WriteSingleRegister(keypad::ACK_REGISTER, *seq)
            }
            (Device::Keypad(p), Request::WriteMultipleRegisters(keypad::FEEDBACK_REGISTER, words))
                if words.len() == 2 =>
            {
                remember(&mut p.feedback, (words[0], words[1]));
                Response::WriteMultipleRegisters(keypad::FEEDBACK_REGISTER, 2)
            }
            (Device::Relays(v), Request::WriteSingleCoil(addr, on)) if usize::from(*addr) < v.len() => {
                if fault != Some(Fault::LosesWrites) {
                    v[usize::from(*addr)] = *on;
                }
                remember(&mut building.relay_writes, (unit, addr + 1, *on));
                remember(&mut building.relay_write_times, std::time::Instant::now());
                Response::WriteSingleCoil(*addr, *on)
            }
            (Device::Relays(v), Request::ReadCoils(addr, cnt)) if !out_of_range(v.len(), *addr, *cnt) => {
                Response::ReadCoils(v[usize::from(*addr)..usize::from(*addr + *cnt)].to_vec())
            }
            (Device::Inputs(v), Request::ReadDiscreteInputs(addr, cnt)) if !out_of_range(v.len(), *addr, *cnt) => {
                Response::ReadDiscreteInputs(v[usize::from(*addr)..usize::from(*addr + *cnt)].to_vec())
            }
            (_, Request::ReadInputRegisters(..) | Request::ReadCoils(..) | Request::ReadDiscreteInputs(..)) => {
                return Err(ExceptionCode::IllegalDataAddress);
            }
            _ => return Err(ExceptionCode::IllegalFunction),
        };
        Ok(Some(response))
    }
}

struct Service(SimBuilding);

impl tokio_modbus::server::Service for Service {
    type Request = SlaveRequest<'static>;
    type Response = Option<Response>;
    type Exception = ExceptionCode;
    type Future = std::pin::Pin<Box<dyn Future<Output = Result<Self::Response, Self::Exception>> + Send>>;

    fn call(&self, req: Self::Request) -> Self::Future {
        let sim = self.0.clone();
        Box::pin(async move {
            if let Some(d) = sim.delay(req.slave) {
                tokio::time::sleep(d).await;
            }
            sim.serve(&req)
        })
    }
}

/// Serves `sim` as Modbus TCP on `listener` until the task is dropped or aborted.
pub async fn serve(sim: SimBuilding, listener: TcpListener) -> std::io::Result<()> {
    let server = Server::new(listener);
    let on_connected = move |stream, addr: SocketAddr| {
        let sim = sim.clone();
        async move { accept_tcp_connection(stream, addr, move |_| Ok(Some(Service(sim.clone())))) }
    };
    server.serve(&on_connected, |e| log::warn!("simulated building: {e}")).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulators_log_keeps_its_newest_entries_and_stays_bounded() {
        let mut log = Vec::new();
        for i in 0..(3 * SIM_LOG) {
            remember(&mut log, i);
        }
        assert!(log.len() <= SIM_LOG);
        assert_eq!(log.last(), Some(&(3 * SIM_LOG - 1)));
        assert_eq!(log.first(), Some(&(3 * SIM_LOG - log.len())), "the newest entries, in order");
    }
}
