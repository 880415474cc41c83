//! The simulated building on an RS-485 line (Linux): a pseudo-terminal whose far end the
//! gateway opens as its serial port, and a thread on the near end that plays every unit of
//! a [`SimBuilding`] in real Modbus RTU framing (unit, PDU, CRC-16). Requests with a bad
//! CRC are ignored, as a device does; a unit with [`Fault::CrcGarbage`] answers with its
//! CRC corrupted. The line counts how often the gateway closed the port, so a test can
//! tell whether one bad unit made the whole port reopen.

use std::io::{Read as _, Write as _};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use nix::fcntl::OFlag;
use nix::pty::{PtyMaster, grantpt, posix_openpt, ptsname_r, unlockpt};
use tokio_modbus::{ExceptionCode, Request, Response, SlaveRequest};

use super::heard::crc16;
use super::sim::{Fault, SimBuilding};

/// A running line; the thread stops once this is dropped and the gateway closed the port.
#[derive(Debug)]
pub struct SimLine {
    path: String,
    hangups: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl SimLine {
    /// Opens a pseudo-terminal and serves `sim` on it.
    pub fn start(sim: SimBuilding) -> std::io::Result<Self> {
        let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY)?;
        grantpt(&master)?;
        unlockpt(&master)?;
        let path = ptsname_r(&master)?;
        let hangups = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (h, s) = (hangups.clone(), stop.clone());
        std::thread::Builder::new().name("sim-rs485".into()).spawn(move || serve(&sim, master, &h, &s))?;
        Ok(Self { path, hangups, stop })
    }

    /// The serial device the gateway opens (`/dev/pts/N`).
    pub fn device(&self) -> &str {
        &self.path
    }

    /// How often the gateway closed the port after talking on it.
    pub fn hangups(&self) -> u64 {
        self.hangups.load(Ordering::SeqCst)
    }
}

