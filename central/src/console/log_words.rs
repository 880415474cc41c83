//! The console log's details and the visit searches it records, in words (Swedish first,
//! English second): what the code keeps as facts is said in the page's language; any
//! other detail is shown as it came, marked English where it is the code's English.

use maud::{Markup, html};
use serde_json::Value;

use super::actions::LogAction;
use super::catalogue::{alarm, as_it_is, pick};
use super::i18n::{Lang, local};

/// What a visit list was searched for (`visits::Filter::facts`), in words; text from
/// before searches were kept as facts is shown as it is.
pub fn searched(l: Lang, facts: &str) -> String {
    let Ok(Value::Object(f)) = serde_json::from_str::<Value>(facts) else { return facts.to_owned() };
    let text = |k: &str| f.get(k).and_then(Value::as_str);
    let time = |k: &str| text(k).and_then(|t| t.parse::<jiff::Timestamp>().ok()).map(local);
    let mut parts = Vec::new();
    let sv = l == Lang::Sv;
    if let Some(s) = text("site") {
        parts.push(if sv { format!("anläggning {s}") } else { format!("site {s}") });
    }
    if let Some(h) = text("holder") {
        parts.push(if sv { format!("innehavare {h}") } else { format!("holder {h}") });
    }
    if let Some(h) = text("holder_part") {
        parts.push(if sv {
            format!("innehavare som innehåller ”{h}”")
        } else {
            format!("holders containing “{h}”")
        });
    }
    if let Some(Value::Array(named)) = f.get("holders_named") {
        let named = named.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ");
        parts.push(if sv {
            format!("personal vars namn innehåller det ({named})")
        } else {
            format!("staff whose name holds it ({named})")
        });
    }
    if let Some(d) = text("door") {
        parts.push(if sv { format!("dörr {d}") } else { format!("door {d}") });
    }
    if let Some(t) = time("since") {
        parts.push(if sv { format!("från {t}") } else { format!("from {t}") });
    }
    if let Some(t) = time("until") {
        parts.push(if sv { format!("före {t}") } else { format!("before {t}") });
    }
    if parts.is_empty() { pick(l, "allt", "everything") } else { parts.join(", ") }
}

/// A console log entry's detail in words (what the code keeps as facts); any other detail
/// as it is.
pub fn log_detail(l: Lang, action: Option<LogAction>, detail: &str) -> Markup {
    let Ok(Value::Object(d)) = serde_json::from_str::<Value>(detail) else { return kept(l, action, detail) };
    let text = |k: &str| d.get(k).and_then(Value::as_str).unwrap_or("");
    let sv = l == Lang::Sv;
    let said = match action {
        Some(LogAction::ViewVisits | LogAction::ExportVisits) => {
            let what = d.get("searched").map_or_else(String::new, |s| searched(l, &s.to_string()));
            let n = d.get("visits").and_then(Value::as_u64).unwrap_or(0);
            let why = match d.get("note").and_then(Value::as_str) {
                Some(note) => format!("{}: {note}", super::i18n::purpose(l, text("purpose"))),
                None => super::i18n::purpose(l, text("purpose")).to_owned(),
            };
            if sv {
                format!("{what}; syfte: {why}; {n} besök")
            } else {
                format!("{what}; purpose: {why}; {n} visit(s)")
            }
        }
        Some(LogAction::AckAlarm) => {
            let id = d.get("alarm").and_then(Value::as_i64).unwrap_or(0);
            let kind = alarm(l, text("kind"));
            if sv {
                format!("larm {id} ({kind}) vid {}", text("site"))
            } else {
                format!("alarm {id} ({kind}) at {}", text("site"))
            }
        }
        Some(LogAction::CheckRead) => {
            let id = d.get("read").and_then(Value::as_i64).unwrap_or(0);
            let outcome = match text("outcome") {
                "justified" => super::i18n::t(l, "outcome_justified"),
                _ => super::i18n::t(l, "outcome_questioned"),
            };
            if sv {
                format!("läsning {id}: {}", outcome.to_lowercase())
            } else {
                format!("read {id}: {}", outcome.to_lowercase())
            }
        }
        Some(LogAction::LoginRefused) => {
            let name = text("name");
            match (text("why"), sv) {
                ("too_many_attempts", true) => format!("{name}: för många försök"),
                ("too_many_attempts", false) => format!("{name}: too many attempts"),
                (_, true) => format!("{name}: fel användarnamn eller lösenord"),
                (_, false) => format!("{name}: wrong name or password"),
            }
        }
        _ => return kept(l, action, detail),
    };
    html! { (said) }
}

/// A log entry's detail kept as it came: why staff were refused is the code's English;
/// the rest (a site's id, a path, a login name) is in no language.
fn kept(l: Lang, action: Option<LogAction>, detail: &str) -> Markup {
    match action {
        Some(LogAction::StaffRefused) => as_it_is(l, detail),
        _ => html! { (detail) },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_and_a_log_entry_are_said_in_words() {
        let facts = r#"{"site":"storgatan-12","holder_part":"natt","since":"2026-12-01T00:00:00Z"}"#;
        assert_eq!(
            searched(Lang::Sv, facts),
            "anläggning storgatan-12, innehavare som innehåller ”natt”, från 2026-12-01 01:00:00"
        );
        assert_eq!(searched(Lang::En, "{}"), "everything");
        let read = r#"{"searched":{"site":"storgatan-12"},"purpose":"relatives","visits":3}"#;
        assert_eq!(
            log_detail(Lang::Sv, Some(LogAction::ViewVisits), read).into_string(),
            "anläggning storgatan-12; syfte: Anhörigs begäran; 3 besök"
        );
        let refused = r#"{"name":"lena","why":"too_many_attempts"}"#;
        assert_eq!(
            log_detail(Lang::En, Some(LogAction::LoginRefused), refused).into_string(),
            "lena: too many attempts"
        );
        let staff = "a nonce spent, foreign or too old";
        let marked = log_detail(Lang::Sv, Some(LogAction::StaffRefused), staff).into_string();
        assert_eq!(marked, format!(r#"<span lang="en">{staff}</span>"#), "a refusal's reason as it is, marked English");
        assert_eq!(log_detail(Lang::En, Some(LogAction::StaffRefused), staff).into_string(), staff);
        let ack = r#"{"alarm":5,"site":"storgatan-12","kind":"door_forced_open"}"#;
        assert_eq!(
            log_detail(Lang::Sv, Some(LogAction::AckAlarm), ack).into_string(),
            "larm 5 (Dörr forcerad) vid storgatan-12"
        );
        let other = r#"{"searched":{"holder_part":"karin","holders_named":["hemtjanst-natt-5"]},
                        "purpose":"other","note":"IVO","visits":2}"#;
        assert_eq!(
            log_detail(Lang::Sv, Some(LogAction::ViewVisits), other).into_string(),
            "innehavare som innehåller ”karin”, personal vars namn innehåller det (hemtjanst-natt-5); \
             syfte: Annat (ange skäl): IVO; 2 besök"
        );
        let check = r#"{"read":4,"outcome":"questioned"}"#;
        assert_eq!(log_detail(Lang::Sv, Some(LogAction::CheckRead), check).into_string(), "läsning 4: ifrågasatt");
    }
}
