//! The console's words, Swedish first and English second, and times as people here read
//! them: Europe/Stockholm, 24-hour.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The interface's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Svenska (the default).
    Sv,
    /// English.
    En,
}

impl Lang {
    /// From the `lang` cookie's or query's value; Swedish unless `en`.
    pub fn from_word(w: Option<&str>) -> Self {
        if w == Some("en") { Lang::En } else { Lang::Sv }
    }

    /// The `lang` attribute.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Sv => "sv",
            Lang::En => "en",
        }
    }
}

/// (key, Swedish, English).
const WORDS: &[(&str, &str, &str)] = &[
    ("title", "Portvakt Central", "Portvakt Central"),
    ("fleet", "Anläggningar", "Sites"),
    ("alarms", "Larm", "Alarms"),
    ("visits", "Besök", "Visits"),
    ("log", "Konsollogg", "Console log"),
    ("logout", "Logga ut", "Log out"),
    ("login", "Logga in", "Log in"),
    ("accessibility", "Tillgänglighetsredogörelse", "Accessibility statement"),
    ("skip", "Hoppa till innehållet", "Skip to the content"),
    ("name", "Användarnamn", "User name"),
    ("password", "Lösenord", "Password"),
    ("login_failed", "Fel användarnamn eller lösenord.", "Wrong user name or password."),
    (
        "login_blocked",
        "För många försök. Vänta en stund och försök igen.",
        "Too many attempts. Wait a while and try again.",
    ),
    ("forbidden", "Du har inte behörighet till detta.", "You are not allowed to see this."),
    ("not_found", "Finns inte.", "Not found."),
    ("site", "Anläggning", "Site"),
    ("online", "Ansluten", "Online"),
    ("last_seen", "Senast hörd", "Last heard"),
    ("clock", "Klocka", "Clock"),
    ("outbox", "Ej skickade", "Not yet sent"),
    ("stored", "Mottagna", "Received"),
    ("devices", "Enheter", "Devices"),
    ("open_alarms", "Öppna larm", "Open alarms"),
    ("bundles", "Behörighetslistor", "Bundles"),
    ("filter", "Filtrera", "Filter"),
    ("only_problems", "Bara med problem", "Only with problems"),
    ("yes", "ja", "yes"),
    ("no", "nej", "no"),
    ("trusted", "synkad", "synchronised"),
    ("untrusted", "ej synkad", "not synchronised"),
    ("doors", "Dörrar", "Doors"),
    ("door", "Dörr", "Door"),
    ("lock", "Lås", "Lock"),
    ("contact", "Dörrkontakt", "Contact"),
    ("mode", "Läge", "Mode"),
    ("alarm", "Larm", "Alarm"),
    ("latest_events", "Senaste händelser", "Latest events"),
    ("time", "Tid", "Time"),
    ("what", "Vad", "What"),
    ("holder", "Innehavare", "Holder"),
    ("credential", "Passermedel", "Credential"),
    ("kind", "Typ", "Kind"),
    ("subject", "Gäller", "Subject"),
    ("detail", "Beskrivning", "Detail"),
    ("raised", "Utlöst", "Raised"),
    ("cleared", "Upphört", "Cleared"),
    ("acknowledged", "Kvitterat", "Acknowledged"),
    ("acknowledge", "Kvittera", "Acknowledge"),
    ("open", "pågår", "ongoing"),
    ("from", "Från", "From"),
    ("until", "Till och med", "Until"),
    ("search", "Sök", "Search"),
    ("print", "Skriv ut", "Print"),
    ("csv", "Exportera CSV", "Export CSV"),
    ("count", "besök", "visits"),
    ("clock_untrusted_mark", "klockan ej synkad", "clock not synchronised"),
    ("granted", "insläppt", "granted"),
    ("refused", "nekad", "refused"),
    ("strike_failed", "insläppt, låset ej bekräftat", "granted, strike not confirmed"),
    ("who", "Vem", "Who"),
    ("action", "Händelse", "Action"),
    ("address", "Adress", "Address"),
    ("live", "Uppdateras direkt", "Updates live"),
    ("live_paused", "Pausad: uppdateras inte", "Paused: not updating"),
    ("pause_live", "Pausa uppdateringarna", "Pause updates"),
    ("resume_live", "Återuppta uppdateringarna", "Resume updates"),
    ("no_rows", "Inget att visa.", "Nothing to show."),
    (
        "visit_note",
        "Besökslistor är personuppgifter: varje visning och export loggas med vem, varför och vad. Listan visar hemtjänstens besök; boendes passager är fastighetsägarens och visas inte här. Sök på en del av en persons id eller en anläggnings namn, till exempel ”natt” eller ”Storgatan”.",
        "Visit lists are personal data: every view and export is logged with who, why and what. The list shows home care's visits; residents' passages are the property owner's and are not shown here. Search by part of a person's id or a site's name, such as “natt” or “Storgatan”.",
    ),
    ("purpose", "Syfte", "Purpose"),
    (
        "purpose_needed",
        "Syfte: ange varför besökslistan läses (anhörigs begäran, fakturaunderlag, …).",
        "Purpose: say why the visit list is read (a relative's request, invoicing, …).",
    ),
    (
        "purpose_other_needed",
        "Syfte ”Annat”: skriv skälet, högst 200 tecken.",
        "Purpose “Other”: write the reason, at most 200 characters.",
    ),
    ("searched", "Sökt på", "Searched for"),
    ("printed_by", "Utskriven av", "Printed by"),
    ("purpose_relatives", "Anhörigs begäran", "A relative's request"),
    ("purpose_invoicing", "Fakturaunderlag", "Invoicing basis"),
    ("purpose_deviation", "Avvikelse", "Deviation"),
    ("purpose_police", "Polisens begäran", "Police request"),
    ("purpose_other", "Annat (ange skäl)", "Other (give the reason)"),
    ("purpose_note", "Skäl", "Reason"),
    ("choose", "Välj…", "Choose…"),
    ("sealed_entry", "namn visas inte här", "names not shown here"),
    ("checks", "Stickprov", "Sample check"),
    ("records_read", "Poster lästa", "Records read"),
    (
        "checks_note",
        "Månadens stickprov av läsningar av personuppgifter: varje läsning av en enskild persons uppgifter och en tiondel av övriga (minst fem). Markera var och en som kontrollerad; kontrollen loggas.",
        "This month's sample of reads of personal data: every read of one person's records and a tenth of the rest (at least five). Mark each checked; the check is logged.",
    ),
    ("month", "Månad", "Month"),
    ("reads_in_month", "läsningar under månaden", "reads this month"),
    ("in_sample", "i stickprovet", "in the sample"),
    ("checked", "kontrollerade", "checked"),
    ("check", "Kontroll", "Check"),
    ("outcome", "Utfall", "Outcome"),
    ("outcome_justified", "Befogad", "Justified"),
    ("outcome_questioned", "Ifrågasatt", "Questioned"),
    ("mark_checked", "Markera kontrollerad", "Mark checked"),
    ("purpose_handover", "Överlämning (förseglat)", "Hand-over (sealed)"),
    ("purpose_unstated", "Ej angivet", "Not stated"),
    ("any", "alla", "any"),
    ("bus", "Buss", "Bus"),
    ("device", "Enhet", "Device"),
    ("unit", "Adress", "Unit"),
    ("answers", "Svarar", "Answers"),
    ("requests", "Frågor", "Requests"),
    ("timeouts", "Uteblivna svar", "Timeouts"),
    ("exceptions", "Felsvar", "Exceptions"),
];

