//! The accessibility statement (`/tillganglighet`), as the law on accessible public digital
//! services (2018:1937) asks of a public body's web service: how accessible the console
//! is, what is known not to meet WCAG 2.1 AA yet, how to report a problem, and who
//! supervises. Reachable without logging in, from every page's footer.

use maud::{Markup, html};

use super::i18n::Lang;

/// What is known not to meet WCAG 2.1 AA: (criterion, Swedish, English).
const SHORTCOMINGS: [(&str, &str, &str); 1] = [(
    "3.1.2",
    "Några tekniska detaljer visas på engelska utan att vara märkta som engelska: i konsolloggen \
     varför personal nekades, och i larmet om karantän varför ett meddelande inte sparades.",
    "Some technical details are in English without being marked as English: in the console log, \
     why staff were refused, and in the quarantine alarm, why a message was not stored.",
)];

/// The statement, in the page's language.
pub fn page(l: Lang) -> Markup {
    let sv = l == Lang::Sv;
    html! {
        @if sv {
            p { "Den här konsolen är en del av Portvakt Central, som kommunen (eller fastighetsägaren) "
                "driver för sina portar. Den som driver konsolen ansvarar för att den är tillgänglig, "
                "enligt lagen (2018:1937) om tillgänglighet till digital offentlig service." }
            h2 { "Hur tillgänglig är konsolen?" }
            p { "Konsolen är " strong { "delvis förenlig" } " med WCAG 2.1 nivå AA. Kända brister:" }
        } @else {
            p { "This console is part of Portvakt Central, which the municipality (or the property owner) "
                "runs for its doors. Whoever runs the console is responsible for its accessibility, under the "
                "Swedish act on accessibility to digital public services (2018:1937)." }
            h2 { "How accessible is the console?" }
            p { "The console is " strong { "partially compliant" } " with WCAG 2.1 level AA. Known shortcomings:" }
        }
        ul {
            @for (criterion, in_sv, in_en) in SHORTCOMINGS {
                li { (if sv { in_sv } else { in_en }) " (WCAG " (criterion) ")" }
            }
        }
        @if sv {
            p { "Bristerna är kända från en granskning i november 2026 och åtgärdas i kommande versioner." }
            h2 { "Rapportera en brist" }
            p { "Om något i konsolen inte går att använda för dig: kontakta den som driver konsolen "
                "(kommunens eller fastighetsägarens IT-support), så får du informationen på annat sätt "
                "och bristen åtgärdas." }
            h2 { "Tillsyn" }
            p { "Myndigheten för digital förvaltning (DIGG) har tillsyn över lagen. Om du inte är nöjd "
                "med hur din rapport har hanterats kan du anmäla det till DIGG, via digg.se." }
            p { "Redogörelsen gjordes den 7 december 2026." }
        } @else {
            p { "The shortcomings are known from a review in November 2026 and are being put right in coming versions." }
            h2 { "Report a problem" }
            p { "If something in the console does not work for you, contact whoever runs it (the "
                "municipality's or property owner's IT support): you get the information another way, and "
                "the problem is put right." }
            h2 { "Supervision" }
            p { "The Agency for Digital Government (DIGG) supervises the act. If you are not satisfied with how "
                "your report was handled, you can notify DIGG, through digg.se." }
            p { "This statement was made on 7 December 2026." }
        }
    }
}
