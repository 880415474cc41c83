//! The phone's side of Portvakt's BLE door protocol (`docs/ble-protocol.md`), shared by
//! the gateway, the command-line phone emulator and, later, a native app: [`frame`]
//! (fragments over ATT), [`message`] (the five messages and the bytes a phone signs) and
//! [`key`] (a phone's Ed25519 or P-256 key and the open and proof messages it makes).
//! Pure: no I/O, no runtime; randomness for ECDSA comes from the operating system.

pub mod frame;
pub mod key;
pub mod message;

pub use key::{Phone, PhoneSecret};
pub use portvakt_wire::phone_key::PhonePublicKey;
