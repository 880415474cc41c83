//! Visit lists (page, print, CSV; every read recorded) and the console's own log.

use super::{AppState, Asker, Params, address, asker, failure, record};
use crate::console::State;
use crate::console::accounts::Right;
use crate::console::i18n::stockholm;
use crate::console::{pages, visit_page};
use crate::db::DbError;
use crate::visits::{self, Visit};
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};

// ---- visits

/// The filter a visits request asks for: the day fields are Stockholm dates, `until` inclusive.
fn visit_filter(q: &Params) -> Result<visits::Filter, String> {
    let text = |k: &str| q.get(k).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    let day = |k: &str, next: bool| -> Result<Option<jiff::Timestamp>, String> {
        let Some(v) = text(k) else { return Ok(None) };
        let date: jiff::civil::Date = v.parse().map_err(|e| format!("{k}: {v}: {e}"))?;
        let date = if next { date.tomorrow().map_err(|e| e.to_string())? } else { date };
        date.to_zoned(stockholm()).map(|z| Some(z.timestamp())).map_err(|e| e.to_string())
    };
    Ok(visits::Filter {
        site: text("site"),
        holder: text("holder"),
        holder_part: None,
        door: text("door"),
        since: day("from", false)?,
        until: day("until", true)?,
    })
}

/// Why the list is read, from the form (required: every read of personal data says why).
fn purpose(q: &Params) -> Result<visits::Purpose, String> {
    let word = q.get("purpose").map(|w| w.trim()).filter(|w| !w.is_empty());
    let word = word.ok_or("purpose: say why the visit list is read (a relative's request, invoicing, …)")?;
    visits::Purpose::from_words(word, q.get("note").map(String::as_str)).map_err(|e| format!("purpose: {e}"))
}

/// The visits the account may see under `filter`, every read recorded as its, for `why`.
async fn read_visits(
    s: &State,
    a: &Asker,
    filter: &visits::Filter,
    why: &visits::Purpose,
) -> Result<Option<Vec<Visit>>, DbError> {
    let account = &a.session.account;
    let mut db = s.db.get().await?;
    let Some(sites) = sites_searched(&db, account, filter.site.as_deref()).await? else { return Ok(None) };
    let mut filter = filter.clone();
    if let Some(text) = filter.holder.take() {
        (filter.holder, filter.holder_part) = holder_searched(&db, &text).await?;
    }
    let mut all = Vec::new();
    for site in sites {
        let f = visits::Filter { site, ..filter.clone() };
        all.extend(visits::read(&mut db, &f, &account.name, why).await?);
    }
    all.sort_by(|x, y| (x.at, &x.site, x.seq).cmp(&(y.at, &y.site, y.seq)));
    Ok(Some(all))
}

/// The sites a search names, each read on its own (`None`: every site): a name or a part of
/// one, any case and accents, is the account's sites that hold it (its own id exactly, if
/// it is one); no search, the account's sites. `None` when it names another site's own id
/// (refused, and logged, as before).
async fn sites_searched(
    db: &tokio_postgres::Client,
    account: &crate::console::accounts::Account,
    text: Option<&str>,
) -> Result<Option<Vec<Option<String>>>, DbError> {
    let Some(text) = text else {
        return Ok(Some(account.scope().map_or_else(|| vec![None], |scope| scope.iter().cloned().map(Some).collect())));
    };
    let wanted = visits::fold(text);
    if text == wanted && !account.sees(text) {
        let known = db.query_opt("SELECT 1 FROM sites WHERE site = $1", &[&text]).await?;
        return Ok(known.is_none().then(Vec::new));
    }
    let seen = visible_sites(db, account).await?;
    Ok(Some(match seen.iter().find(|s| **s == wanted) {
        Some(exact) => vec![Some(exact.clone())],
        None => seen.into_iter().filter(|s| s.contains(&wanted)).map(Some).collect(),
    }))
}

/// A holder searched for: their id exactly, if one holder has it (`hemtjanst-natt-5`, not
/// `…-natt-50`); otherwise every holder whose id holds the text. As the filter's `holder`
/// and `holder_part`.
async fn holder_searched(db: &tokio_postgres::Client, text: &str) -> Result<(Option<String>, Option<String>), DbError> {
    let wanted = visits::fold(text);
    let exact = db.query_opt("SELECT 1 FROM records WHERE holder = $1 LIMIT 1", &[&wanted]).await?;
    Ok(if exact.is_some() { (Some(wanted), None) } else { (None, Some(wanted)) })
}

/// The sites `account` sees, by id (every known site for an account that sees them all).
async fn visible_sites(
    db: &tokio_postgres::Client,
    account: &crate::console::accounts::Account,
) -> Result<Vec<String>, DbError> {
    Ok(match account.scope() {
        Some(scope) => scope.to_vec(),
        None => db.query("SELECT site FROM sites ORDER BY site", &[]).await?.iter().map(|r| r.get(0)).collect(),
    })
}

/// The sites for the form's picker: the account's own (none when they cannot be read).
async fn picker(s: &State, a: &Asker) -> Vec<String> {
    match s.db.get().await {
        Ok(db) => visible_sites(&db, &a.session.account).await.unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

async fn visits_common(
    s: &State,
    headers: &HeaderMap,
    peer: SocketAddr,
    q: &Params,
    action: &str,
) -> Result<(Asker, Vec<Visit>), Response> {
    let a = asker(s, headers, q).await?;
    let from = address(s, headers, peer);
    let name = a.session.account.name.clone();
    let asked = visit_filter(q).and_then(|f| purpose(q).map(|p| (f, p)));
    let (filter, why) = match asked {
        Ok(asked) => asked,
        Err(e) => {
            let form: Vec<(&str, &str)> = q.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let sites = picker(s, &a).await;
            let page = a.page("visits", &visit_page::visits(a.lang, &form, &[], &sites, "/visits.csv", Some(&e), None));
            return Err((StatusCode::BAD_REQUEST, page).into_response());
        }
    };
    match read_visits(s, &a, &filter, &why).await {
        Ok(Some(found)) => {
            let said = format!("{filter:?} for {}: {} visit(s)", why.word(), found.len());
            let _ = record(s, Some(&name), action, &said, &from).await;
            Ok((a, found))
        }
        Ok(None) => Err(a.forbidden()),
        Err(e) => Err(failure(&e)),
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
                a.page("visits", &visit_page::visits(a.lang, &[], &[], &sites, "/visits.csv", None, None))
            }
            Err(r) => r,
        };
    }
    match visits_common(&s, &headers, peer, &q, "view_visits").await {
        Ok((a, found)) => {
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
            a.page("visits", &visit_page::visits(a.lang, &form, &found, &sites, &csv, None, printed))
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
    match visits_common(&s, &headers, peer, &q, "export_visits").await {
        Ok((_, found)) => {
            // For a spreadsheet (Swedish Excel: `;`, a BOM, words, Stockholm time) unless
            // the machine-readable form is asked for.
            let body = if q.get("format").is_some_and(|f| f == "data") {
                visits::csv(&found)
            } else {
                super::super::spreadsheet::visits(&found, super::language(&headers, &q).0)
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
