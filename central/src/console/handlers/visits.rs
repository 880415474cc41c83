//! Visit lists (page, print, CSV; every read recorded) and the console's own log.

use super::{AppState, Asker, Params, address, asker, failure, record};
use crate::console::State;
use crate::console::accounts::Right;
use crate::console::actions::LogAction;
use crate::console::i18n::{Lang, stockholm, t};
use crate::console::{pages, visit_page};
use crate::db::DbError;
use crate::names::Names;
use crate::visits::{self, Visit};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

// ---- visits

/// The filter a visits request asks for: the day fields are Stockholm dates, `until`
/// inclusive; a mistake said in the page's language.
fn visit_filter(q: &Params, l: Lang) -> Result<visits::Filter, String> {
    let text = |k: &str| q.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let day = |k: &'static str, next: bool| -> Result<Option<jiff::Timestamp>, String> {
        let Some(v) = text(k) else { return Ok(None) };
        let bad = || match l {
            Lang::Sv => format!("{}: ”{v}” är inget datum; skriv det som 2026-12-31.", t(l, k)),
            Lang::En => format!("{}: “{v}” is not a date; write it as 2026-12-31.", t(l, k)),
        };
        let date: jiff::civil::Date = v.parse().map_err(|_| bad())?;
        let date = if next { date.tomorrow().map_err(|_| bad())? } else { date };
        date.to_zoned(stockholm()).map(|z| Some(z.timestamp())).map_err(|_| bad())
    };
    Ok(visits::Filter {
        site: text("site"),
        holder: text("holder"),
        door: text("door"),
        since: day("from", false)?,
        until: day("until", true)?,
        ..visits::Filter::default()
    })
}

/// Why the list is read, from the form (required: every read of personal data says why);
/// a mistake in the page's language.
fn purpose(q: &Params, l: Lang) -> Result<visits::Purpose, String> {
    let word = q.get("purpose").map(|w| w.trim()).filter(|w| !w.is_empty());
    let note = q.get("note").map(String::as_str);
    match word.map(|w| visits::Purpose::from_words(w, note)) {
        Some(Ok(p)) => Ok(p),
        Some(Err(_)) if word == Some("other") => Err(t(l, "purpose_other_needed").to_owned()),
        _ => Err(t(l, "purpose_needed").to_owned()),
    }
}

/// What a search found to read: the visits, or that the site searched for is none of the
/// account's (a hint, nothing read; the same whether or not another site is called so,
/// and when one is, `another` says so for the console's log).
enum Found {
    Visits(Vec<Visit>),
    NoSuchSite { another: bool },
}

/// The visits the account may see under `filter`, every read recorded as its, for `why`.
async fn read_visits(
    s: &State,
    a: &Asker,
    filter: &visits::Filter,
    why: &visits::Purpose,
) -> Result<(Found, visits::Filter), DbError> {
    let account = &a.session.account;
    let mut db = s.db.get().await?;
    let (sites, another) = sites_searched(&db, account, filter.site.as_deref()).await?;
    let mut filter = filter.clone();
    if sites.is_empty() {
        return Ok((Found::NoSuchSite { another }, filter));
    }
    if let Some(text) = filter.holder.take() {
        let by_name = names_people(a);
        (filter.holder, filter.holder_part, filter.holders_named) = holder_searched(&db, &text, by_name).await?;
    }
    let mut all = Vec::new();
    for site in sites {
        let f = visits::Filter { site, ..filter.clone() };
        all.extend(visits::read(&mut db, &f, &account.name, why).await?);
    }
    all.sort_by(|x, y| (x.at, &x.site, x.seq).cmp(&(y.at, &y.site, y.seq)));
    Ok((Found::Visits(all), filter))
}

/// The sites a search names, each read on its own (`None`: every site): a site's id or
/// name, or a part of either, any case and accents, is the account's sites that hold it
/// (its own id exactly, if it is one, else every site whose whole name it is; none: the
/// page says so, the same whether or not another site has that id or name); no search,
/// the account's sites. Beside them, whether the text is another site's own id (a read of
/// it tried: the console's log says so, the page does not).
async fn sites_searched(
    db: &tokio_postgres::Client,
    account: &crate::console::accounts::Account,
    text: Option<&str>,
) -> Result<(Vec<Option<String>>, bool), DbError> {
    let Some(text) = text else {
        let sites = account.scope().map_or_else(|| vec![None], |scope| scope.iter().cloned().map(Some).collect());
        return Ok((sites, false));
    };
    let wanted = visits::fold(text);
    let known = known_sites(db).await?;
    let another = text == wanted && !account.sees(text) && known.iter().any(|(id, _)| id == text);
    let seen: Vec<_> = known.into_iter().filter(|(id, _)| account.sees(id)).collect();
    Ok((matching(&seen, &wanted), another))
}

