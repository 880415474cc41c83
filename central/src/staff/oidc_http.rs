//! The identity provider over HTTP: discovery and keys fetched at start (keys again, at
//! most once a minute, when a token names one not yet seen), the code exchanged at the
//! token endpoint (PKCE verifier; the client secret as HTTP Basic). A small HTTP/1.1
//! client on hyper over tokio-rustls: HTTPS, or HTTP to this machine only; every answer
//! bounded in size and time. The rules are `oidc.rs`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::Bytes;
use jiff::Timestamp;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::{Map, Value};

use super::oidc::{Expect, Keys, OidcError, Provider, endpoint_ok, key_id, validate};

/// An answer from the provider must have come within this.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer read from the provider.
pub const MAX_ANSWER: usize = 1 << 20;

/// How Central reaches its identity provider (`serve --oidc-…`).
#[derive(Debug, Clone)]
pub struct Settings {
    /// The issuer URL (discovery at `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    /// Central's client id there.
    pub client_id: String,
    /// Central's client secret there.
    pub client_secret: String,
    /// Where the provider sends the browser back (`https://…/personal/inloggad`).
    pub redirect_uri: String,
    /// Extra trusted CA certificates (PEM) for the provider, beside the system's.
    pub ca_pem: Option<Vec<u8>>,
    /// The authentication class to require (`acr`, say level of assurance 3), if any.
    pub acr: Option<String>,
}

/// A provider that answered at start.
pub struct Oidc {
    settings: Settings,
    tls: Arc<rustls::ClientConfig>,
    provider: Provider,
    keys: tokio::sync::Mutex<(Keys, std::time::Instant)>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Oidc({})", self.settings.issuer)
    }
}

fn net(what: &'static str, why: impl std::fmt::Display) -> OidcError {
    OidcError::Provider { what, why: why.to_string() }
}

fn tls_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig, OidcError> {
    let mut roots = rustls::RootCertStore::empty();
    let system = rustls_native_certs::load_native_certs();
    for c in system.certs {
        let _ = roots.add(c);
    }
    if let Some(pem) = ca_pem {
        for c in CertificateDer::pem_slice_iter(pem) {
            roots.add(c.map_err(|e| net("CA file", e))?).map_err(|e| net("CA file", e))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| net("TLS", e))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// One request: the form sent with POST when given, else a GET; the status and the answer.
async fn request(
    tls: &Arc<rustls::ClientConfig>,
    what: &'static str,
    url: &str,
    form: Option<(String, Option<String>)>,
) -> Result<(u16, Vec<u8>), OidcError> {
    if !endpoint_ok(url) {
        return Err(net(what, format!("{url}: HTTPS, or HTTP to this machine only")));
    }
    let u = url::Url::parse(url).map_err(|e| net(what, e))?;
    let host = u.host_str().unwrap_or_default().to_owned();
    let port = u.port_or_known_default().unwrap_or(443);
    let path = match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    };
    let exchange = async {
        let tcp = tokio::net::TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|e| net(what, format!("{host}:{port}: {e}")))?;
        let authority = u.port().map_or_else(|| host.clone(), |p| format!("{host}:{p}"));
        let mut req = hyper::Request::builder().uri(path).header(hyper::header::HOST, authority);
        let body = match form {
            Some((form, auth)) => {
                req = req.method("POST").header(hyper::header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                if let Some(auth) = auth {
                    req = req.header(hyper::header::AUTHORIZATION, auth);
                }
                form
            }
            None => String::new(),
        };
        let req = req
            .header(hyper::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| net(what, e))?;
        let response = if u.scheme() == "https" {
            let bare = host.trim_start_matches('[').trim_end_matches(']').to_owned();
            let name = ServerName::try_from(bare).map_err(|e| net(what, e))?;
            let stream =
                tokio_rustls::TlsConnector::from(tls.clone()).connect(name, tcp).await.map_err(|e| net(what, e))?;
            send(hyper_util::rt::TokioIo::new(stream), req, what).await?
        } else {
            send(hyper_util::rt::TokioIo::new(tcp), req, what).await?
        };
        let status = response.status().as_u16();
        let bytes = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| net(what, format!("the answer: {e}")))?
            .to_bytes();
        Ok((status, bytes.to_vec()))
    };
    tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| net(what, format!("no answer within {TIMEOUT:?}")))?
}

