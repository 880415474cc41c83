//! Site policy sent by the owner in a signed bundle: schedules (new or replacing the
//! config's by name), the door code's hours, and free-passage hours per door. The config
//! holds the defaults; the owner changes them remotely without touching the box.

use super::ids::{DoorId, ScheduleId};
use super::model::SitePolicy;
use super::schedule::Schedule;

/// What the owner may change.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OwnerPolicy {
    /// Schedules, replacing the config's of the same name or adding new ones.
    pub schedules: Vec<Schedule>,
    /// The schedule the door code works in.
    pub door_code_schedule: Option<ScheduleId>,
    /// Free-passage hours per door (`None` turns free passage off for that door).
    pub free_passage: Vec<(DoorId, Option<ScheduleId>)>,
}

impl SitePolicy {
    /// This policy with the owner's changes applied; every problem is reported.
    pub fn with_owner_policy(&self, owner: &OwnerPolicy) -> Result<Self, Vec<String>> {
        let mut p = self.clone();
        let mut problems = Vec::new();
        for s in &owner.schedules {
            match p.schedules.iter_mut().find(|x| x.id == s.id) {
                Some(existing) => *existing = s.clone(),
                None => p.schedules.push(s.clone()),
            }
        }
        if let Some(name) = &owner.door_code_schedule {
            match (p.schedule_index(name), p.door_code.as_mut()) {
                (Some(i), Some(code)) => code.schedule = i,
                (None, _) => problems.push(format!("door code hours: schedule \"{name}\" is not defined")),
                (_, None) => problems.push("door code hours: this site has no door code".into()),
            }
        }
        for (door, schedule) in &owner.free_passage {
            let Some(d) = p.door_index(door) else {
                problems.push(format!("free passage: door \"{door}\" is not defined"));
                continue;
            };
            let idx = match schedule {
                Some(name) => match p.schedule_index(name) {
                    Some(i) => Some(i),
                    None => {
                        problems.push(format!("free passage at {door}: schedule \"{name}\" is not defined"));
                        continue;
                    }
                },
                None => None,
            };
            if let Some(door) = p.doors.get_mut(usize::from(d.0)) {
                door.free_passage = idx;
            }
        }
        if problems.is_empty() { Ok(p) } else { Err(problems) }
    }
}
