//! The roster: who may sign in for shift keys, in which team, and which doors each team
//! opens — published to Central from the municipality's workspace
//! (`portvakt-admin staff roster`) as JSON, and checked whole before anything is stored:
//! every problem is reported with where it is, and nothing changes unless all is right.
//! Pure.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;

/// Longest roster accepted, in bytes (a municipality's whole home care fits many times).
pub const MAX_BYTES: usize = 4 << 20;

/// A team: its doors at every site, and the role its members have.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Team {
    /// Its id (`team-norr`).
    pub id: String,
    /// Its name as people say it (`Hemtjänsten Norr`).
    pub name: String,
    /// The role its members' certificates give (`home_care`).
    pub role: String,
    /// Door ids its members open, at every site that has them.
    pub doors: Vec<String>,
}

/// A person who may sign in.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// What the identity provider says of them (the claim `login_claim` names: an
    /// HSA-id, an e-mail address).
    pub login: String,
    /// Their holder id in the municipality's workspace (what certificates and audit
    /// records name).
    pub holder: String,
    /// Their name.
    pub name: String,
    /// Their team's id.
    pub team: String,
}

/// The whole roster of one authority.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Roster {
    /// The authority whose staff these are (the delegation's).
    pub authority: String,
    /// Teams.
    pub teams: Vec<Team>,
    /// People.
    pub people: Vec<Person>,
    /// What people call each door (`entrance` → `Porten`), shown in the staff app;
    /// optional, a door without one is shown by its id.
    #[serde(default)]
    pub door_names: BTreeMap<String, String>,
}

/// Whether `s` is an id as the configs write them: `a-z 0-9 - _`, 1 to 64 characters.
fn is_id(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
}

/// Text people see: 1 to 200 characters, no control characters.
/// 1 to 200 characters, none a control character or one that shows as nothing or
/// reorders text (`names::hidden`: a name that looks blank, or reads backwards, could pass
/// for another on the console and in its exports).
fn is_text(s: &str) -> bool {
    (1..=200).contains(&s.chars().count()) && !s.chars().any(crate::names::hidden) && !s.trim().is_empty()
}