impl Drop for SimLine {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(sim: &SimBuilding, mut master: PtyMaster, hangups: &AtomicU64, stop: &AtomicBool) {
    let mut pending: Vec<u8> = Vec::new();
    let mut talking = false;
    let mut chunk = [0u8; 256];
    loop {
        match master.read(&mut chunk) {
            Ok(0) | Err(_) => {
                // No one has the far end open (EIO): before the first open, or after a close.
                if talking {
                    hangups.fetch_add(1, Ordering::SeqCst);
                    talking = false;
                }
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                pending.clear();
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            Ok(n) => {
                talking = true;
                pending.extend_from_slice(&chunk[..n]);
                while let Some(taken) = next_request(&mut pending) {
                    if let Some(reply) = answer(sim, taken) {
                        let _ = master.write_all(&reply);
                    }
                }
            }
        }
    }
}

/// A whole request frame at the front of `pending`, CRC checked (bytes that cannot start
/// one are dropped); `None` while more bytes are needed.
fn next_request(pending: &mut Vec<u8>) -> Option<(u8, Request<'static>)> {
    loop {
        let len = match pending.get(1) {
            None => return None,
            Some(1..=6) => 8,
            Some(15 | 16) => 9 + usize::from(*pending.get(6)?),
            Some(_) => {
                pending.remove(0);
                continue;
            }
        };
        if pending.len() < len {
            return None;
        }
        let frame: Vec<u8> = pending.drain(..len).collect();
        let (body, crc) = frame.split_at(len - 2);
        if crc16(body).to_le_bytes() != [crc[0], crc[1]] {
            continue; // a device ignores a frame with a bad CRC
        }
        if let Some(req) = decode(body) {
            return Some((body[0], req));
        }
    }
}

fn word(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

fn decode(body: &[u8]) -> Option<Request<'static>> {
    let (addr, n) = (word(body, 2), word(body, 4));
    Some(match body[1] {
        1 => Request::ReadCoils(addr, n),
        2 => Request::ReadDiscreteInputs(addr, n),
        3 => Request::ReadHoldingRegisters(addr, n),
        4 => Request::ReadInputRegisters(addr, n),
        5 => Request::WriteSingleCoil(addr, n == 0xFF00),
        6 => Request::WriteSingleRegister(addr, n),
        15 => {
            let bits = (0..usize::from(n)).map(|i| body.get(7 + i / 8).is_some_and(|b| b >> (i % 8) & 1 == 1));
            Request::WriteMultipleCoils(addr, bits.collect::<Vec<_>>().into())
        }
        16 => {
            let words = (0..usize::from(n)).filter_map(|i| body.get(7 + 2 * i..9 + 2 * i).map(|w| word(w, 0)));
            Request::WriteMultipleRegisters(addr, words.collect::<Vec<_>>().into())
        }
        _ => return None,
    })
}

/// The reply frame of `unit` to `req`, if it answers.
fn answer(sim: &SimBuilding, (unit, request): (u8, Request<'static>)) -> Option<Vec<u8>> {
    if unit == 0 {
        return None; // broadcast: nobody answers
    }
    let function = request_code(&request);
    let fault = sim.fault(unit);
    if let Some(Fault::Slow(d)) = fault {
        std::thread::sleep(d);
    }
    let pdu = match sim.serve(&SlaveRequest { slave: unit, request }) {
        Ok(None) => return None,
        Ok(Some(response)) => encode(&response)?,
        Err(code) => vec![function | 0x80, exception_code(code)],
    };
    let mut frame = Vec::with_capacity(pdu.len() + 3);
    frame.push(unit);
    frame.extend_from_slice(&pdu);
    let mut crc = crc16(&frame);
    if fault == Some(Fault::CrcGarbage) {
        crc ^= 0x5A5A;
    }
    frame.extend_from_slice(&crc.to_le_bytes());
    Some(frame)
}

fn request_code(req: &Request<'_>) -> u8 {
    match req {
        Request::ReadCoils(..) => 1,
        Request::ReadDiscreteInputs(..) => 2,
        Request::ReadHoldingRegisters(..) => 3,
        Request::ReadInputRegisters(..) => 4,
        Request::WriteSingleCoil(..) => 5,
        Request::WriteSingleRegister(..) => 6,
        Request::WriteMultipleCoils(..) => 15,
        _ => 16,
    }
}

fn exception_code(code: ExceptionCode) -> u8 {
    match code {
        ExceptionCode::IllegalFunction => 1,
        ExceptionCode::IllegalDataAddress => 2,
        ExceptionCode::IllegalDataValue => 3,
        _ => 4,
    }
}

fn bits(bits: &[bool]) -> Vec<u8> {
    let mut bytes = vec![0u8; bits.len().div_ceil(8)];
    for (i, _) in bits.iter().enumerate().filter(|(_, on)| **on) {
        bytes[i / 8] |= 1 << (i % 8);
    }
    bytes
}

fn encode(response: &Response) -> Option<Vec<u8>> {
    let counted = |code: u8, data: Vec<u8>| {
        let mut pdu = vec![code, u8::try_from(data.len()).ok()?];
        pdu.extend(data);
        Some(pdu)
    };
    let registers = |words: &[u16]| words.iter().flat_map(|w| w.to_be_bytes()).collect::<Vec<u8>>();
    let pair = |code: u8, a: u16, b: u16| {
        let mut pdu = vec![code];
        pdu.extend(a.to_be_bytes());
        pdu.extend(b.to_be_bytes());
        Some(pdu)
    };
    match response {
        Response::ReadCoils(v) => counted(1, bits(v)),
        Response::ReadDiscreteInputs(v) => counted(2, bits(v)),
        Response::ReadHoldingRegisters(w) => counted(3, registers(w)),
        Response::ReadInputRegisters(w) => counted(4, registers(w)),
        Response::WriteSingleCoil(a, on) => pair(5, *a, if *on { 0xFF00 } else { 0 }),
        Response::WriteSingleRegister(a, w) => pair(6, *a, *w),
        Response::WriteMultipleCoils(a, n) => pair(15, *a, *n),
        Response::WriteMultipleRegisters(a, n) => pair(16, *a, *n),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_with_a_bad_crc_is_ignored_and_the_next_one_taken() {
        let mut good = vec![0x02, 0x01, 0x00, 0x00, 0x00, 0x04];
        good.extend(crc16(&good).to_le_bytes());
        let mut bad = good.clone();
        bad[7] ^= 0xFF;
        let mut pending = [bad, good].concat();
        assert_eq!(next_request(&mut pending), Some((2, Request::ReadCoils(0, 4))));
        assert!(pending.is_empty());
    }

    #[test]
    fn coils_are_packed_low_bit_first() {
        assert_eq!(
            encode(&Response::ReadCoils(vec![true, false, true, false, false, false, false, false, true])),
            Some(vec![1, 2, 0b101, 1])
        );
    }
}
