//! Logging in (rate-limited) and out, and the stream of live changes.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::fleet::Shown;
use super::{AppState, Params, address, cookie, failure, html, language, looked_at, record, who};
use crate::console::accounts;
use crate::console::actions::LogAction;
use crate::console::i18n::{Lang, t};
use crate::console::live;
use crate::console::pages::{self, Viewer};
use crate::console::session::{self, COOKIE, IDLE_MINUTES};
use crate::db::DbError;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

// ---- live changes

/// The live stream. Its query is the page's: `rows` asks for the changed rows of the fleet
/// table (as the page's `q`, `problems` and `only` show them, in its language) beside the
/// names; `since` is the mark of the listener's last word when the page was read (the
/// stream begins with the words said after it, or after the last event the browser had:
/// `Last-Event-ID`).
pub(super) async fn events(Shared(s): Shared<AppState>, headers: HeaderMap, Query(q): Query<Params>) -> Response {
    // The page's own stream: opening it again (as a browser does after a break) keeps no
    // idle session alive.
    let session = match looked_at(&s, &headers, true).await {
        Ok(session) => session,
        Err(r) => return r,
    };
    let token = cookie(&headers, COOKIE).unwrap_or_default().to_owned();
    let page = Page { lang: language(&headers, &q).0, rows: q.contains_key("rows").then(|| Shown::of(&q)) };
    // Where the page was: the last event it had (the browser says so when it opens the
    // stream again), else when it was read.
    let heard = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    let (rx, backlog) = s.live.subscribe(heard.or(q.get("since").map(String::as_str)));
    let began = in_order(session.account);
    let backlog = backlog.into();
    let stream = changes(Watch { s, token, began, page, rx, backlog, last: 0, tick: recheck(), unsure: false });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// How often the live stream looks at its session when nothing changes.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

fn recheck() -> tokio::time::Interval {
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// What the page that opened a stream shows.
struct Page {
    lang: Lang,
    /// The fleet table's rows, under these filters; none: names only.
    rows: Option<Shown>,
}

/// One open stream.
struct Watch {
    s: AppState,
    token: String,
    /// The account as it was when the stream began, its sites in order.
    began: accounts::Account,
    page: Page,
    rx: tokio::sync::broadcast::Receiver<live::Word>,
    /// Words said after the page was read and before the stream began, taken first.
    backlog: std::collections::VecDeque<live::Word>,
    /// The number of the last word taken (each event carries its mark as its id).
    last: u64,
    tick: tokio::time::Interval,
    /// Words were dropped while the session could not be looked at.
    unsure: bool,
}

/// What the stream takes from the listener in one go.
enum Taken {
    Sites(Vec<Arc<live::Changed>>),
    Missed,
    Nothing,
}

impl Watch {
    /// Waits for the listener's next word (or the recheck), then takes every word it has
    /// said meanwhile too: one look at the session for all of them.
    async fn take(&mut self) -> Option<Taken> {
        use tokio::sync::broadcast::error::{RecvError, TryRecvError};
        let mut next = match self.backlog.pop_front() {
            Some(kept) => Ok(kept),
            None => tokio::select! {
                m = self.rx.recv() => m.map_err(|e| match e {
                    RecvError::Lagged(_) => TryRecvError::Lagged(0),
                    RecvError::Closed => TryRecvError::Closed,
                }),
                _ = self.tick.tick() => return Some(Taken::Nothing),
            },
        };
        let mut taken = Vec::new();
        loop {
            if let Ok((n, _)) = &next {
                self.last = self.last.max(*n);
            }
            match next {
                Ok((_, live::Change::Sites(c))) => taken.push(c),
                // Missed, or fallen so far behind that words were dropped: read all again.
                Ok((_, live::Change::Missed)) | Err(TryRecvError::Lagged(_)) => return Some(Taken::Missed),
                Err(TryRecvError::Empty) => return Some(Taken::Sites(taken)),
                Err(TryRecvError::Closed) => return None,
            }
            next = self.backlog.pop_front().map_or_else(|| self.rx.try_recv(), Ok);
        }
    }

    /// The event for `changed` as this stream's account and page see it: each site it sees,
    /// with its row when the page asked for rows ("" when the page does not show it).
    fn event(&self, changed: &[Arc<live::Changed>]) -> Option<Event> {
        let mut said = serde_json::Map::new();
        for c in changed {
            for site in c.sites.iter().filter(|site| self.began.sees(site)) {
                let row = self.page.rows.as_ref().map(|shown| match c.row(site) {
                    Some(row) if shown.shows_site(site, row.name.as_deref(), row.problem) => row.html(self.page.lang),
                    _ => "",
                });
                said.insert(site.clone(), row.into());
            }
        }
        (!said.is_empty()).then(|| Event::default().event("sites").data(serde_json::Value::Object(said).to_string()))
    }
}

/// The sites the session may see that changed, for as long as the session lives and its
/// account sees what it saw when the stream began: the session is looked at again
/// (untouched: live traffic never keeps a session from idling out) before each event is
/// sent (at most one a [`live::PERIOD`]) and every [`RECHECK`]. Logged out, expired or
/// removed, the stream ends (the page says the session ended); sites or role changed, it
/// sends `scope` and ends. Each event is `sites`: a JSON object from each changed site
/// to its row (see [`Watch::event`]; null when the page asked for none); or `missed` when
/// the page must read all it shows again. While the database cannot be asked about the
/// session nothing is sent; it is asked again at the recheck or when the listener says
/// `missed` (it is back), and then the page is told it missed changes.
fn changes(watch: Watch) -> impl Stream<Item = Result<Event, Infallible>> {
    let missed = || Event::default().event("missed").data("all");
    futures_util::stream::unfold(Some(watch), move |watch| async move {
        let mut watch = watch?;
        loop {
            let taken = watch.take().await?;
            let said = match &taken {
                Taken::Sites(changed) => watch.event(changed),
                Taken::Missed => Some(missed()),
                Taken::Nothing => None,
            };
            // Nothing to tell, or not sure of the database: the session is asked about
            // only when something would be told, at the recheck, or after `missed`.
            let sites = matches!(taken, Taken::Sites(_));
            if sites && (said.is_none() || watch.unsure) {
                continue;
            }
            let session = match watch.s.db.get().await {
                Ok(db) => session::peek(&db, &watch.token).await,
                Err(e) => Err(e),
            };
            let session = match session {
                Ok(session) => session,
                Err(e) => {
                    if !watch.unsure {
                        log::warn!(
                            "console: a live stream cannot look at its session ({e}); it says nothing until it can"
                        );
                    }
                    watch.unsure = true;
                    continue;
                }
            };
            // Ended, expired, removed: the stream ends and the page says so.
            let account = in_order(session?.account);
            if account.sites != watch.began.sites || account.role != watch.began.role {
                return Some((Ok(Event::default().event("scope").data("changed")), None));
            }
            let said = if std::mem::take(&mut watch.unsure) { Some(missed()) } else { said };
            if let Some(said) = said {
                return Some((Ok(said.id(watch.s.live.mark(watch.last))), Some(watch)));
            }
        }
    })
}

/// The account with its sites in order, so that two lists of the same sites compare equal.
fn in_order(mut account: accounts::Account) -> accounts::Account {
    account.sites.sort_unstable();
    account
}

// ---- logging in and out

pub(super) async fn login_page(headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let (lang, set) = language(&headers, &q);
    let v = Viewer { account: None, csrf: "", lang, since: None };
    html(StatusCode::OK, &pages::layout(&v, t(lang, "login"), &pages::login(lang, None)), set)
}

/// The accessibility statement, for anyone (no login).
pub(super) async fn accessibility_page(headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let (lang, set) = language(&headers, &q);
    let v = Viewer { account: None, csrf: "", lang, since: None };
    let body = super::super::statement::page(lang);
    html(StatusCode::OK, &pages::layout(&v, t(lang, "accessibility"), &body), set)
}

pub(super) async fn login(
    Shared(s): Shared<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(f): Form<Params>,
) -> Response {
    let (lang, _) = language(&headers, &Params::new());
    let from = address(&s, &headers, peer);
    let name = f.get("name").cloned().unwrap_or_default();
    let password = f.get("password").cloned().unwrap_or_default();
    let keys = session::login_keys(&name, &from);
    let v = Viewer { account: None, csrf: "", lang, since: None };
    // Counted before the password is checked: guesses sent at once cannot all pass.
    let at = Instant::now();
    let allowed = s.limiter.lock().is_ok_and(|mut l| l.attempt(&keys, at));
    if !allowed {
        let _ = record(&s, None, LogAction::LoginRefused, &refusal(&name, "too_many_attempts"), &from).await;
        let body = pages::login(lang, Some("login_blocked"));
        return html(StatusCode::TOO_MANY_REQUESTS, &pages::layout(&v, t(lang, "login"), &body), None);
    }
    let checked = async {
        // The connection is given back while the password is checked (Argon2 takes its time).
        let stored = accounts::lookup(&*s.db.get().await?, &name).await?;
        let phc = stored.as_ref().map(|s| s.phc().to_owned()).unwrap_or_default();
        match accounts::verified(stored, &name, &password).await {
            Some(a) => {
                let token = session::start(&*s.db.get().await?, &a.name, &phc).await?;
                Ok::<_, DbError>(Some((a.name.clone(), token)))
            }
            None => Ok(None),
        }
    };
    match checked.await {
        Ok(Some((account, token))) => {
            if let Ok(mut l) = s.limiter.lock() {
                l.succeeded(&keys, at);
            }
            let _ = record(&s, Some(&account), LogAction::Login, "", &from).await;
            let secure = if s.secure { "; Secure" } else { "" };
            let cookie = format!(
                "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                IDLE_MINUTES * 60 * 16
            );
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(None) => {
            let _ = record(&s, None, LogAction::LoginRefused, &refusal(&name, "wrong_password"), &from).await;
            let body = pages::login(lang, Some("login_failed"));
            html(StatusCode::UNAUTHORIZED, &pages::layout(&v, t(lang, "login"), &body), None)
        }
        Err(e) => {
            // Nothing was checked: the attempt does not count.
            if let Ok(mut l) = s.limiter.lock() {
                l.succeeded(&keys, at);
            }
            failure(&e)
        }
    }
}

pub(super) async fn logout(
    Shared(s): Shared<AppState>,
    headers: HeaderMap,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Form(f): Form<Params>,
) -> Response {
    if let Ok(a) = who(&s, &headers).await
        && f.get("csrf") == Some(&a.csrf)
        && let Some(token) = cookie(&headers, COOKIE)
    {
        if let Ok(db) = s.db.get().await {
            let _ = session::end(&db, token).await;
        }
        let _ = record(&s, Some(&a.account.name), LogAction::Logout, "", &address(&s, &headers, peer)).await;
    }
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static("portvakt_session=; Path=/; Max-Age=0"));
    r
}

/// A refused login as the log keeps it: the name tried and why, as facts.
fn refusal(name: &str, why: &str) -> String {
    serde_json::json!({ "name": name, "why": why }).to_string()
}