impl Roster {
    /// Reads and checks a roster; every problem, each saying where.
    pub fn parse(bytes: &[u8]) -> Result<Self, Vec<String>> {
        if bytes.len() > MAX_BYTES {
            return Err(vec![format!("the roster is {} bytes; at most {MAX_BYTES}", bytes.len())]);
        }
        let roster: Self = serde_json::from_slice(bytes).map_err(|e| vec![format!("not a roster: {e}")])?;
        let problems = roster.problems();
        if problems.is_empty() { Ok(roster) } else { Err(problems) }
    }

    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if !is_id(&self.authority) {
            out.push(format!("authority {:?}: not an id (a-z 0-9 - _)", self.authority));
        }
        let mut teams = BTreeSet::new();
        for (i, t) in self.teams.iter().enumerate() {
            let at = format!("teams[{i}] ({})", t.id);
            if !is_id(&t.id) {
                out.push(format!("{at}: the id is not an id (a-z 0-9 - _)"));
            }
            if !teams.insert(t.id.as_str()) {
                out.push(format!("{at}: a second team with this id"));
            }
            if !is_text(&t.name) {
                out.push(format!("{at}: name must be 1 to 200 characters, none a control character or one that shows as nothing or reorders text"));
            }
            if !is_id(&t.role) {
                out.push(format!("{at}: role {:?} is not an id", t.role));
            }
            if t.doors.is_empty() || t.doors.len() > 64 {
                out.push(format!("{at}: 1 to 64 doors"));
            }
            for d in t.doors.iter().filter(|d| !is_id(d)) {
                out.push(format!("{at}: door {d:?} is not an id"));
            }
        }
        for (door, name) in &self.door_names {
            if !is_id(door) {
                out.push(format!("door_names: {door:?} is not a door id (a-z 0-9 - _)"));
            }
            if !is_text(name) {
                out.push(format!(
                    "door_names ({door}): the name must be 1 to 200 characters, none a control character or one that shows as nothing or reorders text"
                ));
            }
        }
        if self.door_names.len() > 1024 {
            out.push(format!("door_names: {} names; at most 1024", self.door_names.len()));
        }
        let mut logins = BTreeSet::new();
        let mut holders = BTreeSet::new();
        for (i, p) in self.people.iter().enumerate() {
            let at = format!("people[{i}] ({})", p.holder);
            if !is_text(&p.login) {
                out.push(format!("{at}: login must be 1 to 200 characters, none a control character or one that shows as nothing or reorders text"));
            }
            if !logins.insert(p.login.as_str()) {
                out.push(format!("{at}: login {:?} is someone else's too", p.login));
            }
            if !is_id(&p.holder) {
                out.push(format!("{at}: holder is not an id (a-z 0-9 - _)"));
            }
            if !holders.insert(p.holder.as_str()) {
                out.push(format!("{at}: a second person with this holder id"));
            }
            if !is_text(&p.name) {
                out.push(format!("{at}: name must be 1 to 200 characters, none a control character or one that shows as nothing or reorders text"));
            }
            if !teams.contains(p.team.as_str()) {
                out.push(format!("{at}: team {:?} is not in teams", p.team));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"authority":"kommunen",
        "teams":[{"id":"team-norr","name":"Hemtjänsten Norr","role":"home_care","doors":["entrance","rubbish"]}],
        "people":[{"login":"anna@kommun.se","holder":"anna","name":"Anna Berg","team":"team-norr"}]}"#;

    #[test]
    fn a_name_that_looks_blank_or_reads_backwards_is_refused() {
        for name in ["\u{3164}", "\u{202e}greB annA", "Anna\u{200b}Berg", "   "] {
            let bad = GOOD.replace("Anna Berg", name);
            let problems = Roster::parse(bad.as_bytes()).err().unwrap_or_default();
            assert!(problems.iter().any(|p| p.contains("name must be")), "{name:?}: {problems:?}");
        }
    }

    #[test]
    fn a_roster_from_the_workspace_reads_whole() {
        let r = Roster::parse(GOOD.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!((r.teams[0].doors.len(), r.people[0].team.as_str()), (2, "team-norr"));
    }

    #[test]
    fn every_problem_of_a_roster_is_reported_with_where_it_is() {
        let bad = GOOD
            .replace(
                r#""team":"team-norr"}"#,
                r#""team":"team-soder"},{"login":"anna@kommun.se","holder":"Anna B","name":"x","team":"team-norr"}"#,
            )
            .replace(r#""rubbish""#, r#""Rubbish Room""#);
        let problems = Roster::parse(bad.as_bytes()).err().unwrap_or_default();
        let text = problems.join("\n");
        for expected in [
            "teams[0] (team-norr): door \"Rubbish Room\" is not an id",
            "people[0] (anna): team \"team-soder\" is not in teams",
            "people[1] (Anna B): login \"anna@kommun.se\" is someone else's too",
            "people[1] (Anna B): holder is not an id",
        ] {
            assert!(text.contains(expected), "{expected} missing from:\n{text}");
        }
        let unknown = GOOD.replace(r#""authority":"kommunen","#, r#""authority":"kommunen","extra":1,"#);
        assert!(Roster::parse(unknown.as_bytes()).is_err());
    }

    #[test]
    fn door_names_are_optional_and_checked_like_the_rest() {
        let named =
            GOOD.replace(r#""authority":"kommunen","#, r#""authority":"kommunen","door_names":{"entrance":"Porten"},"#);
        let r = Roster::parse(named.as_bytes()).unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(r.door_names.get("entrance").map(String::as_str), Some("Porten"));
        let bad =
            GOOD.replace(r#""authority":"kommunen","#, r#""authority":"kommunen","door_names":{"Entré":"","x":"y"},"#);
        let text = Roster::parse(bad.as_bytes()).err().unwrap_or_default().join("\n");
        assert!(text.contains("door_names: \"Entré\" is not a door id"), "{text}");
        assert!(text.contains("door_names (Entré): the name must be 1 to 200 characters"), "{text}");
    }
}
