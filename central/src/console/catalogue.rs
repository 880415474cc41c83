//! One catalogue of what the console says about the fleet, Swedish first and English
//! second, in the trade's words: every record kind and refusal reason a gateway writes
//! (`portvakt_wire::kinds`), its clock's reasons, every alarm and what it found, roles,
//! and the console log's actions (their details: `log_words`). A code without words is shown as it
//! is (visible, never hidden); the tests fail when any kind has no words in either
//! language.

use maud::{Markup, html};

use super::accounts::Role;
use super::actions::LogAction;
use super::i18n::{Lang, local};
use crate::alarms::Detail;
use crate::names::Names;

/// English text kept as it came (a message of the code's, or words from before they were
/// kept as facts), marked as English on a Swedish page (WCAG 3.1.2).
pub(super) fn as_it_is(l: Lang, text: &str) -> Markup {
    html! { @if l == Lang::Sv { span lang="en" { (text) } } @else { (text) } }
}

pub(super) fn pick(l: Lang, sv: &str, en: &str) -> String {
    (if l == Lang::Sv { sv } else { en }).to_owned()
}

fn find(table: &[(&str, &str, &str)], l: Lang, code: &str) -> String {
    table.iter().find(|(k, _, _)| *k == code).map_or_else(|| code.to_owned(), |(_, sv, en)| pick(l, sv, en))
}

/// (record kind, Swedish, English).
const EVENTS: &[(&str, &str, &str)] = &[
    ("door.opened", "Dörren öppnades", "Door opened"),
    ("door.forced_open", "Dörr forcerad", "Door forced open"),
    ("door.closed", "Dörren stängdes", "Door closed"),
    ("door.held_open", "Dörren står öppen för länge", "Door held open too long"),
    ("door.contact_fault", "Fel på dörrkontakten", "Door contact fault"),
    ("device.health", "Enhet slutade eller började svara", "Device stopped or started answering"),
    ("credentials.accepted", "Behörighetslista mottagen", "Bundle accepted"),
    ("credentials.refused", "Behörighetslista avvisad", "Bundle refused"),
    ("credentials.expiring", "Behörighetslista går snart ut", "Bundle about to end"),
    ("access.granted", "Insläppt", "Granted"),
    ("access.denied", "Nekad", "Refused"),
    ("access.strike_failed", "Insläppt, låset ej bekräftat", "Granted, strike not confirmed"),
    ("door.strike_corrected", "Låset ställdes om", "Strike set again"),
    ("door.free_passage", "Tidsstyrd upplåsning", "Scheduled unlocking"),
    ("keypad.locked_out", "Knappsatsen spärrad efter fel koder", "Keypad locked after wrong codes"),
    ("store.gap", "Händelser kunde inte sparas", "Events could not be stored"),
    ("store.alarm", "Larm om lagringen", "Store alarm"),
    ("system.start", "Portvakten startade", "Gateway started"),
    ("system.device_key", "Enhetsnyckel driftsatt", "Device key commissioned"),
    ("system.chain_epoch", "Ny händelsekedja påbörjad", "New chain run begun"),
    ("system.stop", "Portvakten stoppades", "Gateway stopped"),
    ("door.pulsed", "Dörren öppnades på distans", "Door opened remotely"),
    ("clock.trust", "Klockans synkning ändrades", "Clock synchronisation changed"),
    ("config.reloaded", "Inställningar inlästa", "Configuration reloaded"),
    ("config.refused", "Inställningar avvisade", "Configuration refused"),
    ("door.mode", "Dörrläge ändrat", "Door mode changed"),
    ("uplink.refused", "Kvittens från Central avvisad", "Acknowledgement refused"),
    ("audit.queried", "Besökslista läst på plats", "Visit list read on site"),
    ("audit.erased", "Personuppgifter raderade", "Personal data erased"),
    ("audit.checkpoint", "Kontrollpunkt signerad", "Checkpoint signed"),
    ("ble.refused", "Mobilnyckel nekad", "Phone key refused"),
    ("ble.adapter", "Bluetooth-radion ändrade läge", "Bluetooth adapter changed"),
];

