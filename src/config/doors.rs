//! `[[doors]]` validated into the policy's doors and their wiring, the role and schedule
//! names they use, and `[door_code]`.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use jiff::SignedDuration;

use super::buses::{device, point};
use super::fields::{duration, id, known, read_secret};
use super::problems::Problems;
use super::raw::{RawDoor, RawDoorCode};
use super::{BusConfig, DoorWiring, Point, Profile};
use crate::core::ids::DoorId;
use crate::core::model::{Door, DoorIdx, DoorKind, DoorRule, DoorSet, MAX_DOORS, Role, RoleIdx, ScheduleIdx};
use crate::core::schedule::Schedule;
use crate::core::secret::check_pin;

/// A booked slot may be entered this long before it starts unless the config says otherwise.
pub(super) const GRACE_BEFORE: SignedDuration = SignedDuration::from_mins(10);
/// ...and this long after it ends.
pub(super) const GRACE_AFTER: SignedDuration = SignedDuration::from_mins(15);

pub(super) struct Names<'a> {
    pub(super) roles: &'a [Role],
    pub(super) schedules: &'a [(String, Option<Schedule>)],
}

impl Names<'_> {
    fn schedule(&self, name: &str, path: &str, p: &mut Problems) -> Option<ScheduleIdx> {
        match self.schedules.iter().position(|(n, _)| n == name) {
            Some(i) => u16::try_from(i).ok().map(ScheduleIdx),
            None => {
                p.push(
                    path,
                    format!("schedule \"{name}\" is not defined ({})", known(self.schedules.iter().map(|s| &s.0))),
                );
                None
            }
        }
    }

    fn role(&self, name: &str, path: &str, p: &mut Problems) -> Option<RoleIdx> {
        match self.roles.iter().position(|r| r.id.as_str() == name) {
            Some(i) => u16::try_from(i).ok().map(RoleIdx),
            None => {
                p.push(
                    path,
                    format!("role \"{name}\" is not defined ({})", known(self.roles.iter().map(|r| r.id.as_str()))),
                );
                None
            }
        }
    }
}

pub(super) fn door(
    i: usize,
    raw: &RawDoor,
    buses: &[BusConfig],
    names: &Names,
    p: &mut Problems,
) -> (Option<Door>, DoorWiring) {
    let path = format!("doors[{i}]");
    let did = id::<DoorId>(&raw.id, &format!("{path}.id"), p);
    let kind = match raw.kind.as_str() {
        "entrance" => DoorKind::Entrance,
        "rubbish" => DoorKind::Rubbish,
        "laundry" => DoorKind::Laundry,
        "other" => DoorKind::Other,
        other => {
            p.push(
                format!("{path}.kind"),
                format!("\"{other}\" is not a door kind; use entrance, rubbish, laundry or other"),
            );
            DoorKind::Other
        }
    };
    let rp = format!("{path}.relay");
    if let Some(d) = device(buses, &raw.relay.bus, raw.relay.unit, Profile::RelayCoils, &rp, p)
        && !(1..=d.channels).contains(&raw.relay.channel)
    {
        p.push(
            format!("{rp}.channel"),
            format!("channel {} is outside 1 to {} of \"{}\"", raw.relay.channel, d.channels, d.name),
        );
    }
    let relay = Point { bus: raw.relay.bus.clone(), unit: raw.relay.unit, channel: raw.relay.channel, inverted: false };
    let contact = raw.contact.as_ref().map(|c| point(buses, c, Profile::DiscreteInputs, &format!("{path}.contact"), p));
    let exit_button =
        raw.exit_button.as_ref().map(|c| point(buses, c, Profile::DiscreteInputs, &format!("{path}.exit_button"), p));
    let keypad = raw.keypad.as_ref().map(|k| {
        device(buses, &k.bus, k.unit, Profile::PortvaktKeypad, &format!("{path}.keypad"), p);
        (k.bus.clone(), k.unit)
    });
    let pulse = duration(raw.pulse.as_deref(), SignedDuration::from_secs(5), &format!("{path}.pulse"), p);
    if pulse > SignedDuration::from_mins(1) {
        p.push(format!("{path}.pulse"), "a pulse longer than 1m leaves the door unlocked too long; use free_passage");
    }
    let held_open_after =
        duration(raw.held_open_after.as_deref(), SignedDuration::from_secs(60), &format!("{path}.held_open_after"), p);
    let free_passage = raw.free_passage.as_ref().and_then(|s| names.schedule(s, &format!("{path}.free_passage"), p));
    let (before, after) =
        raw.booking.as_ref().map_or((None, None), |b| (b.grace_before.as_deref(), b.grace_after.as_deref()));
    let grace_before = duration(before, GRACE_BEFORE, &format!("{path}.booking.grace_before"), p);
    let grace_after = duration(after, GRACE_AFTER, &format!("{path}.booking.grace_after"), p);
    let mut rules = Vec::new();
    let mut seen = HashSet::new();
    for (j, r) in raw.access.iter().enumerate() {
        let ap = format!("{path}.access[{j}]");
        if !seen.insert(r.role.clone()) {
            p.push(format!("{ap}.role"), format!("role \"{}\" has two rules on this door; merge them", r.role));
        }
        let role = names.role(&r.role, &format!("{ap}.role"), p);
        let schedule = r.schedule.as_ref().and_then(|s| names.schedule(s, &format!("{ap}.schedule"), p));
        if let Some(role) = role
            && (r.schedule.is_none() || schedule.is_some())
        {
            rules.push(DoorRule { role, schedule, booking_required: r.booking });
        }
    }
    if raw.access.is_empty() {
        p.push(
            format!("{path}.access"),
            "no rules, so nobody but the door code opens this door; add e.g. { role = \"resident\" }",
        );
    }
    let wiring = DoorWiring {
        relay,
        energize_to_unlock: raw.relay.energize_to_unlock,
        contact,
        exit_button,
        keypad,
        held_open_after,
    };
    let door = did.map(|id| Door {
        id,
        name: raw.name.clone().unwrap_or_else(|| raw.id.clone()),
        kind,
        pulse,
        rules,
        free_passage,
        booking_grace_before: grace_before,
        booking_grace_after: grace_after,
    });
    (door, wiring)
}

