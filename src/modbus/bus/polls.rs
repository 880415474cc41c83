//! What the bus actor's poll of each device reads and reports, by profile: a panel's
//! queue of entries (acknowledged once, a hung panel's ignored), a relay board's coils
//! (compared with what is wanted and written again where they differ), an input module's
//! channels (reported when they change).

use tokio::time::Instant;
use tokio_modbus::{ExceptionCode, Request, Response};

use super::{Bus, BusEvent, Failure};
use crate::config::Profile;
use crate::modbus::keypad;

impl Bus {
    pub(super) async fn poll(&mut self, i: usize) {
        let (unit, profile, channels) = (self.devices[i].unit, self.devices[i].profile, self.devices[i].channels);
        let outcome = match profile {
            Profile::PortvaktKeypad => self.poll_keypad(i, unit).await,
            Profile::DiscreteInputs => self.poll_inputs(i, unit, channels).await,
            Profile::RelayCoils => self.poll_relays(i, unit, channels).await,
        };
        match outcome {
            Ok(()) => self.succeeded(unit).await,
            Err(f) => self.failed(unit, f).await,
        }
    }

    /// Reads the panel's registers: the current map, or the first map once the panel has
    /// refused the current one.
    async fn read_panel(&mut self, i: usize, unit: u8) -> Result<Vec<u16>, Failure> {
        let count = if self.devices[i].keypad_v1 { keypad::POLL_REGISTERS_V1 } else { keypad::POLL_REGISTERS };
        let reply = match self.request(unit, Request::ReadInputRegisters(0, count)).await {
            Err(Failure::Exception(ExceptionCode::IllegalDataAddress)) if !self.devices[i].keypad_v1 => {
                log::warn!(
                    "bus {}: panel {unit} has the first keypad map (no entry age): entries cannot be judged stale",
                    self.cfg.name
                );
                self.devices[i].keypad_v1 = true;
                self.request(unit, Request::ReadInputRegisters(0, keypad::POLL_REGISTERS_V1)).await?
            }
            other => other?,
        };
        match reply {
            Response::ReadInputRegisters(regs) => Ok(regs),
            _ => Err(Failure::Bad("the reply is not input registers".into())),
        }
    }

    async fn poll_keypad(&mut self, i: usize, unit: u8) -> Result<(), Failure> {
        let regs = self.read_panel(i, unit).await?;
        let poll = keypad::decode_poll(&regs).map_err(|e| Failure::Bad(e.to_string()))?;
        // A hung panel answers with a heartbeat that no longer moves: nothing it says counts.
        let now = Instant::now();
        match self.devices[i].heartbeat {
            Some((hb, since)) if hb == poll.heartbeat => {
                if now.duration_since(since) >= keypad::HEARTBEAT_STALE {
                    return Err(Failure::Frozen(hb));
                }
            }
            _ => self.devices[i].heartbeat = Some((poll.heartbeat, now)),
        }
        let Some((seq, entered)) = poll.entry else { return Ok(()) };
        let repeated = self.devices[i].last_ack == Some(seq);
        self.request(unit, Request::WriteSingleRegister(keypad::ACK_REGISTER, seq)).await?;
        self.devices[i].last_ack = Some(seq);
        if !repeated {
            self.emit(BusEvent::Entered { unit, entered, age_secs: poll.entry_age_secs }).await;
        }
        Ok(())
    }

    /// Reads a relay board back, writes again every coil not as wanted, and reports what
    /// the board holds when it changed.
    async fn poll_relays(&mut self, i: usize, unit: u8, channels: u16) -> Result<(), Failure> {
        let Response::ReadCoils(bits) = self.request(unit, Request::ReadCoils(0, channels.max(1))).await? else {
            return Err(Failure::Bad("the reply is not coils".into()));
        };
        let coils = crate::modbus::inputs::channels_in_reply(bits, channels.max(1)).map_err(Failure::Bad)?;
        let (corrections, changed) = self.devices[i].relays.read(coils);
        for c in corrections {
            self.devices[i].health.coil_corrections += 1;
            if c.new_episode {
                log::warn!("bus {}: relay {unit}/{} found {} and written again", self.cfg.name, c.channel, c.found);
                self.emit(BusEvent::CoilCorrected { unit, channel: c.channel, found: c.found, wanted: c.wanted }).await;
            }
            let addr = c.channel.saturating_sub(1);
            if let Err(f) = self.request(unit, Request::WriteSingleCoil(addr, c.wanted)).await {
                log::warn!("bus {}: relay {unit}/{} could not be written again: {f}", self.cfg.name, c.channel);
                break; // what was read is still reported; the next poll tries again
            }
        }
        self.readings += 1;
        let known = self.devices[i].relays.known().map(<[bool]>::to_vec);
        if let (true, Some(coils)) = (changed, known) {
            self.emit(BusEvent::Coils { unit, coils, reading: self.readings }).await;
        }
        Ok(())
    }

    async fn poll_inputs(&mut self, i: usize, unit: u8, channels: u16) -> Result<(), Failure> {
        let Response::ReadDiscreteInputs(now) = self.request(unit, Request::ReadDiscreteInputs(0, channels)).await?
        else {
            return Err(Failure::Bad("the reply is not discrete inputs".into()));
        };
        let now = crate::modbus::inputs::channels_in_reply(now, channels).map_err(Failure::Bad)?;
        let changes = crate::modbus::inputs::changed(self.devices[i].inputs.as_deref(), &now);
        self.devices[i].inputs = Some(now);
        for (channel, on) in changes {
            self.emit(BusEvent::Input { unit, channel, on }).await;
        }
        Ok(())
    }
}
