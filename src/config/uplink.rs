//! `[uplink]`: the MQTT connection to the municipality. TLS with a client certificate per
//! gateway is the only way out of the building; plain MQTT is accepted only to a loopback
//! broker and only when the config says `allow_plaintext = true` (tests, the demo). The
//! CA, certificate and key are read and checked here, so a bad file refuses the whole
//! configuration (and a reload keeps the old connection).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::SignedDuration;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::fields::duration_within;
use super::problems::Problems;

/// `[uplink]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawUplink {
    broker: Option<String>,
    allow_plaintext: Option<bool>,
    ca_file: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    prefix: Option<String>,
    client_id: Option<String>,
    keep_alive: Option<String>,
    state_interval: Option<String>,
    confirm: Option<String>,
    collector_key: Option<String>,
    max_packet_kib: Option<u32>,
    command_max_age: Option<String>,
}

/// When an event leaves the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfirmOn {
    /// When the broker acknowledges the publish (PUBACK).
    Puback,
    /// Only when the collector acknowledges it on `events/ack`.
    Collector,
}

/// How the connection is secured.
#[derive(Clone)]
pub enum Security {
    /// TLS 1.2/1.3 with the broker's CA and the gateway's certificate.
    Tls {
        /// The rustls client configuration (ring provider), built from the files.
        client: Arc<rustls::ClientConfig>,
        /// SHA-256 over the CA, certificate and key files, to notice a rotation.
        fingerprint: [u8; 32],
    },
    /// Plain MQTT to a loopback broker (explicitly allowed).
    Plaintext,
}

impl std::fmt::Debug for Security {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Tls { .. } => f.write_str("Tls"),
            Self::Plaintext => f.write_str("Plaintext"),
        }
    }
}

impl PartialEq for Security {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Tls { fingerprint: a, .. }, Self::Tls { fingerprint: b, .. }) => a == b,
            (Self::Plaintext, Self::Plaintext) => true,
            _ => false,
        }
    }
}

/// The validated uplink settings.
#[derive(Debug, Clone, PartialEq)]
pub struct UplinkConfig {
    /// The broker's host name (checked against its certificate) or address.
    pub host: String,
    /// The broker's port.
    pub port: u16,
    /// TLS, or plaintext to loopback.
    pub security: Security,
    /// Topic prefix, `portvakt/<site>` unless set.
    pub prefix: String,
    /// MQTT client id, `portvakt-<site>` unless set.
    pub client_id: String,
    /// MQTT keep-alive.
    pub keep_alive: SignedDuration,
    /// The state message is re-published at least this often.
    pub state_every: SignedDuration,
    /// When an event leaves the outbox.
    pub confirm: ConfirmOn,
    /// The collector's Ed25519 public key: `events/ack` must be signed with it (needed
    /// with `confirm = "collector"`).
    pub collector_key: Option<[u8; 32]>,
    /// Largest MQTT packet in and out, in bytes (bundles are the big ones).
    pub max_packet: usize,
    /// A signed command older (or further in the future) than this is refused.
    pub command_max_age: SignedDuration,
}

impl UplinkConfig {
    /// `mqtts://host:port` or `mqtt://host:port`, for messages.
    pub fn url(&self) -> String {
        let scheme = if matches!(self.security, Security::Tls { .. }) { "mqtts" } else { "mqtt" };
        format!("{scheme}://{}:{}", self.host, self.port)
    }

    /// Settings for a plain-MQTT loopback broker (tests and the demo).
    pub fn plaintext(port: u16, site: &str) -> Self {
        Self {
            host: "127.0.0.1".into(),
            port,
            security: Security::Plaintext,
            prefix: format!("portvakt/{site}"),
            client_id: format!("portvakt-{site}"),
            keep_alive: SignedDuration::from_secs(20),
            state_every: SignedDuration::from_mins(5),
            confirm: ConfirmOn::Puback,
            collector_key: None,
            max_packet: 4 << 20,
            command_max_age: SignedDuration::from_mins(5),
        }
    }
}

