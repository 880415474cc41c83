//! The visit list as people see it: the search form, the table (the outcome and a
//! refusal's reason in words, a record whose names are not shown said as whose it is),
//! print and CSV links, and the header a printed list carries.

use maud::{Markup, html};

use super::catalogue;
use super::i18n::{Lang, local, t};
use crate::names::Names;
use crate::visits::Visit;

/// The outcome, and a refusal's reason, in words.
pub fn said(l: Lang, v: &Visit) -> String {
    match v.reason.as_deref().filter(|_| v.kind == "access.denied") {
        Some(r) => format!("{}: {}", outcome(l, &v.kind), catalogue::reason(l, r)),
        None => outcome(l, &v.kind),
    }
}

fn outcome(l: Lang, kind: &str) -> String {
    match kind {
        "access.granted" => t(l, "granted").into(),
        "access.denied" => t(l, "refused").into(),
        "access.strike_failed" => t(l, "strike_failed").into(),
        other => catalogue::event(l, other),
    }
}

/// Visits or events as a table, sites, doors and staff by name (the id on hover);
/// untrusted-clock records are marked.
pub fn visit_table(l: Lang, visits: &[Visit], names: &Names) -> Markup {
    html! {
        table class="visits" {
            thead { tr { th { (t(l, "time")) } th { (t(l, "site")) } th { (t(l, "door")) } th { (t(l, "holder")) } th { (t(l, "credential")) } th { (t(l, "what")) } } }
            tbody {
                @if visits.is_empty() { tr { td colspan="6" { (t(l, "no_rows")) } } }
                @for v in visits {
                    tr class=(if v.trusted { "" } else { "untrusted" }) {
                        td { (local(v.at)) @if !v.trusted { " " span class="mark" { "(" (t(l, "clock_untrusted_mark")) ")" } } }
                        td title=(v.site) { (names.site(&v.site).unwrap_or(&v.site)) }
                        @match v.door.as_deref() {
                            Some(d) => td title=(d) { (names.door(&v.site, d).unwrap_or(d)) },
                            None => td { "–" },
                        }
                        @match v.holder.as_deref().and_then(|h| names.person(h, v.audience.as_deref()).map(|n| (h, n))) {
                            Some((id, name)) => td title=(id) { (name) },
                            None => td { (who(l, v)) },
                        }
                        td { (v.credential.as_deref().unwrap_or("–")) } td { (said(l, v)) }
                    }
                }
            }
        }
    }
}

/// Who a record names, as this console may show it: the holder (a visit list); or for a
/// record whose names are not shown (the site page) or sealed to another audience, whose
/// it is and nothing more.
fn who(l: Lang, v: &Visit) -> String {
    match (&v.holder, v.audience.as_deref()) {
        (Some(h), _) => h.clone(),
        (None, Some(a)) if a != "site" => format!("{} ({a})", t(l, "sealed_entry")),
        (None, _) => "–".into(),
    }
}

