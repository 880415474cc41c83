//! The types each file wrote, checked without coercion. The layers are merged by the
//! `config` crate, which must read environment overrides (always text) into numbers and
//! booleans, and so also reads `baud = "9600"` or `energize_to_unlock = "false"` in a
//! file as if unquoted. Here each file's own values, with the kinds TOML gave them, are
//! read into the same raw sections strictly: a quoted number or boolean, or a number where
//! text belongs, is a problem that names the file and the key. Only type mismatches are
//! reported here; missing and unknown keys are the merged validation's to report.

use std::path::Path;

use config::{Value, ValueKind};
use serde::de::DeserializeOwned;

use super::authority::RawAuthority;
use super::problems::Problems;
use super::raw::{
    RawBus, RawClock, RawCredentials, RawDaemon, RawDoor, RawDoorCode, RawHolidays, RawLockout, RawRole, RawSchedule,
    RawSite, RawStore,
};

/// The file's values as JSON, with their TOML kinds.
fn json(v: Value) -> serde_json::Value {
    match v.kind {
        ValueKind::Nil => serde_json::Value::Null,
        ValueKind::Boolean(b) => b.into(),
        ValueKind::I64(n) => n.into(),
        ValueKind::U64(n) => n.into(),
        ValueKind::I128(n) => i64::try_from(n).map_or(serde_json::Value::Null, Into::into),
        ValueKind::U128(n) => u64::try_from(n).map_or(serde_json::Value::Null, Into::into),
        ValueKind::Float(f) => serde_json::Number::from_f64(f).map_or(serde_json::Value::Null, Into::into),
        ValueKind::String(s) => s.into(),
        ValueKind::Table(t) => t.into_iter().map(|(k, v)| (k, json(v))).collect::<serde_json::Map<_, _>>().into(),
        ValueKind::Array(a) => a.into_iter().map(json).collect::<Vec<_>>().into(),
    }
}

fn one<T: DeserializeOwned>(v: serde_json::Value, path: &str, file: &Path, p: &mut Problems) {
    if let Err(e) = serde_path_to_error::deserialize::<_, T>(v) {
        let message = e.inner().to_string();
        if message.starts_with("invalid type") {
            let sub = e.path().to_string();
            let key = if sub == "." { path.to_owned() } else { format!("{path}.{sub}") };
            let hint =
                if message.contains("string \"") { " (write numbers and true/false without quotes)" } else { "" };
            p.push_in(file, key, format!("{message}{hint}"));
        }
    }
}

fn each<T: DeserializeOwned>(v: serde_json::Value, path: &str, file: &Path, p: &mut Problems) {
    match v {
        serde_json::Value::Array(entries) => {
            for (i, e) in entries.into_iter().enumerate() {
                one::<T>(e, &format!("{path}[{i}]"), file, p);
            }
        }
        other => one::<T>(other, path, file, p),
    }
}

fn named<T: DeserializeOwned>(v: serde_json::Value, path: &str, file: &Path, p: &mut Problems) {
    if let serde_json::Value::Object(entries) = v {
        for (name, e) in entries {
            one::<T>(e, &format!("{path}.{name}"), file, p);
        }
    }
}

/// Checks one file's sections (`root`: the file alone, parsed).
pub(super) fn check(root: Value, file: &Path, p: &mut Problems) {
    let Ok(table) = root.into_table() else { return };
    for (section, v) in table {
        let v = json(v);
        let s = section.as_str();
        match s {
            "site" => one::<RawSite>(v, s, file, p),
            "holidays" => one::<RawHolidays>(v, s, file, p),
            "credentials" => one::<RawCredentials>(v, s, file, p),
            "clock" => one::<RawClock>(v, s, file, p),
            "keypad_lockout" => one::<RawLockout>(v, s, file, p),
            "roles" => named::<RawRole>(v, s, file, p),
            "schedules" => named::<RawSchedule>(v, s, file, p),
            "buses" => each::<RawBus>(v, s, file, p),
            "doors" => each::<RawDoor>(v, s, file, p),
            "door_code" => one::<RawDoorCode>(v, s, file, p),
            "authorities" => each::<RawAuthority>(v, s, file, p),
            "store" => one::<RawStore>(v, s, file, p),
            "daemon" => one::<RawDaemon>(v, s, file, p),
            "uplink" => one::<super::uplink::RawUplink>(v, s, file, p),
            "ble" => one::<super::ble::RawBle>(v, s, file, p),
            _ => {} // an unknown section: the merged validation says so
        }
    }
}
