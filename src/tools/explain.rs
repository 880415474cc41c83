//! `portvakt explain`: one decision, in words a property owner understands. The decision
//! is made by the core exactly as the daemon makes it; this module only words it.

use jiff::Timestamp;

use crate::core::allowlist::Allowlist;
use crate::core::clock::ClockTrust;
use crate::core::credential::TokenKind;
use crate::core::decide::{Decision, DenyReason, GrantRule, ScheduleOwner};
use crate::core::ids::{CredentialId, DoorId, ScheduleId};
use crate::core::model::SitePolicy;
use crate::core::schedule::DayException;
use crate::core::schedule::{Exception, HolidayRule, Schedule, format_time_of_day};

use super::time_input::local;

/// The schedule's windows in words: `mon-fri 07:00–16:00; closed on holidays`.
pub fn describe_schedule(s: &Schedule) -> String {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let mut parts: Vec<String> = s
        .windows
        .iter()
        .map(|w| {
            let on: Vec<bool> =
                jiff::civil::Weekday::Monday.cycle_forward().take(7).map(|d| w.days.contains(d)).collect();
            let mut runs = Vec::new();
            let mut i = 0;
            while i < 7 {
                if on[i] {
                    let start = i;
                    while i + 1 < 7 && on[i + 1] {
                        i += 1;
                    }
                    runs.push(if start == i { DAYS[i].to_owned() } else { format!("{}-{}", DAYS[start], DAYS[i]) });
                }
                i += 1;
            }
            let days = if runs == ["mon-sun"] { "every day".to_owned() } else { runs.join(",") };
            format!("{days} {}–{}", format_time_of_day(w.span.start), format_time_of_day(w.span.end))
        })
        .collect();
    match s.on_holiday {
        HolidayRule::Normal => {}
        HolidayRule::AsSunday => parts.push("holidays as Sunday".into()),
        HolidayRule::Closed => parts.push("closed on holidays".into()),
    }
    let closed = s.exceptions.values().filter(|e| matches!(e, Exception::Closed)).count();
    if closed > 0 {
        parts.push(format!("{closed} exception day(s)"));
    }
    parts.join("; ")
}

fn schedule_words(policy: &SitePolicy, id: &ScheduleId) -> String {
    match policy.schedule_index(id).and_then(|i| policy.schedule(i)) {
        Some(s) => format!("\"{id}\" ({})", describe_schedule(s)),
        None => format!("\"{id}\""),
    }
}

fn door_words(policy: &SitePolicy, id: &DoorId) -> String {
    match policy.door_index(id).and_then(|i| policy.door(i)) {
        Some(d) if d.name != d.id.as_str() => format!("{} (\"{}\")", d.id, d.name),
        _ => id.to_string(),
    }
}

fn kind_words(kind: TokenKind) -> &'static str {
    match kind {
        TokenKind::Pin => "a PIN",
        TokenKind::Tag => "a tag",
        TokenKind::Phone => "a phone key",
        TokenKind::DoorCode => "the building's door code",
    }
}

fn credential_doors(policy: &SitePolicy, allowlist: &Allowlist, id: &CredentialId) -> String {
    allowlist.by_id(id).map_or_else(String::new, |c| {
        let names: Vec<&str> = c.doors.iter().filter_map(|d| policy.door(d)).map(|d| d.id.as_str()).collect();
        format!(" (it opens: {})", names.join(", "))
    })
}

