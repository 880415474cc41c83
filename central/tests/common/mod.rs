//! What the PostgreSQL tests share: a throwaway PostgreSQL with the schema applied, and
//! records of a site's chain as its gateway would publish them (in a run, or the
//! unnamed run).
#![allow(dead_code)]

pub mod http;

use ed25519_dalek::SigningKey;
use portvakt_central::db;
use portvakt_central::demo::postgres::Postgres;
pub use portvakt_wire::chain::GENESIS;
use portvakt_wire::chain::{Fields, chain_hash};
use portvakt_wire::event::{Detail, Epoch, EventMessage};
use portvakt_wire::hex;

/// A throwaway PostgreSQL with the schema applied, and a client of it.
pub struct Pg {
    _cluster: Postgres,
    _dir: tempfile::TempDir,
    pub url: String,
}

pub async fn pg() -> (Pg, tokio_postgres::Client) {
    let dir = tempfile::tempdir().unwrap();
    // PostgreSQL runs as `postgres` when the test runs as root: it must reach its folders.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let cluster = Postgres::throwaway(dir.path()).await.expect("a throwaway PostgreSQL (apt install postgresql)");
    let url = cluster.url.clone();
    let mut client = db::connect(&url).await.unwrap();
    db::migrate(&mut client).await.unwrap();
    (Pg { _cluster: cluster, _dir: dir, url }, client)
}

/// A chain of records of one site, as its gateway would publish them.
pub struct Chain {
    pub prev: [u8; 32],
    pub seq: u64,
    /// The run its records are published in (none: the unnamed run).
    pub epoch: Option<Epoch>,
}

impl Chain {
    pub fn new() -> Self {
        Self { prev: GENESIS, seq: 0, epoch: None }
    }

    /// A new store's chain: its own run, from record 1.
    pub fn in_run(id: &str) -> Self {
        Self { epoch: Some(Epoch { id: id.to_owned(), from: 1 }), ..Self::new() }
    }

    /// The next record's `events` message (its hash over the content, linked).
    pub fn next(&mut self, kind: &str, door: Option<&str>, detail: &str, at_ms: i64) -> Vec<u8> {
        self.seq += 1;
        message_in(self.epoch.as_ref(), self.seq, &mut self.prev, kind, door, detail, at_ms)
    }
}

pub fn message(seq: u64, prev: &mut [u8; 32], kind: &str, door: Option<&str>, detail: &str, at_ms: i64) -> Vec<u8> {
    message_in(None, seq, prev, kind, door, detail, at_ms)
}

pub fn message_in(
    epoch: Option<&Epoch>,
    seq: u64,
    prev: &mut [u8; 32],
    kind: &str,
    door: Option<&str>,
    detail: &str,
    at_ms: i64,
) -> Vec<u8> {
    let fields = Fields { at_ms, trusted: true, kind, door, holder: None, credential: None, detail };
    let hash = chain_hash(prev, seq, &fields);
    let at = jiff::Timestamp::from_millisecond(at_ms).unwrap();
    let bytes = EventMessage {
        epoch,
        format: None,
        audience: None,
        commitment: None,
        personal: None,
        seq,
        at: format!("{at:.3}"),
        trusted: true,
        kind,
        door,
        holder: None,
        credential: None,
        detail: Detail::of(detail),
        prev: hex::encode(prev),
        hash: hex::encode(&hash),
    }
    .to_bytes();
    *prev = hash;
    bytes
}

/// Someone's entry as a format 2 record: the header with `audience`, the commitment to
/// (holder, credential), and the part sealed to `reading` (the audience's public key) if
/// given. Returns the message and the record's hash.
#[allow(clippy::too_many_arguments)]
pub fn entry_v2(
    site: &str,
    seq: u64,
    prev: &mut [u8; 32],
    audience: &str,
    holder: &str,
    credential: &str,
    reading: Option<&[u8; 32]>,
    at_ms: i64,
) -> Vec<u8> {
    use portvakt_wire::chain::{Header, Personal, commitment, header_hash};
    let salt = [u8::try_from(seq % 251).unwrap(); 16];
    let part = Personal { holder: Some(holder), credential: Some(credential) };
    let committed = commitment(&salt, &part);
    let detail = r#"{"kind":"pin","rule":"role"}"#;
    let header = Header {
        at_ms,
        trusted: true,
        kind: "access.granted",
        door: Some("entrance"),
        audience,
        commitment: Some(&committed),
        detail,
    };
    let hash = header_hash(prev, seq, &header);
    let sealed = reading.map(|k| portvakt_wire::personal::seal(k, site, seq, &salt, &part, &[7; 32]).unwrap());
    let at = jiff::Timestamp::from_millisecond(at_ms).unwrap();
    let bytes = EventMessage {
        epoch: None,
        format: Some(2),
        seq,
        at: format!("{at:.3}"),
        trusted: true,
        kind: header.kind,
        door: header.door,
        audience: Some(audience),
        holder: None,
        credential: None,
        commitment: Some(hex::encode(&committed)),
        personal: sealed.map(|b| hex::encode(&b)),
        detail: Detail::of(detail),
        prev: hex::encode(prev),
        hash: hex::encode(&hash),
    }
    .to_bytes();
    *prev = hash;
    bytes
}

pub const NOW_MS: i64 = 1_796_000_000_000;

pub fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

pub async fn count(c: &tokio_postgres::Client, sql: &str) -> i64 {
    c.query_one(sql, &[]).await.unwrap().get(0)
}

/// The collector's keys: `key()` signs; no reading key.
pub fn keys() -> portvakt_central::keys::Keys {
    portvakt_central::keys::Keys { signing: key(), reading: portvakt_central::keys::ReadingKeys::default() }
}

/// Central as kommunen's delegated issuer (key seed 0x49…; kommunen's seed 0x02…): home
/// care at the entrance, certificates up to 12 h, the delegation valid for 30 days.
pub fn issuer(now: jiff::Timestamp) -> portvakt_central::staff::issue::Issuer {
    use jiff::SignedDuration;
    use portvakt_wire::delegation::Delegation;
    use portvakt_wire::envelope::{DocType, seal};
    let key = SigningKey::from_bytes(&[0x49; 32]);
    let d = Delegation {
        authority: "kommunen".into(),
        id: "central-2026".into(),
        issuer: "central".into(),
        issuer_key: key.verifying_key().to_bytes(),
        site: "*".into(),
        roles: vec!["home_care".into()],
        doors: vec!["entrance".into()],
        max_certificate: SignedDuration::from_hours(12),
        not_before: now - SignedDuration::from_hours(24),
        not_after: now + SignedDuration::from_hours(24 * 30),
    };
    let envelope = seal(DocType::Delegation, &d.encode(), &SigningKey::from_bytes(&[2; 32]));
    portvakt_central::staff::issue::Issuer::new(envelope, key).expect("the issuer key is the delegation's")
}

/// The console's options for a test: `db`, loopback on a free port, plain HTTP, nothing else.
pub fn console_options(db: &str) -> portvakt_central::console::Options {
    portvakt_central::console::Options {
        db: db.to_owned(),
        listen: ([127, 0, 0, 1], 0).into(),
        behind_proxy: false,
        tls: None,
        staff: None,
        simulated_door: None,
    }
}
