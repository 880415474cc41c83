//! OpenID Connect, the relying party's rules (pure): the provider's discovery document and
//! keys read strictly, the authorization request (code flow with PKCE, `state` and
//! `nonce`), and the ID token judged before anyone is believed — its signature (RS256 or
//! ES256 with a key the provider publishes; `none` and shared-secret algorithms never),
//! issuer, audience, expiry, issue time and nonce. The HTTP edge is `oidc_http.rs`.
//!
//! Written here on `ring` (already Central's) rather than taken from the `openidconnect`
//! crate: the code flow with PKCE needs a small part of it, and the crate would bring
//! its own RSA and elliptic-curve stacks, a date library and an HTTP client into
//! Central's build for that part.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jiff::{SignedDuration, Timestamp};
use serde_json::{Map, Value};
use sha2::{Digest as _, Sha256};

/// How far the provider's clock may be from Central's.
pub const SKEW: SignedDuration = SignedDuration::from_mins(2);

/// How long ago the person may have authenticated at the provider (`max_age`).
pub const MAX_AGE: SignedDuration = SignedDuration::from_mins(10);

/// Why a provider's answer is not believed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// The discovery document or key set is not what the standard says.
    #[error("the identity provider's {what}: {why}")]
    Provider {
        /// Which document.
        what: &'static str,
        /// What is wrong.
        why: String,
    },
    /// The ID token is refused.
    #[error("the ID token is refused: {0}")]
    Token(String),
}

fn provider(what: &'static str, why: impl Into<String>) -> OidcError {
    OidcError::Provider { what, why: why.into() }
}

fn token(why: impl Into<String>) -> OidcError {
    OidcError::Token(why.into())
}

/// An endpoint's URL is acceptable: HTTPS, or HTTP to this machine only (a provider in a
/// test or the demo).
pub fn endpoint_ok(url: &str) -> bool {
    match url::Url::parse(url) {
        Ok(u) if u.scheme() == "https" => u.host().is_some(),
        Ok(u) if u.scheme() == "http" => match u.host() {
            Some(url::Host::Domain(d)) => d == "localhost",
            Some(url::Host::Ipv4(a)) => a.is_loopback(),
            Some(url::Host::Ipv6(a)) => a.is_loopback(),
            None => false,
        },
        _ => false,
    }
}

/// What Central needs of the provider's discovery document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provider {
    /// Its issuer identifier (exactly as configured).
    pub issuer: String,
    /// Where the browser is sent to sign in.
    pub authorization_endpoint: String,
    /// Where Central exchanges the code.
    pub token_endpoint: String,
    /// Its public keys.
    pub jwks_uri: String,
}

impl Provider {
    /// Reads `/.well-known/openid-configuration`; the issuer must be `expected`.
    pub fn from_discovery(json: &[u8], expected: &str) -> Result<Self, OidcError> {
        let v: Value = serde_json::from_slice(json).map_err(|e| provider("discovery document", e.to_string()))?;
        let field = |name: &str| -> Result<String, OidcError> {
            let s = v
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| provider("discovery document", format!("no {name}")))?;
            Ok(s.to_owned())
        };
        let p = Self {
            issuer: field("issuer")?,
            authorization_endpoint: field("authorization_endpoint")?,
            token_endpoint: field("token_endpoint")?,
            jwks_uri: field("jwks_uri")?,
        };
        if p.issuer != expected {
            return Err(provider("discovery document", format!("issuer {:?}, configured {expected:?}", p.issuer)));
        }
        // Plain HTTP only for a provider on this machine: an HTTPS issuer's endpoints are
        // HTTPS too, so the code and the client secret never travel in clear.
        let issuer_https = p.issuer.starts_with("https://");
        for (name, url) in [
            ("authorization_endpoint", &p.authorization_endpoint),
            ("token_endpoint", &p.token_endpoint),
            ("jwks_uri", &p.jwks_uri),
        ] {
            if !endpoint_ok(url) || (issuer_https && !url.starts_with("https://")) {
                return Err(provider(
                    "discovery document",
                    format!("{name} {url:?}: HTTPS, or HTTP to this machine only"),
                ));
            }
        }
        Ok(p)
    }

    /// The URL the browser is sent to: the code flow with PKCE (S256), `openid` and the
    /// claims Central maps people by.
    pub fn authorization_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
        state: &str,
        nonce: &str,
        verifier: &str,
        acr: Option<&str>,
    ) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(acr) = acr {
            query.append_pair("acr_values", acr);
        }
        let query = query
            .append_pair("response_type", "code")
            .append_pair("client_id", client_id)
            .append_pair("redirect_uri", redirect_uri)
            .append_pair("scope", "openid profile email")
            .append_pair("state", state)
            .append_pair("nonce", nonce)
            .append_pair("code_challenge", &pkce_challenge(verifier))
            .append_pair("code_challenge_method", "S256")
            // A shared phone: the person signs in afresh, never silently as the last one.
            .append_pair("prompt", "login")
            .append_pair("max_age", &MAX_AGE.as_secs().to_string())
            .finish();
        let sep = if self.authorization_endpoint.contains('?') { '&' } else { '?' };
        format!("{}{sep}{query}", self.authorization_endpoint)
    }
}