pub use portvakt_wire::broker::{is_loopback, parse_broker};

fn read(path: Option<&String>, key: &str, base: &Path, p: &mut Problems) -> Option<(PathBuf, Vec<u8>)> {
    let Some(path) = path else {
        p.push(format!("uplink.{key}"), "missing; TLS needs ca_file, cert_file and key_file");
        return None;
    };
    let full = base.join(path);
    match std::fs::read(&full) {
        Ok(bytes) => Some((full, bytes)),
        Err(e) => {
            p.push(format!("uplink.{key}"), format!("cannot read {}: {e}", full.display()));
            None
        }
    }
}

pub use portvakt_wire::tls::tls_client;

fn security(
    raw: &RawUplink,
    tls: bool,
    host: &str,
    base: &Path,
    p: &mut Problems,
    w: &mut Problems,
) -> Option<Security> {
    if !tls {
        let allowed = raw.allow_plaintext == Some(true);
        if !allowed {
            p.push(
                "uplink.broker",
                "plain mqtt:// is refused; use mqtts:// (or, for a loopback test broker, allow_plaintext = true)",
            );
        } else if !is_loopback(host) {
            p.push("uplink.broker", format!("plain MQTT is allowed to a loopback broker only, not to \"{host}\""));
        }
        return (allowed && is_loopback(host)).then_some(Security::Plaintext);
    }
    let ca = read(raw.ca_file.as_ref(), "ca_file", base, p);
    let cert = read(raw.cert_file.as_ref(), "cert_file", base, p);
    let key = read(raw.key_file.as_ref(), "key_file", base, p);
    let ((_, ca), (_, cert), (key_path, key)) = (ca?, cert?, key?);
    let client = tls_client(&ca, &cert, &key).map_err(|e| p.push("uplink", e)).ok()?;
    super::fields::warn_if_readable_by_others(&key_path, "uplink.key_file", w);
    let mut h = Sha256::new();
    for part in [&ca, &cert, &key] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    Some(Security::Tls { client: Arc::new(client), fingerprint: h.finalize().into() })
}

