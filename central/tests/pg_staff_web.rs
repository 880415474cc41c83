//! The staff side over HTTP against a real PostgreSQL (run by `scripts/interop.sh`), with
//! an identity provider made for the test (discovery, keys, a token endpoint that checks
//! the PKCE verifier and signs ES256 ID tokens): sign in, the browser's state checked,
//! who is signed in, a nonce, a shift certificate for a proven P-256 key (a delegated
//! certificate the gateway's formats read), the nonce spent once, a disabled person
//! refused, and every step in the console's log. The same flow against a real provider
//! (`oidc-provider`) and a real browser is `tests/browser/staff.test.mjs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, State};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use common::http::{cookie_value, header, http, unchunk};
use common::{count, issuer, pg};
use jiff::{SignedDuration, Timestamp};
use portvakt_central::console;
use portvakt_central::staff::issue::proof_bytes;
use portvakt_central::staff::roster::Roster;
use portvakt_central::staff::{StaffSide, oidc_http, store};
use portvakt_wire::delegation::DelegatedCertificate;
use portvakt_wire::envelope::{DocType, open};
use portvakt_wire::hex;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _};
use serde_json::{Value, json};

const ROSTER: &str = r#"{"authority":"kommunen",
  "teams":[{"id":"team-norr","name":"Hemtjänsten Norr","role":"home_care","doors":["entrance","rubbish"]}],
  "people":[{"login":"anna@kommun.se","holder":"anna","name":"Anna Berg","team":"team-norr"}]}"#;

/// The test's identity provider: what the last authorization request asked for.
#[derive(Default)]
struct Idp {
    base: String,
    nonce: String,
    challenge: String,
    key: Option<Arc<EcdsaKeyPair>>,
}

type Shared = Arc<Mutex<Idp>>;

async fn discovery(State(idp): State<Shared>) -> String {
    let base = idp.lock().unwrap().base.clone();
    json!({"issuer": base, "authorization_endpoint": format!("{base}/auth"), "token_endpoint": format!("{base}/token"),
           "jwks_uri": format!("{base}/jwks")})
    .to_string()
}

