//! Opening a Modbus link from a bus's config: a TCP connection, or a serial port with the
//! configured framing and tokio-modbus RTU on top. Used by the bus actor and by the
//! installer tools, so both reach a bus the same way.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::time::timeout;
use tokio_modbus::client::Context;
use tokio_modbus::prelude::tcp;

use super::heard::{Heard, Listened};
use crate::config::{BusConfig, BusLink, Parity};

/// Why a link could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bus \"{bus}\": cannot open {target}: {why}")]
pub struct LinkError {
    /// The bus.
    pub bus: String,
    /// The address or device.
    pub target: String,
    /// Why.
    pub why: String,
}

/// Opens the bus's link (TCP within the bus timeout, or the serial port).
pub async fn open(bus: &BusConfig) -> Result<Context, LinkError> {
    open_heard(bus).await.map(|(ctx, _)| ctx)
}

/// Opens the bus's link; on a serial port also what the line says during each request
/// (see [`Heard`]), so that a garbled reply can be told from silence.
pub async fn open_heard(bus: &BusConfig) -> Result<(Context, Option<Heard>), LinkError> {
    let fail = |target: &str, why: String| LinkError { bus: bus.name.clone(), target: target.to_owned(), why };
    match &bus.link {
        BusLink::Tcp { address } => {
            let addr: SocketAddr = address.parse().map_err(|e| fail(address, format!("{e}")))?;
            match timeout(bus.timeout.unsigned_abs().max(Duration::from_millis(100)), tcp::connect(addr)).await {
                Ok(Ok(ctx)) => Ok((ctx, None)),
                Ok(Err(e)) => Err(fail(address, e.to_string())),
                Err(_) => Err(fail(address, "timed out".into())),
            }
        }
        BusLink::Rtu { device, baud, parity, stop_bits } => {
            let builder = tokio_serial::new(device, *baud)
                .data_bits(tokio_serial::DataBits::Eight)
                .parity(match parity {
                    Parity::None => tokio_serial::Parity::None,
                    Parity::Even => tokio_serial::Parity::Even,
                    Parity::Odd => tokio_serial::Parity::Odd,
                })
                .stop_bits(if *stop_bits == 2 { tokio_serial::StopBits::Two } else { tokio_serial::StopBits::One });
            let port = tokio_serial::SerialStream::open(&builder).map_err(|e| fail(device, e.to_string()))?;
            let (listened, heard) = Listened::new(port);
            Ok((tokio_modbus::client::rtu::attach(listened), Some(heard)))
        }
        BusLink::Sim => Err(fail(
            "the simulated building",
            "it runs inside the daemon (`portvakt run`) or the demo; reach it through them".into(),
        )),
    }
}

/// The idle time RTU needs between frames: 3.5 characters of 11 bits, at least 2 ms.
pub fn frame_gap(bus: &BusConfig) -> Option<Duration> {
    match bus.link {
        BusLink::Rtu { baud, .. } => {
            Some(Duration::from_micros(3_500_000 * 11 / u64::from(baud.max(1))).max(Duration::from_millis(2)))
        }
        BusLink::Tcp { .. } | BusLink::Sim => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rtu_frame_gap_is_three_and_a_half_characters_but_at_least_2_ms() {
        let mut bus = BusConfig {
            name: "b".into(),
            link: BusLink::Rtu { device: "/dev/null".into(), baud: 9600, parity: Parity::Even, stop_bits: 1 },
            timeout: jiff::SignedDuration::from_millis(500),
            poll_interval: jiff::SignedDuration::from_millis(50),
            max_entry_age: jiff::SignedDuration::from_secs(10),
            devices: Vec::new(),
        };
        assert_eq!(frame_gap(&bus), Some(Duration::from_micros(4010)));
        bus.link = BusLink::Rtu { device: "/dev/null".into(), baud: 115_200, parity: Parity::Even, stop_bits: 1 };
        assert_eq!(frame_gap(&bus), Some(Duration::from_millis(2)));
        bus.link = BusLink::Tcp { address: "127.0.0.1:502".into() };
        assert_eq!(frame_gap(&bus), None);
    }
}