/// A record's kind in words.
pub fn event(l: Lang, kind: &str) -> String {
    find(EVENTS, l, kind)
}

/// (refusal reason, Swedish, English).
const REASONS: &[(&str, &str, &str)] = &[
    ("unknown_door", "okänd dörr", "unknown door"),
    ("unknown_credential", "okänt passermedel", "unknown credential"),
    ("revoked", "spärrat", "revoked"),
    ("not_valid_yet", "gäller inte än", "not valid yet"),
    ("expired", "har gått ut", "expired"),
    ("door_not_in_scope", "dörren ingår inte", "door not included"),
    ("role_not_allowed", "rollen har inte tillträde", "role not admitted"),
    ("outside_schedule", "utanför tiderna", "outside the hours"),
    ("lockdown", "dörren är blockerad", "door locked down"),
    ("keypad_locked_out", "knappsatsen spärrad efter fel koder", "keypad locked after wrong codes"),
    ("no_booking", "ingen bokning", "no booking"),
    ("untrusted_clock", "klockan ej synkad", "clock not synchronised"),
    ("door_code_not_for_this_door", "portkoden gäller inte här", "door code not for this door"),
    ("stale_entry", "inmatningen för gammal", "entry too old"),
];

/// A refusal's reason (`DenyReason::code`) in words.
pub fn reason(l: Lang, code: &str) -> String {
    find(REASONS, l, code)
}

/// (clock reason, Swedish, English).
const CLOCK_REASONS: &[(&str, &str, &str)] = &[
    (
        "not_synchronized",
        "tidssynkningen har inte bekräftat klockan sedan start",
        "time sync has not confirmed the clock since start",
    ),
    (
        "before_floor",
        "klockan visar en tid före en som redan setts",
        "the clock reads earlier than a time already seen",
    ),
    ("jumped", "klockan har hoppat sedan den senast synkades", "the clock jumped since it was last synchronised"),
];

/// (alarm kind, Swedish, English).
const ALARMS: &[(&str, &str, &str)] = &[
    ("gateway_offline", "Portvakten hörs inte", "Gateway offline"),
    ("clock_untrusted", "Klockan ej synkad", "Clock not synchronised"),
    ("outbox_growing", "Händelser väntar på att skickas", "Records waiting to be sent"),
    ("store_nearly_full", "Lagringen nästan full", "Store nearly full"),
    ("device_offline", "Enhet svarar inte", "Device offline"),
    ("bundle_stale", "Behörighetslista gammal", "Bundle stale"),
    ("bundle_expiring", "Behörighetslista går ut snart", "Bundle expiring"),
    ("bundle_expired", "Behörighetslista har gått ut", "Bundle expired"),
    ("door_forced_open", "Dörr forcerad", "Door forced open"),
    ("door_held_open", "Dörr står öppen", "Door held open"),
    ("strike_fault", "Låsfel", "Strike fault"),
    ("chain_broken", "Händelsekedjan bruten", "Chain broken"),
    ("gap_unfilled", "Händelser saknas", "Records missing"),
    ("checkpoint_invalid", "Kontrollpunkt håller inte", "Checkpoint invalid"),
    ("records_quarantined", "Händelser i karantän", "Records quarantined"),
    ("chain_restarted", "Ny händelsekedja (box utbytt eller återställd)", "New chain run (box replaced or restored)"),
];

/// An alarm's kind in words.
pub fn alarm(l: Lang, kind: &str) -> String {
    find(ALARMS, l, kind)
}

/// What an alarm is about, by name (the id when its gateway gave none): a door, a door's
/// keypad, a device, an authority; `–` for the site itself.
pub fn subject(l: Lang, names: &Names, site: &str, kind: &str, subject: &str) -> String {
    if subject.is_empty() {
        return "–".into();
    }
    let door = |d: &str| names.door(site, d).unwrap_or(d).to_owned();
    match kind {
        "door_forced_open" | "door_held_open" | "strike_fault" => door(subject),
        "device_offline" => match subject.strip_suffix(" panel") {
            Some(d) => format!("{}: {}", door(d), pick(l, "knappsats", "keypad")),
            None => names.device(site, subject).map_or_else(|| subject.to_owned(), str::to_owned),
        },
        "bundle_stale" | "bundle_expiring" | "bundle_expired" => {
            names.authority(site, subject).unwrap_or(subject).to_owned()
        }
        _ => subject.to_owned(),
    }
}

