//! The ID token's checks, each shown to refuse: tokens signed here with an ES256 key made
//! for the test and a fixed RS256 test key (`tests/fixtures/oidc-test-rsa.pk8`).

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::json;

use super::*;

const ISSUER: &str = "https://idp.kommun.example";

fn now() -> Timestamp {
    Timestamp::from_second(1_796_000_000).unwrap_or_default()
}

struct Idp {
    ec: EcdsaKeyPair,
    rsa: RsaKeyPair,
}

impl Idp {
    fn new() -> Self {
        let rng = SystemRandom::new();
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap_or_else(|e| panic!("{e}"));
        let ec = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, doc.as_ref(), &rng)
            .unwrap_or_else(|e| panic!("{e}"));
        let rsa = RsaKeyPair::from_pkcs8(include_bytes!("../../tests/fixtures/oidc-test-rsa.pk8"))
            .unwrap_or_else(|e| panic!("{e}"));
        Self { ec, rsa }
    }

    fn jwks(&self) -> Keys {
        let p = self.ec.public_key().as_ref();
        let rsa = self.rsa.public().modulus_len();
        assert_eq!(rsa, 256);
        let n = self.rsa.public().as_ref();
        // The RSA public key is DER (RSAPublicKey): take n and e from it for the JWK.
        let (modulus, exponent) = der_rsa(n);
        let jwks = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig", "x": B64.encode(&p[1..33]), "y": B64.encode(&p[33..])},
            {"kty": "RSA", "kid": "rsa-1", "n": B64.encode(modulus), "e": B64.encode(exponent)},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"}
        ]});
        Keys::from_jwks(jwks.to_string().as_bytes()).unwrap_or_else(|e| panic!("{e}"))
    }

    fn token(&self, alg: &str, kid: &str, claims: &Value) -> String {
        let header = B64.encode(json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string());
        let payload = B64.encode(claims.to_string());
        let signed = format!("{header}.{payload}");
        let rng = SystemRandom::new();
        let sig = match alg {
            "ES256" => self.ec.sign(&rng, signed.as_bytes()).map(|s| s.as_ref().to_vec()).unwrap_or_default(),
            _ => {
                let mut sig = vec![0; self.rsa.public().modulus_len()];
                self.rsa.sign(&RSA_PKCS1_SHA256, &rng, signed.as_bytes(), &mut sig).unwrap_or_else(|e| panic!("{e}"));
                sig
            }
        };
        format!("{signed}.{}", B64.encode(sig))
    }
}

/// n and e of a DER `RSAPublicKey` (a sequence of two integers), without leading zeros.
fn der_rsa(der: &[u8]) -> (&[u8], &[u8]) {
    fn int(b: &[u8]) -> (&[u8], &[u8]) {
        assert_eq!(b[0], 0x02);
        let (len, rest) = length(&b[1..]);
        let (v, after) = rest.split_at(len);
        (v.strip_prefix(&[0]).unwrap_or(v), after)
    }
    fn length(b: &[u8]) -> (usize, &[u8]) {
        if b[0] < 0x80 {
            return (usize::from(b[0]), &b[1..]);
        }
        let n = usize::from(b[0] & 0x7f);
        (b[1..=n].iter().fold(0, |a, x| a * 256 + usize::from(*x)), &b[1 + n..])
    }
    assert_eq!(der[0], 0x30);
    let (_, body) = length(&der[1..]);
    let (n, rest) = int(body);
    let (e, _) = int(rest);
    (n, e)
}

fn claims() -> Value {
    json!({"iss": ISSUER, "aud": "central", "sub": "19750101-1234", "email": "anna@kommun.se",
           "nonce": "n-1", "iat": 1_796_000_000 - 10, "exp": 1_796_000_000 + 300, "auth_time": 1_796_000_000 - 20,
           "acr": "http://id.elegnamnden.se/loa/1.0/loa3"})
}

fn expect() -> Expect<'static> {
    Expect { issuer: ISSUER, client_id: "central", nonce: "n-1", acr: Some("http://id.elegnamnden.se/loa/1.0/loa3") }
}

#[test]
fn a_token_signed_by_the_provider_with_es256_or_rs256_is_believed() {
    let idp = Idp::new();
    for (alg, kid) in [("ES256", "ec-1"), ("RS256", "rsa-1")] {
        let got = validate(&idp.token(alg, kid, &claims()), &idp.jwks(), &expect(), now());
        assert_eq!(got.map(|c| c["email"].clone()), Ok(json!("anna@kommun.se")), "{alg}");
    }
}

