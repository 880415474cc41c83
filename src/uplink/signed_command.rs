//! Signed commands: a `PVKT` envelope of type 4 whose body is the JSON [`SignedBody`].
//! Checked in order: the envelope and body, the authority and its signature, the site,
//! the command's name against the topic, a trusted clock and freshness, the door scope,
//! the owner's rights for that authority, and the replay memory. Pure.

use super::command::{Accepted, Action, Checks, CommandName, DoorArgs, Refused, ReplayMemory, audit_query};
use crate::config::{AuthorityConfig, Granted};
use crate::core::model::{DoorIdx, DoorSet};
use crate::credentials::envelope::{self, DocType};

pub use portvakt_wire::command::{SignedBody, seal};

/// Reads and checks a signed command that arrived on `cmd/<name>`.
pub(super) fn read(
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
    if !cmd.must_be_signed() {
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
    let action = action(cmd, &body, authority, checks)?;
    permitted(&action, authority).map_err(|why| Refused::new(id, "not_permitted", why))?;
    memory
        .check_and_remember(env.signature, body.issued_at, checks.now - checks.max_age)
        .map_err(|(code, message)| Refused::new(id, code, message))?;
    Ok(Accepted { id: body.id, action, signed: Some((env.signature, body.issued_at)) })
}

/// The command's arguments read, and its doors checked against the authority's scope.
fn action(
    cmd: CommandName,
    body: &SignedBody,
    authority: &AuthorityConfig,
    checks: &Checks<'_>,
) -> Result<Action, Refused> {
    let id = Some(body.id.as_str());
    let who = body.authority.clone();
    let door_in_scope = |door: &str| -> Result<(), Refused> {
        let idx = checks
            .doors
            .iter()
            .position(|d| d == door)
            .and_then(|i| u8::try_from(i).ok())
            .ok_or_else(|| Refused::new(id, "unknown_door", format!("no door \"{door}\" at this site")))?;
        if authority.doors.contains(DoorIdx(idx)) {
            Ok(())
        } else {
            Err(Refused::new(id, "out_of_scope", format!("{who} may not command door \"{door}\"")))
        }
    };
    match cmd {
        CommandName::DoorPulse | CommandName::DoorMode => {
            let args: DoorArgs = serde_json::from_value(body.args.clone())
                .map_err(|e| Refused::new(id, "malformed", format!("{} arguments: {e}", cmd.word())))?;
            door_in_scope(&args.door)?;
            match (cmd, args.mode) {
                (CommandName::DoorPulse, None) => Ok(Action::DoorPulse { door: args.door, authority: who }),
                (CommandName::DoorMode, Some(mode)) => Ok(Action::DoorMode { door: args.door, mode, authority: who }),
                (CommandName::DoorPulse, Some(_)) => Err(Refused::new(id, "malformed", "door.pulse takes no mode")),
                _ => Err(Refused::new(id, "malformed", "door.mode needs a mode: normal, free_passage or lockdown")),
            }
        }
        CommandName::AuditQuery => {
            let query = audit_query(body.args.clone(), id)?;
            match &query.door {
                Some(door) => door_in_scope(door)?,
                // Records without a door (system records) and every door's visits: only
                // for an authority whose scope is the whole site.
                None if !covers_all(authority.doors, checks.doors.len()) => {
                    return Err(Refused::new(
                        id,
                        "out_of_scope",
                        format!("{who}'s scope is not the whole site: name one of its doors in `door`"),
                    ));
                }
                None => {}
            }
            Ok(Action::AuditQuery { query, authority: who })
        }
        CommandName::Reload => {
            if body.args.as_object().is_none_or(|o| !o.is_empty()) {
                return Err(Refused::new(id, "malformed", "reload takes no arguments"));
            }
            Ok(Action::Reload { authority: who })
        }
        CommandName::PersonalErase => {
            #[derive(serde::Deserialize)]
            #[serde(deny_unknown_fields)]
            struct Args {
                holder: String,
            }
            let args: Args = serde_json::from_value(body.args.clone()).map_err(|e| {
                Refused::new(id, "malformed", format!("personal.erase arguments: {e} (expected {{\"holder\"}})"))
            })?;
            if args.holder.is_empty() || args.holder.len() > 128 || args.holder.chars().any(char::is_control) {
                return Err(Refused::new(id, "malformed", "personal.erase: holder is a holder's id"));
            }
            Ok(Action::PersonalErase { holder: args.holder, authority: who })
        }
        CommandName::Status => Ok(Action::Status),
    }
}

fn covers_all(scope: DoorSet, doors: usize) -> bool {
    (0..doors).all(|i| u8::try_from(i).is_ok_and(|i| scope.contains(DoorIdx(i))))
}

/// The owner decides in the config what else an authority may do (`commands`, `modes`).
fn permitted(action: &Action, authority: &AuthorityConfig) -> Result<(), String> {
    let rights = &authority.rights;
    let who = authority.id.as_str();
    let refused = |what: &str| Err(format!("{who} may not send {what} (the config's `commands` for it)"));
    match action {
        Action::DoorPulse { .. } if !rights.may_send(Granted::Pulse) => refused("door.pulse"),
        Action::AuditQuery { .. } if !rights.may_send(Granted::Query) => refused("audit.query"),
        Action::Reload { .. } if !rights.may_send(Granted::Reload) => refused("reload"),
        Action::DoorMode { mode, .. } if !rights.may_set(*mode) => {
            Err(format!("{who} may not set a door to {} (the config's `modes` for it)", mode.word()))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use jiff::SignedDuration;

    use super::*;
    use crate::uplink::command::ReplayMemory;
    use crate::uplink::command::tests::{check, code, key, now};

    fn body(cmd: &str, args: serde_json::Value) -> SignedBody {
        SignedBody {
            id: "c-1".into(),
            site: "storgatan-12".into(),
            authority: "municipality".into(),
            cmd: cmd.into(),
            issued_at: now(),
            args,
        }
    }

    fn door(cmd: &str, door: &str) -> SignedBody {
        body(cmd, serde_json::json!({ "door": door }))
    }

    #[test]
    fn a_signed_pulse_is_accepted_once_and_its_replay_refused() {
        let mut m = ReplayMemory::default();
        let payload = seal(&door("door.pulse", "entrance"), &key(1));
        let ok = check("door.pulse", &payload, &mut m).expect("accepted");
        assert_eq!(ok.action, Action::DoorPulse { door: "entrance".into(), authority: "municipality".into() });
        assert_eq!(code(check("door.pulse", &payload, &mut m)), "replayed");
    }

    #[test]
    fn every_bad_signed_command_is_refused_with_its_reason() {
        let mut m = ReplayMemory::default();
        let sealed = |b: &SignedBody| seal(b, &key(1));
        assert_eq!(code(check("door.pulse", &seal(&door("door.pulse", "entrance"), &key(2)), &mut m)), "bad_signature");
        let mut b = door("door.pulse", "entrance");
        b.site = "other-site".into();
        assert_eq!(code(check("door.pulse", &sealed(&b), &mut m)), "wrong_site");
        assert_eq!(code(check("door.mode", &sealed(&door("door.pulse", "entrance")), &mut m)), "wrong_command");
        let mut b = door("door.pulse", "entrance");
        b.issued_at = now() - SignedDuration::from_mins(6);
        assert_eq!(code(check("door.pulse", &sealed(&b), &mut m)), "stale");
        b.issued_at = now() + SignedDuration::from_mins(6);
        assert_eq!(code(check("door.pulse", &sealed(&b), &mut m)), "stale");
        assert_eq!(code(check("door.pulse", &sealed(&door("door.pulse", "laundry")), &mut m)), "out_of_scope");
        assert_eq!(code(check("door.pulse", &sealed(&door("door.pulse", "attic")), &mut m)), "unknown_door");
        let mut b = door("door.pulse", "entrance");
        b.authority = "someone".into();
        assert_eq!(code(check("door.pulse", &sealed(&b), &mut m)), "unknown_authority");
        assert_eq!(code(check("door.mode", &sealed(&door("door.mode", "entrance")), &mut m)), "malformed");
        let mut tampered = sealed(&door("door.pulse", "entrance"));
        let i = tampered.len() - 70;
        tampered[i] ^= 1;
        assert!(["bad_signature", "malformed"].contains(&code(check("door.pulse", &tampered, &mut m))));
    }

    #[test]
    fn a_signed_audit_query_is_kept_to_the_authoritys_doors() {
        let mut m = ReplayMemory::default();
        let q = |mut args: serde_json::Value| {
            args["purpose"] = "invoicing".into();
            seal(&body("audit.query", args), &key(1))
        };
        let ok = check("audit.query", &q(serde_json::json!({"door": "entrance", "limit": 10})), &mut m).expect("ok");
        assert!(matches!(ok.action, Action::AuditQuery { ref authority, .. } if authority == "municipality"));
        // Its scope is the entrance alone: the laundry's visits and the whole list are not its to read.
        assert_eq!(code(check("audit.query", &q(serde_json::json!({"door": "laundry"})), &mut m)), "out_of_scope");
        assert_eq!(code(check("audit.query", &q(serde_json::json!({"limit": 5})), &mut m)), "out_of_scope");
        assert_eq!(code(check("audit.query", &q(serde_json::json!({"limit": 0})), &mut m)), "malformed");
        // Every read says why: no purpose, a purpose not on the list, other without a reason.
        let why = |args| check("audit.query", &seal(&body("audit.query", args), &key(1)), &mut ReplayMemory::default());
        assert_eq!(code(why(serde_json::json!({"door": "entrance"}))), "no_purpose");
        assert_eq!(code(why(serde_json::json!({"door": "entrance", "purpose": "curiosity"}))), "malformed");
        assert_eq!(code(why(serde_json::json!({"door": "entrance", "purpose": "other"}))), "no_purpose");
        assert!(why(serde_json::json!({"door": "entrance", "purpose": "other", "note": "ärende 118"})).is_ok());
    }

    #[test]
    fn reload_is_the_owners_unless_the_config_grants_it() {
        let mut m = ReplayMemory::default();
        let r = check("reload", &seal(&body("reload", serde_json::json!({})), &key(1)), &mut m).expect_err("refused");
        assert_eq!(r.code, "not_permitted");
        assert!(r.message.contains("may not send reload"), "{}", r.message);
        let extra = seal(&body("reload", serde_json::json!({"now": true})), &key(1));
        assert_eq!(code(check("reload", &extra, &mut m)), "malformed");
    }
}
