//! Doors: the pure state machine that turns grants, exit requests, contact readings and
//! time into strike commands and door events. The door actor that drives it from the
//! Modbus buses comes with the bus actors.

pub mod machine;
