//! Door I/O over Modbus: device profiles (register maps and reply decoding), the bus
//! actor over tokio-modbus, how a link is opened, and the simulated building.

pub mod bus;
pub mod handle;
pub mod inputs;
pub mod keypad;
pub mod link;
pub mod relays;
pub mod sim;
