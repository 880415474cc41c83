//! What `portvakt-admin command` and `portvakt-admin ack` put in a signed command or a
//! collector's acknowledgement, from the command line's words (the signing is the
//! wire format's own [`seal`](portvakt_wire::command::seal)).

use jiff::Timestamp;

use crate::core::model::DoorMode;
use portvakt_wire::ack::AckBody;
use portvakt_wire::command::{AuditQuery, SignedBody};

/// The arguments a command may be given on the command line.
#[derive(Debug, Clone, Default)]
pub struct CommandArgs {
    /// The door (`door.pulse`, `door.mode`; a filter for `audit.query`).
    pub door: Option<String>,
    /// The mode, for `door.mode`.
    pub mode: Option<String>,
    /// `audit.query`: one holder only.
    pub holder: Option<String>,
    /// `audit.query`: at or after.
    pub since: Option<Timestamp>,
    /// `audit.query`: before.
    pub until: Option<Timestamp>,
    /// `audit.query`: records after this sequence number.
    pub after_seq: Option<u64>,
    /// `audit.query`: page size.
    pub limit: Option<u32>,
    /// `audit.query`: why the visit list is read.
    pub purpose: Option<String>,
    /// `audit.query`: the reason, for purpose `other`.
    pub note: Option<String>,
}

/// The body of command `name` signed by `authority` for `site` at `now`.
pub fn command_body(
    name: &str,
    authority: String,
    site: String,
    id: Option<String>,
    args: CommandArgs,
    now: Timestamp,
) -> Result<SignedBody, String> {
    let query_only = args.holder.is_some()
        || args.since.is_some()
        || args.until.is_some()
        || args.after_seq.is_some()
        || args.limit.is_some();
    let args = match name {
        "door.pulse" | "door.mode" => {
            if query_only {
                return Err(format!("{name} takes --door (and --mode), not the audit.query filters"));
            }
            let door = args.door.ok_or_else(|| format!("{name} needs --door"))?;
            let mode = match (name, args.mode) {
                ("door.mode", Some(m)) => Some(mode_word(&m)?),
                ("door.mode", None) => return Err("door.mode needs --mode normal, free_passage or lockdown".into()),
                (_, Some(_)) => return Err("door.pulse takes no --mode".into()),
                (_, None) => None,
            };
            let mut a = serde_json::json!({ "door": door });
            if let Some(m) = mode {
                a["mode"] = serde_json::Value::String(m);
            }
            a
        }
        "audit.query" => {
            if args.mode.is_some() {
                return Err("audit.query takes no --mode".into());
            }
            let q = AuditQuery {
                door: args.door,
                holder: args.holder,
                since: args.since,
                until: args.until,
                after_seq: args.after_seq.unwrap_or(0),
                limit: args.limit,
                purpose: args.purpose,
                note: args.note,
            };
            serde_json::to_value(q).map_err(|e| e.to_string())?
        }
        "reload" => {
            if args.door.is_some() || args.mode.is_some() || query_only {
                return Err("reload takes no arguments".into());
            }
            serde_json::json!({})
        }
        "personal.erase" => {
            let only_holder = args.door.is_none()
                && args.mode.is_none()
                && args.since.is_none()
                && args.until.is_none()
                && args.after_seq.is_none()
                && args.limit.is_none();
            match args.holder {
                Some(h) if only_holder => serde_json::json!({ "holder": h }),
                _ => return Err("personal.erase takes --holder only: whose personal parts to erase".into()),
            }
        }
        other => {
            return Err(format!(
                "\"{other}\" is not a signed command: door.pulse, door.mode, audit.query, personal.erase or reload (status is sent unsigned)"
            ));
        }
    };
    Ok(SignedBody {
        id: id.unwrap_or_else(|| format!("{authority}-{}", now.as_millisecond())),
        site,
        authority,
        cmd: name.to_owned(),
        issued_at: now,
        args,
    })
}

/// `free-passage` or `free_passage` as the mode's word.
fn mode_word(m: &str) -> Result<String, String> {
    DoorMode::from_word(&m.replace('-', "_"))
        .map(|mode| mode.word().to_owned())
        .ok_or_else(|| format!("--mode {m}: use normal, free_passage or lockdown"))
}

/// The body of an acknowledgement; `hash` as it came in the record (`hash` of `events`),
/// `epoch` its run's id (`epoch.id` of `events`), if it had one.
pub fn ack_body(site: String, epoch: Option<String>, through: u64, hash: &str) -> Result<AckBody, String> {
    if crate::core::hex::decode32(hash).is_none() {
        return Err(format!("--hash {hash}: a record's hash is 64 hexadecimal digits"));
    }
    if let Some(e) = epoch.as_deref().filter(|e| !portvakt_wire::event::Epoch::valid_id(e)) {
        return Err(format!(
            "--epoch {e}: a run's id is 1 to 64 lowercase hexadecimal digits, as in epoch.id of events"
        ));
    }
    Ok(AckBody { site, epoch, through, hash: hash.trim().to_lowercase() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-24T13:00:00Z".parse().expect("time")
    }

    fn body(name: &str, args: CommandArgs) -> Result<serde_json::Value, String> {
        command_body(name, "kommunen".into(), "storgatan-12".into(), Some("c".into()), args, now()).map(|b| b.args)
    }

    #[test]
    fn each_command_gets_the_arguments_it_takes_and_nothing_else() {
        let door = |d: &str| CommandArgs { door: Some(d.into()), ..CommandArgs::default() };
        assert_eq!(body("door.pulse", door("entrance")), Ok(serde_json::json!({"door": "entrance"})));
        let mode = CommandArgs { mode: Some("free-passage".into()), ..door("laundry") };
        assert_eq!(body("door.mode", mode), Ok(serde_json::json!({"door": "laundry", "mode": "free_passage"})));
        let q = CommandArgs { limit: Some(20), ..door("entrance") };
        assert_eq!(body("audit.query", q.clone()).expect("query")["limit"], 20);
        assert!(body("door.pulse", q).is_err());
        assert!(body("door.mode", door("entrance")).is_err());
        assert!(body("reload", door("entrance")).is_err());
        assert_eq!(body("reload", CommandArgs::default()), Ok(serde_json::json!({})));
        assert!(body("status", CommandArgs::default()).is_err());
    }
}
