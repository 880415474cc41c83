//! The console's pages, rendered on the server (maud: every value escaped). Pure: each
//! takes what it shows and returns HTML. Live parts (`data-live`) are refetched by the
//! small script in `assets/console.js` when the server's event stream names their site;
//! a table whose rows are sites (`data-rows`) takes the changed rows the stream brings.

use maud::{DOCTYPE, Markup, html};
use serde_json::Value;

use super::accounts::{Account, Right};
use super::catalogue::{self, alarm};
use super::i18n::{Lang, local, t};
use crate::fleet_view::SiteLine;
use crate::names::{Names, SiteNames};
use crate::visits::Visit;

use super::visit_page::visit_table;

/// What every page knows of who is looking.
pub struct Viewer<'a> {
    /// The account (`None` on the login page).
    pub account: Option<&'a Account>,
    /// The session's CSRF token, for forms.
    pub csrf: &'a str,
    /// The language.
    pub lang: Lang,
    /// The mark of the live listener's last word before the page was read (its live
    /// stream begins after it); none for a page without a session.
    pub since: Option<&'a str>,
}

/// The version of the page's script and style, from what they say: a browser that kept
/// the old ones (they are cached) asks for the new ones as soon as a console with other
/// ones answers.
const ASSETS: u64 = fnv(include_str!("../../assets/console.js").as_bytes())
    ^ fnv(include_str!("../../assets/console.css").as_bytes()).rotate_left(1);

/// FNV-1a, 64 bits.
const fn fnv(bytes: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325_u64;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The page around `body`.
pub fn layout(v: &Viewer<'_>, title: &str, body: &Markup) -> Markup {
    let l = v.lang;
    html! {
        (DOCTYPE)
        html lang=(l.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · " (t(l, "title")) }
                link rel="stylesheet" href={ "/assets/console.css?v=" (ASSETS) };
                script src={ "/assets/console.js?v=" (ASSETS) } defer {}
            }
            body {
                a class="skip noprint" href="#main" { (t(l, "skip")) }
                header class="noprint" {
                    strong { (t(l, "title")) }
                    @if let Some(a) = v.account {
                        nav {
                            a href="/" { (t(l, "fleet")) }
                            a href="/alarms" { (t(l, "alarms")) }
                            a href="/visits" { (t(l, "visits")) }
                            @if a.role.may(Right::ReadLog) { a href="/log" { (t(l, "log")) } }
                            @if a.role.may(Right::CheckReads) { a href="/checks" { (t(l, "checks")) } }
                        }
                        span class="who" { (a.name) " (" (catalogue::role(l, a.role)) ")" }
                        form method="post" action="/logout" class="inline" {
                            input type="hidden" name="csrf" value=(v.csrf);
                            button id="logout" { (t(l, "logout")) }
                        }
                    }
                    span class="lang" { a href="?lang=sv" { "Svenska" } " · " a href="?lang=en" { "English" } }
                }
                main id="main" tabindex="-1" data-since=[v.since] { h1 { (title) } (body) }
                footer class="noprint" { a href="/tillganglighet" { (t(l, "accessibility")) } }
            }
        }
    }
}

/// The login form, with a message when the last try failed.
pub fn login(l: Lang, message: Option<&'static str>) -> Markup {
    html! {
        @if let Some(m) = message { p class="error" role="alert" { (t(l, m)) } }
        form method="post" action="/login" class="login" {
            label { (t(l, "name")) input name="name" autocomplete="username" required; }
            label { (t(l, "password")) input type="password" name="password" autocomplete="current-password" required; }
            button { (t(l, "login")) }
        }
    }
}

/// A message instead of a page (forbidden, not found).
pub fn message(l: Lang, key: &'static str) -> Markup {
    html! { p class="error" role="alert" { (t(l, key)) } }
}

fn yes_no(l: Lang, b: Option<bool>) -> &'static str {
    match b {
        Some(true) => t(l, "yes"),
        Some(false) => t(l, "no"),
        None => "–",
    }
}

