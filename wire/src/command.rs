//! Signed commands to a gateway (`docs/mqtt.md`): the JSON body inside a `PVKT` envelope
//! of type 4, how an authority's tool seals one, and the arguments of `audit.query`.
//! Checking them is the gateway's (`uplink::signed_command`).

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The body of a signed command (inside a `PVKT` envelope of type 4).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SignedBody {
    /// Correlation id, echoed in the reply; also unique per authority.
    pub id: String,
    /// The site it is meant for.
    pub site: String,
    /// The authority that signed it.
    pub authority: String,
    /// The command's name, as in the topic.
    pub cmd: String,
    /// When it was issued; it expires after `uplink.command_max_age`.
    pub issued_at: Timestamp,
    /// The command's arguments: `{"door", "mode"}` for the door commands,
    /// [`AuditQuery`] for `audit.query`, `{}` for `reload`.
    #[serde(default = "no_args")]
    pub args: serde_json::Value,
}

fn no_args() -> serde_json::Value {
    serde_json::json!({})
}

/// Signs a command body (the authority's tool, tests).
pub fn seal(body: &SignedBody, key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    let json = serde_json::to_vec(body).unwrap_or_default();
    crate::envelope::seal(crate::envelope::DocType::Command, &json, key)
}

/// Arguments of `audit.query`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only this door.
    pub door: Option<String>,
    /// Only this holder.
    pub holder: Option<String>,
    /// At or after (RFC 3339).
    pub since: Option<Timestamp>,
    /// Before (RFC 3339).
    pub until: Option<Timestamp>,
    /// Records after this sequence number (the previous page's `next_after`).
    #[serde(default)]
    pub after_seq: u64,
    /// Page size (default 100; the gateway caps it).
    pub limit: Option<u32>,
    /// Why the visit list is read (required): `relatives`, `invoicing`, `deviation`,
    /// `police`, or `other` with `note`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// The reason in words, for `other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The purposes a read of a visit list may give (`AuditQuery::purpose`).
pub const PURPOSES: [&str; 5] = ["relatives", "invoicing", "deviation", "police", "other"];
