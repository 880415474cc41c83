//! The accessibility statement (`/tillganglighet`), as the law on accessible public digital
//! services (2018:1937) asks of a public body's web service: how accessible the console
//! is, what is known not to meet WCAG 2.1 AA yet, how to report a problem, and who
//! supervises. Reachable without logging in, from every page's footer.

use maud::{Markup, html};

use super::i18n::Lang;

/// What is known not to meet WCAG 2.1 AA: (criterion, Swedish, English), from the
/// reviews of December 2026.
const SHORTCOMINGS: [(&str, &str, &str); 3] = [
    (
        "2.2.1",
        "En session upphör efter 30 minuter utan aktivitet, också på en sida som bara visar larmen \
         live, utan varning i förväg och utan sätt att förlänga den.",
        "A session ends after 30 minutes without activity, also on a page that only shows the alarms \
         live, without a warning beforehand or a way to extend it.",
    ),
    (
        "2.4.3",
        "När larmen, eller anläggningarna i en annan ordning än efter namn, läses om live ersätts hela \
         tabellen: en skärmläsare läser den igen, och en knapp i den som hade fokus tappar det.",
        "When the alarms, or the sites in another order than by name, are read again live, the whole \
         table is replaced: a screen reader reads it again, and a button in it that had focus loses it.",
    ),
    (
        "3.1.2",
        "I konsolloggen står personalens rapporter om att de inte kom in i en engelsk mening, omärkt.",
        "In the console log, staff's reports that they could not get in are in an English sentence, \
         unmarked.",
    ),
];

/// The statement, in the page's language.
pub fn page(l: Lang) -> Markup {
    let sv = l == Lang::Sv;
    html! {
        @if sv {
            p { "Den här konsolen är en del av Portvakt Central, som kommunen (eller fastighetsägaren) "
                "driver för sina portar. Den som driver konsolen ansvarar för att den är tillgänglig, "
                "enligt lagen (2018:1937) om tillgänglighet till digital offentlig service." }
            h2 { "Hur tillgänglig är konsolen?" }
            p { "Konsolen är " strong { "delvis förenlig" } " med WCAG 2.1 nivå AA. Bedömningen är en "
                "självskattning: varje sida prövas automatiskt (axe-core) på dator och telefon, och ingen sida "
                "behöver rullas i sidled på telefonen; uppdateringar som sker av sig själva kan pausas. Kända "
                "brister:" }
        } @else {
            p { "This console is part of Portvakt Central, which the municipality (or the property owner) "
                "runs for its doors. Whoever runs the console is responsible for its accessibility, under the "
                "Swedish act on accessibility to digital public services (2018:1937)." }
            h2 { "How accessible is the console?" }
            p { "The console is " strong { "partially compliant" } " with WCAG 2.1 level AA. This is a "
                "self-assessment: every page is tried automatically (axe-core) on a desktop and on a phone, "
                "and no page scrolls sideways on the phone; updates that happen by themselves can be paused. "
                "Known shortcomings:" }
        }
        @if !SHORTCOMINGS.is_empty() {
            ul {
                @for (criterion, in_sv, in_en) in SHORTCOMINGS {
                    li { (if sv { in_sv } else { in_en }) " (WCAG " (criterion) ")" }
                }
            }
        }
        @if sv {
            @if !SHORTCOMINGS.is_empty() {
                p { "Bristerna är kända från en granskning och åtgärdas i kommande versioner." }
            }
            h2 { "Rapportera en brist" }
            p { "Om något i konsolen inte går att använda för dig: kontakta den som driver konsolen "
                "(kommunens eller fastighetsägarens IT-support), så får du informationen på annat sätt "
                "och bristen åtgärdas." }
            h2 { "Tillsyn" }
            p { "Myndigheten för digital förvaltning (DIGG) har tillsyn över lagen. Om du inte är nöjd "
                "med hur din rapport har hanterats kan du anmäla det till DIGG, via digg.se." }
            p { "Redogörelsen gjordes den 8 december 2026." }
        } @else {
            @if !SHORTCOMINGS.is_empty() {
                p { "The shortcomings are known from a review and are being put right in coming versions." }
            }
            h2 { "Report a problem" }
            p { "If something in the console does not work for you, contact whoever runs it (the "
                "municipality's or property owner's IT support): you get the information another way, and "
                "the problem is put right." }
            h2 { "Supervision" }
            p { "The Agency for Digital Government (DIGG) supervises the act. If you are not satisfied with how "
                "your report was handled, you can notify DIGG, through digg.se." }
            p { "This statement was made on 8 December 2026." }
        }
    }
}
