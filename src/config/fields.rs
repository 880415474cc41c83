//! The small readers every section's validation uses: values into raw types with their
//! key paths, durations, dates, ids, secret files (and their modes), lists and tables of
//! entries, and the "defined: ..." hints.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use config::Value;
use jiff::SignedDuration;
use jiff::civil::Date;
use serde::de::DeserializeOwned;

use super::problems::Problems;

pub(super) fn join(base: &str, sub: &str) -> String {
    match (base.is_empty(), sub) {
        (_, "" | ".") => base.to_owned(),
        (true, s) => s.to_owned(),
        (false, s) if s.starts_with('[') => format!("{base}{s}"),
        (false, s) => format!("{base}.{s}"),
    }
}

/// Removes the `config` crate's own " for key `...`" / " in FILE" suffixes: the path is
/// reported separately and more precisely.
pub(super) fn clean(msg: &str) -> String {
    let cut = msg.find(" for key `").unwrap_or(msg.len());
    msg[..cut].to_owned()
}

pub(super) fn parse<T: DeserializeOwned>(v: Value, path: &str, p: &mut Problems) -> Option<T> {
    match serde_path_to_error::deserialize::<_, T>(v) {
        Ok(t) => Some(t),
        Err(e) => {
            let sub = e.path().to_string();
            p.push(join(path, &sub), clean(&e.inner().to_string()));
            None
        }
    }
}

pub(super) fn duration(s: Option<&str>, default: SignedDuration, path: &str, p: &mut Problems) -> SignedDuration {
    let Some(s) = s else { return default };
    match s.parse::<SignedDuration>() {
        Ok(d) if d.is_positive() => d,
        Ok(_) => {
            p.push(path, format!("{s} must be longer than zero"));
            default
        }
        Err(_) => {
            p.push(path, format!("\"{s}\" is not a duration (write e.g. \"500ms\", \"5s\", \"15m\", \"1h 30m\")"));
            default
        }
    }
}

/// A duration (see [`duration`]) that must also lie within `range`.
pub(super) fn duration_within(
    value: Option<&str>,
    default: SignedDuration,
    range: (SignedDuration, SignedDuration),
    key: &str,
    p: &mut Problems,
) -> SignedDuration {
    let d = duration(value, default, key, p);
    if d < range.0 || d > range.1 {
        p.push(key, format!("{d:#} is outside {:#} to {:#}", range.0, range.1));
    }
    d
}

pub(super) fn date(s: &str, path: &str, p: &mut Problems) -> Option<Date> {
    s.parse::<Date>().map_err(|_| p.push(path, format!("\"{s}\" is not a date (write YYYY-MM-DD)"))).ok()
}

pub(super) fn id<T: std::str::FromStr<Err = crate::core::ids::IdError>>(
    s: &str,
    path: &str,
    p: &mut Problems,
) -> Option<T> {
    s.parse::<T>().map_err(|e| p.push(path, e.to_string())).ok()
}

pub(super) fn known(names: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let mut v: Vec<String> = Vec::new();
    for name in names {
        let quoted = format!("\"{}\"", name.as_ref());
        if !v.contains(&quoted) {
            v.push(quoted);
        }
    }
    if v.is_empty() { "none are defined".into() } else { format!("defined: {}", v.join(", ")) }
}

/// Warns when a secret file of the gateway can be read by others than its owner and its
/// group, or written by its group. One rule, which the Debian package meets: mode 640,
/// owner root, group portvakt (the service reads it through its group), or 600.
pub(super) fn warn_if_readable_by_others(full: &Path, path: &str, w: &mut Problems) {
    if let Ok(meta) = std::fs::metadata(full)
        && meta.permissions().mode() & 0o027 != 0
    {
        let mode = meta.permissions().mode() & 0o777;
        w.push(
            path,
            format!(
                "{} is mode {mode:o}: others can read it or its group can write it; run chmod 640 on it \
                 (owner root, group portvakt) or chmod 600",
                full.display()
            ),
        );
    }
}

/// Reads a secret file named in the config (relative to the config's directory).
pub(super) fn read_secret(file: &str, base: &Path, path: &str, p: &mut Problems, w: &mut Problems) -> Option<String> {
    let full = base.join(file);
    match std::fs::read_to_string(&full) {
        Ok(text) => {
            warn_if_readable_by_others(&full, path, w);
            Some(text.trim().to_owned())
        }
        Err(e) => {
            p.push(path, format!("cannot read {}: {e}", full.display()));
            None
        }
    }
}

pub(super) fn table_entries<T: DeserializeOwned>(v: Option<Value>, path: &str, p: &mut Problems) -> Vec<(String, T)> {
    let Some(v) = v else { return Vec::new() };
    match v.into_table() {
        Ok(t) => {
            let sorted: BTreeMap<String, Value> = t.into_iter().collect();
            sorted
                .into_iter()
                .filter_map(|(k, v)| {
                    let path = format!("{path}.{k}");
                    parse(v, &path, p).map(|t| (k, t))
                })
                .collect()
        }
        Err(_) => {
            p.push(path, "must be a table of named entries");
            Vec::new()
        }
    }
}

pub(super) fn array_entries<T: DeserializeOwned>(v: Option<Value>, path: &str, p: &mut Problems) -> Vec<Option<T>> {
    let Some(v) = v else { return Vec::new() };
    match v.into_array() {
        Ok(a) => {
            a.into_iter()
                .enumerate()
                .map(|(i, v)| parse(v, &format!("{path}[{i}]"), p)) // named by its id where located
                .collect()
        }
        Err(_) => {
            p.push(path, format!("must be a list of tables ([[{path}]])"));
            Vec::new()
        }
    }
}
