//! The console's routes: who is asking (session, language), what they may see (the
//! account's sites), what is logged, and which page answers. The pages of the fleet
//! (`fleet.rs`), of visits and the console's log (`visits.rs`), logging in and out and the
//! live event stream (`entry.rs`).

mod checks;
mod entry;
mod fleet;
pub mod simulated_door;
mod staff;
mod visits;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State as Shared};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::Markup;

use super::State;
use super::accounts::Right;
use super::actions::LogAction;
use super::i18n::{Lang, t};
use super::pages::{self, Viewer};
use super::session::{self, COOKIE, Session};
use crate::db::DbError;

type AppState = Arc<State>;
type Params = HashMap<String, String>;

/// Every route.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(fleet::fleet))
        .route("/fragments/fleet", get(fleet::fleet_fragment))
        .route("/sites/{site}", get(fleet::site))
        .route("/fragments/sites/{site}/doors", get(fleet::doors_fragment))
        .route("/alarms", get(fleet::alarms))
        .route("/fragments/alarms", get(fleet::alarms_fragment))
        .route("/alarms/{id}/ack", post(fleet::acknowledge))
        .route("/visits", get(visits::visits_page))
        .route("/visits.csv", get(visits::visits_csv))
        .route("/log", get(visits::log_page))
        .route("/checks", get(checks::checks_page))
        .route("/checks/{id}", post(checks::mark_checked))
        .route("/events", get(entry::events))
        .route("/login", get(entry::login_page).post(entry::login))
        .route("/tillganglighet", get(entry::accessibility_page))
        .route("/logout", post(entry::logout))
        .route("/personal/logga-in", get(staff::begin))
        .route("/personal/inloggad", get(staff::finish))
        .route("/personal/jag", get(staff::me))
        .route("/personal/nonce", post(staff::nonce))
        .route("/personal/certifikat", post(staff::certificate).layer(axum::extract::DefaultBodyLimit::max(16 * 1024)))
        .route("/personal/logga-ut", post(staff::sign_out))
        .route("/personal/rapport", post(staff::report).layer(axum::extract::DefaultBodyLimit::max(16 * 1024)))
        .route("/personal/simulerad-port", post(simulated_door::open))
        .route(
            "/personal/simulerad-port/{id}",
            get(simulated_door::next).post(simulated_door::send).layer(axum::extract::DefaultBodyLimit::max(4 * 1024)),
        )
        .route("/personal/simulerad-port/{id}/stang", post(simulated_door::close))
        .route("/personal", get(staff::app_page))
        .route(
            "/personal/{file}",
            get(|axum::extract::Path(file): axum::extract::Path<String>| async move { staff::app_file(&file) }),
        )
        .route("/assets/console.css", get(|| async { asset("text/css", include_str!("../../../assets/console.css")) }))
        .route(
            "/assets/console.js",
            get(|| async { asset("text/javascript", include_str!("../../../assets/console.js")) }),
        )
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .layer(axum::middleware::from_fn(deadline))
        .with_state(state)
}

/// A request's body must have arrived, and its answer begun, within this (a live stream's
/// answer goes on after; only its beginning counts).
pub const REQUEST: std::time::Duration = std::time::Duration::from_secs(20);

/// Answers 408 to a request not done within [`REQUEST`]: a client that sends its body
/// byte by byte holds a connection no longer than that.
async fn deadline(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    match tokio::time::timeout(REQUEST, next.run(request)).await {
        Ok(response) => response,
        Err(_) => (StatusCode::REQUEST_TIMEOUT, "the request took too long").into_response(),
    }
}

/// Around every request: a state-changing one from another site (a form posted from
/// another origin, the login form included) is refused; every refusal (403) is written to
/// the console's log, with who and from where; over TLS (here or at the proxy) the browser
/// is told to come back only over TLS (HSTS).
async fn guard(
    Shared(s): Shared<AppState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (method, path, headers) =
        (request.method().clone(), request.uri().path().to_owned(), request.headers().clone());
    let changes = !matches!(method, axum::http::Method::GET | axum::http::Method::HEAD);
    let mut response = if changes && from_another_site(&headers, s.behind_proxy) {
        (StatusCode::FORBIDDEN, "refused: a request from another site").into_response()
    } else {
        next.run(request).await
    };
    // The staff side records each of its refusals itself, with why.
    if response.status() == StatusCode::FORBIDDEN && !path.starts_with("/personal") {
        let account = match (cookie(&headers, COOKIE), s.db.get().await) {
            (Some(token), Ok(db)) => session::peek(&db, token).await.ok().flatten().map(|x| x.account.name),
            _ => None,
        };
        let from = address(&s, &headers, peer);
        let _ = record(&s, account.as_deref(), LogAction::Refused, &format!("{method} {path}"), &from).await;
    }
    if s.secure {
        response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    response
}

/// Whether the browser says the request comes from another site: `Sec-Fetch-Site:
/// cross-site`, or an `Origin` that is not this console's own host (the proxy's
/// `X-Forwarded-Host` behind a proxy, `Host` otherwise).
fn from_another_site(headers: &HeaderMap, behind_proxy: bool) -> bool {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if text("sec-fetch-site") == Some("cross-site") {
        return true;
    }
    let host = if behind_proxy { text("x-forwarded-host").or_else(|| text("host")) } else { text("host") };
    match (text("origin"), host) {
        // The console's pages send no referrer, so a browser posts their forms with
        // `Origin: null`: that says nothing, and `Sec-Fetch-Site` above decides.
        (Some("null") | None, _) | (_, None) => false,
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, h)| h) != Some(host),
    }
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

