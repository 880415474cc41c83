//! The staff side's routes under `/personal`: signing in at the identity provider and
//! back, who is signed in and their doors, a fresh nonce, and the shift certificate for
//! a key the phone proves it holds. Every sign-in, refusal and certificate is in the
//! console's log. Answers are JSON (the staff app's) except the redirects. 404 when
//! Central runs without the staff side.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State as Shared};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{AppState, Params, address, cookie, record};
use crate::console::actions::LogAction;
use crate::console::session::random_bytes;
use crate::staff::issue::Request;
use crate::staff::oidc::random_text;
use crate::staff::{StaffSide, store};

/// The staff session's cookie.
pub const SESSION: &str = "portvakt_staff";
/// The cookie binding a sign-in under way to the browser that began it.
const LOGIN: &str = "portvakt_staff_login";

pub(super) fn json_answer(status: StatusCode, v: &Value) -> Response {
    let mut r = (status, [(header::CONTENT_TYPE, "application/json")], v.to_string()).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn refused(status: StatusCode, sv: &str, en: &str) -> Response {
    json_answer(status, &json!({ "error": { "sv": sv, "en": en } }))
}

fn side(s: &AppState) -> Option<&StaffSide> {
    s.staff.as_deref()
}

fn unavailable(e: &impl std::fmt::Display) -> Response {
    log::error!("staff: {e}");
    refused(
        StatusCode::SERVICE_UNAVAILABLE,
        "Tjänsten svarar inte just nu; försök igen",
        "The service is not answering; try again",
    )
}

fn set_cookie(r: &mut Response, s: &AppState, value: &str) {
    let secure = if s.secure { "; Secure" } else { "" };
    if let Ok(v) = HeaderValue::from_str(&format!("{value}; Path=/personal; HttpOnly{secure}")) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

fn random() -> Option<String> {
    random_bytes().ok().map(|b| random_text(&b))
}

/// `GET /personal/logga-in`: to the identity provider, with a new state, nonce and PKCE
/// verifier; the state also in a cookie, so only this browser can finish the sign-in.
pub(super) async fn begin(Shared(s): Shared<AppState>) -> Response {
    let Some(side) = side(&s) else { return StatusCode::NOT_FOUND.into_response() };
    let (Some(state), Some(nonce), Some(verifier)) = (random(), random(), random()) else {
        return unavailable(&"no randomness");
    };
    let stored = match s.db.get().await {
        Ok(db) => store::begin_login(&db, &state, &nonce, &verifier, Timestamp::now()).await,
        Err(e) => Err(e),
    };
    match stored {
        Ok(true) => {}
        Ok(false) => {
            return refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "För många inloggningar pågår; försök om en stund",
                "Too many sign-ins under way; try again shortly",
            );
        }
        Err(e) => return unavailable(&e),
    }
    let mut r = Redirect::to(&side.oidc.authorization_url(&state, &nonce, &verifier)).into_response();
    // Lax: the provider's redirect back is a top-level navigation from its site.
    set_cookie(&mut r, &s, &format!("{LOGIN}={state}; SameSite=Lax; Max-Age=600"));
    r
}

/// `GET /personal/inloggad`: the provider's answer. The state must be this browser's and
/// still open; the code is exchanged and the ID token judged; the person must be in the
/// roster and not disabled. Then a session for a shift.
pub(super) async fn finish(
    Shared(s): Shared<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(q): Query<Params>,
) -> Response {
    let Some(side) = side(&s) else { return StatusCode::NOT_FOUND.into_response() };
    let from = address(&s, &headers, peer);
    let refuse = |why: &'static str, sv: &'static str, en: &'static str| {
        let s = s.clone();
        let from = from.clone();
        async move {
            let _ = record(&s, None, LogAction::StaffRefused, why, &from).await;
            refused(StatusCode::FORBIDDEN, sv, en)
        }
    };
    let (Some(state), Some(code)) = (q.get("state"), q.get("code")) else {
        return refuse("the provider sent no code", "Inloggningen avbröts", "The sign-in was cancelled").await;
    };
    if cookie(&headers, LOGIN) != Some(state.as_str()) {
        return refuse("a sign-in begun in another browser", "Börja inloggningen igen", "Begin the sign-in again")
            .await;
    }
    let now = Timestamp::now();
    let db = match s.db.get().await {
        Ok(db) => db,
        Err(e) => return unavailable(&e),
    };
    let (nonce, verifier) = match store::take_login(&db, state, now).await {
        Ok(Some(found)) => found,
        Ok(None) => {
            return refuse("a sign-in taken already or too old", "Börja inloggningen igen", "Begin the sign-in again")
                .await;
        }
        Err(e) => return unavailable(&e),
    };
    let claims = match side.oidc.sign_in(code, &verifier, &nonce).await {
        Ok(c) => c,
        Err(e) => {
            log::warn!("staff: a sign-in refused: {e}");
            let _ = record(&s, None, LogAction::StaffRefused, &e.to_string(), &from).await;
            return refused(StatusCode::FORBIDDEN, "Inloggningen godtogs inte", "The sign-in was not accepted");
        }
    };
    // An e-mail address names a person only when the provider vouches for it.
    if side.login_claim == "email" && claims.get("email_verified").and_then(Value::as_bool) != Some(true) {
        return refuse(
            "the e-mail address is not verified by the provider",
            "Inloggningen saknar en bekräftad e-postadress",
            "The sign-in has no verified e-mail address",
        )
        .await;
    }
    let Some(login) = claims.get(&side.login_claim).and_then(Value::as_str) else {
        return refuse(
            "the ID token lacks the login claim",
            "Inloggningen saknar uppgift om vem du är",
            "The sign-in does not say who you are",
        )
        .await;
    };
    let found = match store::person(&db, login).await {
        Ok(found) => found,
        Err(e) => return unavailable(&e),
    };
    let Some((person, _, enabled)) = found else {
        let _ = record(&s, None, LogAction::StaffRefused, &format!("{login}: not in the roster"), &from).await;
        return refused(StatusCode::FORBIDDEN, "Du finns inte i personallistan", "You are not on the staff roster");
    };
    if !enabled {
        let _ = record(&s, Some(&format!("staff:{}", person.holder)), LogAction::StaffRefused, "disabled", &from).await;
        return refused(StatusCode::FORBIDDEN, "Ditt konto är spärrat", "Your account is blocked");
    }
    let Some(token) = random() else { return unavailable(&"no randomness") };
    if let Err(e) = store::start_session(&db, &token, &person.holder, login, now, now + side.session).await {
        return unavailable(&e);
    }
    let _ = record(&s, Some(&format!("staff:{}", person.holder)), LogAction::StaffSignIn, login, &from).await;
    let mut r = Redirect::to("/personal").into_response();
    let seconds = side.session.as_secs();
    set_cookie(&mut r, &s, &format!("{SESSION}={token}; SameSite=Strict; Max-Age={seconds}"));
    set_cookie(&mut r, &s, &format!("{LOGIN}=; SameSite=Lax; Max-Age=0"));
    r
}