/// (checkpoint outcome, Swedish, English).
const CHECKPOINTS: &[(&str, &str, &str)] = &[
    ("malformed", "går inte att läsa", "cannot be read"),
    ("bad_signature", "signaturen stämmer inte", "its signature does not verify"),
    ("uncommissioned_key", "signerad med en nyckel som inte driftsatts", "signed by a key never commissioned"),
    ("other_site", "signerad för en annan anläggning", "signed for another site"),
    ("covers_later", "gäller en senare händelse än sig själv", "covers a record after itself"),
    ("mismatch", "den sparade händelsen har en annan kontrollsumma", "the stored record has another hash"),
];

/// What an alarm found (`alarms.detail`), in words; `cleared`, as it was. Text from
/// before details were kept as facts is shown as it is.
pub fn detail(l: Lang, stored: &str, cleared: bool) -> Markup {
    match Detail::from_json(stored) {
        None => as_it_is(l, stored),
        // Why the newest was not stored, as the boundary said it.
        Some(Detail::Quarantined { messages, newest }) if l == Lang::Sv => {
            html! { (quarantined_sv(messages)) (as_it_is(l, &newest)) }
        }
        Some(d) => html! { (found(l, d, cleared)) },
    }
}

fn quarantined_sv(messages: u64) -> String {
    format!("{messages} meddelanden har inte sparats (karantän); det senaste: ")
}

/// What an alarm found, as plain text (for a terminal).
pub fn detail_text(l: Lang, stored: &str, cleared: bool) -> String {
    Detail::from_json(stored).map_or_else(|| stored.to_owned(), |d| found(l, d, cleared))
}