/// The sites of `seen` (id, name) that `wanted` (folded) names: the one whose id it is,
/// else every one whose whole name it is (two sites may share one), else every one whose
/// id or name holds it.
fn matching(seen: &[(String, Option<String>)], wanted: &str) -> Vec<Option<String>> {
    if let Some((exact, _)) = seen.iter().find(|(id, _)| id == wanted) {
        return vec![Some(exact.clone())];
    }
    let whole: Vec<Option<String>> = seen
        .iter()
        .filter(|(_, name)| name.as_deref().is_some_and(|n| visits::fold(n) == wanted))
        .map(|(id, _)| Some(id.clone()))
        .collect();
    if !whole.is_empty() {
        return whole;
    }
    let holds = |(id, name): &(String, Option<String>)| {
        id.contains(wanted) || name.as_deref().is_some_and(|n| visits::fold(n).contains(wanted))
    };
    seen.iter().filter(|s| holds(s)).map(|(id, _)| Some(id.clone())).collect()
}

/// Whether the account's pages name the municipality's staff by their roster names: not
/// a property owner's caretaker's (the roster is the municipality's).
fn names_people(a: &Asker) -> bool {
    a.session.account.role != crate::console::accounts::Role::Caretaker
}

/// A holder searched for: their id exactly, if one holder has it (`hemtjanst-natt-5`, not
/// `…-natt-50`); otherwise every holder whose id holds the text, and (`by_name`) every
/// member of staff whose name in the roster does ("karin" finds Karin Berg, on the
/// roster's authority's records). As the filter's `holder`, `holder_part` and
/// `holders_named`.
async fn holder_searched(
    db: &tokio_postgres::Client,
    text: &str,
    by_name: bool,
) -> Result<(Option<String>, Option<String>, Vec<(String, String)>), DbError> {
    let wanted = visits::fold(text);
    let exact = db.query_opt("SELECT 1 FROM records WHERE holder = $1 LIMIT 1", &[&wanted]).await?;
    if exact.is_some() {
        return Ok((Some(wanted), None, Vec::new()));
    }
    let mut named = Vec::new();
    if by_name {
        for r in db.query("SELECT holder, name, authority FROM staff_people WHERE authority IS NOT NULL", &[]).await? {
            if visits::fold(r.get("name")).contains(&wanted) {
                named.push((r.get("holder"), r.get("authority")));
            }
        }
    }
    Ok((None, Some(wanted), named))
}

/// Every site Central knows (heard from, or with records), by id with the name its
/// gateway gave.
async fn known_sites(db: &tokio_postgres::Client) -> Result<Vec<(String, Option<String>)>, DbError> {
    let rows = db
        .query(
            "SELECT s.site, g.name FROM (SELECT site FROM gateways UNION SELECT site FROM sites) s
             LEFT JOIN gateways g ON g.site = s.site ORDER BY s.site",
            &[],
        )
        .await?;
    Ok(rows.iter().map(|r| (r.get("site"), r.get("name"))).collect())
}

