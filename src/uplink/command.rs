//! Commands on `cmd/<name>`: reading the payload, checking the authority's signature,
//! freshness, replay and door scope, and the reply's shape. Pure: the clock, the
//! authorities and the replay memory are passed in.
//!
//! - Read-only commands (`status`, `audit.query`, `reload`) are JSON: `{"id": "...",
//!   "args": {...}}`. The broker's ACL already confines who may publish under the prefix.
//! - Commands that change access (`door.pulse`, `door.mode`) must be a signed envelope
//!   (`PVKT`, type 4) whose body is the JSON [`SignedBody`]: a compromised broker cannot
//!   open a door. Unsigned ones are refused and audited.

use std::collections::VecDeque;

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::config::AuthorityConfig;
use crate::core::model::DoorMode;
use crate::credentials::envelope::{self, DocType};

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
}

const NAMES: [(CommandName, &str); 5] = [
    (CommandName::Status, "status"),
    (CommandName::AuditQuery, "audit.query"),
    (CommandName::DoorPulse, "door.pulse"),
    (CommandName::DoorMode, "door.mode"),
    (CommandName::Reload, "reload"),
];

impl CommandName {
    /// The name in topics (`door.pulse`).
    pub fn word(self) -> &'static str {
        NAMES.iter().find(|(c, _)| *c == self).map_or("?", |(_, w)| w)
    }

    fn from_word(w: &str) -> Option<Self> {
        NAMES.iter().find(|(_, n)| *n == w).map(|(c, _)| *c)
    }

    /// Whether it changes who can get in (and so must be signed).
    pub fn changes_access(self) -> bool {
        matches!(self, Self::DoorPulse | Self::DoorMode)
    }
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
    /// Page size (default 100, at most [`MAX_PAGE`]).
    pub limit: Option<u32>,
}

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
    /// A page of the visit list.
    AuditQuery(AuditQuery),
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
    /// Reload the configuration.
    Reload,
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
    fn new(id: Option<&str>, code: &'static str, message: impl Into<String>) -> Self {
        Self { id: id.map(ToOwned::to_owned), code, message: message.into() }
    }
}

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
    /// The command's arguments.
    pub args: DoorArgs,
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
    fn check_and_remember(
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
        return signed(cmd, payload, checks, memory);
    }
    let body: UnsignedBody = serde_json::from_slice(payload).map_err(|e| {
        Refused::new(None, "malformed", format!("not a command: {e} (expected {{\"id\": \"...\", \"args\": {{...}}}})"))
    })?;
    let id = Some(body.id.as_str());
    let action = match cmd {
        CommandName::DoorPulse | CommandName::DoorMode => {
            let why = format!("{} changes access and must be signed by an authority", cmd.word());
            return Err(Refused::new(id, "unsigned", why));
        }
        CommandName::Status => Action::Status,
        CommandName::Reload => Action::Reload,
        CommandName::AuditQuery => {
            let args = body.args.unwrap_or_else(|| serde_json::json!({}));
            let q: AuditQuery = serde_json::from_value(args)
                .map_err(|e| Refused::new(id, "malformed", format!("audit.query arguments: {e}")))?;
            if q.limit.is_some_and(|l| l == 0 || l > MAX_PAGE) {
                return Err(Refused::new(id, "malformed", format!("audit.query limit must be 1 to {MAX_PAGE}")));
            }
            Action::AuditQuery(q)
        }
    };
    Ok(Accepted { id: body.id, action, signed: None })
}

