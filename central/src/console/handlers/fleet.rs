//! The fleet, a site (its doors live, its latest events) and the alarms.

use super::{AppState, Asker, Params, address, failure, html, poster, record};
use crate::console::State;
use crate::console::accounts::Right;
use crate::console::actions::LogAction;
use crate::console::pages::{self, AlarmRow};
use crate::db::DbError;
use crate::fleet_view::{self, SiteLine};
use crate::names::{Names, SiteNames};
use crate::visits::{self, Visit};
use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Path, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

// ---- the fleet

/// Which sites' lines a fleet page shows, besides its account's: those whose id or name
/// holds its text (any case, with or without å ä ö), only the one asked for, only those
/// with a problem (open alarms, offline). The live stream applies it to a changed row too.
pub(super) struct Shown {
    text: Option<String>,
    only: Option<String>,
    problems: bool,
}

impl Shown {
    pub(super) fn of(q: &Params) -> Self {
        Shown {
            text: q.get("q").map(|t| crate::visits::fold(t)).filter(|t| !t.is_empty()),
            only: q.get("only").cloned(),
            problems: q.contains_key("problems"),
        }
    }

    pub(super) fn shows(&self, l: &SiteLine) -> bool {
        self.shows_site(&l.site, l.names.site.as_deref(), l.has_problem())
    }

    /// Whether the page shows `site`, called `name`, with a problem or not.
    pub(super) fn shows_site(&self, site: &str, name: Option<&str>, problem: bool) -> bool {
        let named = |text: &str| site.contains(text) || name.is_some_and(|n| crate::visits::fold(n).contains(text));
        self.text.as_deref().is_none_or(named)
            && self.only.as_deref().is_none_or(|only| only == site)
            && (!self.problems || problem)
    }
}

async fn fleet_lines(s: &State, a: &Asker, q: &Params) -> Result<Vec<SiteLine>, DbError> {
    let shown = Shown::of(q);
    let lines = match &shown.only {
        Some(site) if !a.session.account.sees(site) => Vec::new(),
        only => fleet_view::sites(&*s.db.get().await?, only.as_deref()).await?,
    };
    let mut lines: Vec<SiteLine> =
        lines.into_iter().filter(|l| a.session.account.sees(&l.site) && shown.shows(l)).collect();
    match q.get("sort").map(String::as_str) {
        Some("online") => lines.sort_by_key(|l| l.online),
        Some("last_seen") => lines.sort_by_key(|l| std::cmp::Reverse(l.last_seen)),
        Some("outbox") => {
            lines.sort_by_key(|l| std::cmp::Reverse(l.state.as_ref().and_then(|s| s["outbox_depth"].as_u64())));
        }
        Some("stored") => lines.sort_by_key(|l| std::cmp::Reverse(l.through)),
        Some("alarms") => lines.sort_by_key(|l| std::cmp::Reverse(l.alarms)),
        // As shown: by name (its id when it has none).
        _ => lines.sort_by(|a, b| {
            let shown = |l: &SiteLine| l.names.site.clone().unwrap_or_else(|| l.site.clone()).to_lowercase();
            shown(a).cmp(&shown(b)).then_with(|| a.site.cmp(&b.site))
        }),
    }
    Ok(lines)
}

pub(super) async fn fleet(Shared(s): Shared<AppState>, a: Asker, Query(q): Query<Params>) -> Response {
    match fleet_lines(&s, &a, &q).await {
        Ok(lines) => {
            let (text, sorted) = (q.get("q").map_or("", String::as_str), q.get("sort").map_or("site", String::as_str));
            a.page("fleet", &pages::fleet(a.lang, &lines, text, sorted))
        }
        Err(e) => failure(&e),
    }
}

pub(super) async fn fleet_fragment(Shared(s): Shared<AppState>, a: Asker, Query(q): Query<Params>) -> Response {
    match fleet_lines(&s, &a, &q).await {
        Ok(lines) => html(StatusCode::OK, &pages::fleet_rows(a.lang, &lines), None),
        Err(e) => failure(&e),
    }
}

// ---- a site

async fn doors_of(s: &State, site: &str) -> Result<Vec<(String, Option<serde_json::Value>, bool)>, DbError> {
    let db = s.db.get().await?;
    Ok(db
        .query("SELECT door, state, forced_at IS NOT NULL AS forced FROM doors WHERE site = $1 ORDER BY door", &[&site])
        .await?
        .iter()
        .map(|r| {
            let state: Option<String> = r.get("state");
            (r.get("door"), state.and_then(|s| serde_json::from_str(&s).ok()), r.get("forced"))
        })
        .collect())
}

/// The site's 20 latest records, whose and what (a refusal with its reason) but no names
/// (names are read in the visit list, with a purpose): no read of personal data.
async fn latest_events(s: &State, site: &str) -> Result<Vec<Visit>, DbError> {
    let db = s.db.get().await?;
    let rows = db
        .query(
            "SELECT site, seq, (extract(epoch FROM at) * 1000)::bigint AS at_ms, trusted, kind, door, audience,
                    NULL::text AS holder, NULL::text AS credential, detail
             FROM records WHERE site = $1 AND epoch = (SELECT epoch FROM sites WHERE site = $1)
             ORDER BY seq DESC LIMIT 20",
            &[&site],
        )
        .await?;
    Ok(rows.iter().map(visits::from_row).collect())
}

