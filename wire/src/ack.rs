//! The collector's acknowledgement on `events/ack` (`docs/mqtt.md`, Acknowledgements): a
//! `PVKT` envelope of type 5 signed with the collector's key, whose body is [`AckBody`]
//! — the site, the chain's run (`epoch`, absent for a store's first run from before
//! epochs), the newest record the collector has committed with every one before it, and
//! that record's hash. The gateway's checks of it are the gateway's (`uplink::ack`).

use serde::{Deserialize, Serialize};

use crate::envelope::{self, DocType};

/// The body of an acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    /// The gateway's site.
    pub site: String,
    /// The chain's run acknowledged (the records' `epoch.id`); absent for the run a store
    /// began before epochs existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epoch: Option<String>,
    /// The newest record the collector has committed, with every one before it.
    pub through: u64,
    /// That record's `hash` (64 hexadecimal digits), as it came in `events`.
    pub hash: String,
}

/// Signs an acknowledgement with the collector's key.
pub fn seal(body: &AckBody, key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    let json = serde_json::to_vec(body).unwrap_or_default();
    envelope::seal(DocType::Ack, &json, key)
}