fn signed(
    cmd: CommandName,
    payload: &[u8],
    checks: &Checks<'_>,
    memory: &mut ReplayMemory,
) -> Result<Accepted, Refused> {
    let env = envelope::open(payload).map_err(|e| Refused::new(None, "malformed", format!("signed command: {e}")))?;
    if env.doc_type != DocType::Command {
        return Err(Refused::new(
            None,
            "malformed",
            format!("a {} where a signed command belongs", env.doc_type.word()),
        ));
    }
    let body: SignedBody = serde_json::from_slice(env.body)
        .map_err(|e| Refused::new(None, "malformed", format!("signed command body: {e}")))?;
    let id = Some(body.id.as_str());
    let authority = checks.authorities.iter().find(|a| a.id.as_str() == body.authority).ok_or_else(|| {
        Refused::new(id, "unknown_authority", format!("\"{}\" is not an authority of this site", body.authority))
    })?;
    if !envelope::signature_ok(&env, &authority.public_key) {
        return Err(Refused::new(id, "bad_signature", format!("the signature is not {}'s", body.authority)));
    }
    if body.site != checks.site {
        return Err(Refused::new(
            id,
            "wrong_site",
            format!("signed for site \"{}\", this is \"{}\"", body.site, checks.site),
        ));
    }
    if body.cmd != cmd.word() {
        return Err(Refused::new(
            id,
            "wrong_command",
            format!("signed as \"{}\" but sent on cmd/{}", body.cmd, cmd.word()),
        ));
    }
    if !cmd.changes_access() {
        return Err(Refused::new(id, "malformed", format!("{} is not a signed command; send it as JSON", cmd.word())));
    }
    if !checks.clock_trusted {
        return Err(Refused::new(
            id,
            "untrusted_clock",
            "the gateway's clock is not trusted, so a command's freshness cannot be judged; try again after time sync",
        ));
    }
    let age = checks.now.duration_since(body.issued_at);
    if age.abs() > checks.max_age {
        return Err(Refused::new(
            id,
            "stale",
            format!(
                "issued at {}, {:#} from the gateway's clock; the limit is {:#}",
                body.issued_at, age, checks.max_age
            ),
        ));
    }
    let door = checks
        .doors
        .iter()
        .position(|d| *d == body.args.door)
        .and_then(|i| u8::try_from(i).ok())
        .ok_or_else(|| Refused::new(id, "unknown_door", format!("no door \"{}\" at this site", body.args.door)))?;
    if !authority.doors.contains(crate::core::model::DoorIdx(door)) {
        return Err(Refused::new(
            id,
            "out_of_scope",
            format!("{} may not command door \"{}\"", body.authority, body.args.door),
        ));
    }
    let action = match (cmd, body.args.mode) {
        (CommandName::DoorPulse, None) => {
            Action::DoorPulse { door: body.args.door.clone(), authority: body.authority.clone() }
        }
        (CommandName::DoorMode, Some(mode)) => {
            Action::DoorMode { door: body.args.door.clone(), mode, authority: body.authority.clone() }
        }
        (CommandName::DoorPulse, Some(_)) => return Err(Refused::new(id, "malformed", "door.pulse takes no mode")),
        _ => return Err(Refused::new(id, "malformed", "door.mode needs a mode: normal, free_passage or lockdown")),
    };
    // The owner decides in the config what else an authority may do (`commands`, `modes`).
    let rights = &authority.rights;
    match &action {
        Action::DoorPulse { .. } if !rights.pulse => {
            return Err(Refused::new(id, "not_permitted", format!("{} may not send door.pulse", body.authority)));
        }
        Action::DoorMode { mode, .. } if !rights.may_set(*mode) => {
            let word = mode.word();
            return Err(Refused::new(
                id,
                "not_permitted",
                format!("{} may not set a door to {word} (the config's `modes` for it)", body.authority),
            ));
        }
        _ => {}
    }
    memory
        .check_and_remember(env.signature, body.issued_at, checks.now - checks.max_age)
        .map_err(|(code, message)| Refused::new(id, code, message))?;
    Ok(Accepted { id: body.id, action, signed: Some((env.signature, body.issued_at)) })
}

