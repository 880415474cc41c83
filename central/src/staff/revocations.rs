//! Central, as the issuer the municipality delegated to, blocks a disabled person's shift
//! keys at once (`docs/central.md`, Staff keys). Every few seconds it looks for the
//! certificates of disabled people that are still valid; when they, or the sites Central
//! knows, differ from what it last published, it signs a new issuer's revocation list
//! (type 9, carrying the delegation) and publishes it retained on every site's
//! `<root>/<site>/revocations/<authority>/<delegation id>` (QoS 1, each acknowledged by the
//! broker), then records it; the same list goes out again every 10 minutes, for a broker
//! that lost it. Gateways online drop those certificates at once; one offline takes the
//! retained list when it connects, or the certificate ends with its shift. One Central
//! publishes at a time (an advisory lock).

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use portvakt_wire::revocation::RevocationList;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};
use tokio_postgres::Client;

use super::StaffSide;
use super::issue::Issuer;
use crate::collector::Broker;
use crate::db::{self, DbError};

/// How long a publication may take, connection included.
const PUBLISH_WITHIN: Duration = Duration::from_secs(10);

/// Why a round did not publish.
#[derive(Debug, thiserror::Error)]
pub enum RevocationError {
    /// PostgreSQL failed.
    #[error("{0}")]
    Db(#[from] DbError),
    /// The broker did not take the list.
    #[error("publishing the issuer's revocation list: {0}")]
    Broker(String),
}

impl From<tokio_postgres::Error> for RevocationError {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(DbError::from(e))
    }
}

/// A list that went out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    /// Its sequence.
    pub sequence: u64,
    /// The certificates it revokes.
    pub ids: Vec<String>,
    /// The sites it went to.
    pub sites: Vec<String>,
}

/// The topic of the issuer's list at `site`.
pub fn topic(root: &str, site: &str, issuer: &Issuer) -> String {
    let d = issuer.delegation();
    format!("{root}/{site}/revocations/{}/{}", d.authority, d.id)
}

/// The same list is published again this often, for a broker that lost it.
pub const REPUBLISH: jiff::SignedDuration = jiff::SignedDuration::from_mins(10);

/// One look: publishes a new list when the revoked certificates or the known sites have
/// changed since the last one, the last one again when it is older than [`REPUBLISH`];
/// `None` when nothing was due (or another Central is publishing just now).
pub async fn round(
    client: &Client,
    issuer: &Issuer,
    broker: &Broker,
    now: Timestamp,
) -> Result<Option<Published>, RevocationError> {
    // One publisher at a time, whatever number of Centrals serve.
    let locked: bool =
        client.query_one("SELECT pg_try_advisory_lock(hashtext('staff_revocations'))", &[]).await?.get(0);
    if !locked {
        return Ok(None);
    }
    let result = round_locked(client, issuer, broker, now).await;
    // A lock that cannot be given back is gone with its connection anyway.
    if let Err(e) = client.execute("SELECT pg_advisory_unlock(hashtext('staff_revocations'))", &[]).await {
        log::warn!("staff revocations: the publishing lock: {e}");
    }
    result
}