async fn send<T>(
    io: T,
    req: hyper::Request<Full<Bytes>>,
    what: &'static str,
) -> Result<hyper::Response<hyper::body::Incoming>, OidcError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.map_err(|e| net(what, e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    sender.send_request(req).await.map_err(|e| net(what, e))
}

async fn get_ok(tls: &Arc<rustls::ClientConfig>, what: &'static str, url: &str) -> Result<Vec<u8>, OidcError> {
    match request(tls, what, url, None).await? {
        (200, body) => Ok(body),
        (status, _) => Err(net(what, format!("{url} answered {status}"))),
    }
}

impl Oidc {
    /// Asks the provider for its discovery document and keys.
    pub async fn connect(settings: Settings) -> Result<Self, OidcError> {
        let tls = Arc::new(tls_config(settings.ca_pem.as_deref())?);
        let discovery = format!("{}/.well-known/openid-configuration", settings.issuer.trim_end_matches('/'));
        let provider =
            Provider::from_discovery(&get_ok(&tls, "discovery document", &discovery).await?, &settings.issuer)?;
        let keys = Keys::from_jwks(&get_ok(&tls, "keys", &provider.jwks_uri).await?)?;
        Ok(Self { settings, tls, provider, keys: tokio::sync::Mutex::new((keys, std::time::Instant::now())) })
    }

    /// Where to send the browser to sign in.
    pub fn authorization_url(&self, state: &str, nonce: &str, verifier: &str) -> String {
        let (client, back, acr) = (&self.settings.client_id, &self.settings.redirect_uri, self.settings.acr.as_deref());
        self.provider.authorization_url(client, back, state, nonce, verifier, acr)
    }

    /// Exchanges the code and judges the ID token; the claims of a sign-in that holds.
    pub async fn sign_in(&self, code: &str, verifier: &str, nonce: &str) -> Result<Map<String, Value>, OidcError> {
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.settings.redirect_uri)
            .append_pair("code_verifier", verifier)
            .finish();
        // client_secret_basic: both parts form-encoded, then base64 (RFC 6749, 2.3.1).
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(&self.settings.client_id),
            enc(&self.settings.client_secret)
        ));
        let (status, body) = request(
            &self.tls,
            "token endpoint",
            &self.provider.token_endpoint,
            Some((form, Some(format!("Basic {basic}")))),
        )
        .await?;
        let answer: Value = serde_json::from_slice(&body).map_err(|e| net("token endpoint", e))?;
        if status != 200 {
            let error = answer.get("error").and_then(Value::as_str).unwrap_or("?");
            return Err(net("token endpoint", format!("answered {status}: {error}")));
        }
        let id_token =
            answer.get("id_token").and_then(Value::as_str).ok_or_else(|| net("token endpoint", "no id_token"))?;
        let expect = Expect {
            issuer: &self.provider.issuer,
            client_id: &self.settings.client_id,
            nonce,
            acr: self.settings.acr.as_deref(),
        };
        let mut keys = self.keys.lock().await;
        // A key not seen yet (the provider rotated): fetched again, at most once a minute.
        if !keys.0.knows(key_id(id_token).as_deref()) && keys.1.elapsed() > Duration::from_secs(60) {
            let fresh = Keys::from_jwks(&get_ok(&self.tls, "keys", &self.provider.jwks_uri).await?)?;
            *keys = (fresh, std::time::Instant::now());
        }
        validate(id_token, &keys.0, &expect, Timestamp::now())
    }
}