/// What an alarm found, `d`, in words.
fn found(l: Lang, d: Detail, cleared: bool) -> String {
    let sv = l == Lang::Sv;
    let (was_sv, was_en) = if cleared { ("Var", "Was") } else { ("Är", "Is") };
    match d {
        Detail::BrokerSaysOffline => pick(
            l,
            "Frånkopplad enligt brokern (avbrott, eller stoppad)",
            "Offline, the broker says (its last will, or it stopped)",
        ),
        Detail::Silent { minutes } if sv => format!("Inget hört på {minutes} min"),
        Detail::Silent { minutes } => format!("Nothing heard for {minutes} min"),
        Detail::ClockUntrusted { reason } if reason.is_empty() => {
            pick(l, "Klockan är inte synkad", "The clock is not synchronised")
        }
        Detail::ClockUntrusted { reason } => find(CLOCK_REASONS, l, &reason),
        Detail::OutboxGrowing { waiting, oldest_minutes } if sv => {
            format!("{waiting} händelser väntar på att skickas, den äldsta sedan {oldest_minutes} min")
        }
        Detail::OutboxGrowing { waiting, oldest_minutes } => {
            format!("{waiting} record(s) waiting, the oldest for {oldest_minutes} min")
        }
        Detail::StoreNearlyFull => pick(l, "Portvaktens lagring är nästan full", "The gateway's store is nearly full"),
        Detail::DeviceSilent => pick(l, "Svarar inte på bussen", "Does not answer on its bus"),
        Detail::PanelSilent => {
            pick(l, "Dörrens knappsats är tyst eller har hängt sig", "The door's keypad is silent or frozen")
        }
        Detail::BundleEnded => {
            pick(l, "Har gått ut: be utfärdaren om en ny", "Has ended: ask its issuer for a new one")
        }
        Detail::BundleEnding { hours } if sv => format!("Går ut om {hours} h"),
        Detail::BundleEnding { hours } => format!("Ends in {hours} h"),
        Detail::BundleOld { days } if sv => format!("{days} dagar gammal"),
        Detail::BundleOld { days } => format!("{days} days old"),
        Detail::ForcedOpen if cleared => pick(l, "Öppnades medan den var låst", "Opened while locked"),
        Detail::ForcedOpen => {
            pick(l, "Öppnad medan den var låst, inte stängd sedan", "Opened while locked, not closed since")
        }
        Detail::HeldOpen if sv => format!("{was_sv} öppen längre än tillåtet"),
        Detail::HeldOpen => format!("{was_en} held open past its limit"),
        Detail::StrikeNotHeld if cleared => pick(
            l,
            "Reläkortet höll inte låset som portvakten ville",
            "The relay board did not hold the strike as wanted",
        ),
        Detail::StrikeNotHeld => pick(
            l,
            "Reläkortet håller inte låset som portvakten vill",
            "The relay board does not hold the strike as wanted",
        ),
        Detail::ChainBroken { seq } if sv => format!("Sparad händelse {seq} hänger inte ihop med den före"),
        Detail::ChainBroken { seq } => format!("Stored record {seq} does not link to the one before it"),
        Detail::CheckpointFailed { seq, covers, outcome } => {
            let covers = covers.map_or_else(|| "?".into(), |c| c.to_string());
            let what = find(CHECKPOINTS, l, &outcome);
            if sv {
                format!("Kontrollpunkten (händelse {seq}) för händelse {covers}: {what}")
            } else {
                format!("The checkpoint (record {seq}) of record {covers}: {what}")
            }
        }
        Detail::RecordsMissing { through } if sv => {
            format!("Händelser efter {through} har tagits emot, {} saknas", through.saturating_add(1))
        }
        Detail::RecordsMissing { through } => {
            format!("Records after {through} are stored, {} is missing", through.saturating_add(1))
        }
        Detail::RunRestarted { run, since } if sv => format!(
            "En ny händelsekedja ({run}) började {}: boxen byttes, kortet skrevs om eller lagringen återställdes; \
             den tidigare kedjans händelser finns kvar",
            local(since)
        ),
        Detail::RunRestarted { run, since } => format!(
            "A new run of the chain ({run}) began {}: the box was replaced, its card reflashed or its store restored; \
             the earlier run's records are kept",
            local(since)
        ),
        Detail::Quarantined { messages, newest } if sv => format!("{}{newest}", quarantined_sv(messages)),
        Detail::Quarantined { messages, newest } => format!("{messages} message(s) not stored, the newest: {newest}"),
    }
}

/// A console role in words.
pub fn role(l: Lang, r: Role) -> String {
    match r {
        Role::Administrator => pick(l, "administratör", "administrator"),
        Role::TeamLeader => pick(l, "teamledare", "team leader"),
        Role::Caretaker => pick(l, "fastighetsskötare", "caretaker"),
        Role::Auditor => pick(l, "granskare", "auditor"),
    }
}

