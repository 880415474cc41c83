//! Commands on `cmd/<name>`: the names, their arguments, reading the payload, the replay
//! memory and the reply's shape. Pure: the clock, the authorities and the replay memory
//! are passed in.
//!
//! - `status` alone is JSON: `{"id": "...", "args": {...}}` (what it says is also in the
//!   retained `state`).
//! - Every other command (`door.pulse`, `door.mode`, `audit.query`, `personal.erase`,
//!   `reload`) must be a
//!   signed envelope (`PVKT`, type 4) whose body is the JSON
//!   [`SignedBody`](super::signed_command::SignedBody), checked in
//!   [`super::signed_command`]: a compromised broker or another client under the prefix
//!   cannot open a door, read a visit list or reload. Unsigned ones are refused and audited.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

pub use super::signed_command::{SignedBody, seal};
use crate::config::AuthorityConfig;
use crate::core::model::DoorMode;

/// Largest command payload read.
pub const MAX_COMMAND: usize = 16 * 1024;
/// Signed commands remembered against replay, at most.
pub const REPLAY_MEMORY: usize = 4096;
/// Records in one `audit.query` page, at most.
pub const MAX_PAGE: u32 = 500;

/// The commands the gateway knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandName {
    /// The gateway's state.
    Status,
    /// A page of the visit list.
    AuditQuery,
    /// Release a door's strike for its pulse (signed).
    DoorPulse,
    /// Set a door's mode (signed).
    DoorMode,
    /// Re-read the configuration (as SIGHUP).
    Reload,
    /// Erase one holder's personal parts of the signer's records (signed).
    PersonalErase,
}

const NAMES: [(CommandName, &str); 6] = [
    (CommandName::Status, "status"),
    (CommandName::AuditQuery, "audit.query"),
    (CommandName::DoorPulse, "door.pulse"),
    (CommandName::DoorMode, "door.mode"),
    (CommandName::Reload, "reload"),
    (CommandName::PersonalErase, "personal.erase"),
];

impl CommandName {
    /// The name in topics (`door.pulse`).
    pub fn word(self) -> &'static str {
        NAMES.iter().find(|(c, _)| *c == self).map_or("?", |(_, w)| w)
    }

    fn from_word(w: &str) -> Option<Self> {
        NAMES.iter().find(|(_, n)| *n == w).map(|(c, _)| *c)
    }

    /// Whether it must be signed by an authority (all but `status`).
    pub fn must_be_signed(self) -> bool {
        !matches!(self, Self::Status)
    }
}

pub use portvakt_wire::command::AuditQuery;

/// What a door command asks.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DoorArgs {
    /// The door.
    pub door: String,
    /// The new mode (`door.mode` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<DoorMode>,
}

/// A command that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Report the state.
    Status,
    /// A page of the visit list, on an authority's signature.
    AuditQuery {
        /// What to read.
        query: AuditQuery,
        /// Who signed.
        authority: String,
    },
    /// Pulse a door, on an authority's signature.
    DoorPulse {
        /// The door.
        door: String,
        /// Who signed.
        authority: String,
    },
    /// Set a door's mode, on an authority's signature.
    DoorMode {
        /// The door.
        door: String,
        /// The mode.
        mode: DoorMode,
        /// Who signed.
        authority: String,
    },
    /// Reload the configuration, on an authority's signature.
    Reload {
        /// Who signed.
        authority: String,
    },
    /// Erase a holder's personal parts of the signing authority's own records (the right
    /// to erasure): any authority, for its own records only.
    PersonalErase {
        /// Whose parts.
        holder: String,
        /// Who signed (the records' audience).
        authority: String,
    },
}

/// A command to carry out, with the correlation id for its reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The correlation id, echoed in the reply.
    pub id: String,
    /// What to do.
    pub action: Action,
    /// A signed command's signature and issue time: remember it durably before carrying
    /// it out (see `Store::remember_command`), so it is never carried out twice.
    pub signed: Option<([u8; 64], Timestamp)>,
}

/// Why a command was refused: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The correlation id, when it could be read.
    pub id: Option<String>,
    /// A stable code (`bad_signature`).
    pub code: &'static str,
    /// What was wrong, for people.
    pub message: String,
}

