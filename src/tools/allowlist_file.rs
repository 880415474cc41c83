//! The trial allowlist file for owner tools: `[[credential]]` and `[[booking]]` tables in
//! TOML with PINs and tags in clear (hashed with the site key as they are read). Every
//! bad entry is reported with its position and field; nothing partial is returned.

use serde::Deserialize;

use crate::config::Config;
use crate::core::allowlist::Allowlist;
use crate::core::booking::{Booking, Bookings};
use crate::core::credential::{CredentialSpec, PhoneKey, Token};
use crate::core::ids::{AuthorityId, CredentialId, DoorId, HolderId, RoleId, ScheduleId};
use crate::core::secret::{check_pin, check_tag};

use super::time_input::parse_time;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    credential: Vec<RawCredential>,
    #[serde(default)]
    booking: Vec<RawBooking>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCredential {
    id: String,
    holder: String,
    role: String,
    pin: Option<String>,
    tag: Option<String>,
    phone: Option<String>,
    doors: Vec<String>,
    schedule: Option<String>,
    valid_from: Option<String>,
    valid_until: Option<String>,
    authority: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBooking {
    holder: String,
    door: String,
    start: String,
    end: String,
}

/// Why a trial allowlist cannot be used: every problem, each with its place.
#[derive(Debug, thiserror::Error)]
pub enum AllowlistFileError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The file has problems.
    #[error("{path}:\n  {}", .problems.join("\n  "))]
    Invalid {
        /// The file.
        path: String,
        /// Each problem with its place.
        problems: Vec<String>,
    },
}

/// A loaded trial allowlist.
#[derive(Debug)]
pub struct TrialAllowlist {
    /// The credentials.
    pub allowlist: Allowlist,
    /// The bookings.
    pub bookings: Bookings,
}

fn opt_id<T: std::str::FromStr<Err = crate::core::ids::IdError>>(
    s: Option<&String>,
    at: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    s.and_then(|s| s.parse::<T>().map_err(|e| problems.push(format!("{at}: {e}"))).ok())
}

fn req_id<T: std::str::FromStr<Err = crate::core::ids::IdError>>(
    s: &str,
    at: &str,
    problems: &mut Vec<String>,
) -> Option<T> {
    opt_id(Some(&s.to_owned()), at, problems)
}

fn credential(cfg: &Config, i: usize, c: &RawCredential, problems: &mut Vec<String>) -> Option<CredentialSpec> {
    let at = |f: &str| format!("credential[{i}].{f}");
    let key = &cfg.credential_key;
    let tz = &cfg.policy.tz;
    let token = match (&c.pin, &c.tag, &c.phone) {
        (Some(p), None, None) => {
            check_pin(p).map(|()| Token::Pin(key.pin(p))).map_err(|e| problems.push(format!("{}: {e}", at("pin")))).ok()
        }
        (None, Some(t), None) => {
            check_tag(t).map(|()| Token::Tag(key.tag(t))).map_err(|e| problems.push(format!("{}: {e}", at("tag")))).ok()
        }
        (None, None, Some(k)) => {
            let parsed = PhoneKey::from_hex(k).map(Token::Phone);
            if parsed.is_none() {
                problems.push(format!("{}: a phone key is 64 hexadecimal digits (an Ed25519 public key)", at("phone")));
            }
            parsed
        }
        _ => {
            problems.push(format!("credential[{i}]: give exactly one of pin, tag or phone"));
            None
        }
    };
    let mut time = |s: Option<&String>, f: &str| {
        s.and_then(|s| parse_time(s, tz).map_err(|e| problems.push(format!("{}: {e}", at(f)))).ok())
    };
    let valid_from = time(c.valid_from.as_ref(), "valid_from");
    let valid_until = time(c.valid_until.as_ref(), "valid_until");
    let doors: Vec<Option<DoorId>> =
        c.doors.iter().enumerate().map(|(j, d)| req_id(d, &at(&format!("doors[{j}]")), problems)).collect();
    Some(CredentialSpec {
        id: req_id::<CredentialId>(&c.id, &at("id"), problems)?,
        holder: req_id::<HolderId>(&c.holder, &at("holder"), problems)?,
        role: req_id::<RoleId>(&c.role, &at("role"), problems)?,
        token: token?,
        doors: doors.into_iter().collect::<Option<Vec<_>>>()?,
        schedule: opt_id::<ScheduleId>(c.schedule.as_ref(), &at("schedule"), problems),
        valid_from,
        valid_until,
        authority: opt_id::<AuthorityId>(c.authority.as_ref(), &at("authority"), problems),
    })
}

/// Parses the text of a trial allowlist against the site's config.
pub fn parse(cfg: &Config, text: &str, path: &str) -> Result<TrialAllowlist, AllowlistFileError> {
    let invalid = |problems| AllowlistFileError::Invalid { path: path.to_owned(), problems };
    let value = config::Config::builder()
        .add_source(config::File::from_str(text, config::FileFormat::Toml))
        .build()
        .map_err(|e| invalid(vec![e.to_string()]))?;
    let raw: RawFile = serde_path_to_error::deserialize(value).map_err(|e| {
        let msg = e.inner().to_string();
        let msg = msg.split(" for key `").next().unwrap_or_default().to_owned();
        invalid(vec![format!("{}: {msg}", e.path())])
    })?;
    let mut problems = Vec::new();
    let specs: Vec<CredentialSpec> =
        raw.credential.iter().enumerate().filter_map(|(i, c)| credential(cfg, i, c, &mut problems)).collect();
    let mut bookings = Vec::new();
    for (i, b) in raw.booking.iter().enumerate() {
        let at = |f: &str| format!("booking[{i}].{f}");
        let holder = req_id::<HolderId>(&b.holder, &at("holder"), &mut problems);
        let door = req_id::<DoorId>(&b.door, &at("door"), &mut problems).and_then(|d| {
            let idx = cfg.policy.door_index(&d);
            if idx.is_none() {
                problems.push(format!("{}: door \"{d}\" is not defined", at("door")));
            }
            idx
        });
        let start =
            parse_time(&b.start, &cfg.policy.tz).map_err(|e| problems.push(format!("{}: {e}", at("start")))).ok();
        let end = parse_time(&b.end, &cfg.policy.tz).map_err(|e| problems.push(format!("{}: {e}", at("end")))).ok();
        if let (Some(holder), Some(door), Some(start), Some(end)) = (holder, door, start, end) {
            if end <= start {
                problems.push(format!("booking[{i}]: ends before it starts"));
            } else {
                bookings.push(Booking { holder, door, start, end });
            }
        }
    }
    let allowlist = match Allowlist::build(&cfg.policy, specs) {
        Ok(a) => Some(a),
        Err(errs) => {
            problems.extend(errs.iter().map(ToString::to_string));
            None
        }
    };
    match allowlist {
        Some(allowlist) if problems.is_empty() => Ok(TrialAllowlist { allowlist, bookings: Bookings::new(bookings) }),
        _ => Err(invalid(problems)),
    }
}

/// Reads and parses a trial allowlist file.
pub fn load(cfg: &Config, path: &str) -> Result<TrialAllowlist, AllowlistFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|source| AllowlistFileError::Unreadable { path: path.to_owned(), source })?;
    parse(cfg, &text, path)
}
