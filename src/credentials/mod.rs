//! Signed offline credentials: the formats an authority issues (allowlist bundles,
//! revocation lists, phone certificates, each in a signed envelope), their verification
//! at the gateway before anything is stored, the registry that combines every
//! authority's accepted documents into the core's allowlist, and the inbox intake.
//! Formats and test vectors: `docs/credentials.md`.

pub mod bundle;
pub use portvakt_wire::certificate;
pub mod delegated;
pub use portvakt_wire::checkpoint;
pub use portvakt_wire::delegation;
pub mod device_key;
pub use portvakt_wire::envelope;
pub mod intake;
pub mod intake_report;
pub mod keys;
pub mod phone;
pub mod registry;
pub use portvakt_wire::revocation;
pub mod site_policy;
pub mod verify;
pub use portvakt_wire::bytes as wire;
