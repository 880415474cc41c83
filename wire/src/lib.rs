//! Portvakt's wire formats, shared by the gateway and Portvakt Central so that each is
//! written once: the audit chain ([`chain`]: canonical bytes and hash, `docs/audit.md`),
//! the `events` message ([`event`], `docs/mqtt.md`), the signed `PVKT` envelope
//! ([`envelope`], on the byte layout of [`bytes`]), the collector's acknowledgement
//! ([`ack`]), signed commands ([`command`]), revocation lists, an authority's and an issuer's ([`revocation`]), phone certificates ([`certificate`]) and the delegations that let an issuer sign them ([`delegation`]), staff phones' keys ([`phone_key`]), the gateway's signed checkpoints of its chain ([`checkpoint`]), [`hex`], and the broker's URL ([`broker`]) and TLS client settings ([`tls`]). Pure: no I/O, no
//! clock.

pub mod ack;
pub mod broker;
pub mod bytes;
pub mod certificate;
pub mod chain;
pub mod checkpoint;
pub mod command;
pub mod delegation;
pub mod envelope;
pub mod event;
pub mod hex;
pub mod kinds;
pub mod personal;
pub mod phone_key;
pub mod revocation;
pub mod tls;