pub(super) async fn site(
    Shared(s): Shared<AppState>,
    a: Asker,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(site): Path<String>,
) -> Response {
    let from = address(&s, &headers, peer);
    let name = a.session.account.name.clone();
    if !a.session.account.sees(&site) {
        return a.forbidden();
    }
    let found = async {
        let line = fleet_view::sites(&*s.db.get().await?, Some(&site)).await?.into_iter().next();
        Ok::<_, DbError>((line, doors_of(&s, &site).await?))
    };
    match found.await {
        Ok((Some(line), doors)) => match latest_events(&s, &site).await {
            Ok(events) => {
                let _ = record(&s, Some(&name), LogAction::ViewSite, &site, &from).await;
                let names = Names::of([(site.clone(), line.names.clone())].into(), HashMap::new());
                let body = pages::site(a.lang, &line, &doors, &events, &names);
                let title = line.names.site.as_deref().unwrap_or(&site);
                html(StatusCode::OK, &pages::layout(&a.viewer(), title, &body), a.set_lang)
            }
            Err(e) => failure(&e),
        },
        Ok((None, _)) => {
            html(StatusCode::NOT_FOUND, &pages::layout(&a.viewer(), &site, &pages::message(a.lang, "not_found")), None)
        }
        Err(e) => failure(&e),
    }
}

pub(super) async fn doors_fragment(Shared(s): Shared<AppState>, a: Asker, Path(site): Path<String>) -> Response {
    if !a.session.account.sees(&site) {
        return StatusCode::FORBIDDEN.into_response();
    }
    let found = async {
        let names = Names::load(&*s.db.get().await?, &[site.as_str()], &[]).await?;
        Ok::<_, DbError>((doors_of(&s, &site).await?, names))
    };
    match found.await {
        Ok((doors, names)) => {
            let none = SiteNames::default();
            let site_names = names.of_site(&site).unwrap_or(&none);
            html(StatusCode::OK, &pages::door_rows(a.lang, &doors, site_names), None)
        }
        Err(e) => failure(&e),
    }
}

// ---- alarms

async fn alarm_rows(s: &State, a: &Asker) -> Result<(Vec<AlarmRow>, Names), DbError> {
    let db = s.db.get().await?;
    let rows = db
        .query(
            "SELECT id, site, kind, subject, detail, (extract(epoch FROM raised_at) * 1000)::bigint AS raised,
                    (extract(epoch FROM cleared_at) * 1000)::bigint AS cleared, acknowledged_by,
                    (extract(epoch FROM acknowledged_at) * 1000)::bigint AS acked
             FROM alarms WHERE cleared_at IS NULL OR raised_at > now() - INTERVAL '7 days'
             ORDER BY cleared_at IS NULL DESC, raised_at DESC LIMIT 500",
            &[],
        )
        .await?;
    let time = |ms: Option<i64>| ms.and_then(|m| jiff::Timestamp::from_millisecond(m).ok());
    let rows: Vec<AlarmRow> = rows
        .iter()
        .filter(|r| a.session.account.sees(r.get("site")))
        .map(|r| AlarmRow {
            id: r.get("id"),
            site: r.get("site"),
            kind: r.get("kind"),
            subject: r.get("subject"),
            detail: r.get("detail"),
            raised: time(r.get("raised")).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
            cleared: time(r.get("cleared")),
            acknowledged: r.get::<_, Option<String>>("acknowledged_by").zip(time(r.get("acked"))),
        })
        .collect();
    let mut sites: Vec<&str> = rows.iter().map(|r| r.site.as_str()).collect();
    sites.sort_unstable();
    sites.dedup();
    let names = Names::load(&*db, &sites, &[]).await?;
    Ok((rows, names))
}

pub(super) async fn alarms(Shared(s): Shared<AppState>, a: Asker) -> Response {
    match alarm_rows(&s, &a).await {
        Ok((rows, names)) => a.page("alarms", &pages::alarms(&a.viewer(), &rows, &names)),
        Err(e) => failure(&e),
    }
}

pub(super) async fn alarms_fragment(Shared(s): Shared<AppState>, a: Asker) -> Response {
    match alarm_rows(&s, &a).await {
        Ok((rows, names)) => html(StatusCode::OK, &pages::alarm_rows(&a.viewer(), &rows, &names), None),
        Err(e) => failure(&e),
    }
}

pub(super) async fn acknowledge(
    Shared(s): Shared<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(id): Path<i64>,
    Form(f): Form<Params>,
) -> Response {
    let a = match poster(&s, &headers, &f, Right::Acknowledge).await {
        Ok(a) => a,
        Err(r) => return r,
    };
    let from = address(&s, &headers, peer);
    let name = a.session.account.name.clone();
    let done = async {
        let db = s.db.get().await?;
        let Some(row) = db.query_opt("SELECT site, kind FROM alarms WHERE id = $1", &[&id]).await? else {
            return Ok(None);
        };
        let (site, kind): (String, String) = (row.get(0), row.get(1));
        if !a.session.account.sees(&site) {
            return Ok(Some((site, kind, false)));
        }
        db.execute(
            "UPDATE alarms SET acknowledged_by = $2, acknowledged_at = now() WHERE id = $1 AND acknowledged_at IS NULL",
            &[&id, &name],
        )
        .await?;
        crate::fleet::notify(&*db, &site).await?;
        Ok::<_, DbError>(Some((site, kind, true)))
    };
    match done.await {
        Ok(Some((site, kind, true))) => {
            let said = serde_json::json!({ "alarm": id, "site": site, "kind": kind }).to_string();
            let _ = record(&s, Some(&name), LogAction::AckAlarm, &said, &from).await;
            Redirect::to("/alarms").into_response()
        }
        Ok(Some((_, _, false))) => a.forbidden(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(e) => failure(&e),
    }
}
