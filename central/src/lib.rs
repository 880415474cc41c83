//! Portvakt Central, the fleet's receiving side (`docs/central.md`): collectors take every
//! gateway's audit records from the broker into PostgreSQL and acknowledge only what is
//! committed; operators ask it for the state of a chain and for visit lists. The formats
//! are the gateway's own, from `portvakt-wire`.
//!
//! - [`ingest`]: the pure rules — duplicate or equivocation, the gap-free point.
//! - [`db`]: the schema's migrations and taking a record in.
//! - [`collector`]: the MQTT collector and its acknowledgements.
//! - [`nats`]: the collector on a NATS JetStream cluster (a shared durable pull consumer).
//! - [`verify`], [`visits`]: the answers.

pub mod collector;
pub mod db;
pub mod ingest;
pub mod keys;
pub mod nats;
pub mod verify;
pub mod visits;
