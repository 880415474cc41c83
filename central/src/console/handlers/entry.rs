//! Logging in (rate-limited) and out, and the stream of live changes.

use std::convert::Infallible;
use std::time::Instant;

use axum::http::HeaderValue;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;

use super::{AppState, Params, address, cookie, failure, html, language, record, who};
use crate::console::accounts;
use crate::console::actions::LogAction;
use crate::console::i18n::t;
use crate::console::live;
use crate::console::pages::{self, Viewer};
use crate::console::session::{self, COOKIE, IDLE_MINUTES};
use crate::db::DbError;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, Query, State as Shared};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

// ---- live changes

pub(super) async fn events(Shared(s): Shared<AppState>, headers: HeaderMap) -> Response {
    let session = match who(&s, &headers).await {
        Ok(session) => session,
        Err(r) => return r,
    };
    let token = cookie(&headers, COOKIE).unwrap_or_default().to_owned();
    let rx = s.changes.subscribe();
    let stream = changes(s, token, session.account, rx);
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

/// How often the live stream looks at its session when nothing changes.
const RECHECK: std::time::Duration = std::time::Duration::from_secs(30);

/// Where a live stream is.
enum Phase {
    /// Sending the changes of the sites its account sees.
    Open,
    /// Its account's sites or role changed: it has said so (`scope`, the page loads
    /// itself again) and ends.
    Ended,
}

/// The sites the session may see that changed, for as long as the session lives and its
/// account sees what it saw when the stream began: the session is looked at again
/// (untouched: live traffic never keeps a session from idling out) before each change
/// is sent and every [`RECHECK`]. Logged out, expired or removed, the stream ends (the
/// page says the session ended); sites or role changed, it sends `scope` and ends.
fn changes(
    s: AppState,
    token: String,
    began: accounts::Account,
    rx: tokio::sync::broadcast::Receiver<String>,
) -> impl Stream<Item = Result<Event, Infallible>> {
    let tick = tokio::time::interval_at(tokio::time::Instant::now() + RECHECK, RECHECK);
    let start = (s, token, in_order(began), rx, tick, Phase::Open);
    futures_util::stream::unfold(start, |(s, token, began, mut rx, mut tick, phase)| async move {
        if let Phase::Ended = phase {
            return None;
        }
        loop {
            let site = tokio::select! {
                m = rx.recv() => match m {
                    Ok(site) => Some(site),
                    // Changes this stream did not keep up with are left (read again at
                    // their site's next change): telling the page to read everything now
                    // would make a loaded console busier still (measured: 45 times as
                    // many whole pages loaded beside the fleet campaign).
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => None,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                },
                _ = tick.tick() => None,
            };
            let session = match s.db.get().await {
                Ok(db) => session::peek(&db, &token).await.ok().flatten(),
                Err(_) => None,
            };
            // Ended, expired, removed: the stream ends and the page says so.
            let account = in_order(session?.account);
            if account.sites != began.sites || account.role != began.role {
                let said = Event::default().event("scope").data("changed");
                return Some((Ok(said), (s, token, began, rx, tick, Phase::Ended)));
            }
            if site.as_deref() == Some(live::MISSED) {
                let said = Event::default().event("missed").data("all");
                return Some((Ok(said), (s, token, began, rx, tick, Phase::Open)));
            }
            if let Some(site) = site.filter(|site| account.sees(site)) {
                return Some((Ok(Event::default().event("site").data(site)), (s, token, began, rx, tick, Phase::Open)));
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
    let v = Viewer { account: None, csrf: "", lang };
    html(StatusCode::OK, &pages::layout(&v, t(lang, "login"), &pages::login(lang, None)), set)
}

/// The accessibility statement, for anyone (no login).
pub(super) async fn accessibility_page(headers: HeaderMap, Query(q): Query<Params>) -> Response {
    let (lang, set) = language(&headers, &q);
    let v = Viewer { account: None, csrf: "", lang };
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
    let v = Viewer { account: None, csrf: "", lang };
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