impl Refused {
    pub(super) fn new(id: Option<&str>, code: &'static str, message: impl Into<String>) -> Self {
        Self { id: id.map(ToOwned::to_owned), code, message: message.into() }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UnsignedBody {
    id: String,
    #[serde(default)]
    args: Option<serde_json::Value>,
}

/// Signatures seen recently, so a captured signed command cannot be sent again.
#[derive(Debug, Default)]
pub struct ReplayMemory {
    seen: VecDeque<([u8; 64], Timestamp)>,
}

impl ReplayMemory {
    /// Forgets what has expired anyway; says whether `sig` was seen (or there is no room
    /// to remember it) as a refusal code and message; remembers it.
    pub(super) fn check_and_remember(
        &mut self,
        sig: [u8; 64],
        issued_at: Timestamp,
        oldest: Timestamp,
    ) -> Result<(), (&'static str, &'static str)> {
        self.seen.retain(|(_, at)| *at >= oldest);
        if self.seen.iter().any(|(s, _)| *s == sig) {
            return Err(("replayed", "this signed command was already carried out"));
        }
        if self.seen.len() >= REPLAY_MEMORY {
            return Err(("busy", "too many signed commands at once; try again shortly"));
        }
        self.seen.push_back((sig, issued_at));
        Ok(())
    }
}

/// What the checks need to know.
#[derive(Debug)]
pub struct Checks<'a> {
    /// This gateway's site id.
    pub site: &'a str,
    /// The authorities the config trusts.
    pub authorities: &'a [AuthorityConfig],
    /// The doors, in policy order (for scope checks).
    pub doors: &'a [String],
    /// Now.
    pub now: Timestamp,
    /// How old (or how far ahead) a signed command may be.
    pub max_age: SignedDuration,
    /// Whether the clock is trusted: freshness means nothing on an untrusted one (rolled
    /// back, any old captured command would be fresh), so signed commands wait for it.
    pub clock_trusted: bool,
}

/// Reads and checks a command that arrived on `cmd/<name>`.
pub fn read(name: &str, payload: &[u8], checks: &Checks<'_>, memory: &mut ReplayMemory) -> Result<Accepted, Refused> {
    if payload.len() > MAX_COMMAND {
        return Err(Refused::new(
            None,
            "too_large",
            format!("{} bytes; a command is at most {MAX_COMMAND}", payload.len()),
        ));
    }
    let Some(cmd) = CommandName::from_word(name) else {
        let known: Vec<&str> = NAMES.iter().map(|(_, w)| *w).collect();
        let id = serde_json::from_slice::<UnsignedBody>(payload).ok().map(|b| b.id);
        return Err(Refused::new(
            id.as_deref(),
            "unknown_command",
            format!("\"{name}\" is not a command; known: {}", known.join(", ")),
        ));
    };
    if payload.starts_with(b"PVKT") {
        return super::signed_command::read(cmd, payload, checks, memory);
    }
    let body: UnsignedBody = serde_json::from_slice(payload).map_err(|e| {
        Refused::new(None, "malformed", format!("not a command: {e} (expected {{\"id\": \"...\", \"args\": {{...}}}})"))
    })?;
    let id = Some(body.id.as_str());
    if cmd.must_be_signed() {
        let why = match cmd {
            CommandName::AuditQuery => "audit.query reads the visit list (personal data)",
            CommandName::Reload => "reload changes the configuration in use",
            CommandName::PersonalErase => "personal.erase deletes personal data",
            _ => "it changes access",
        };
        return Err(Refused::new(id, "unsigned", format!("{} must be signed by an authority: {why}", cmd.word())));
    }
    if body.args.as_ref().is_some_and(|a| a.as_object().is_none_or(|o| !o.is_empty())) {
        return Err(Refused::new(id, "malformed", "status takes no arguments"));
    }
    Ok(Accepted { id: body.id, action: Action::Status, signed: None })
}

/// Reads `audit.query`'s arguments (absent: `{}`).
pub(super) fn audit_query(args: serde_json::Value, id: Option<&str>) -> Result<AuditQuery, Refused> {
    let q: AuditQuery = serde_json::from_value(args)
        .map_err(|e| Refused::new(id, "malformed", format!("audit.query arguments: {e}")))?;
    // Every read of a visit list says why (docs/privacy.md).
    let note = q.note.as_deref().map(str::trim).filter(|n| !n.is_empty());
    match (q.purpose.as_deref(), note) {
        (Some(p), _) if !portvakt_wire::command::PURPOSES.contains(&p) => {
            let words = portvakt_wire::command::PURPOSES.join(", ");
            return Err(Refused::new(id, "malformed", format!("audit.query purpose \"{p}\" is not one of {words}")));
        }
        (None, _) => {
            return Err(Refused::new(id, "no_purpose", "audit.query must say why the visit list is read (purpose)"));
        }
        (Some("other"), None) => {
            return Err(Refused::new(id, "no_purpose", "audit.query with purpose other must give the reason (note)"));
        }
        (_, Some(n)) if n.chars().count() > 200 || n.chars().any(char::is_control) => {
            return Err(Refused::new(id, "malformed", "audit.query note: at most 200 characters of text"));
        }
        _ => {}
    }
    if q.limit.is_some_and(|l| l == 0 || l > MAX_PAGE) {
        return Err(Refused::new(id, "malformed", format!("audit.query limit must be 1 to {MAX_PAGE}")));
    }
    Ok(q)
}

/// The reply payload for a carried-out command.
pub fn reply_ok(id: &str, result: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "id": id, "ok": true, "result": result })).unwrap_or_default()
}