/// The sites for the form's picker: the account's own (none when they cannot be read).
async fn picker(s: &State, a: &Asker) -> Vec<(String, Option<String>)> {
    let known = match s.db.get().await {
        Ok(db) => known_sites(&db).await.unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    known.into_iter().filter(|(id, _)| a.session.account.sees(id)).collect()
}

/// The visits a request asks for, read and logged; or the page or refusal to answer with.
async fn visits_common(
    s: &State,
    headers: &HeaderMap,
    peer: SocketAddr,
    q: &Params,
    action: LogAction,
) -> Result<(Asker, Vec<Visit>, Names), Response> {
    let a = asker(s, headers, q).await?;
    let from = address(s, headers, peer);
    let name = a.session.account.name.clone();
    let asked = visit_filter(q, a.lang).and_then(|f| purpose(q, a.lang).map(|p| (f, p)));
    let form_page = |a: &Asker, sites: &[(String, Option<String>)], e: &str| {
        let form: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let page = visit_page::visits(a.lang, &form, (&[], &Names::default()), sites, "/visits.csv", Some(e), None);
        (StatusCode::BAD_REQUEST, a.page("visits", &page)).into_response()
    };
    let (filter, why) = match asked {
        Ok(asked) => asked,
        Err(e) => return Err(form_page(&a, &picker(s, &a).await, &e)),
    };
    match read_visits(s, &a, &filter, &why).await {
        Ok((Found::Visits(found), searched)) => {
            let said = serde_json::json!({
                "searched": searched.facts(), "purpose": why.word(), "note": why.note(), "visits": found.len(),
            });
            let _ = record(s, Some(&name), action, &said.to_string(), &from).await;
            let names = names_of(s, &found, names_people(&a)).await;
            Ok((a, found, names))
        }
        Ok((Found::NoSuchSite { another }, _)) => {
            let text = filter.site.unwrap_or_default();
            if another {
                let path = if action == LogAction::ExportVisits { "/visits.csv" } else { "/visits" };
                let tried = format!("GET {path} ({text})");
                let _ = record(s, Some(&name), LogAction::Refused, &tried, &from).await;
            }
            let hint = match a.lang {
                Lang::Sv => format!("Ingen av dina anläggningar heter något med ”{text}”. Välj en i listan."),
                Lang::En => format!("None of your sites has “{text}” in its name. Choose one from the list."),
            };
            Err(form_page(&a, &picker(s, &a).await, &hint))
        }
        Err(e) => Err(failure(&e)),
    }
}

/// The names of the sites, doors and (`people`) staff in `found` (none when they cannot be
/// read: the ids are shown).
async fn names_of(s: &State, found: &[Visit], people: bool) -> Names {
    let mut sites: Vec<&str> = found.iter().map(|v| v.site.as_str()).collect();
    let mut holders: Vec<&str> = found.iter().filter(|_| people).filter_map(|v| v.holder.as_deref()).collect();
    sites.sort_unstable();
    sites.dedup();
    holders.sort_unstable();
    holders.dedup();
    match s.db.get().await {
        Ok(db) => Names::load(&*db, &sites, &holders).await.unwrap_or_default(),
        Err(_) => Names::default(),
    }
}

pub(super) async fn visits_page(
    Shared(s): Shared<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<Params>,
) -> Response {
    // The empty form asks for nothing yet: no read of personal data until a search.
    if !["holder", "site", "door", "from", "until"].iter().any(|k| q.contains_key(*k)) {
        return match asker(&s, &headers, &q).await {
            Ok(a) => {
                let sites = picker(&s, &a).await;
                a.page(
                    "visits",
                    &visit_page::visits(a.lang, &[], (&[], &Names::default()), &sites, "/visits.csv", None, None),
                )
            }
            Err(r) => r,
        };
    }
    match visits_common(&s, &headers, peer, &q, LogAction::ViewVisits).await {
        Ok((a, found, names)) => {
            let form: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let query: String = form
                .iter()
                .filter(|(k, _)| *k != "lang")
                .map(|(k, v)| format!("{k}={}", urlencode(v)))
                .collect::<Vec<_>>()
                .join("&");
            let printed = Some((a.session.account.name.as_str(), jiff::Timestamp::now()));
            let csv = format!("/visits.csv?{query}");
            let sites = picker(&s, &a).await;
            a.page("visits", &visit_page::visits(a.lang, &form, (&found, &names), &sites, &csv, None, printed))
        }
        Err(r) => r,
    }
}

pub(super) async fn visits_csv(
    Shared(s): Shared<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<Params>,
) -> Response {
    match visits_common(&s, &headers, peer, &q, LogAction::ExportVisits).await {
        Ok((_, found, names)) => {
            // For a spreadsheet (Swedish Excel: `;`, a BOM, words, Stockholm time) unless
            // the machine-readable form is asked for.
            let body = if q.get("format").is_some_and(|f| f == "data") {
                visits::csv(&found)
            } else {
                super::super::spreadsheet::visits(&found, super::language(&headers, &q).0, &names)
            };
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (header::CONTENT_DISPOSITION, "attachment; filename=\"besok.csv\""),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                body,
            )
                .into_response()
        }
        Err(r) => r,
    }
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- the console's own log

pub(super) async fn log_page(Shared(s): Shared<AppState>, a: Asker) -> Response {
    if !a.session.account.role.may(Right::ReadLog) {
        return a.forbidden();
    }
    let rows = async {
        let db = s.db.get().await?;
        let rows = db
            .query(
                "SELECT (extract(epoch FROM at) * 1000)::bigint AS at, account, action, detail, address
                 FROM console_log ORDER BY id DESC LIMIT 500",
                &[],
            )
            .await?;
        Ok::<_, DbError>(
            rows.iter()
                .map(|r| {
                    let at = jiff::Timestamp::from_millisecond(r.get("at")).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
                    (at, r.get("account"), r.get("action"), r.get("detail"), r.get("address"))
                })
                .collect::<Vec<_>>(),
        )
    };
    match rows.await {
        Ok(rows) => a.page("log", &pages::log(a.lang, &rows)),
        Err(e) => failure(&e),
    }
}