/// A page: no caching (personal data), no framing, scripts only from here.
fn html(status: StatusCode, markup: &Markup, lang_cookie: Option<Lang>) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], markup.0.clone()).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'; form-action 'self'",
        ),
    );
    if let Some(l) = lang_cookie
        && let Ok(v) = HeaderValue::from_str(&format!("lang={}; Path=/; SameSite=Strict; Max-Age=31536000", l.code()))
    {
        h.append(header::SET_COOKIE, v);
    }
    r
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| session::cookie(v, name))
}

/// The language: `?lang=` (remembered in a cookie), else the cookie, else Swedish.
fn language(headers: &HeaderMap, q: &Params) -> (Lang, Option<Lang>) {
    match q.get("lang") {
        Some(w) => {
            let l = Lang::from_word(Some(w));
            (l, Some(l))
        }
        None => (Lang::from_word(cookie(headers, "lang")), None),
    }
}

/// The client's address: behind the documented proxy the last `X-Forwarded-For` entry —
/// the one the proxy itself wrote; anything before it the client may have sent — if it is
/// an IP address; otherwise the connection's peer.
fn address(s: &State, headers: &HeaderMap, peer: SocketAddr) -> String {
    let forwarded = s
        .behind_proxy
        .then(|| {
            headers.get("x-forwarded-for")?.to_str().ok()?.rsplit(',').next()?.trim().parse::<std::net::IpAddr>().ok()
        })
        .flatten();
    forwarded.unwrap_or_else(|| peer.ip()).to_string()
}

async fn record(
    s: &State,
    account: Option<&str>,
    action: LogAction,
    detail: &str,
    address: &str,
) -> Result<(), DbError> {
    s.db.get()
        .await?
        .execute(
            "INSERT INTO console_log (account, action, detail, address) VALUES ($1, $2, $3, $4)",
            &[&account, &action.code(), &detail, &address],
        )
        .await?;
    Ok(())
}

/// A failure as a page.
fn failure(e: &DbError) -> Response {
    log::error!("console: {e}");
    (StatusCode::SERVICE_UNAVAILABLE, "PostgreSQL is not reachable; try again shortly").into_response()
}

/// Who is asking; a redirect to the login page if nobody.
async fn who(s: &State, headers: &HeaderMap) -> Result<Session, Response> {
    // A live page's own fetches (its fragments) do not keep an idle session alive: only
    // what a person does does.
    looked_at(s, headers, headers.get("x-portvakt-live").is_some()).await
}

/// The session of the request's cookie; `live`: looked at without counting as use.
async fn looked_at(s: &State, headers: &HeaderMap, live: bool) -> Result<Session, Response> {
    let Some(token) = cookie(headers, COOKIE) else { return Err(Redirect::to("/login").into_response()) };
    let db = s.db.get().await.map_err(|e| failure(&e))?;
    let found = if live { session::peek(&db, token).await } else { session::find(&db, token).await };
    match found {
        Ok(Some(session)) => Ok(session),
        Ok(None) => Err(Redirect::to("/login").into_response()),
        Err(e) => Err(failure(&e)),
    }
}

/// What a logged-in page needs: the session and the language.
struct Asker {
    session: Session,
    lang: Lang,
    set_lang: Option<Lang>,
    /// The live listener's last word's mark when the request came, before anything was read.
    since: String,
}

impl Asker {
    fn viewer(&self) -> Viewer<'_> {
        Viewer {
            account: Some(&self.session.account),
            csrf: &self.session.csrf,
            lang: self.lang,
            since: Some(&self.since),
        }
    }

    fn page(&self, title_key: &'static str, body: &Markup) -> Response {
        html(StatusCode::OK, &pages::layout(&self.viewer(), t(self.lang, title_key), body), self.set_lang)
    }

    fn forbidden(&self) -> Response {
        let body = pages::message(self.lang, "forbidden");
        html(StatusCode::FORBIDDEN, &pages::layout(&self.viewer(), t(self.lang, "forbidden"), &body), None)
    }
}

/// Who posted form `f`: a live session whose CSRF token the form carries and whose role
/// may `right` (403 otherwise).
async fn poster(s: &State, headers: &HeaderMap, f: &Params, right: Right) -> Result<Asker, Response> {
    let a = asker(s, headers, &Params::new()).await?;
    if f.get("csrf") != Some(&a.session.csrf) || !a.session.account.role.may(right) {
        return Err(a.forbidden());
    }
    Ok(a)
}

async fn asker(s: &State, headers: &HeaderMap, q: &Params) -> Result<Asker, Response> {
    let session = who(s, headers).await?;
    let (lang, set_lang) = language(headers, q);
    Ok(Asker { session, lang, set_lang, since: s.live.said() })
}

/// A route that takes an `Asker` is answered only for a live session (others go to the
/// login page).
impl axum::extract::FromRequestParts<AppState> for Asker {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, s: &AppState) -> Result<Self, Response> {
        let q = Query::<Params>::try_from_uri(&parts.uri).map(|Query(q)| q).unwrap_or_default();
        asker(s, &parts.headers, &q).await
    }
}
