//! The owner's hours for one site (`policy/<site>.toml`), in the same TOML a gateway's
//! config and `bundle build --policy` use: `[schedules.<id>]`, `[door_code] schedule`,
//! `[free_passage] <door>`. Also the site config's own schedules (`base/<site>.toml`),
//! imported once so a change starts from what the building has. The policy is checked by
//! the gateway's own reader (`config::owner_policy`), so the workspace cannot write what a
//! gateway would refuse.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::core::owner_policy::OwnerPolicy;

/// A site's policy: the owner's changes (or, as `base`, the config's own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyFile {
    /// Schedules by id.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub schedules: BTreeMap<String, ScheduleSpec>,
    /// The door code's hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub door_code: Option<DoorCodeSpec>,
    /// Free-passage hours per door (`""`: none).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub free_passage: BTreeMap<String, String>,
}

/// `[door_code]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorCodeSpec {
    /// The schedule the door code works in.
    pub schedule: String,
}

/// One schedule, as in the config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// Week-day windows.
    #[serde(default)]
    pub windows: Vec<WindowSpec>,
    /// Date ranges it is active in (none: always).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active: Vec<RangeSpec>,
    /// Dates that replace the week's windows (holidays, closures).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exceptions: Vec<ExceptionSpec>,
    /// `normal`, `as_sunday` or `closed`.
    #[serde(default = "normal", skip_serializing_if = "is_normal")]
    pub on_holiday: String,
}

impl Default for ScheduleSpec {
    fn default() -> Self {
        ScheduleSpec { windows: Vec::new(), active: Vec::new(), exceptions: Vec::new(), on_holiday: normal() }
    }
}

fn normal() -> String {
    "normal".into()
}
fn is_normal(s: &str) -> bool {
    s == "normal"
}

/// `{ days = "mon-fri", from = "07:00", to = "16:00" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// `mon-fri`, `sat,sun`, …
    pub days: String,
    /// `HH:MM`.
    pub from: String,
    /// `HH:MM` (before `from`: past midnight).
    pub to: String,
}

/// A date range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RangeSpec {
    /// First date.
    pub from: String,
    /// Last date.
    pub to: String,
}

/// A date that replaces the week's windows: closed, or open in its spans.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExceptionSpec {
    /// `2026-12-26`.
    pub date: String,
    /// Closed all day.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub closed: bool,
    /// Otherwise open in these spans.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<SpanSpec>,
}

/// `{ from = "10:00", to = "14:00" }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpanSpec {
    /// `HH:MM`.
    pub from: String,
    /// `HH:MM`.
    pub to: String,
}

impl PolicyFile {
    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.schedules.is_empty() && self.door_code.is_none() && self.free_passage.is_empty()
    }

    /// The policy as the gateway reads it; every problem as text.
    pub fn to_owner_policy(&self) -> Result<OwnerPolicy, Vec<String>> {
        let text = toml::to_string(self).map_err(|e| vec![e.to_string()])?;
        crate::config::owner_policy(&text).map_err(|p| p.iter().map(ToString::to_string).collect())
    }

    /// The site's schedules and hours from its config file (`[schedules.*]`,
    /// `[door_code] schedule`, each `[[doors]]` `free_passage`), and its door ids.
    pub fn from_site_config(text: &str) -> Result<(Self, Vec<String>), String> {
        #[derive(Deserialize)]
        struct Door {
            id: String,
            free_passage: Option<String>,
        }
        #[derive(Deserialize)]
        struct Code {
            schedule: String,
        }
        #[derive(Deserialize)]
        struct Site {
            #[serde(default)]
            schedules: BTreeMap<String, ScheduleSpec>,
            door_code: Option<Code>,
            #[serde(default)]
            doors: Vec<Door>,
        }
        let site: Site = toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())?;
        let free_passage =
            site.doors.iter().filter_map(|d| d.free_passage.as_ref().map(|s| (d.id.clone(), s.clone()))).collect();
        let doors = site.doors.into_iter().map(|d| d.id).collect();
        let base = PolicyFile {
            schedules: site.schedules,
            door_code: site.door_code.map(|c| DoorCodeSpec { schedule: c.schedule }),
            free_passage,
        };
        Ok((base, doors))
    }
}