async fn round_locked(
    client: &Client,
    issuer: &Issuer,
    broker: &Broker,
    now: Timestamp,
) -> Result<Option<Published>, RevocationError> {
    let d = issuer.delegation();
    let at = std::time::SystemTime::from(now);
    let ids: Vec<String> = client
        .query(
            "SELECT c.id FROM staff_certificates c JOIN staff_disabled x ON x.holder = c.holder
             WHERE c.not_after > $1 ORDER BY c.id",
            &[&at],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let sites: Vec<String> =
        client.query("SELECT site FROM sites ORDER BY site", &[]).await?.iter().map(|r| r.get(0)).collect();
    if sites.is_empty() {
        return Ok(None);
    }
    let last = client
        .query_opt(
            "SELECT sequence, ids, sites, body, published_at FROM staff_revocation_lists WHERE delegation = $1",
            &[&d.id],
        )
        .await?;
    let topics: Vec<String> = sites.iter().map(|s| topic(&broker.root, s, issuer)).collect();
    if let Some(row) = &last {
        let (sequence, body, published): (i64, Option<Vec<u8>>, Option<std::time::SystemTime>) =
            (row.get(0), row.get(3), row.get(4));
        let same = row.get::<_, Vec<String>>(1) == ids && row.get::<_, Vec<String>>(2) == sites;
        if same && let (Some(body), Some(published)) = (body, published) {
            let age = now.duration_since(Timestamp::try_from(published).unwrap_or(now));
            if age < REPUBLISH {
                return Ok(None);
            }
            // The same bytes again: a gateway that has them takes them as a replay.
            publish(broker, &topics, &body).await.map_err(RevocationError::Broker)?;
            client
                .execute("UPDATE staff_revocation_lists SET published_at = $2 WHERE delegation = $1", &[&d.id, &at])
                .await?;
            let sequence = u64::try_from(sequence).unwrap_or_default();
            return Ok(Some(Published { sequence, ids, sites }));
        }
    }
    // A new list: its sequence taken first, above every one signed before (published or
    // not) and at least the time in milliseconds. Until it is recorded as published, the
    // last list counts as never published: it is never sent again below this sequence.
    let now_ms = now.as_millisecond();
    let sequence: i64 = client
        .query_one(
            "INSERT INTO staff_revocation_lists (delegation, sequence) VALUES ($1, $2)
             ON CONFLICT (delegation) DO UPDATE
                 SET sequence = greatest(staff_revocation_lists.sequence + 1, excluded.sequence),
                     body = NULL, published_at = NULL
             RETURNING sequence",
            &[&d.id, &now_ms],
        )
        .await?
        .get(0);
    let sequence = u64::try_from(sequence).unwrap_or_default();
    let list = RevocationList {
        authority: d.authority.clone(),
        site: "*".into(),
        sequence,
        issued_at: now,
        ids: ids.clone(),
        keys: Vec::new(),
    };
    let bytes = issuer.revocations(list);
    publish(broker, &topics, &bytes).await.map_err(RevocationError::Broker)?;
    client
        .execute(
            "UPDATE staff_revocation_lists SET ids = $2, sites = $3, body = $4, published_at = $5 WHERE delegation = $1",
            &[&d.id, &ids, &sites, &bytes, &at],
        )
        .await?;
    let detail = format!(
        "issuer's revocation list {sequence} of delegation {}: {} certificate(s) of disabled staff ({}), to {} site(s)",
        d.id,
        ids.len(),
        ids.join(", "),
        sites.len()
    );
    client
        .execute(
            "INSERT INTO console_log (account, action, detail) VALUES (NULL, $2, $1)",
            &[&detail, &crate::console::actions::LogAction::StaffRevocations.code()],
        )
        .await?;
    Ok(Some(Published { sequence, ids, sites }))
}

/// Publishes `bytes` retained on every topic and waits until the broker has acknowledged
/// each.
async fn publish(broker: &Broker, topics: &[String], bytes: &[u8]) -> Result<(), String> {
    // The broker's client id, made unique to this connection (two Centrals never take over
    // each other's session).
    let suffix = crate::console::session::random_bytes().map_err(|e| e.to_string())?;
    let id = format!("{}-{}", broker.client_id, portvakt_wire::hex::encode(&suffix[..4]));
    let mut o = MqttOptions::new(id, broker.host.clone(), broker.port);
    o.set_keep_alive(Duration::from_secs(20));
    o.set_max_packet_size(1 << 20, 1 << 20);
    match &broker.tls {
        Some(tls) => o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls.clone()))),
        None => o.set_transport(Transport::tcp()),
    };
    let (client, mut events) = AsyncClient::new(o, topics.len().max(1) * 2);
    let acked = tokio::time::timeout(PUBLISH_WITHIN, async {
        for t in topics {
            client.publish(t.clone(), QoS::AtLeastOnce, true, bytes.to_vec()).await.map_err(|e| e.to_string())?;
        }
        let mut left = topics.len();
        while left > 0 {
            match events.poll().await {
                Ok(Event::Incoming(Packet::PubAck(_))) => left -= 1,
                Ok(Event::Incoming(Packet::ConnAck(a))) if a.code != rumqttc::ConnectReturnCode::Success => {
                    return Err(format!("the broker refused the connection: {:?}", a.code));
                }
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        Ok(())
    })
    .await
    .unwrap_or_else(|_| Err(format!("not acknowledged within {} s", PUBLISH_WITHIN.as_secs())));
    let _ = client.try_disconnect();
    acked
}

/// Looks every `every` until `stop`: a new list whenever one is due; a failure is logged
/// and the next look tries again (with a new database connection if it was lost).
pub async fn run(
    db_url: String,
    staff: Arc<StaffSide>,
    broker: Broker,
    every: Duration,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut client: Option<Client> = None;
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = &mut stop => return,
            _ = tick.tick() => {}
        }
        if client.as_ref().is_none_or(Client::is_closed) {
            client = match db::connect(&db_url).await {
                Ok(c) => Some(c),
                Err(e) => {
                    log::warn!("staff revocations: {e}");
                    continue;
                }
            };
        }
        let Some(c) = client.as_ref() else { continue };
        match round(c, &staff.issuer, &broker, Timestamp::now()).await {
            Ok(Some(p)) => log::info!(
                "staff revocations: list {} ({} certificate(s)) published to {} site(s)",
                p.sequence,
                p.ids.len(),
                p.sites.len()
            ),
            Ok(None) => {}
            Err(e) => log::warn!("staff revocations: {e} (tried again in {} s)", every.as_secs()),
        }
    }
}
