//! What things are called, for people: each gateway's config names its site, doors,
//! devices and authorities (its `state`'s `names`, `docs/mqtt.md`), and the roster names
//! the municipality's staff. A gateway's names are checked as anything it sends is (each
//! 1 to [`MAX_NAME_CHARS`] characters, none a control character or one that shows as
//! nothing or reorders text, at most [`MAX_ENTRIES`] of a kind, ids as Central's ids):
//! what fails is left out, and the id is shown instead.
//! Kept in `gateways.name` and `gateways.names`, and looked up by the console, which
//! shows the name with the id on hover.

use std::collections::{BTreeMap, HashMap};

use serde_json::Value;
use tokio_postgres::GenericClient;

use crate::db::DbError;

/// The longest name taken, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// The most doors, devices or authorities named in one `state`.
pub const MAX_ENTRIES: usize = 256;

/// One site's names.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SiteNames {
    /// The site's name.
    #[serde(default)]
    pub site: Option<String>,
    /// Each door's name by id.
    #[serde(default)]
    pub doors: BTreeMap<String, String>,
    /// Each device's name by `<bus> unit <unit>` (as alarms name devices).
    #[serde(default)]
    pub devices: BTreeMap<String, String>,
    /// Each authority's name by id.
    #[serde(default)]
    pub authorities: BTreeMap<String, String>,
}

/// Whether `name` may be shown: 1 to [`MAX_NAME_CHARS`] characters, not only spaces, none
/// a control character or one that is invisible or reorders text (a name that looks blank,
/// or reads backwards, could pass for another).
pub fn fit(name: &str) -> bool {
    !name.trim().is_empty() && name.chars().count() <= MAX_NAME_CHARS && !name.chars().any(hidden)
}

/// Control characters, and the characters Unicode draws as nothing or uses to reorder
/// text (its default-ignorable code points, and the blanks that look like nothing): soft
/// hyphen, combining grapheme joiner, Arabic letter mark, Hangul fillers, Khmer and
/// Mongolian vowel inherents and selectors, zero-width characters, direction marks,
/// embeddings, overrides and isolates, line and paragraph separators, word joiners and
/// invisible operators, the braille blank, variation selectors, the byte-order mark,
/// interlinear annotation marks, musical formatting and tag characters.
pub fn hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{ad}'
                | '\u{34f}'
                | '\u{61c}'
                | '\u{115f}'
                | '\u{1160}'
                | '\u{2800}'
                | '\u{3164}'
                | '\u{feff}'
                | '\u{ffa0}'
        )
        || [
            '\u{17b4}'..='\u{17b5}',
            '\u{180b}'..='\u{180f}',
            '\u{200b}'..='\u{200f}',
            '\u{2028}'..='\u{202e}',
            '\u{2060}'..='\u{206f}',
            '\u{fe00}'..='\u{fe0f}',
            '\u{fff0}'..='\u{fffb}',
            '\u{1bca0}'..='\u{1bca3}',
            '\u{1d173}'..='\u{1d17a}',
            '\u{e0000}'..='\u{e0fff}',
        ]
        .iter()
        .any(|r| r.contains(&c))
}

fn id(text: &str) -> bool {
    text.len() <= crate::boundary::MAX_NAME && crate::topics::id(text)
}

impl SiteNames {
    /// The names a gateway's `state` gives, and what was left out and why; `None` when it
    /// names nothing (no `names`, or `null` while its doors restart: the last ones stand).
    pub fn from_state(state: &Value) -> Option<(Self, Vec<String>)> {
        let names = state.get("names").filter(|n| n.is_object())?;
        let mut left_out = Vec::new();
        let mut out = SiteNames::default();
        match names.get("site").and_then(Value::as_str) {
            Some("") | None => {}
            Some(s) if fit(s) => out.site = Some(s.to_owned()),
            Some(_) => left_out.push("the site's name".to_owned()),
        }
        let mut take = |list: &str, key: &dyn Fn(&Value) -> Option<String>, into: &mut BTreeMap<String, String>| {
            let entries = names.get(list).and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
            if entries.len() > MAX_ENTRIES {
                left_out.push(format!("{list}: {} entries, more than {MAX_ENTRIES}", entries.len()));
                return;
            }
            for (i, e) in entries.iter().enumerate() {
                match (key(e), e.get("name").and_then(Value::as_str)) {
                    (Some(k), Some(n)) if fit(n) => {
                        into.insert(k, n.to_owned());
                    }
                    _ => left_out.push(format!("{list}[{i}]")),
                }
            }
        };
        let door = |e: &Value| e.get("door").and_then(Value::as_str).filter(|d| id(d)).map(str::to_owned);
        take("doors", &door, &mut out.doors);
        let device = |e: &Value| {
            let bus = e.get("bus").and_then(Value::as_str).filter(|b| id(b))?;
            let unit = e.get("unit").and_then(Value::as_u64).filter(|u| (1..=247).contains(u))?;
            Some(format!("{bus} unit {unit}"))
        };
        take("devices", &device, &mut out.devices);
        let authority = |e: &Value| e.get("authority").and_then(Value::as_str).filter(|a| id(a)).map(str::to_owned);
        take("authorities", &authority, &mut out.authorities);
        Some((out, left_out))
    }

