//! The auditor's sample check page: a month's sampled reads of personal data, each with
//! who read, whose, why and how much, and a form to mark it checked (`crate::checks`).

use maud::{Markup, html};

use super::i18n::{Lang, local, purpose, t};
use super::pages::Viewer;
use crate::checks::{OUTCOMES, Read};

/// The page for `month`: the sampled reads of all `reads`, checked or with a form.
pub fn checks(v: &Viewer<'_>, month: &str, reads: &[Read], sampled: &[i64]) -> Markup {
    let l = v.lang;
    let shown: Vec<&Read> = reads.iter().filter(|r| sampled.contains(&r.id)).collect();
    let done = shown.iter().filter(|r| r.checked.is_some()).count();
    html! {
        p class="hint" { (t(l, "checks_note")) }
        form method="get" class="filter noprint" {
            label { (t(l, "month")) input type="month" name="month" value=(month); }
            button { (t(l, "search")) }
        }
        p { (reads.len()) " " (t(l, "reads_in_month")) ", " (shown.len()) " " (t(l, "in_sample")) ", " (done) " " (t(l, "checked")) }
        (super::pages::scrolling(t(l, "checks"), &html! { table id="checks" {
            thead { tr {
                th { (t(l, "time")) } th { (t(l, "who")) } th { (t(l, "purpose")) } th { (t(l, "holder")) }
                th { (t(l, "detail")) } th { (t(l, "records_read")) } th { (t(l, "check")) }
            } }
            tbody {
                @if shown.is_empty() { tr { td colspan="7" { (t(l, "no_rows")) } } }
                @for r in &shown {
                    tr data-read=(r.id) {
                        td { (local(r.at)) } td { (r.who) }
                        td { (purpose_words(l, &r.purpose)) @if let Some(n) = &r.note { ": " (n) } }
                        td { (r.holder.as_deref().unwrap_or("–")) } td { (super::log_words::searched(l, &r.query)) } td { (r.records) }
                        td {
                            @if let Some((by, at, outcome)) = &r.checked {
                                (outcome_words(l, outcome)) " · " (by) " " (local(*at))
                            } @else {
                                form method="post" action={ "/checks/" (r.id) } class="inline" {
                                    input type="hidden" name="csrf" value=(v.csrf);
                                    input type="hidden" name="month" value=(month);
                                    label { (t(l, "outcome")) " "
                                        select name="outcome" required {
                                            @for o in OUTCOMES { option value=(o) { (outcome_words(l, o)) } }
                                        }
                                    }
                                    label { (t(l, "purpose_note")) input name="note" maxlength="200"; }
                                    button { (t(l, "mark_checked")) }
                                }
                            }
                        }
                    }
                }
            }
        } }))
    }
}

fn purpose_words(l: Lang, word: &str) -> &'static str {
    match word {
        "handover" => t(l, "purpose_handover"),
        "unstated" => t(l, "purpose_unstated"),
        w => purpose(l, w),
    }
}

fn outcome_words(l: Lang, outcome: &str) -> &'static str {
    if outcome == "justified" { t(l, "outcome_justified") } else { t(l, "outcome_questioned") }
}