/// The PKCE challenge of a verifier: base64url(SHA-256(verifier)).
pub fn pkce_challenge(verifier: &str) -> String {
    B64.encode(Sha256::digest(verifier.as_bytes()))
}

/// Random bytes as base64url text (state, nonce, PKCE verifier).
pub fn random_text(bytes: &[u8; 32]) -> String {
    B64.encode(bytes)
}

/// A public key of the provider's.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    /// RSA: modulus and exponent, big-endian.
    Rsa { n: Vec<u8>, e: Vec<u8> },
    /// P-256: `0x04 | x | y`.
    P256(Vec<u8>),
}

/// The provider's signing keys (its JWKS), by `kid`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keys(Vec<(Option<String>, Key)>);

fn b64_field(k: &Value, name: &str) -> Option<Vec<u8>> {
    k.get(name).and_then(Value::as_str).and_then(|s| B64.decode(s).ok())
}

impl Keys {
    /// Reads a JWKS; keys of other kinds or uses are skipped, none at all is an error.
    pub fn from_jwks(json: &[u8]) -> Result<Self, OidcError> {
        let v: Value = serde_json::from_slice(json).map_err(|e| provider("keys", e.to_string()))?;
        let list = v.get("keys").and_then(Value::as_array).ok_or_else(|| provider("keys", "no keys array"))?;
        let mut keys = Vec::new();
        for k in list {
            if k.get("use").and_then(Value::as_str).is_some_and(|u| u != "sig") {
                continue;
            }
            let kid = k.get("kid").and_then(Value::as_str).map(str::to_owned);
            let key = match k.get("kty").and_then(Value::as_str) {
                Some("RSA") => match (b64_field(k, "n"), b64_field(k, "e")) {
                    (Some(n), Some(e)) => Key::Rsa { n, e },
                    _ => continue,
                },
                Some("EC") if k.get("crv").and_then(Value::as_str) == Some("P-256") => {
                    match (b64_field(k, "x"), b64_field(k, "y")) {
                        (Some(x), Some(y)) if x.len() == 32 && y.len() == 32 => {
                            Key::P256([&[4u8][..], &x, &y].concat())
                        }
                        _ => continue,
                    }
                }
                _ => continue,
            };
            keys.push((kid, key));
        }
        if keys.is_empty() {
            return Err(provider("keys", "no RSA or P-256 signing key"));
        }
        Ok(Self(keys))
    }

    /// Whether a key with this id is known (else the set is fetched again once).
    pub fn knows(&self, kid: Option<&str>) -> bool {
        kid.is_none_or(|kid| self.0.iter().any(|(k, _)| k.as_deref() == Some(kid)))
    }
}

/// What the ID token must say.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    /// The provider's issuer.
    pub issuer: &'a str,
    /// Central's client id (the audience).
    pub client_id: &'a str,
    /// The nonce sent with this sign-in.
    pub nonce: &'a str,
    /// The authentication class required (`acr`), if any.
    pub acr: Option<&'a str>,
}

