//! Replies from Modbus devices, through tokio-modbus's own framing (RTU or TCP, picked by
//! the first byte) and then the profile decoding the bus actor applies: the keypad's
//! eleven input registers, or a board's discrete inputs. The fuzzed bytes are what a
//! device sends back to the gateway's request; a reply either decodes or is an error.
#![no_main]

use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use portvakt::modbus::{inputs, keypad};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_modbus::prelude::*;

fuzz_target!(|data: &[u8]| {
    let [how, reply @ ..] = data else { return };
    let rt = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
    rt.block_on(async {
        let (client, mut device) = tokio::io::duplex(4096);
        let reply = reply.to_vec();
        let answer = tokio::spawn(async move {
            let mut request = [0u8; 64];
            if device.read(&mut request).await.is_ok() {
                let _ = device.write_all(&reply).await;
            }
        });
        let mut ctx = if how & 1 == 0 {
            tokio_modbus::client::rtu::attach_slave(client, Slave(7))
        } else {
            tokio_modbus::client::tcp::attach_slave(client, Slave(7))
        };
        let keypad_poll = how & 2 == 0;
        let request = if keypad_poll {
            Request::ReadInputRegisters(0, keypad::POLL_REGISTERS)
        } else {
            Request::ReadDiscreteInputs(0, u16::from(how >> 4) + 1)
        };
        let outcome = tokio::time::timeout(Duration::from_secs(2), ctx.call(request)).await;
        let _ = answer.await;
        match outcome {
            Ok(Ok(Ok(Response::ReadInputRegisters(regs)))) if keypad_poll => {
                let _ = keypad::decode_poll(&regs).map_err(|e| e.to_string());
            }
            Ok(Ok(Ok(Response::ReadDiscreteInputs(bits)))) if !keypad_poll => {
                let channels = u16::from(how >> 4) + 1;
                if let Ok(now) = inputs::channels_in_reply(bits, channels) {
                    assert_eq!(now.len(), usize::from(channels));
                    let _ = inputs::changed(None, &now);
                }
            }
            _ => {}
        }
    });
});