/// Validates `[uplink]`; `None` when the section is absent (no uplink).
pub(super) fn uplink_options(
    raw: Option<&RawUplink>,
    site: &str,
    base: &Path,
    p: &mut Problems,
    w: &mut Problems,
) -> Option<UplinkConfig> {
    let raw = raw?;
    let Some(broker) = raw.broker.as_deref() else {
        p.push("uplink.broker", "missing; write e.g. broker = \"mqtts://mqtt.example.org:8883\"");
        return None;
    };
    let (tls, host, port) = parse_broker(broker).map_err(|e| p.push("uplink.broker", e)).ok()?;
    let prefix = raw.prefix.clone().unwrap_or_else(|| format!("portvakt/{site}"));
    if prefix.is_empty() || prefix.contains(['+', '#']) || prefix.ends_with('/') || prefix.starts_with('/') {
        p.push("uplink.prefix", format!("\"{prefix}\" is not a topic prefix (no wildcards, no leading or trailing /)"));
    }
    let confirm = match raw.confirm.as_deref().unwrap_or("puback") {
        "puback" => ConfirmOn::Puback,
        "collector" => ConfirmOn::Collector,
        other => {
            p.push("uplink.confirm", format!("\"{other}\" is not a choice; use \"puback\" or \"collector\""));
            ConfirmOn::Puback
        }
    };
    let collector_key = raw.collector_key.as_deref().and_then(|k| {
        let key = crate::core::hex::decode32(k);
        if key.is_none() {
            p.push("uplink.collector_key", "an Ed25519 public key is 64 hexadecimal digits (portvakt-admin pubkey)");
        }
        key
    });
    if confirm == ConfirmOn::Collector && raw.collector_key.is_none() {
        p.push(
            "uplink.collector_key",
            "missing: with confirm = \"collector\" acknowledgements must be signed; give the collector's public key",
        );
    }
    let max_kib = raw.max_packet_kib.unwrap_or(4096);
    if !(64..=262_144).contains(&max_kib) {
        p.push("uplink.max_packet_kib", format!("{max_kib} is outside 64 to 262144 (KiB)"));
    }
    let secs = SignedDuration::from_secs;
    let keep_alive = duration_within(raw.keep_alive.as_deref(), secs(20), (secs(5), secs(300)), "uplink.keep_alive", p);
    let state_every =
        duration_within(raw.state_interval.as_deref(), secs(300), (secs(10), secs(86_400)), "uplink.state_interval", p);
    let command_max_age =
        duration_within(raw.command_max_age.as_deref(), secs(300), (secs(10), secs(3600)), "uplink.command_max_age", p);
    let security = security(raw, tls, &host, base, p, w)?;
    Some(UplinkConfig {
        host,
        port,
        security,
        prefix,
        client_id: raw.client_id.clone().unwrap_or_else(|| format!("portvakt-{site}")),
        keep_alive,
        state_every,
        confirm,
        collector_key,
        max_packet: max_kib as usize * 1024,
        command_max_age,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broker_urls_split_into_scheme_host_and_port() {
        assert_eq!(parse_broker("mqtts://mqtt.example.org"), Ok((true, "mqtt.example.org".into(), 8883)));
        assert_eq!(parse_broker("mqtts://mqtt.example.org:9883"), Ok((true, "mqtt.example.org".into(), 9883)));
        assert_eq!(parse_broker("mqtt://127.0.0.1:1884/"), Ok((false, "127.0.0.1".into(), 1884)));
        assert_eq!(parse_broker("mqtt://[::1]:1884"), Ok((false, "::1".into(), 1884)));
        assert!(parse_broker("tcp://x:1").is_err());
        assert!(parse_broker("mqtts://x:notaport").unwrap_err().contains("not a port"));
        assert!(parse_broker("mqtts://").is_err());
    }

    #[test]
    fn plaintext_needs_both_the_flag_and_a_loopback_broker() {
        let base = Path::new("/");
        let mut p = Problems::default();
        let raw = RawUplink { broker: Some("mqtt://127.0.0.1:1883".into()), ..RawUplink::default() };
        assert!(uplink_options(Some(&raw), "s", base, &mut p, &mut Problems::default()).is_none());
        assert!(p.0[0].message.contains("refused"), "{:?}", p.0);

        let mut p = Problems::default();
        let raw = RawUplink {
            broker: Some("mqtt://mqtt.example.org".into()),
            allow_plaintext: Some(true),
            ..RawUplink::default()
        };
        assert!(uplink_options(Some(&raw), "s", base, &mut p, &mut Problems::default()).is_none());
        assert!(p.0[0].message.contains("loopback"), "{:?}", p.0);

        let mut p = Problems::default();
        let raw =
            RawUplink { broker: Some("mqtt://localhost".into()), allow_plaintext: Some(true), ..RawUplink::default() };
        let cfg = uplink_options(Some(&raw), "storgatan-12", base, &mut p, &mut Problems::default()).expect("valid");
        assert!(p.0.is_empty(), "{:?}", p.0);
        assert_eq!(cfg.prefix, "portvakt/storgatan-12");
        assert_eq!(cfg.security, Security::Plaintext);
    }

    #[test]
    fn tls_without_its_files_names_each_missing_key() {
        let mut p = Problems::default();
        let raw = RawUplink { broker: Some("mqtts://broker".into()), ..RawUplink::default() };
        assert!(uplink_options(Some(&raw), "s", Path::new("/"), &mut p, &mut Problems::default()).is_none());
        let paths: Vec<&str> = p.0.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(paths, ["uplink.ca_file", "uplink.cert_file", "uplink.key_file"]);
    }

    #[test]
    fn garbage_certificate_files_are_reported_not_used() {
        assert!(tls_client(b"nope", b"nope", b"nope").unwrap_err().starts_with("ca_file"));
    }
}