fn devices(state: Option<&Value>) -> String {
    let Some(buses) = state.and_then(|s| s.get("buses")).and_then(Value::as_array) else { return "–".into() };
    let (mut up, mut all) = (0, 0);
    for b in buses {
        for d in b.get("devices").and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
            all += 1;
            up += usize::from(d.get("online").and_then(Value::as_bool) == Some(true));
        }
    }
    format!("{up}/{all}")
}

/// Each authority's bundle, by the authority's name: its age and how long it has left (or
/// that it has expired).
fn bundles(l: Lang, state: Option<&Value>, names: &SiteNames) -> String {
    let Some(list) = state.and_then(|s| s.get("bundles")).and_then(Value::as_array) else { return "–".into() };
    list.iter()
        .map(|b| {
            let id = b.get("authority").and_then(Value::as_str).unwrap_or("?");
            let who = names.authorities.get(id).map_or(id, String::as_str);
            let age = b.get("age_days").and_then(Value::as_i64).unwrap_or(0);
            let left = b.get("expires_in_hours").and_then(Value::as_i64).unwrap_or(0) / 24;
            let expired = b.get("expired").and_then(Value::as_bool) == Some(true);
            match (l, expired) {
                (Lang::Sv, true) => format!("{who}: {age} d gammal, UTGÅNGEN"),
                (Lang::En, true) => format!("{who}: {age} d old, EXPIRED"),
                (Lang::Sv, false) => format!("{who}: {age} d gammal, {left} d kvar"),
                (Lang::En, false) => format!("{who}: {age} d old, {left} d left"),
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The fleet's rows (also the live fragment).
pub fn fleet_rows(l: Lang, lines: &[SiteLine]) -> Markup {
    html! {
        @if lines.is_empty() { tr { td colspan="9" { (t(l, "no_rows")) } } }
        @for s in lines {
            @let st = s.state.as_ref();
            @let clock = st.and_then(|v| v.pointer("/clock/trust")).and_then(Value::as_str).unwrap_or("–");
            tr class=(if s.has_problem() { "problem" } else { "" }) data-site=(s.site) {
                td { a href={ "/sites/" (s.site) } title=(s.site) { (s.names.site.as_deref().unwrap_or(&s.site)) } }
                td { (yes_no(l, s.online)) }
                td { (s.last_seen.map_or_else(|| "–".into(), local)) }
                td { (if clock == "trusted" { t(l, "trusted") } else if clock == "untrusted" { t(l, "untrusted") } else { clock }) }
                td class="num" { (st.and_then(|v| v.get("outbox_depth")).map_or_else(|| "–".into(), ToString::to_string)) }
                td class="num" { (s.through) }
                td { (devices(st)) }
                td class="num" { (s.alarms) }
                td { (bundles(l, st, &s.names)) }
            }
        }
    }
}

/// Says that the page updates live, with a button to pause and resume it (WCAG 2.2.2),
/// hidden until the page's script runs (without it nothing updates).
fn live_note(l: Lang) -> Markup {
    html! {
        p class="hint live-note" {
            span class="live-state" role="status" { (t(l, "live")) } " "
            button type="button" class="pause" hidden data-updating=(t(l, "live")) data-paused=(t(l, "live_paused"))
                data-pause=(t(l, "pause_live")) data-resume=(t(l, "resume_live")) { (t(l, "pause_live")) }
        }
    }
}

/// The fleet page: filter, sortable columns (the one sorted by says so), live rows.
pub fn fleet(l: Lang, lines: &[SiteLine], query: &str, sorted: &str) -> Markup {
    let col = |key: &'static str, sort: &str| {
        let order = match sort {
            _ if sort != sorted => None,
            "site" | "online" => Some("ascending"),
            _ => Some("descending"),
        };
        html! { th aria-sort=[order] { a href={ "?sort=" (sort) } { (t(l, key)) } } }
    };
    html! {
        form method="get" class="filter noprint" {
            input name="q" value=(query) placeholder=(t(l, "site")) aria-label=(t(l, "filter"));
            label class="check" { input type="checkbox" name="problems" value="1"; (t(l, "only_problems")) }
            button { (t(l, "filter")) }
        }
        (live_note(l))
        (scrolling(t(l, "fleet"), &html! { table id="fleet" {
            thead { tr {
                (col("site", "site")) (col("online", "online")) (col("last_seen", "last_seen")) th { (t(l, "clock")) }
                (col("outbox", "outbox")) (col("stored", "stored")) th { (t(l, "devices")) } (col("open_alarms", "alarms")) th { (t(l, "bundles")) }
            } }
            tbody data-live="/fragments/fleet" data-site="*" data-rows aria-live="polite" { (fleet_rows(l, lines)) }
        } }))
    }
}

/// One door's row values from its retained state, in words: lock, contact, mode, alarm.
fn door_cells(l: Lang, state: Option<&Value>) -> [String; 4] {
    let word = |k: &str| state.and_then(|s| s.get(k)).and_then(Value::as_str).unwrap_or("–").to_owned();
    let say = |sv: &str, en: &str| (if l == Lang::Sv { sv } else { en }).to_owned();
    let said = |w: String| match w.as_str() {
        "open" => say("öppen", "open"),
        "closed" => say("stängd", "closed"),
        "locked" => say("låst", "locked"),
        "released" => say("upplåst", "released"),
        "unknown" => say("okänt", "unknown"),
        "normal" => say("normalt", "normal"),
        "free_passage" => say("tidsstyrt öppen", "scheduled open"),
        "lockdown" => say("blockerad", "locked down"),
        "held_open" => catalogue::alarm(l, "door_held_open"),
        _ => w,
    };
    [said(word("lock")), said(word("contact")), said(word("mode")), said(word("alarm"))]
}

/// A site's doors (also the live fragment): (door, retained state, forced and not
/// closed), each by its name with its id on hover.
pub fn door_rows(l: Lang, doors: &[(String, Option<Value>, bool)], names: &SiteNames) -> Markup {
    html! {
        @if doors.is_empty() { tr { td colspan="5" { (t(l, "no_rows")) } } }
        @for (door, state, forced) in doors {
            @let [lock, contact, mode, door_alarm] = door_cells(l, state.as_ref());
            tr data-door=(door) class=(if *forced || door_alarm != "–" { "problem" } else { "" }) {
                td title=(door) { (names.doors.get(door).unwrap_or(door)) } td class="lock" { (lock) } td class="contact" { (contact) } td { (mode) }
                td { @if *forced { (alarm(l, "door_forced_open")) " " } @if door_alarm != "–" { (door_alarm) } }
            }
        }
    }
}

/// A table in a region of its own that scrolls sideways on a narrow screen, so the page
/// itself never does (WCAG 1.4.10 lets a data table keep its two dimensions): focusable,
/// so a keyboard scrolls it too, and named for screen readers.
pub fn scrolling(label: &str, table: &Markup) -> Markup {
    html! { div class="table-scroll" role="region" tabindex="0" aria-label=(label) { (table) } }
}

/// A site's page: its line, doors, open alarms, latest events.
pub fn site(
    l: Lang,
    line: &SiteLine,
    doors: &[(String, Option<Value>, bool)],
    events: &[Visit],
    names: &Names,
) -> Markup {
    html! {
        (scrolling(t(l, "fleet"), &html! { table { tbody data-live={ "/fragments/fleet?only=" (line.site) } data-site=(line.site) data-rows aria-live="polite" { (fleet_rows(l, std::slice::from_ref(line))) } } }))
        h2 { (t(l, "doors")) }
        (live_note(l))
        (scrolling(t(l, "doors"), &html! { table id="doors" {
            thead { tr { th { (t(l, "door")) } th { (t(l, "lock")) } th { (t(l, "contact")) } th { (t(l, "mode")) } th { (t(l, "alarm")) } } }
            tbody data-live={ "/fragments/sites/" (line.site) "/doors" } data-site=(line.site) aria-live="polite" { (door_rows(l, doors, &line.names)) }
        } }))
        h2 { (t(l, "devices")) }
        (scrolling(t(l, "devices"), &device_table(l, line.state.as_ref(), &line.names)))
        h2 { (t(l, "latest_events")) }
        (scrolling(t(l, "latest_events"), &visit_table(l, events, names)))
    }
}

/// Each device of each bus as the gateway's state last said, by its name: answering, and
/// its errors.
fn device_table(l: Lang, state: Option<&Value>, names: &SiteNames) -> Markup {
    let buses = state.and_then(|s| s.get("buses")).and_then(Value::as_array).cloned().unwrap_or_default();
    let count = |d: &Value, k: &str| d.get(k).and_then(Value::as_u64).map_or_else(|| "–".into(), |n| n.to_string());
    html! {
        table id="devices" {
            thead { tr { th { (t(l, "device")) } th { (t(l, "bus")) } th { (t(l, "unit")) } th { (t(l, "answers")) } th { (t(l, "requests")) } th { (t(l, "timeouts")) } th { (t(l, "exceptions")) } } }
            tbody {
                @if buses.is_empty() { tr { td colspan="7" { (t(l, "no_rows")) } } }
                @for b in &buses {
                    @let name = b.get("name").and_then(Value::as_str).unwrap_or("?");
                    @for (unit, d) in b.get("devices").and_then(Value::as_object).into_iter().flatten() {
                        @let online = d.get("online").and_then(Value::as_bool);
                        tr class=(if online == Some(false) { "problem" } else { "" }) {
                            td { (names.devices.get(&format!("{name} unit {unit}")).map_or("–", String::as_str)) }
                            td { (name) } td { (unit) } td { (yes_no(l, online)) }
                            td class="num" { (count(d, "requests")) } td class="num" { (count(d, "timeouts")) } td class="num" { (count(d, "exceptions")) }
                        }
                    }
                }
            }
        }
    }
}

/// One alarm row's values.
pub struct AlarmRow {
    /// Its id.
    pub id: i64,
    /// The site.
    pub site: String,
    /// Its kind, subject and detail.
    pub kind: String,
    /// What it is about.
    pub subject: String,
    /// In words.
    pub detail: String,
    /// When raised.
    pub raised: jiff::Timestamp,
    /// When cleared.
    pub cleared: Option<jiff::Timestamp>,
    /// Who acknowledged it, and when.
    pub acknowledged: Option<(String, jiff::Timestamp)>,
}

/// The alarms' rows (also the live fragment), by names and in words, with acknowledging
/// where allowed.
pub fn alarm_rows(v: &Viewer<'_>, rows: &[AlarmRow], names: &Names) -> Markup {
    let l = v.lang;
    let may = v.account.is_some_and(|a| a.role.may(Right::Acknowledge));
    html! {
        @if rows.is_empty() { tr { td colspan="7" { (t(l, "no_rows")) } } }
        @for r in rows {
            @let site = names.site(&r.site).unwrap_or(&r.site);
            @let subject = catalogue::subject(l, names, &r.site, &r.kind, &r.subject);
            tr class=(if r.cleared.is_none() { "problem" } else { "" }) data-alarm=(r.id) {
                td { (local(r.raised)) } td { a href={ "/sites/" (r.site) } title=(r.site) { (site) } } td title=(r.kind) { (alarm(l, &r.kind)) }
                td title=(r.subject) { (subject) } td { (catalogue::detail(l, &r.detail, r.cleared.is_some())) }
                td { (r.cleared.map_or_else(|| t(l, "open").to_owned(), local)) }
                td {
                    @if let Some((who, at)) = &r.acknowledged { (who) " " (local(*at)) }
                    @else if may {
                        form method="post" action={ "/alarms/" (r.id) "/ack" } class="inline" {
                            input type="hidden" name="csrf" value=(v.csrf);
                            button aria-label={ (t(l, "acknowledge")) ": " (alarm(l, &r.kind)) ", " (site) ", " (subject) } {
                                (t(l, "acknowledge"))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The alarms page: open ones and those of the last week.
pub fn alarms(v: &Viewer<'_>, rows: &[AlarmRow], names: &Names) -> Markup {
    let l = v.lang;
    html! {
        (live_note(l))
        (scrolling(t(l, "alarms"), &html! { table id="alarms" {
            thead { tr { th { (t(l, "raised")) } th { (t(l, "site")) } th { (t(l, "kind")) } th { (t(l, "subject")) } th { (t(l, "detail")) } th { (t(l, "cleared")) } th { (t(l, "acknowledged")) } } }
            tbody data-live="/fragments/alarms" data-site="*" aria-live="polite" { (alarm_rows(v, rows, names)) }
        } }))
    }
}

/// One line of the console's log: when, who, what, detail, from where.
pub type LogLine = (jiff::Timestamp, Option<String>, String, String, Option<String>);

/// The console's log (administrators).
pub fn log(l: Lang, rows: &[LogLine]) -> Markup {
    html! {
        (scrolling(t(l, "log"), &html! { table id="log" {
            thead { tr { th { (t(l, "time")) } th { (t(l, "who")) } th { (t(l, "action")) } th { (t(l, "detail")) } th { (t(l, "address")) } } }
            tbody { @for (at, who, action, detail, address) in rows {
                @let kind = super::actions::LogAction::from_code(action);
                tr {
                    td { (local(*at)) } td { (who.as_deref().unwrap_or("–")) }
                    td title=(action) { (kind.map_or_else(|| action.clone(), |k| catalogue::action(l, k))) }
                    td { (super::log_words::log_detail(l, kind, detail)) } td { (address.as_deref().unwrap_or("–")) }
                }
            } }
        } }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_names_its_script_and_style_by_their_contents_so_an_upgrade_is_never_served_a_kept_old_one() {
        let page =
            layout(&Viewer { account: None, csrf: "", lang: Lang::Sv, since: None }, "t", &html! {}).into_string();
        assert!(page.contains(&format!(r#"src="/assets/console.js?v={ASSETS}""#)), "{page}");
        assert!(page.contains(&format!(r#"href="/assets/console.css?v={ASSETS}""#)), "{page}");
        assert_ne!(fnv(b"console.log(1)"), fnv(b"console.log(2)"), "another script, another version");
    }

    #[test]
    fn an_auditor_sees_no_acknowledge_button_and_an_administrator_does() {
        let row = AlarmRow {
            id: 3,
            site: "ekvagen-3".into(),
            kind: "door_forced_open".into(),
            subject: "laundry".into(),
            detail: crate::alarms::Detail::ForcedOpen.to_json(),
            raised: "2026-12-04T12:00:00Z".parse().expect("time"),
            cleared: None,
            acknowledged: None,
        };
        let auditor = Account { name: "revisor".into(), role: super::super::accounts::Role::Auditor, sites: vec![] };
        let admin = Account { name: "admin".into(), role: super::super::accounts::Role::Administrator, sites: vec![] };
        let page = |a: &Account| {
            alarms(
                &Viewer { account: Some(a), csrf: "tok", lang: Lang::Sv, since: None },
                std::slice::from_ref(&row),
                &Names::default(),
            )
            .0
        };
        assert!(!page(&auditor).contains("/alarms/3/ack"));
        let html = page(&admin);
        assert!(html.contains("/alarms/3/ack") && html.contains("value=\"tok\""), "the form carries the CSRF token");
        assert!(html.contains("Dörr forcerad"));
    }
}