/// The reply payload for a refusal.
pub fn reply_refused(r: &Refused) -> Vec<u8> {
    let body = serde_json::json!({ "id": r.id, "ok": false, "error": { "code": r.code, "message": r.message } });
    serde_json::to_vec(&body).unwrap_or_default()
}

#[cfg(test)]
pub(super) mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::config::AuthorityClass;
    use crate::core::ids::AuthorityId;
    use crate::core::model::{DoorIdx, DoorSet};

    pub(in crate::uplink) fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn authorities() -> Vec<AuthorityConfig> {
        vec![AuthorityConfig {
            id: "municipality".parse::<AuthorityId>().expect("id"),
            name: "Kommunen".into(),
            class: AuthorityClass::Municipality,
            public_key: key(1).verifying_key().to_bytes(),
            reading_key: None,
            doors: DoorSet::default().with(DoorIdx(0)),
            rights: crate::config::Rights::default_for(AuthorityClass::Municipality),
        }]
    }

    pub(in crate::uplink) fn now() -> Timestamp {
        "2026-11-24T03:00:00Z".parse().expect("time")
    }

    pub(in crate::uplink) fn check(name: &str, payload: &[u8], memory: &mut ReplayMemory) -> Result<Accepted, Refused> {
        let auth = authorities();
        let doors = ["entrance".to_owned(), "laundry".to_owned()];
        let checks = Checks {
            site: "storgatan-12",
            authorities: &auth,
            doors: &doors,
            now: now(),
            max_age: SignedDuration::from_mins(5),
            clock_trusted: true,
        };
        read(name, payload, &checks, memory)
    }

    pub(in crate::uplink) fn code(r: Result<Accepted, Refused>) -> &'static str {
        r.err().map_or("accepted", |e| e.code)
    }

    #[test]
    fn every_command_but_status_is_refused_unsigned() {
        let mut m = ReplayMemory::default();
        let r = check("door.pulse", br#"{"id":"x","args":{"door":"entrance"}}"#, &mut m).expect_err("refused");
        assert_eq!((r.code, r.id.as_deref()), ("unsigned", Some("x")));
        assert_eq!(check("status", br#"{"id":"s"}"#, &mut m).expect("ok").action, Action::Status);
        assert_eq!(code(check("audit.query", br#"{"id":"q","args":{"door":"entrance"}}"#, &mut m)), "unsigned");
        assert_eq!(code(check("reload", br#"{"id":"r"}"#, &mut m)), "unsigned");
        assert_eq!(code(check("door.mode", br#"{"id":"r","args":{"door":"entrance"}}"#, &mut m)), "unsigned");
    }

    #[test]
    fn malformed_and_unknown_commands_say_what_was_wrong() {
        let mut m = ReplayMemory::default();
        assert_eq!(code(check("status", b"{not json", &mut m)), "malformed");
        assert_eq!(code(check("status", br#"{"id":1}"#, &mut m)), "malformed");
        assert_eq!(code(check("status", br#"{"id":"a","extra":1}"#, &mut m)), "malformed");
        assert_eq!(code(check("status", br#"{"id":"a","args":{"limit":1}}"#, &mut m)), "malformed");
        assert!(audit_query(serde_json::json!({"limit": 100_000}), None).is_err());
        assert!(audit_query(serde_json::json!({"since": "yesterday"}), None).is_err());
        let r = check("self.destruct", br#"{"id":"z"}"#, &mut m).expect_err("refused");
        assert_eq!((r.code, r.id.as_deref()), ("unknown_command", Some("z")));
        assert_eq!(code(check("status", &vec![b' '; MAX_COMMAND + 1], &mut m)), "too_large");
        assert_eq!(code(check("door.pulse", b"PVKT\x01\x04garbage", &mut m)), "malformed");
    }

    #[test]
    fn replay_memory_is_bounded_and_forgets_expired_signatures() {
        let mut m = ReplayMemory::default();
        let t = now();
        for i in 0..REPLAY_MEMORY {
            let mut sig = [0u8; 64];
            sig[..8].copy_from_slice(&(i as u64).to_be_bytes());
            assert!(m.check_and_remember(sig, t, t - SignedDuration::from_mins(5)).is_ok());
        }
        assert_eq!(m.check_and_remember([9; 64], t, t - SignedDuration::from_mins(5)).map_err(|e| e.0), Err("busy"));
        let later = t + SignedDuration::from_mins(10);
        assert!(m.check_and_remember([9; 64], later, later - SignedDuration::from_mins(5)).is_ok());
        assert_eq!(m.seen.len(), 1);
    }
}
