//! Door I/O over Modbus: device profiles (register maps) so far; the bus actors, the
//! tokio-modbus adapter and the simulated building follow.

pub mod bus;
pub mod keypad;
pub mod link;
pub mod sim;