impl ScheduleSpec {
    /// `mon-fri 07:00-16:00, sat 10:00-14:00; holidays as Sunday; closed 2026-12-24`.
    pub fn describe(&self) -> String {
        let mut out = if self.windows.is_empty() {
            "never".to_owned()
        } else {
            self.windows.iter().map(|w| format!("{} {}-{}", w.days, w.from, w.to)).collect::<Vec<_>>().join(", ")
        };
        match self.on_holiday.as_str() {
            "as_sunday" => out.push_str("; holidays as Sunday"),
            "closed" => out.push_str("; closed on holidays"),
            _ => {}
        }
        for r in &self.active {
            let _ = write!(out, "; active {}..{}", r.from, r.to);
        }
        for e in &self.exceptions {
            if e.closed || e.open.is_empty() {
                let _ = write!(out, "; closed {}", e.date);
            } else {
                let spans: Vec<String> = e.open.iter().map(|s| format!("{}-{}", s.from, s.to)).collect();
                let _ = write!(out, "; {} only {}", e.date, spans.join(","));
            }
        }
        out
    }
}

/// Reads `mon-fri 07:00-16:00` (or `mon-fri,07:00-16:00`) as a window.
pub fn window(text: &str) -> Result<WindowSpec, String> {
    let t = text.trim();
    let (days, span) = t
        .rsplit_once([' ', ','])
        .ok_or_else(|| format!("\"{t}\" is not a window; write it as \"mon-fri 07:00-16:00\""))?;
    let (from, to) = span_parts(span).ok_or_else(|| format!("\"{t}\": the hours are written \"07:00-16:00\""))?;
    Ok(WindowSpec { days: days.trim().to_owned(), from, to })
}

/// Reads `10:00-14:00` as a span.
pub fn span(text: &str) -> Result<SpanSpec, String> {
    span_parts(text)
        .map(|(from, to)| SpanSpec { from, to })
        .ok_or_else(|| format!("\"{}\" is not a span of hours; write it as \"10:00-14:00\"", text.trim()))
}

fn span_parts(text: &str) -> Option<(String, String)> {
    let (a, b) = text.trim().split_once('-')?;
    Some((a.trim().to_owned(), b.trim().to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_written_by_the_workspace_is_read_by_the_gateways_own_reader() {
        let mut p = PolicyFile::default();
        p.schedules.insert(
            "door-code".into(),
            ScheduleSpec { windows: vec![window("mon-sun 07:00-21:00").unwrap()], ..ScheduleSpec::default() },
        );
        p.door_code = Some(DoorCodeSpec { schedule: "door-code".into() });
        p.free_passage.insert("entrance".into(), String::new());
        let owner = p.to_owner_policy().unwrap();
        assert_eq!(owner.schedules.len(), 1);
        assert_eq!(owner.door_code_schedule.as_ref().map(crate::core::ids::ScheduleId::as_str), Some("door-code"));
        assert_eq!(owner.free_passage.len(), 1);
    }

    #[test]
    fn a_window_the_gateway_would_refuse_is_refused_here_with_its_reason() {
        let mut p = PolicyFile::default();
        p.schedules.insert(
            "x".into(),
            ScheduleSpec { windows: vec![window("mon-fri 25:00-26:00").unwrap()], ..ScheduleSpec::default() },
        );
        let problems = p.to_owner_policy().unwrap_err();
        assert!(problems.iter().any(|p| p.contains("schedules.x")), "{problems:?}");
    }

    #[test]
    fn the_site_configs_schedules_hours_and_doors_are_imported() {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/portvakt.toml")).unwrap();
        let (base, doors) = PolicyFile::from_site_config(&text).unwrap();
        assert_eq!(doors, ["entrance", "rubbish", "laundry"]);
        assert_eq!(base.door_code.unwrap().schedule, "door-code-hours");
        assert_eq!(base.free_passage.get("entrance").map(String::as_str), Some("mail-delivery"));
        assert_eq!(
            base.schedules["laundry-hours"].describe(),
            "mon-sat 07:00-22:00, sun 10:00-20:00; holidays as Sunday; closed 2026-12-24"
        );
    }
}