/// The word for `key` in `lang` (the key itself if there is none: visible, not hidden).
pub fn t(lang: Lang, key: &'static str) -> &'static str {
    WORDS.iter().find(|(k, _, _)| *k == key).map_or(key, |(_, sv, en)| if lang == Lang::Sv { sv } else { en })
}

/// A read's purpose (`visits::Purpose` word) in words.
pub fn purpose(lang: Lang, word: &str) -> &'static str {
    let key = match word {
        "relatives" => "purpose_relatives",
        "invoicing" => "purpose_invoicing",
        "deviation" => "purpose_deviation",
        "police" => "purpose_police",
        _ => "purpose_other",
    };
    t(lang, key)
}

/// Stockholm's zone (bundled tz data).
pub fn stockholm() -> TimeZone {
    TimeZone::get("Europe/Stockholm").unwrap_or(TimeZone::UTC)
}

/// A time as `2026-12-04 13:05:09` in Stockholm; in the autumn hour that comes twice,
/// with its zone (`2026-10-25 02:30:00 CEST`, then `… CET`), so the two are told apart.
pub fn local(t: Timestamp) -> String {
    let tz = stockholm();
    let z = t.to_zoned(tz.clone());
    if tz.to_ambiguous_timestamp(z.datetime()).is_ambiguous() {
        z.strftime("%Y-%m-%d %H:%M:%S %Z").to_string()
    } else {
        z.strftime("%Y-%m-%d %H:%M:%S").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_autumn_hour_that_comes_twice_says_its_zone_and_other_hours_do_not() {
        let at = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(local(at("2026-10-25T00:30:00Z")), "2026-10-25 02:30:00 CEST");
        assert_eq!(local(at("2026-10-25T01:30:00Z")), "2026-10-25 02:30:00 CET");
        assert_eq!(local(at("2026-12-04T12:05:09Z")), "2026-12-04 13:05:09");
    }

    #[test]
    fn every_word_has_both_languages_and_keys_are_unique() {
        for (i, (k, sv, en)) in WORDS.iter().enumerate() {
            assert!(!sv.is_empty() && !en.is_empty(), "{k}");
            assert!(!WORDS[..i].iter().any(|(other, _, _)| other == k), "{k} twice");
        }
        assert_eq!(t(Lang::Sv, "alarms"), "Larm");
        assert_eq!(t(Lang::En, "alarms"), "Alarms");
    }

    #[test]
    fn times_are_shown_in_stockholm_on_a_24_hour_clock() {
        let winter: Timestamp = "2026-12-04T12:05:09Z".parse().expect("time");
        assert_eq!(local(winter), "2026-12-04 13:05:09");
        let summer: Timestamp = "2026-07-01T21:30:00Z".parse().expect("time");
        assert_eq!(local(summer), "2026-07-01 23:30:00");
    }
}
