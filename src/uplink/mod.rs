//! The MQTT uplink to the municipality: TLS with a client certificate, a retained
//! `online`/`offline` status, retained gateway and door state, the audit outbox drained
//! in sequence order at QoS 1, signed bundles and revocations in, and commands with
//! replies. The pure parts (topics, payloads, command checks, the in-flight window,
//! backoff) are separate from the actor that owns the connection; `sim_broker` is an
//! in-process MQTT broker for tests and the demo (mosquitto is the judge in interop).

pub mod ack;
pub mod actor;
pub mod backoff;
pub mod command;
pub mod inbound;
pub mod options;
pub mod payload;
pub mod probe;
pub mod seen_documents;
pub mod signed_command;
pub mod sim_broker;
pub mod standalone;
pub mod topics;
pub mod window;

pub use crate::site::status::UplinkStatus;
pub use actor::{Handle, Start, spawn};
