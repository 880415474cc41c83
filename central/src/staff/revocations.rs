//! Central, as the issuer the municipality delegated to, blocks a disabled person's shift
//! keys at once (`docs/central.md`, Staff keys). Every few seconds it looks for the
//! certificates of disabled people that are still valid; when they, or the sites Central
//! knows, differ from what it last published, it signs a new issuer's revocation list
//! (type 9, carrying the delegation) and publishes it retained on every site's
//! `<root>/<site>/revocations/<authority>/<delegation id>` (QoS 1, each acknowledged by the
//! broker), then records it. Gateways online drop those certificates at once; one offline
//! takes the retained list when it connects, or the certificate ends with its shift.

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

/// One look: publishes a new list when the revoked certificates or the known sites have
/// changed since the last one; `None` when nothing had.
pub async fn round(
    client: &Client,
    issuer: &Issuer,
    broker: &Broker,
    now: Timestamp,
) -> Result<Option<Published>, RevocationError> {
    let d = issuer.delegation();
    let ids: Vec<String> = client
        .query(
            "SELECT c.id FROM staff_certificates c JOIN staff_disabled x ON x.holder = c.holder
             WHERE c.not_after > $1 ORDER BY c.id",
            &[&std::time::SystemTime::from(now)],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let sites: Vec<String> =
        client.query("SELECT site FROM sites ORDER BY site", &[]).await?.iter().map(|r| r.get(0)).collect();
    let last = client
        .query_opt("SELECT sequence, ids, sites FROM staff_revocation_lists WHERE delegation = $1", &[&d.id])
        .await?
        .map(|r| (r.get::<_, i64>(0), r.get::<_, Vec<String>>(1), r.get::<_, Vec<String>>(2)));
    let unchanged = last.as_ref().is_some_and(|(_, i, s)| *i == ids && *s == sites);
    if unchanged || sites.is_empty() {
        return Ok(None);
    }
    let now_ms = u64::try_from(now.as_millisecond()).unwrap_or_default();
    let sequence = last.as_ref().map_or(now_ms, |(s, _, _)| now_ms.max(u64::try_from(*s).unwrap_or_default() + 1));
    let list = RevocationList {
        authority: d.authority.clone(),
        site: "*".into(),
        sequence,
        issued_at: now,
        ids: ids.clone(),
        keys: Vec::new(),
    };
    let bytes = issuer.revocations(list);
    let topics: Vec<String> = sites.iter().map(|s| topic(&broker.root, s, issuer)).collect();
    publish(broker, &topics, &bytes).await.map_err(RevocationError::Broker)?;
    let stored = i64::try_from(sequence).unwrap_or(i64::MAX);
    client
        .execute(
            "INSERT INTO staff_revocation_lists (delegation, sequence, ids, sites) VALUES ($1, $2, $3, $4)
             ON CONFLICT (delegation) DO UPDATE SET sequence = excluded.sequence, ids = excluded.ids,
                 sites = excluded.sites, published_at = now()",
            &[&d.id, &stored, &ids, &sites],
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
        .execute("INSERT INTO console_log (account, action, detail) VALUES (NULL, 'staff_revocations', $1)", &[&detail])
        .await?;
    Ok(Some(Published { sequence, ids, sites }))
}

/// Publishes `bytes` retained on every topic and waits until the broker has acknowledged
/// each.
async fn publish(broker: &Broker, topics: &[String], bytes: &[u8]) -> Result<(), String> {
    let id = format!("portvakt-central-revocations-{}", std::process::id());
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