/// The visits page: the form, the list, print and CSV; on paper headed by what was
/// searched and who printed it when (`printed`: the account's name and the time of the
/// read, once there is a list).
pub fn visits(
    l: Lang,
    form: &[(&str, &str)],
    (visits, names): (&[Visit], &Names),
    sites: &[(String, Option<String>)],
    csv_href: &str,
    error: Option<&str>,
    printed: Option<(&str, jiff::Timestamp)>,
) -> Markup {
    let value = |k: &str| form.iter().find(|(n, _)| *n == k).map_or("", |(_, v)| *v).to_owned();
    let chosen = value("purpose");
    let searched: Vec<String> = ["holder", "site", "door", "from", "until"]
        .iter()
        .filter(|k| !value(k).is_empty())
        .map(|k| format!("{} {}", t(l, k).to_lowercase(), value(k)))
        .collect();
    html! {
        @if let Some((who, at)) = printed {
            div class="printonly" id="printed" {
                p {
                    (t(l, "purpose")) ": " (crate::console::i18n::purpose(l, &chosen)) ". "
                    (t(l, "searched")) ": " (searched.join(", ")) ". "
                    (t(l, "printed_by")) " " (who) " " (local(at)) "."
                }
            }
        }
        p class="hint" { (t(l, "visit_note")) }
        @if let Some(e) = error { p class="error" role="alert" { (e) } }
        form method="get" class="filter noprint" id="visit-filter" {
            label { (t(l, "purpose")) " "
                select name="purpose" required {
                    option value="" { (t(l, "choose")) }
                    @for w in crate::visits::Purpose::WORDS {
                        option value=(w) selected[chosen == w] { (crate::console::i18n::purpose(l, w)) }
                    }
                }
            }
            label { (t(l, "purpose_note")) input name="note" maxlength="200" value=(value("note")); }
            label { (t(l, "holder")) input name="holder" value=(value("holder")); }
            label { (t(l, "site")) input name="site" list="site-list" value=(value("site")); }
            datalist id="site-list" { @for (id, name) in sites { option value=(id) label=(name.as_deref().unwrap_or(id)) {} } }
            label { (t(l, "door")) input name="door" value=(value("door")); }
            label { (t(l, "from")) input type="date" name="from" value=(value("from")); }
            label { (t(l, "until")) input type="date" name="until" value=(value("until")); }
            button { (t(l, "search")) }
        }
        p class="noprint" {
            a href={ (csv_href) } id="csv" download { (t(l, "csv")) } " · "
            a href="#" id="print" { (t(l, "print")) }
        }
        p { (visits.len()) " " (t(l, "count")) }
        (super::pages::scrolling(t(l, "visits"), &visit_table(l, visits, names)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn visit(holder: &str, trusted: bool) -> Visit {
        Visit {
            site: "storgatan-12".into(),
            seq: 7,
            at: "2026-12-04T12:05:09Z".parse().expect("time"),
            trusted,
            kind: "access.granted".into(),
            door: Some("entrance".into()),
            audience: Some("kommunen".into()),
            holder: Some(holder.into()),
            credential: None,
            reason: None,
        }
    }

    fn visit_table_plain(l: Lang, visits: &[Visit]) -> Markup {
        visit_table(l, visits, &Names::default())
    }

    #[test]
    fn sites_doors_and_staff_are_shown_by_name_with_the_id_on_hover() {
        let site = crate::names::SiteNames {
            site: Some("Storgatan 12".into()),
            doors: [("entrance".to_owned(), "Porten".to_owned())].into(),
            ..Default::default()
        };
        let names = Names::of(
            [("storgatan-12".to_owned(), site)].into(),
            [(("anna-lind".to_owned(), "kommunen".to_owned()), "Anna Lind".to_owned())].into(),
        );
        let html = visit_table(Lang::Sv, &[visit("anna-lind", true)], &names).0;
        for shown in
            [r#"title="storgatan-12">Storgatan 12<"#, r#"title="entrance">Porten<"#, r#"title="anna-lind">Anna Lind<"#]
        {
            assert!(html.contains(shown), "{shown} in {html}");
        }
    }

    #[test]
    fn a_refusal_says_why_in_words() {
        let mut v = visit("anna", true);
        v.kind = "access.denied".into();
        v.reason = Some("outside_schedule".into());
        assert_eq!(said(Lang::Sv, &v), "nekad: utanför tiderna");
        assert_eq!(said(Lang::En, &v), "refused: outside the hours");
        v.reason = Some("something_new".into());
        assert_eq!(said(Lang::Sv, &v), "nekad: something_new", "an unknown code is shown as it is");
    }

    #[test]
    fn what_a_gateway_sent_is_escaped_never_run() {
        let html = visit_table_plain(Lang::Sv, &[visit("<script>alert(1)</script>", true)]).0;
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    }

    #[test]
    fn a_visit_under_an_untrusted_clock_is_marked_and_times_are_stockholms() {
        let html = visit_table_plain(Lang::Sv, &[visit("anna-lgh1101", false), visit("lars-lgh1203", true)]).0;
        assert_eq!(html.matches("klockan ej synkad").count(), 1, "{html}");
        assert!(html.contains("2026-12-04 13:05:09"));
        assert!(html.contains("insläppt"));
        let en = visit_table_plain(Lang::En, &[visit("anna-lgh1101", false)]).0;
        assert!(en.contains("clock not synchronised") && en.contains("granted"));
    }

    #[test]
    fn an_entry_sealed_for_another_audience_shows_whose_it_is_and_no_name() {
        let sealed = Visit { holder: None, audience: Some("owner".into()), ..visit("x", true) };
        let html = visit_table_plain(Lang::Sv, &[sealed]).0;
        assert!(html.contains("namn visas inte här (owner)"), "{html}");
        let building = Visit { holder: None, audience: Some("site".into()), ..visit("x", true) };
        assert!(!visit_table_plain(Lang::En, &[building]).0.contains("not shown"));
    }
}