/// Why, in words.
pub fn reason_words(policy: &SitePolicy, allowlist: &Allowlist, d: &Decision) -> String {
    let tz = &policy.tz;
    match d {
        Decision::Grant { door, rule, who, .. } => {
            let whom = who.as_ref().map_or_else(
                || "anyone".to_owned(),
                |w| format!("{} (role {}, credential {})", w.holder, w.role, w.credential),
            );
            match rule {
                GrantRule::Role { role, schedule: None } => {
                    format!("door {door} lets role {role} in at all times; {whom} holds it")
                }
                GrantRule::Role { role, schedule: Some(s) } => format!(
                    "door {door} lets role {role} in during {}, and it is inside those hours; {whom} holds it",
                    schedule_words(policy, s)
                ),
                GrantRule::Booking { start, end } => {
                    format!("{whom} has booked {door} from {} to {}", local(*start, tz), local(*end, tz))
                }
                GrantRule::DoorCode { schedule } => {
                    format!(
                        "the door code works during {}, and it is inside those hours",
                        schedule_words(policy, schedule)
                    )
                }
                GrantRule::FreePassage { schedule: Some(s) } => {
                    format!("{door} stands open for everyone during {}", schedule_words(policy, s))
                }
                GrantRule::FreePassage { schedule: None } => {
                    format!("{door} has been set to free passage")
                }
                GrantRule::LockdownOverride { role } => {
                    format!("{door} is in lockdown, but role {role} may enter during a lockdown; {whom}")
                }
                GrantRule::UntrustedClockPolicy { kind } => format!(
                    "the clock is not trusted, and the policy lets {} in without time checks; {whom}",
                    kind_words(*kind)
                ),
            }
        }
        Decision::Deny { reason, who, door, kind, .. } => {
            let cred = who
                .as_ref()
                .map_or_else(String::new, |w| format!("credential {} ({}, role {})", w.credential, w.holder, w.role));
            let door = door.as_ref().map_or_else(|| "the door".to_owned(), ToString::to_string);
            match reason {
                DenyReason::UnknownDoor => "there is no such door at this site".into(),
                DenyReason::UnknownCredential if *kind == TokenKind::Pin => {
                    "no credential has this PIN, and it is not the door code (a wrong entry counts towards keypad lockout)".into()
                }
                DenyReason::UnknownCredential => format!("no credential has this {}", &kind_words(*kind)[2..]),
                DenyReason::Revoked => format!("{cred} has been revoked"),
                DenyReason::NotValidYet { from } => format!("{cred} is valid only from {}", local(*from, tz)),
                DenyReason::Expired { until } => format!("{cred} expired at {}", local(*until, tz)),
                DenyReason::DoorNotInScope => {
                    let doors = who.as_ref().map_or_else(String::new, |w| credential_doors(policy, allowlist, &w.credential));
                    format!("{cred} does not include {door}{doors}")
                }
                DenyReason::RoleNotAllowed => {
                    let role = who.as_ref().map_or("?", |w| w.role.as_str());
                    format!("{door} has no rule for role {role}")
                }
                DenyReason::OutsideSchedule { schedule, owner, holiday, exception } => {
                    let mut h = holiday.map_or_else(String::new, |h| format!(" Today is {h}, a holiday."));
                    match exception {
                        Some(DayException::Closed) => h.push_str(" The owner has closed it for the whole day."),
                        Some(DayException::Shortened) => h.push_str(" The owner has set other hours for this day."),
                        None => {}
                    }
                    let who_is_limited = match owner {
                        ScheduleOwner::DoorCode => "the door code works only".to_owned(),
                        ScheduleOwner::DoorRule => {
                            format!("{door} lets role {} in only", who.as_ref().map_or("?", |w| w.role.as_str()))
                        }
                        ScheduleOwner::Credential => format!("{cred} is limited to"),
                    };
                    let night = if *owner == ScheduleOwner::DoorCode { " (night mode: personal tags, PINs and phone keys still work)" } else { "" };
                    format!("{who_is_limited} during {}, and it is outside those hours{night}.{h}", schedule_words(policy, schedule))
                }
                DenyReason::Lockdown => format!("{door} is in lockdown; only roles allowed to override a lockdown enter"),
                DenyReason::KeypadLockedOut { until } => {
                    format!("the keypad is locked after too many wrong entries, until {}", local(*until, tz))
                }
                DenyReason::NoBooking => format!("{door} needs a booking, and {cred} has none covering this time"),
                DenyReason::UntrustedClock { why } => format!(
                    "the clock is not trusted ({}), and the policy refuses {} until it is",
                    why.words(),
                    kind_words(*kind)
                ),
                DenyReason::DoorCodeNotForThisDoor => format!("the door code does not open {door}"),
                DenyReason::StaleEntry { age_secs } => {
                    format!("the entry waited {age_secs} s at the panel before the gateway read it: refused as stale")
                }
            }
        }
    }
}

/// The whole explanation printed by `portvakt explain`.
pub fn render(policy: &SitePolicy, allowlist: &Allowlist, d: &Decision, door: &DoorId, now: Timestamp) -> String {
    let (verdict, kind, clock) = match d {
        Decision::Grant { kind, clock, .. } => ("OPENS", *kind, *clock),
        Decision::Deny { kind, clock, .. } => ("STAYS SHUT", *kind, *clock),
    };
    let at = now.to_zoned(policy.tz.clone());
    let clock_line = match clock {
        ClockTrust::Trusted => "trusted".to_owned(),
        ClockTrust::Untrusted(why) => format!("NOT trusted: {}", why.words()),
    };
    let holiday = policy.calendar.holiday(at.date()).map_or_else(String::new, |h| format!(", {}", h.name));
    format!(
        "door:      {}\npresented: {}\nat:        {} ({}{holiday})\nclock:     {clock_line}\ndecision:  {verdict}\nbecause:   {}\n",
        door_words(policy, door),
        kind_words(kind),
        at.strftime("%Y-%m-%d %H:%M %Z"),
        at.strftime("%A"),
        reason_words(policy, allowlist, d),
    )
}
