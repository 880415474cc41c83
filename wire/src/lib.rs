//! Portvakt's wire formats, shared by the gateway and Portvakt Central so that each is
//! written once: the audit chain ([`chain`]: canonical bytes and hash, `docs/audit.md`),
//! the `events` message ([`event`], `docs/mqtt.md`), the signed `PVKT` envelope
//! ([`envelope`], on the byte layout of [`bytes`]), the collector's acknowledgement
//! ([`ack`]), signed commands ([`command`]), the gateway's signed checkpoints of its chain ([`checkpoint`]), [`hex`], and the broker's URL ([`broker`]) and TLS client settings ([`tls`]). Pure: no I/O, no
//! clock.

pub mod ack;
pub mod broker;
pub mod bytes;
pub mod chain;
pub mod checkpoint;
pub mod command;
pub mod envelope;
pub mod event;
pub mod hex;
pub mod personal;
pub mod tls;
