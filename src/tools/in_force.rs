//! What is in force against what the config says: the owner's signed site policy can
//! replace schedules, move the door code's hours and change free-passage hours. The
//! tools that show schedules show what is in force, and this names what came from the
//! owner rather than from the config.

use crate::core::model::{ScheduleIdx, SitePolicy};

/// Lines naming each difference of `in_force` from the config's `configured` policy.
pub fn owner_changes(configured: &SitePolicy, in_force: &SitePolicy) -> Vec<String> {
    let name = |p: &SitePolicy, i: Option<ScheduleIdx>| {
        i.and_then(|i| p.schedule(i)).map_or_else(|| "none".to_owned(), |s| s.id.to_string())
    };
    let mut out = Vec::new();
    for s in &in_force.schedules {
        match configured.schedules.iter().find(|c| c.id == s.id) {
            Some(c) if c == s => {}
            Some(_) => out.push(format!("schedule {}: replaced by the owner's signed policy", s.id)),
            None => out.push(format!("schedule {}: added by the owner's signed policy", s.id)),
        }
    }
    let code = |p: &SitePolicy| p.door_code.as_ref().map(|c| c.schedule);
    let (was, now) = (name(configured, code(configured)), name(in_force, code(in_force)));
    if was != now {
        out.push(format!("door code hours: schedule {now} (the owner's signed policy; the config says {was})"));
    }
    for (d, c) in in_force.doors.iter().zip(&configured.doors) {
        let (was, now) = (name(configured, c.free_passage), name(in_force, d.free_passage));
        if was != now {
            out.push(format!("door {}: free passage {now} (the owner's signed policy; the config says {was})", d.id));
        }
    }
    out
}