    /// As kept in `gateways.names`.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// Names for the console to show: sites' (by site id) and people's (by holder id and the
/// audience whose holder ids they are).
#[derive(Debug, Clone, Default)]
pub struct Names {
    sites: HashMap<String, SiteNames>,
    people: HashMap<(String, String), String>,
}

impl Names {
    /// The names of `sites`, and of the staff among `holders` (the roster's, for records of
    /// the roster's authority only).
    pub async fn load(db: &impl GenericClient, sites: &[&str], holders: &[&str]) -> Result<Self, DbError> {
        let mut out = Names::default();
        if !sites.is_empty() {
            for r in db.query("SELECT site, names::text AS names FROM gateways WHERE site = ANY($1)", &[&sites]).await?
            {
                let names: Option<String> = r.get("names");
                if let Some(n) = names.and_then(|t| serde_json::from_str::<SiteNames>(&t).ok()) {
                    out.sites.insert(r.get("site"), n);
                }
            }
        }
        if !holders.is_empty() {
            let sql =
                "SELECT holder, name, authority FROM staff_people WHERE holder = ANY($1) AND authority IS NOT NULL";
            for r in db.query(sql, &[&holders]).await? {
                out.people.insert((r.get("holder"), r.get("authority")), r.get("name"));
            }
        }
        Ok(out)
    }

    /// Names from what is already at hand (tests, a page that read them itself): people
    /// by (holder, audience).
    pub fn of(sites: HashMap<String, SiteNames>, people: HashMap<(String, String), String>) -> Self {
        Names { sites, people }
    }

    /// Everything `site`'s gateway named.
    pub fn of_site(&self, site: &str) -> Option<&SiteNames> {
        self.sites.get(site)
    }

    /// `site`'s name, if its gateway gave one.
    pub fn site(&self, site: &str) -> Option<&str> {
        self.sites.get(site)?.site.as_deref()
    }

    /// The name of `door` at `site`.
    pub fn door(&self, site: &str, door: &str) -> Option<&str> {
        self.sites.get(site)?.doors.get(door).map(String::as_str)
    }

    /// The name of a device (`<bus> unit <unit>`) at `site`.
    pub fn device(&self, site: &str, device: &str) -> Option<&str> {
        self.sites.get(site)?.devices.get(device).map(String::as_str)
    }

    /// The name of `authority` as `site`'s config gives it.
    pub fn authority(&self, site: &str, authority: &str) -> Option<&str> {
        self.sites.get(site)?.authorities.get(authority).map(String::as_str)
    }

    /// A holder's name, when the roster has them and the record is the roster's
    /// authority's.
    pub fn person(&self, holder: &str, audience: Option<&str>) -> Option<&str> {
        self.people.get(&(holder.to_owned(), audience?.to_owned())).map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateways_names_are_taken_and_what_does_not_fit_is_left_out_and_said() {
        let long = "x".repeat(MAX_NAME_CHARS + 1);
        let state = serde_json::json!({"names": {
            "site": "Storgatan 12",
            "doors": [{"door": "entrance", "name": "Porten"}, {"door": "laundry", "name": "Tvätt\u{7}"},
                      {"door": "Bad Id", "name": "x"}, {"door": "rubbish", "name": "\u{202e}nettroP"},
                      {"door": "garage", "name": "\u{200b}"}, {"door": "cellar", "name": "\u{3164}"},
                      {"door": "attic", "name": "Vind\u{e0041}"}],
            "devices": [{"bus": "rs485", "unit": 1, "name": "entrance panel"}, {"bus": "rs485", "unit": 0, "name": "x"}],
            "authorities": [{"authority": "hemtjansten", "name": long}]
        }});
        let (names, left_out) = SiteNames::from_state(&state).unwrap();
        assert_eq!(names.site.as_deref(), Some("Storgatan 12"));
        assert_eq!(names.doors.len(), 1);
        assert_eq!(names.doors["entrance"], "Porten");
        assert_eq!(names.devices["rs485 unit 1"], "entrance panel");
        assert!(names.authorities.is_empty());
        assert_eq!(
            left_out,
            ["doors[1]", "doors[2]", "doors[3]", "doors[4]", "doors[5]", "doors[6]", "devices[1]", "authorities[0]"]
        );
        let back: SiteNames = serde_json::from_str(&names.to_json()).unwrap();
        assert_eq!(back, names);
    }

    #[test]
    fn a_state_without_names_or_with_null_names_changes_nothing() {
        assert!(SiteNames::from_state(&serde_json::json!({"running": true})).is_none());
        assert!(SiteNames::from_state(&serde_json::json!({"names": null})).is_none());
        let many: Vec<Value> =
            (0..=MAX_ENTRIES).map(|i| serde_json::json!({"door": format!("d{i}"), "name": "x"})).collect();
        let (names, left_out) = SiteNames::from_state(&serde_json::json!({"names": {"doors": many}})).unwrap();
        assert!(names.doors.is_empty() && left_out.len() == 1, "{left_out:?}");
    }
}