pub(super) fn doors(
    raw: &[Option<RawDoor>],
    buses: &[BusConfig],
    names: &Names,
    problems: &mut Problems,
) -> (Vec<Door>, Vec<DoorWiring>) {
    let mut doors = Vec::new();
    let mut wiring = Vec::new();
    let mut ids = BTreeSet::new();
    let mut relays = HashSet::new();
    if raw.is_empty() {
        problems.push("doors", "no doors are defined; add at least one [[doors]]");
    }
    if raw.len() > MAX_DOORS {
        problems.push("doors", format!("{} doors; one gateway serves at most {MAX_DOORS}", raw.len()));
    }
    for (i, given) in raw.iter().enumerate() {
        let Some(given) = given else { continue };
        if !ids.insert(given.id.clone()) {
            problems.push(format!("doors[{i}].id"), format!("door \"{}\" is defined twice", given.id));
        }
        if !relays.insert((given.relay.bus.clone(), given.relay.unit, given.relay.channel)) {
            problems.push(format!("doors[{i}].relay"), "this relay channel already drives another door");
        }
        let (built, wire) = door(i, given, buses, names, problems);
        doors.extend(built);
        wiring.push(wire);
    }
    (doors, wiring)
}

/// The door code's text, hours and doors (the text is hashed once the key is known).
pub(super) fn door_code(
    raw: &RawDoorCode,
    (doors, broken): (&[Option<RawDoor>], &[String]),
    base: &Path,
    names: &Names,
    problems: &mut Problems,
    warnings: &mut Problems,
) -> Option<(String, ScheduleIdx, DoorSet)> {
    let code = read_secret(&raw.code_file, base, "door_code.code_file", problems, warnings);
    if let Some(text) = &code
        && let Err(e) = check_pin(text)
    {
        problems.push("door_code.code_file", format!("the door code in the file is not valid: {e}"));
    }
    let schedule = names.schedule(&raw.schedule, "door_code.schedule", problems);
    let defined: Vec<&RawDoor> = doors.iter().flatten().collect();
    let mut set = DoorSet::default();
    for (i, name) in raw.doors.iter().enumerate() {
        let path = format!("door_code.doors[{i}]");
        match defined.iter().position(|d| &d.id == name) {
            Some(j) if defined[j].keypad.is_none() => {
                problems.push(path, format!("door \"{name}\" has no keypad to enter the code on"));
            }
            Some(j) => set = set.with(DoorIdx(u8::try_from(j).unwrap_or(u8::MAX))),
            None if broken.contains(name) => {}
            None => problems
                .push(path, format!("door \"{name}\" is not defined ({})", known(defined.iter().map(|d| &d.id)))),
        }
    }
    Some((code?, schedule?, set))
}