async fn jwks(State(idp): State<Shared>) -> String {
    let key = idp.lock().unwrap().key.clone().unwrap();
    let p = key.public_key().as_ref();
    json!({"keys": [{"kty": "EC", "crv": "P-256", "kid": "k1", "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])}]})
        .to_string()
}

async fn token(State(idp): State<Shared>, Form(form): Form<std::collections::HashMap<String, String>>) -> String {
    let idp = idp.lock().unwrap();
    let verifier = form.get("code_verifier").cloned().unwrap_or_default();
    let challenge = B64.encode(<sha2::Sha256 as sha2::Digest>::digest(verifier.as_bytes()));
    if challenge != idp.challenge || form.get("code").map(String::as_str) != Some("code-1") {
        return json!({"error": "invalid_grant"}).to_string();
    }
    let now = Timestamp::now().as_second();
    let claims = json!({"iss": idp.base, "aud": "central", "sub": "sub-anna", "email": "anna@kommun.se",
                        "email_verified": true, "nonce": idp.nonce, "iat": now, "exp": now + 300, "auth_time": now - 5});
    let signed = format!("{}.{}", B64.encode(r#"{"alg":"ES256","kid":"k1"}"#), B64.encode(claims.to_string()));
    let sig = idp.key.as_ref().unwrap().sign(&SystemRandom::new(), signed.as_bytes()).unwrap();
    json!({"id_token": format!("{signed}.{}", B64.encode(sig.as_ref())), "token_type": "Bearer"}).to_string()
}

fn query<'a>(url: &'a str, name: &str) -> &'a str {
    url.split(['?', '&']).find_map(|p| p.strip_prefix(&format!("{name}="))).unwrap()
}

/// A certificate request: a fresh nonce of anna's session, signed with the phone's key.
async fn proven(addr: SocketAddr, session: &str, phone: &EcdsaKeyPair) -> String {
    let (_, _, body) = http(addr, "POST", "/personal/nonce", session, "").await;
    let nonce_hex = serde_json::from_str::<Value>(&unchunk(&body)).unwrap()["nonce"].as_str().unwrap().to_owned();
    let nonce: [u8; 32] = hex::decode(&nonce_hex).unwrap().try_into().unwrap();
    let signature = phone.sign(&SystemRandom::new(), &proof_bytes(&nonce, "anna")).unwrap();
    json!({"key": hex::encode(phone.public_key().as_ref()), "nonce": nonce_hex, "signature": hex::encode(signature.as_ref())})
        .to_string()
}

/// The test's identity provider and the console with its staff side: the console's
/// address, the provider's base URL, what the provider was asked, and the server.
async fn serve_with_staff_side(
    db: &str,
) -> (SocketAddr, String, Shared, tokio::task::JoinHandle<Result<(), console::ConsoleError>>) {
    let rng = SystemRandom::new();
    let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let idp_key = Arc::new(EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng).unwrap());
    let idp: Shared = Arc::new(Mutex::new(Idp { key: Some(idp_key), ..Idp::default() }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    idp.lock().unwrap().base.clone_from(&base);
    let app = axum::Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(discovery))
        .route("/jwks", axum::routing::get(jwks))
        .route("/token", axum::routing::post(token))
        .with_state(idp.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let settings = oidc_http::Settings {
        issuer: base.clone(),
        client_id: "central".into(),
        client_secret: "secret".into(),
        redirect_uri: "http://127.0.0.1/personal/inloggad".into(),
        ca_pem: None,
        acr: None,
    };
    let staff = StaffSide {
        issuer: issuer(Timestamp::now()),
        oidc: oidc_http::Oidc::connect(settings).await.unwrap(),
        login_claim: "email".into(),
        session: SignedDuration::from_hours(10),
    };
    let (ready, bound) = tokio::sync::oneshot::channel();
    let options = console::Options { staff: Some(Arc::new(staff)), ..common::console_options(db) };
    let server = tokio::spawn(console::serve(options, Some(ready)));
    let addr = bound.await.unwrap();

    (addr, base, idp, server)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nurse_signs_in_proves_her_phone_key_and_gets_a_shift_certificate_until_disabled() {
    let (pg, mut c) = pg().await;
    store::replace_roster(&mut c, &Roster::parse(ROSTER.as_bytes()).unwrap()).await.unwrap();

    let rng = SystemRandom::new();
    let (addr, base, idp, server) = serve_with_staff_side(&pg.url).await;

    // Not signed in: 401 in words.
    let (status, _, body) = http(addr, "GET", "/personal/jag", "", "").await;
    assert_eq!(status, 401, "{body}");
    // Sign-in begins: to the provider, with the state in this browser's cookie.
    let (status, head, _) = http(addr, "GET", "/personal/logga-in", "", "").await;
    assert_eq!(status, 303);
    let to = header(&head, "location", "").unwrap().to_owned();
    assert!(to.starts_with(&format!("{base}/auth?")), "{to}");
    let state = query(&to, "state").to_owned();
    let login_cookie = cookie_value(&head, "portvakt_staff_login");
    {
        let mut idp = idp.lock().unwrap();
        idp.nonce = query(&to, "nonce").to_owned();
        idp.challenge = query(&to, "code_challenge").to_owned();
    }
    // The provider's answer in another browser (no state cookie): refused.
    let back = format!("/personal/inloggad?code=code-1&state={state}");
    assert_eq!(http(addr, "GET", &back, "", "").await.0, 403);
    // In this one: a session.
    let (status, head, body) = http(addr, "GET", &back, &login_cookie, "").await;
    assert_eq!(status, 303, "{body}");
    let session = cookie_value(&head, "portvakt_staff");
    // The same answer again: the sign-in was taken.
    assert_eq!(http(addr, "GET", &back, &login_cookie, "").await.0, 403);

    let (status, _, body) = http(addr, "GET", "/personal/jag", &session, "").await;
    let me: Value = serde_json::from_str(&unchunk(&body)).unwrap();
    assert_eq!((status, me["name"].as_str(), me["doors"].clone()), (200, Some("Anna Berg"), json!(["entrance"])));

    // The phone's key: P-256, proven over a fresh nonce.
    let phone_doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let phone = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, phone_doc.as_ref(), &rng).unwrap();
    let ask = proven(addr, &session, &phone).await;
    let (status, _, body) = http(addr, "POST", "/personal/certifikat", &session, &ask).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&unchunk(&body)).unwrap();
    let bytes = hex::decode(answer["certificate"].as_str().unwrap()).unwrap();
    let env = open(&bytes).unwrap();
    assert_eq!(env.doc_type, DocType::DelegatedCertificate);
    let cert = DelegatedCertificate::decode(env.body).unwrap().certificate;
    let key_id: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(phone.public_key().as_ref()).into();
    assert_eq!(
        (cert.holder.as_str(), cert.phone_key, cert.doors.clone()),
        ("anna", key_id, vec!["entrance".to_owned()])
    );
    // It ends with the session (10 h here), not at the delegation's 12 h.
    assert!(cert.not_after <= Timestamp::now() + SignedDuration::from_hours(10), "{}", cert.not_after);
    // The same nonce again: spent.
    assert_eq!(http(addr, "POST", "/personal/certifikat", &session, &ask).await.0, 403);
    // Disabled: no new certificate.
    store::disable(&c, "anna", "lena", Timestamp::now()).await.unwrap();
    let ask = proven(addr, &session, &phone).await;
    assert_eq!(http(addr, "POST", "/personal/certifikat", &session, &ask).await.0, 403);

    // The app itself, and a "could not get in" report into the console's log.
    let (status, head, body) = http(addr, "GET", "/personal", "", "").await;
    assert!(status == 200 && body.contains("Logga in med e-legitimation"), "{status} {head}");
    let (status, head, _) = http(addr, "GET", "/personal/sw.js", "", "").await;
    assert!(status == 200 && header(&head, "service-worker-allowed", "/personal").is_some());
    let note =
        json!({"door": "entrance", "at": Timestamp::now().to_string(), "note": "dörren gick inte upp"}).to_string();
    assert_eq!(http(addr, "POST", "/personal/rapport", &session, &note).await.0, 200);
    assert_eq!(http(addr, "POST", "/personal/rapport", &session, r#"{"door":"entrance"}"#).await.0, 400);
    assert_eq!(http(addr, "POST", "/personal/rapport", "", &note).await.0, 401);
    assert_eq!(count(&c, "SELECT count(*) FROM console_log WHERE action = 'staff_report'").await, 1);

    assert_eq!(count(&c, "SELECT count(*) FROM staff_certificates").await, 1);
    assert_eq!(count(&c, "SELECT count(*) FROM console_log WHERE action = 'staff_sign_in'").await, 1);
    assert_eq!(count(&c, "SELECT count(*) FROM console_log WHERE action = 'staff_certificate'").await, 1);
    assert!(count(&c, "SELECT count(*) FROM console_log WHERE action = 'staff_refused'").await >= 3);
    server.abort();
}