/// The person behind the staff session, with their team and whether they are enabled.
async fn signed_in(s: &AppState, headers: &HeaderMap) -> Result<SignedIn, Response> {
    let not_in = || refused(StatusCode::UNAUTHORIZED, "Logga in igen", "Sign in again");
    let token = cookie(headers, SESSION).ok_or_else(not_in)?;
    let db = s.db.get().await.map_err(|e| unavailable(&e))?;
    let (login, ends) =
        store::session(&db, token, Timestamp::now()).await.map_err(|e| unavailable(&e))?.ok_or_else(not_in)?;
    let (person, team, enabled) = store::person(&db, &login).await.map_err(|e| unavailable(&e))?.ok_or_else(not_in)?;
    Ok(SignedIn { person, team, enabled, ends })
}

/// The person behind a staff session: their team, whether enabled, when the session ends.
struct SignedIn {
    person: crate::staff::roster::Person,
    team: crate::staff::roster::Team,
    enabled: bool,
    ends: Timestamp,
}

/// `GET /personal/jag`: who is signed in, their team and its doors (those delegated).
pub(super) async fn me(Shared(s): Shared<AppState>, headers: HeaderMap) -> Response {
    let Some(side) = side(&s) else { return StatusCode::NOT_FOUND.into_response() };
    match signed_in(&s, &headers).await {
        Ok(SignedIn { person, team, enabled, .. }) => {
            let doors = side.issuer.doors_of(&team);
            let names = match s.db.get().await {
                Ok(db) => store::door_names(&db, &doors).await,
                Err(e) => Err(e),
            };
            let names = match names {
                Ok(n) => n,
                Err(e) => return unavailable(&e),
            };
            json_answer(
                StatusCode::OK,
                &json!({ "holder": person.holder, "name": person.name, "team": team.id, "team_name": team.name,
                         "doors": doors, "door_names": names, "enabled": enabled,
                         "simulated_door": s.simulated_door.is_some() }),
            )
        }
        Err(r) => r,
    }
}

