//! Door I/O over Modbus: device profiles (register maps and reply decoding), the bus
//! actor over tokio-modbus, how a link is opened, and the simulated building (on loopback TCP, or on an RS-485 line
//! played on a pseudo-terminal).

pub mod bus;
pub mod handle;
pub mod heard;
pub mod inputs;
pub mod keypad;
pub mod link;
pub mod relays;
pub mod sim;
#[cfg(target_os = "linux")]
pub mod sim_line;