/// A console log action in words.
pub fn action(l: Lang, a: LogAction) -> String {
    match a {
        LogAction::Login => pick(l, "Loggade in", "Logged in"),
        LogAction::LoginRefused => pick(l, "Inloggning nekad", "Login refused"),
        LogAction::Logout => pick(l, "Loggade ut", "Logged out"),
        LogAction::ViewVisits => pick(l, "Visade besökslista", "Viewed a visit list"),
        LogAction::ExportVisits => pick(l, "Exporterade besökslista", "Exported a visit list"),
        LogAction::ViewSite => pick(l, "Visade anläggning", "Viewed a site"),
        LogAction::AckAlarm => pick(l, "Kvitterade larm", "Acknowledged an alarm"),
        LogAction::Refused => pick(l, "Åtkomst nekad", "Access refused"),
        LogAction::CheckRead => pick(l, "Kontrollerade läsning", "Checked a read"),
        LogAction::StaffSignIn => pick(l, "Personal loggade in", "Staff signed in"),
        LogAction::StaffRefused => pick(l, "Personal nekad", "Staff refused"),
        LogAction::StaffCertificate => pick(l, "Nyckel för arbetspass utfärdad", "Shift key issued"),
        LogAction::StaffReport => pick(l, "Rapport: kom inte in", "Report: could not get in"),
        LogAction::StaffRevocations => pick(l, "Spärrlista för personal publicerad", "Staff revocation list published"),
        LogAction::ErasePersonal => pick(l, "Personuppgifter raderade", "Personal data erased"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn complete(table: &[(&str, &str, &str)], codes: &[&str], what: &str) {
        for code in codes {
            let found = table.iter().find(|(k, _, _)| k == code);
            assert!(found.is_some_and(|(_, sv, en)| !sv.is_empty() && !en.is_empty()), "{what} {code} has no words");
        }
        for (i, (k, _, _)) in table.iter().enumerate() {
            assert!(codes.contains(k), "{what} {k} is not one the code has");
            assert!(!table[..i].iter().any(|(o, _, _)| o == k), "{what} {k} twice");
        }
    }

    #[test]
    fn every_record_kind_refusal_reason_clock_reason_and_alarm_has_words_in_both_languages() {
        complete(EVENTS, &portvakt_wire::kinds::EVENT_KINDS, "record kind");
        complete(REASONS, &portvakt_wire::kinds::DENY_REASONS, "refusal reason");
        complete(CLOCK_REASONS, &portvakt_wire::kinds::CLOCK_REASONS, "clock reason");
        complete(ALARMS, &crate::alarms::KINDS, "alarm");
        let outcomes = ["malformed", "bad_signature", "uncommissioned_key", "other_site", "covers_later", "mismatch"];
        complete(CHECKPOINTS, &outcomes, "checkpoint outcome");
    }

    #[test]
    fn roles_and_log_actions_are_words_in_both_languages() {
        for a in LogAction::ALL {
            assert_ne!(action(Lang::Sv, a), action(Lang::En, a), "{a:?}");
        }
        for r in [Role::Administrator, Role::TeamLeader, Role::Caretaker, Role::Auditor] {
            assert!(!role(Lang::Sv, r).contains('_') && !role(Lang::En, r).contains('_'), "{r:?}");
        }
        assert_eq!(role(Lang::Sv, Role::TeamLeader), "teamledare");
    }

    #[test]
    fn an_alarm_says_what_it_found_in_the_pages_language_and_a_cleared_one_says_what_it_was() {
        let forced = Detail::ForcedOpen.to_json();
        assert_eq!(detail(Lang::Sv, &forced, false).into_string(), "Öppnad medan den var låst, inte stängd sedan");
        assert_eq!(detail(Lang::Sv, &forced, true).into_string(), "Öppnades medan den var låst");
        assert_eq!(detail(Lang::En, &forced, false).into_string(), "Opened while locked, not closed since");
        let clock = Detail::ClockUntrusted { reason: "jumped".into() }.to_json();
        assert_eq!(detail(Lang::Sv, &clock, false).into_string(), "klockan har hoppat sedan den senast synkades");
        let held = Detail::HeldOpen.to_json();
        assert_eq!(detail(Lang::Sv, &held, true).into_string(), "Var öppen längre än tillåtet");
        let old = "an old alarm's words";
        assert_eq!(
            detail(Lang::Sv, old, false).into_string(),
            r#"<span lang="en">an old alarm's words</span>"#,
            "English"
        );
        assert_eq!(detail(Lang::En, old, false).into_string(), old);
        let quarantined = Detail::Quarantined { messages: 2, newest: "seq must be at least 1".into() }.to_json();
        assert_eq!(
            detail(Lang::Sv, &quarantined, false).into_string(),
            r#"2 meddelanden har inte sparats (karantän); det senaste: <span lang="en">seq must be at least 1</span>"#,
            "the boundary's reason marked as English on a Swedish page"
        );
        assert_eq!(event(Lang::Sv, "audit.checkpoint"), "Kontrollpunkt signerad");
        assert_eq!(event(Lang::En, "something.new"), "something.new", "a code without words shows as it is");
    }
}