/// `POST /personal/nonce`: a fresh nonce for the phone to sign with its key.
pub(super) async fn nonce(Shared(s): Shared<AppState>, headers: HeaderMap) -> Response {
    if side(&s).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let person = match signed_in(&s, &headers).await {
        Ok(found) => found.person,
        Err(r) => return r,
    };
    let Ok(nonce) = random_bytes() else { return unavailable(&"no randomness") };
    let kept = match s.db.get().await {
        Ok(db) => store::new_nonce(&db, &person.holder, &nonce, Timestamp::now()).await,
        Err(e) => Err(e),
    };
    match kept {
        Ok(()) => json_answer(
            StatusCode::OK,
            &json!({ "nonce": portvakt_wire::hex::encode(&nonce), "holder": person.holder }),
        ),
        Err(e) => unavailable(&e),
    }
}

/// What `POST /personal/certifikat` asks: the key, the nonce, the proof and the shift's end.
type Asked = (portvakt_wire::phone_key::PhonePublicKey, [u8; 32], [u8; 64], Option<Timestamp>);

/// The request body of `POST /personal/certifikat`, read strictly.
fn read_request(body: &[u8]) -> Option<Asked> {
    let v: Value = serde_json::from_slice(body).ok()?;
    let hex = |name: &str| v.get(name).and_then(Value::as_str).and_then(portvakt_wire::hex::decode);
    let key = hex("key")?;
    let key = match key.len() {
        32 => portvakt_wire::phone_key::PhonePublicKey::Ed25519(key.try_into().ok()?),
        _ => portvakt_wire::phone_key::PhonePublicKey::p256(&key)?,
    };
    let nonce: [u8; 32] = hex("nonce")?.try_into().ok()?;
    let signature: [u8; 64] = hex("signature")?.try_into().ok()?;
    let shift_end = match v.get("shift_end") {
        None | Some(Value::Null) => None,
        Some(t) => Some(t.as_str()?.parse().ok()?),
    };
    Some((key, nonce, signature, shift_end))
}

/// `POST /personal/certifikat`: the shift certificate for a key the phone proves it holds
/// (a signature over a nonce of this session's person), recorded before it is handed out.
pub(super) async fn certificate(
    Shared(s): Shared<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(side) = side(&s) else { return StatusCode::NOT_FOUND.into_response() };
    let SignedIn { person, team, enabled, ends } = match signed_in(&s, &headers).await {
        Ok(found) => found,
        Err(r) => return r,
    };
    let from = address(&s, &headers, peer);
    let account = format!("staff:{}", person.holder);
    let Some((key, nonce, signature, shift_end)) = read_request(&body) else {
        return refused(StatusCode::BAD_REQUEST, "Felaktig begäran", "A malformed request");
    };
    let now = Timestamp::now();
    let db = match s.db.get().await {
        Ok(db) => db,
        Err(e) => return unavailable(&e),
    };
    match store::spend_nonce(&db, &person.holder, &nonce, now).await {
        Ok(true) => {}
        Ok(false) => {
            let _ =
                record(&s, Some(&account), LogAction::StaffRefused, "a nonce spent, foreign or too old", &from).await;
            return refused(StatusCode::FORBIDDEN, "Försök igen", "Try again");
        }
        Err(e) => return unavailable(&e),
    }
    let Ok(id) = random_bytes() else { return unavailable(&"no randomness") };
    let id = format!("shift-{}", portvakt_wire::hex::encode(&id[..8]));
    // Never past the session: a certificate ends with the shift it was signed in for.
    let shift_end = Some(shift_end.map_or(ends, |e| e.min(ends)));
    let r = Request { person: &person, team: &team, enabled, key, nonce, signature, shift_end };
    let (bytes, cert) = match side.issuer.shift_certificate(&r, id, now) {
        Ok(issued) => issued,
        Err(e) => {
            let _ = record(&s, Some(&account), LogAction::StaffRefused, &e.to_string(), &from).await;
            return refused(StatusCode::FORBIDDEN, "Inget passerkort kunde utfärdas", "No key could be issued");
        }
    };
    match store::record(&db, &store::Issued { cert: &cert, team: &team.id, key_kind: key.kind() }).await {
        Ok(true) => {}
        // Disabled in the meantime: the certificate is never handed out.
        Ok(false) => {
            let _ =
                record(&s, Some(&account), LogAction::StaffRefused, "disabled while the certificate was made", &from)
                    .await;
            return refused(StatusCode::FORBIDDEN, "Ditt konto är spärrat", "Your account is blocked");
        }
        Err(e) => return unavailable(&e),
    }
    let said = format!("{} for {} until {}", cert.id, cert.doors.join(", "), cert.not_after);
    let _ = record(&s, Some(&account), LogAction::StaffCertificate, &said, &from).await;
    json_answer(
        StatusCode::OK,
        &json!({ "certificate": portvakt_wire::hex::encode(&bytes), "id": cert.id, "not_after": cert.not_after.to_string(),
                 "doors": cert.doors, "holder": cert.holder }),
    )
}

