//! Staff phones over Bluetooth LE: the exchange by which a phone proves possession of its
//! key for one door, as pure parts (framing, messages, the exchange state machine, rate
//! limits) and the edges that carry its frames (BlueZ through `bluer`, and a simulated
//! transport over a Unix socket for running without a radio). Protocol in
//! `docs/ble-protocol.md`.

pub mod actor;
pub mod bluez;
pub mod exchange;
pub mod frame;
pub mod limits;
pub mod link;
pub mod message;
pub mod phone;
pub mod socket;
pub mod start;
