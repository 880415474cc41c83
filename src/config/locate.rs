//! Where each problem is: the file and line that wrote its key, and the id of the entry
//! it is in (`doors[2]` is hard to find in a long file; `line 131, "laundry"` is not).
//! The `config` crate that merges the layers keeps no positions, so each file is parsed
//! once more here with spans. A key set by an environment variable is named by that
//! variable. Later layers win, so the last file that writes a key is the one named.

use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::problems::Problem;

/// One step of a key path: a key, or an index into an array.
#[derive(Debug, PartialEq, Eq)]
enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// `doors[0].relay.unit` → `doors`, `[0]`, `relay`, `unit`; `None` if it is not a path.
fn steps(path: &str) -> Option<Vec<Step<'_>>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if key.is_empty() {
            return None;
        }
        out.push(Step::Key(key));
        while !rest.is_empty() {
            let (n, after) = rest.split_once(']')?;
            out.push(Step::Index(n.parse().ok()?));
            rest = after.strip_prefix('[').unwrap_or(after);
            if !after.is_empty() && !after.starts_with('[') {
                return None;
            }
        }
    }
    Some(out)
}

/// How far `steps` reach into `table`: how many steps matched, the byte offset of the
/// last one matched, and the id (or name) of the innermost array entry passed through
/// that has one.
fn reach(table: &DeTable<'_>, steps: &[Step<'_>]) -> (usize, usize, Option<String>) {
    let mut matched = 0;
    let mut offset = 0;
    let mut label = None;
    let mut here: Option<&DeValue<'_>> = None;
    let mut top = Some(table);
    for step in steps {
        let next: Option<&Spanned<DeValue<'_>>> = match (step, top.take(), here) {
            (Step::Key(k), Some(t), _) | (Step::Key(k), None, Some(DeValue::Table(t))) => {
                match t.iter().find(|(key, _)| key.get_ref().as_ref() == *k) {
                    Some((key, value)) => {
                        offset = key.span().start;
                        Some(value)
                    }
                    None => None,
                }
            }
            (Step::Index(i), None, Some(DeValue::Array(a))) => a.get(*i).inspect(|v| {
                offset = v.span().start;
                label = entry_label(v.get_ref()).or(label.take());
            }),
            _ => None,
        };
        let Some(next) = next else { break };
        matched += 1;
        here = Some(next.get_ref());
    }
    (matched, offset, label)
}

fn entry_label(v: &DeValue<'_>) -> Option<String> {
    let DeValue::Table(t) = v else { return None };
    ["id", "name"].iter().find_map(|want| {
        t.iter().find(|(k, _)| k.get_ref().as_ref() == *want).and_then(|(_, v)| match v.get_ref() {
            DeValue::String(s) => Some(s.to_string()),
            _ => None,
        })
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes().iter().take(offset).filter(|b| **b == b'\n').count() + 1
}

/// The environment variable that sets `path`, if one among `env` does.
fn env_var_for(path: &str, env: &[(String, String)]) -> Option<String> {
    if path.contains('[') || path.is_empty() {
        return None;
    }
    let name = format!("{}__{}", super::load::ENV_PREFIX, path.replace('.', "__")).to_uppercase();
    env.iter().map(|(k, _)| k).find(|k| k.to_uppercase() == name).cloned()
}

/// Fills in where each problem is. `layers` are the files as read (main first).
pub(super) fn locate(problems: &mut [Problem], layers: &[(PathBuf, String)], env: &[(String, String)], main: &Path) {
    let parsed: Vec<(&PathBuf, &str, Option<Spanned<DeTable<'_>>>)> =
        layers.iter().map(|(p, text)| (p, text.as_str(), DeTable::parse(text).ok())).collect();
    for problem in problems.iter_mut() {
        if let Some(var) = env_var_for(&problem.path, env) {
            problem.at = Some(format!("from {var}"));
            continue;
        }
        let Some(steps) = steps(&problem.path) else { continue };
        // The deepest match wins; among equals, the later file (it overrides).
        let mut best: Option<(usize, &Path, &str, usize, Option<String>)> = None;
        for (path, text, table) in &parsed {
            let Some(table) = table else { continue };
            if problem.file.as_ref().is_some_and(|f| f != *path) {
                continue;
            }
            let (matched, offset, label) = reach(table.get_ref(), &steps);
            if matched > 0 && best.as_ref().is_none_or(|b| matched >= b.0) {
                best = Some((matched, path, text, offset, label));
            }
        }
        if let Some((_, path, text, offset, label)) = best {
            let line = line_of(text, offset);
            let place = if path == main {
                format!("line {line}")
            } else {
                let short = path.strip_prefix(main.parent().unwrap_or(Path::new(""))).unwrap_or(path);
                format!("{} line {line}", short.display())
            };
            problem.at = Some(label.map_or(place.clone(), |l| format!("{place}, \"{l}\"")));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "[site]\nid = \"x\"\n\n[[doors]]\nid = \"entrance\"\n\n[[doors]]\nid = \"laundry\"\nrelay = { bus = \"rs485\", unit = 9 }\n";

    fn problem(path: &str) -> Problem {
        Problem { path: path.into(), message: "wrong".into(), ..Problem::default() }
    }

    fn located(path: &str, env: &[(String, String)]) -> Option<String> {
        let mut p = [problem(path)];
        let main = PathBuf::from("/etc/portvakt/portvakt.toml");
        let extra = PathBuf::from("/etc/portvakt/conf.d/10-site.toml");
        locate(&mut p, &[(main.clone(), FILE.into()), (extra, "[site]\nname = \"N\"\n".into())], env, &main);
        p[0].at.take()
    }

    #[test]
    fn a_key_in_an_array_entry_is_found_by_line_and_named_by_the_entrys_id() {
        assert_eq!(located("doors[1].relay.unit", &[]).as_deref(), Some("line 9, \"laundry\""));
        assert_eq!(located("doors[0].id", &[]).as_deref(), Some("line 5, \"entrance\""));
    }

    #[test]
    fn a_missing_key_is_placed_at_the_deepest_part_of_its_path_that_exists() {
        assert_eq!(
            located("doors[1].contact.bus", &[]).as_deref(),
            Some("line 7, \"laundry\""),
            "its [[doors]] header"
        );
        assert_eq!(located("buses[0]", &[]), None);
    }

    #[test]
    fn a_key_written_in_a_later_file_is_named_with_that_file() {
        assert_eq!(located("site.name", &[]).as_deref(), Some("conf.d/10-site.toml line 2"));
        assert_eq!(located("site.id", &[]).as_deref(), Some("line 2"));
    }

    #[test]
    fn a_key_set_from_the_environment_names_the_variable() {
        let env = [("PORTVAKT__SITE__ID".to_owned(), "y".to_owned())];
        assert_eq!(located("site.id", &env).as_deref(), Some("from PORTVAKT__SITE__ID"));
    }

    #[test]
    fn key_paths_are_split_into_keys_and_indexes() {
        assert_eq!(
            steps("doors[2].access[0].role"),
            Some(vec![Step::Key("doors"), Step::Index(2), Step::Key("access"), Step::Index(0), Step::Key("role")])
        );
        assert_eq!(steps("schedules.door-code-hours.windows[1]").map(|s| s.len()), Some(4));
        assert_eq!(steps("doors[x]"), None);
        assert_eq!(steps(""), None);
    }
}