/// The `kid` of a token's header, if it names one.
pub fn key_id(id_token: &str) -> Option<String> {
    let header = id_token.split('.').next()?;
    let v: Value = serde_json::from_slice(&B64.decode(header).ok()?).ok()?;
    v.get("kid").and_then(Value::as_str).map(str::to_owned)
}

/// Judges an ID token at `now`; its claims when every check holds.
pub fn validate(
    id_token: &str,
    keys: &Keys,
    expect: &Expect<'_>,
    now: Timestamp,
) -> Result<Map<String, Value>, OidcError> {
    let parts: Vec<&str> = id_token.split('.').collect();
    let [header, payload, signature] = parts[..] else { return Err(token("not three parts")) };
    let decode = |what: &str, s: &str| B64.decode(s).map_err(|_| token(format!("{what}: not base64url")));
    let h: Value = serde_json::from_slice(&decode("header", header)?).map_err(|_| token("header: not JSON"))?;
    let alg = h.get("alg").and_then(Value::as_str).unwrap_or("");
    let kid = h.get("kid").and_then(Value::as_str);
    let signed = format!("{header}.{payload}");
    let sig = decode("signature", signature)?;
    let candidates = keys.0.iter().filter(|(k, _)| kid.is_none() || k.as_deref() == kid);
    let verified = match alg {
        "RS256" => {
            candidates.filter_map(|(_, k)| if let Key::Rsa { n, e } = k { Some((n, e)) } else { None }).any(|(n, e)| {
                ring::signature::RsaPublicKeyComponents { n, e }
                    .verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &sig)
                    .is_ok()
            })
        }
        "ES256" => candidates.filter_map(|(_, k)| if let Key::P256(p) = k { Some(p) } else { None }).any(|p| {
            ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, p)
                .verify(signed.as_bytes(), &sig)
                .is_ok()
        }),
        other => return Err(token(format!("algorithm {other:?}; RS256 or ES256 expected"))),
    };
    if !verified {
        return Err(token("the signature is not the provider's"));
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(&decode("payload", payload)?).map_err(|_| token("payload: not a JSON object"))?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str);
    let time = |name: &str| claims.get(name).and_then(Value::as_i64).and_then(|s| Timestamp::from_second(s).ok());
    if text("iss") != Some(expect.issuer) {
        return Err(token(format!("issuer {:?}, expected {:?}", text("iss"), expect.issuer)));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&expect.client_id) {
        return Err(token("not issued for this client (aud)"));
    }
    if audiences.len() > 1 && text("azp") != Some(expect.client_id) {
        return Err(token("several audiences and azp is not this client"));
    }
    if claims.get("azp").is_some_and(|a| a.as_str() != Some(expect.client_id)) {
        return Err(token("azp is another client"));
    }
    if matches!(claims.get("aud"), Some(Value::Array(a)) if a.iter().any(|x| !x.is_string())) {
        return Err(token("an audience that is not a string"));
    }
    match time("exp") {
        Some(exp) if exp.checked_add(SKEW).is_ok_and(|e| e > now) => {}
        _ => return Err(token("expired, or no exp")),
    }
    match time("auth_time") {
        Some(at) if now.checked_sub(MAX_AGE + SKEW).is_ok_and(|oldest| at >= oldest) => {}
        _ => return Err(token("the person did not sign in just now (auth_time missing or older than max_age)")),
    }
    if let Some(acr) = expect.acr
        && text("acr") != Some(acr)
    {
        return Err(token(format!("authentication class {:?}, {acr:?} required", text("acr"))));
    }
    match time("iat") {
        Some(iat) if iat <= now + SKEW => {}
        _ => return Err(token("issued in the future, or no iat")),
    }
    if text("nonce") != Some(expect.nonce) {
        return Err(token("the nonce is not this sign-in's (a replayed token)"));
    }
    if text("sub").is_none_or(str::is_empty) {
        return Err(token("no sub"));
    }
    Ok(claims)
}

#[cfg(test)]
#[path = "oidc_tests.rs"]
mod tests;
