//! Staff phones over Bluetooth LE: the exchange by which a phone proves possession of its
//! key for one door, as pure parts (framing, messages, the exchange state machine, rate
//! limits) and the edges that carry its frames (BlueZ through `bluer`, and a simulated
//! transport over a Unix socket for running without a radio). Framing and messages are
//! the phone's side too, so they live in the `portvakt-phone` crate. Protocol in
//! `docs/ble-protocol.md`.

pub mod actor;
pub mod bluez;
pub mod exchange;
pub use portvakt_phone::frame;
pub mod limits;
pub mod link;
pub use portvakt_phone::message;
pub mod phone;
pub mod socket;
pub mod start;