#[test]
fn every_check_of_the_id_token_refuses_what_it_should() {
    let idp = Idp::new();
    let keys = idp.jwks();
    let refused = |t: &str| validate(t, &keys, &expect(), now()).err().map(|e| e.to_string()).unwrap_or_default();
    let with = |k: &str, v: Value| {
        let mut c = claims();
        c[k] = v;
        idp.token("ES256", "ec-1", &c)
    };
    assert!(refused(&with("iss", json!("https://evil.example"))).contains("issuer"));
    assert!(refused(&with("aud", json!("someone-else"))).contains("aud"));
    assert!(refused(&with("aud", json!(["central", "other"]))).contains("azp"));
    assert!(refused(&with("exp", json!(1_796_000_000 - 600))).contains("expired"));
    assert!(refused(&with("iat", json!(1_796_000_000 + 600))).contains("future"));
    assert!(refused(&with("nonce", json!("n-2"))).contains("nonce"));
    assert!(refused(&with("sub", json!(""))).contains("sub"));
    assert!(refused(&with("azp", json!("someone-else"))).contains("azp"));
    assert!(refused(&with("auth_time", json!(1_796_000_000 - 3600))).contains("auth_time"));
    assert!(refused(&with("acr", json!("http://id.elegnamnden.se/loa/1.0/loa2"))).contains("authentication class"));
    // The end of representable time: refused, not a panic adding the skew.
    assert!(refused(&with("exp", json!(253_402_300_799_i64))).contains("expired"));
    // Signed by someone else's key, or tampered with after signing.
    let other = Idp::new();
    assert!(refused(&other.token("ES256", "ec-1", &claims())).contains("signature"));
    let good = idp.token("ES256", "ec-1", &claims());
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[1] = B64.encode(with_email("mallory@evil.example").to_string());
    assert!(refused(&parts.join(".")).contains("signature"));
    // No signature at all, or a shared-secret algorithm: never.
    let none = format!("{}.{}.", B64.encode(r#"{"alg":"none"}"#), B64.encode(claims().to_string()));
    assert!(refused(&none).contains("algorithm"));
    let hs = format!(
        "{}.{}.{}",
        B64.encode(r#"{"alg":"HS256","kid":"hmac"}"#),
        B64.encode(claims().to_string()),
        B64.encode("x")
    );
    assert!(refused(&hs).contains("algorithm"));
    assert!(refused("a.b").contains("three parts"));
}

fn with_email(email: &str) -> Value {
    let mut c = claims();
    c["email"] = json!(email);
    c
}

#[test]
fn the_discovery_document_must_name_the_configured_issuer_and_safe_endpoints() {
    let doc = |issuer: &str, token: &str| {
        json!({"issuer": issuer, "authorization_endpoint": format!("{issuer}/auth"), "token_endpoint": token,
               "jwks_uri": format!("{issuer}/jwks")})
        .to_string()
    };
    let p = Provider::from_discovery(doc(ISSUER, "https://idp.kommun.example/token").as_bytes(), ISSUER);
    assert!(p.is_ok());
    assert!(
        Provider::from_discovery(doc("https://other.example", "https://other.example/t").as_bytes(), ISSUER).is_err()
    );
    let plain = Provider::from_discovery(doc(ISSUER, "http://idp.kommun.example/token").as_bytes(), ISSUER);
    assert!(plain.err().map(|e| e.to_string()).unwrap_or_default().contains("HTTPS"));
    let mixed = Provider::from_discovery(doc(ISSUER, "http://127.0.0.1:9/token").as_bytes(), ISSUER);
    assert!(mixed.is_err(), "an HTTPS provider's token endpoint on plain HTTP, even local");
    let local = "http://127.0.0.1:3000";
    assert!(Provider::from_discovery(doc(local, "http://127.0.0.1:3000/token").as_bytes(), local).is_ok());
}

#[test]
fn the_authorization_request_carries_state_nonce_and_the_pkce_challenge() {
    let p = Provider {
        issuer: ISSUER.into(),
        authorization_endpoint: format!("{ISSUER}/auth"),
        token_endpoint: format!("{ISSUER}/token"),
        jwks_uri: format!("{ISSUER}/jwks"),
    };
    let url = p.authorization_url(
        "central",
        "https://central.example/personal/inloggad",
        "s-1",
        "n-1",
        "verifier",
        Some("loa3"),
    );
    for part in [
        "response_type=code",
        "client_id=central",
        "state=s-1",
        "nonce=n-1",
        "code_challenge_method=S256",
        "prompt=login",
        "max_age=600",
        "acr_values=loa3",
        "redirect_uri=https%3A%2F%2Fcentral.example%2Fpersonal%2Finloggad",
    ] {
        assert!(url.contains(part), "{part} in {url}");
    }
    // RFC 7636, appendix B.
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}