/// `POST /personal/logga-ut`: ends the staff session.
pub(super) async fn sign_out(Shared(s): Shared<AppState>, headers: HeaderMap) -> Response {
    if let (Some(token), Ok(db)) = (cookie(&headers, SESSION), s.db.get().await) {
        let _ = store::end_session(&db, token).await;
    }
    let mut r = json_answer(StatusCode::OK, &json!({ "signed_out": true }));
    set_cookie(&mut r, &s, &format!("{SESSION}=; SameSite=Strict; Max-Age=0"));
    r
}

/// `POST /personal/rapport`: "could not get in" — the door, when, and what happened in the
/// person's words, into the console's log for the team leader (queued on the phone until
/// there was coverage).
pub(super) async fn report(
    Shared(s): Shared<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if side(&s).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let person = match signed_in(&s, &headers).await {
        Ok(found) => found.person,
        Err(r) => return r,
    };
    let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |k: &str, most: usize| {
        // No control or format characters (a right-to-left override would turn the log's text).
        v.get(k).and_then(Value::as_str).filter(|t| {
            t.chars().count() <= most && !t.chars().any(|c| c.is_control() || ('\u{200b}'..='\u{206f}').contains(&c))
        })
    };
    let (Some(door), Some(at)) = (text("door", 64), text("at", 40).and_then(|t| t.parse::<Timestamp>().ok())) else {
        return refused(StatusCode::BAD_REQUEST, "Felaktig rapport", "A malformed report");
    };
    let note = text("note", 500).unwrap_or_default();
    let from = address(&s, &headers, peer);
    let said = format!("could not get in at {door} ({at}): {note}");
    match record(&s, Some(&format!("staff:{}", person.holder)), LogAction::StaffReport, &said, &from).await {
        Ok(()) => json_answer(StatusCode::OK, &json!({ "reported": true })),
        Err(e) => unavailable(&e),
    }
}

/// The staff app's files (`assets/staff/`), built into the binary.
pub(super) fn app_file(name: &str) -> Response {
    let (kind, body) = match name {
        "app.js" => ("text/javascript", include_str!("../../../assets/staff/app.js")),
        "protocol.js" => ("text/javascript", include_str!("../../../assets/staff/protocol.js")),
        "store.js" => ("text/javascript", include_str!("../../../assets/staff/store.js")),
        "sw.js" => ("text/javascript", include_str!("../../../assets/staff/sw.js")),
        "app.css" => ("text/css", include_str!("../../../assets/staff/app.css")),
        "manifest.webmanifest" => {
            ("application/manifest+json", include_str!("../../../assets/staff/manifest.webmanifest"))
        }
        "icon.svg" => ("image/svg+xml", include_str!("../../../assets/staff/icon.svg")),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let mut r = ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "no-cache")], body).into_response();
    // The service worker's scope is the app's, `/personal` with its pages below.
    r.headers_mut().insert("service-worker-allowed", HeaderValue::from_static("/personal"));
    r.headers_mut().insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    r
}

/// `GET /personal`: the staff app (404 without the staff side).
pub(super) async fn app_page(Shared(s): Shared<AppState>) -> Response {
    if side(&s).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    let page = maud::PreEscaped(include_str!("../../../assets/staff/index.html").to_owned());
    super::html(StatusCode::OK, &page, None)
}
