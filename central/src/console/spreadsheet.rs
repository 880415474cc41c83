//! A visit list as a Swedish spreadsheet opens it: UTF-8 with a byte-order mark (so that
//! Excel reads å, ä, ö), fields separated by `;` (Excel with Swedish settings), headers and
//! values in words of the page's language, times in Stockholm with CET or CEST (so that
//! the autumn hour that comes twice is told apart). The machine-readable form
//! (`visits::csv`) is kept behind `?format=data`.

use std::fmt::Write as _;

use super::i18n::{Lang, stockholm};
use crate::names::Names;
use crate::visits::{Visit, field};

/// The column headers: Swedish, English.
const HEADERS: [(&str, &str); 8] = [
    ("Anläggning", "Site"),
    ("Löpnummer", "Sequence"),
    ("Tid", "Time"),
    ("Klocka", "Clock"),
    ("Utfall", "Outcome"),
    ("Dörr", "Door"),
    ("Innehavare", "Holder"),
    ("Passermedel", "Credential"),
];

/// Word in the page's language.
fn say(l: Lang, sv: &'static str, en: &'static str) -> &'static str {
    if l == Lang::Sv { sv } else { en }
}

/// The visits as a spreadsheet file: sites, doors and staff by name with their ids.
pub fn visits(list: &[Visit], l: Lang, names: &Names) -> String {
    let mut out = String::from("\u{feff}");
    let headers: Vec<&str> = HEADERS.iter().map(|(sv, en)| say(l, sv, en)).collect();
    let _ = write!(out, "{}\r\n", headers.join(";"));
    for v in list {
        // The page's own words for the outcome, and a refusal's reason.
        let outcome = super::visit_page::said(l, v);
        // Names with their ids, so that a list handed on says exactly which site, door
        // and person (a name is what a gateway's config or the roster chose).
        let named = |name: Option<&str>, id: &str| name.map_or_else(|| id.to_owned(), |n| format!("{n} ({id})"));
        let site = named(names.site(&v.site), &v.site);
        let door = v.door.as_deref().map(|d| named(names.door(&v.site, d), d));
        let holder = v.holder.as_deref().map(|h| named(names.person(h, v.audience.as_deref()), h));
        let fields = [
            field(&site, ';'),
            v.seq.to_string(),
            v.at.to_zoned(stockholm()).strftime("%Y-%m-%d %H:%M:%S %Z").to_string(),
            say(
                l,
                if v.trusted { "synkad" } else { "ej synkad" },
                if v.trusted { "synchronised" } else { "not synchronised" },
            )
            .to_owned(),
            field(&outcome, ';'),
            field(door.as_deref().unwrap_or(""), ';'),
            field(holder.as_deref().unwrap_or(""), ';'),
            field(v.credential.as_deref().unwrap_or(""), ';'),
        ];
        let _ = write!(out, "{}\r\n", fields.join(";"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(at: &str, holder: &str) -> Visit {
        Visit {
            site: "storgatan-12".into(),
            seq: 7,
            at: at.parse().unwrap(),
            trusted: true,
            kind: "access.granted".into(),
            door: Some("entrance".into()),
            audience: Some("kommunen".into()),
            holder: Some(holder.into()),
            credential: Some("care-5".into()),
            reason: None,
        }
    }

    #[test]
    fn a_swedish_spreadsheet_gets_a_bom_semicolons_words_and_the_hour_that_comes_twice_told_apart() {
        let out = visits(
            &[visit("2026-10-25T00:30:00Z", "=cmd; \"x\""), visit("2026-10-25T01:30:00Z", "bo")],
            Lang::Sv,
            &Names::default(),
        );
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[0], "\u{feff}Anläggning;Löpnummer;Tid;Klocka;Utfall;Dörr;Innehavare;Passermedel");
        assert_eq!(
            lines[1],
            "storgatan-12;7;2026-10-25 02:30:00 CEST;synkad;insläppt;entrance;\"'=cmd; \"\"x\"\"\";care-5"
        );
        assert!(lines[2].contains("2026-10-25 02:30:00 CET;"), "{}", lines[2]);
        assert!(visits(&[], Lang::En, &Names::default()).starts_with("\u{feff}Site;Sequence;Time"));
    }
}