/// Signs a command body (the authority's tool, tests).
pub fn seal(body: &SignedBody, key: &ed25519_dalek::SigningKey) -> Vec<u8> {
    let json = serde_json::to_vec(body).unwrap_or_default();
    envelope::seal(DocType::Command, &json, key)
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
mod tests {
    use ed25519_dalek::SigningKey;

    use super::*;
    use crate::config::AuthorityClass;
    use crate::core::ids::AuthorityId;
    use crate::core::model::{DoorIdx, DoorSet};

    fn key(n: u8) -> SigningKey {
        SigningKey::from_bytes(&[n; 32])
    }

    fn authorities() -> Vec<AuthorityConfig> {
        vec![AuthorityConfig {
            id: "municipality".parse::<AuthorityId>().expect("id"),
            name: "Kommunen".into(),
            class: AuthorityClass::Municipality,
            public_key: key(1).verifying_key().to_bytes(),
            doors: DoorSet::default().with(DoorIdx(0)),
            rights: crate::config::Rights::default_for(AuthorityClass::Municipality),
        }]
    }

    fn now() -> Timestamp {
        "2026-11-24T03:00:00Z".parse().expect("time")
    }

    fn body(cmd: &str, door: &str) -> SignedBody {
        SignedBody {
            id: "c-1".into(),
            site: "storgatan-12".into(),
            authority: "municipality".into(),
            cmd: cmd.into(),
            issued_at: now(),
            args: DoorArgs { door: door.into(), mode: None },
        }
    }

    fn check(name: &str, payload: &[u8], memory: &mut ReplayMemory) -> Result<Accepted, Refused> {
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

    fn code(r: Result<Accepted, Refused>) -> &'static str {
        r.err().map_or("accepted", |e| e.code)
    }

    #[test]
    fn a_signed_pulse_is_accepted_once_and_its_replay_refused() {
        let mut m = ReplayMemory::default();
        let payload = seal(&body("door.pulse", "entrance"), &key(1));
        let ok = check("door.pulse", &payload, &mut m).expect("accepted");
        assert_eq!(ok.action, Action::DoorPulse { door: "entrance".into(), authority: "municipality".into() });
        assert_eq!(code(check("door.pulse", &payload, &mut m)), "replayed");
    }

    #[test]
    fn every_bad_signed_command_is_refused_with_its_reason() {
        let mut m = ReplayMemory::default();
        assert_eq!(code(check("door.pulse", &seal(&body("door.pulse", "entrance"), &key(2)), &mut m)), "bad_signature");
        let mut b = body("door.pulse", "entrance");
        b.site = "other-site".into();
        assert_eq!(code(check("door.pulse", &seal(&b, &key(1)), &mut m)), "wrong_site");
        assert_eq!(code(check("door.mode", &seal(&body("door.pulse", "entrance"), &key(1)), &mut m)), "wrong_command");
        let mut b = body("door.pulse", "entrance");
        b.issued_at = now() - SignedDuration::from_mins(6);
        assert_eq!(code(check("door.pulse", &seal(&b, &key(1)), &mut m)), "stale");
        b.issued_at = now() + SignedDuration::from_mins(6);
        assert_eq!(code(check("door.pulse", &seal(&b, &key(1)), &mut m)), "stale");
        assert_eq!(code(check("door.pulse", &seal(&body("door.pulse", "laundry"), &key(1)), &mut m)), "out_of_scope");
        assert_eq!(code(check("door.pulse", &seal(&body("door.pulse", "attic"), &key(1)), &mut m)), "unknown_door");
        let mut b = body("door.pulse", "entrance");
        b.authority = "someone".into();
        assert_eq!(code(check("door.pulse", &seal(&b, &key(1)), &mut m)), "unknown_authority");
        assert_eq!(code(check("door.mode", &seal(&body("door.mode", "entrance"), &key(1)), &mut m)), "malformed");
        let mut tampered = seal(&body("door.pulse", "entrance"), &key(1));
        let i = tampered.len() - 70;
        tampered[i] ^= 1;
        assert!(["bad_signature", "malformed"].contains(&code(check("door.pulse", &tampered, &mut m))));
    }

    #[test]
    fn unsigned_access_commands_are_refused_and_read_only_ones_accepted() {
        let mut m = ReplayMemory::default();
        let r = check("door.pulse", br#"{"id":"x","args":{"door":"entrance"}}"#, &mut m).expect_err("refused");
        assert_eq!((r.code, r.id.as_deref()), ("unsigned", Some("x")));
        assert_eq!(check("status", br#"{"id":"s"}"#, &mut m).expect("ok").action, Action::Status);
        let q = check("audit.query", br#"{"id":"q","args":{"door":"entrance","limit":10}}"#, &mut m).expect("ok");
        assert!(matches!(q.action, Action::AuditQuery(AuditQuery { limit: Some(10), .. })));
    }

    #[test]
    fn malformed_and_unknown_commands_say_what_was_wrong() {
        let mut m = ReplayMemory::default();
        assert_eq!(code(check("status", b"{not json", &mut m)), "malformed");
        assert_eq!(code(check("status", br#"{"id":1}"#, &mut m)), "malformed");
        assert_eq!(code(check("status", br#"{"id":"a","extra":1}"#, &mut m)), "malformed");
        assert_eq!(code(check("audit.query", br#"{"id":"a","args":{"limit":100000}}"#, &mut m)), "malformed");
        assert_eq!(code(check("audit.query", br#"{"id":"a","args":{"since":"yesterday"}}"#, &mut m)), "malformed");
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
