//! Portvakt Central, the fleet's receiving side (`docs/central.md`): collectors take every
//! gateway's audit records from the broker into PostgreSQL and acknowledge only what is
//! committed; operators ask it for the state of a chain and for visit lists. The formats
//! are the gateway's own, from `portvakt-wire`.
//!
//! - [`ingest`]: the pure rules — duplicate or equivocation, the gap-free point.
//! - [`anchors`]: a gateway's signed checkpoints judged against its stored chain (pure).
//! - [`db`]: the schema's migrations and taking a record in.
//! - [`collector`]: the MQTT collector and its acknowledgements.
//! - [`nats`]: the collector on a NATS JetStream cluster (a shared durable pull consumer).
//! - [`acks`]: acknowledgements held while a backlog is taken in, the newest per run sent (pure).
//! - [`housekeeping`]: the alarm sweep and retention, beside ingest on a connection of their own.
//! - [`alarms`], [`fleet`]: which alarms a site calls for (pure), and the fleet's state and alarm rows.
//! - [`topics`]: what a topic or subject carries.
//! - [`fleet_view`], [`verify`], [`visits`]: the answers.
//! - [`demo`]: all of it on one machine, with real gateways against simulated buildings.
//! - [`console`]: the operators' web console (`serve`), accounts and sessions.
//! - [`staff`]: staff members' shift certificates, issued as the municipality's delegated issuer.

pub mod acks;
pub mod alarms;
pub mod anchors;
pub mod boundary;
pub mod checks;
pub mod collector;
pub mod console;
pub mod db;
pub mod demo;
pub mod fleet;
pub mod fleet_view;
pub mod handover;
pub mod housekeeping;
pub mod ingest;
pub mod keys;
pub mod names;
pub mod nats;
pub mod retention;
pub mod staff;
pub mod stopping;
pub mod topics;
pub mod verify;
pub mod visits;
