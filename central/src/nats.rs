//! The collector on a NATS JetStream cluster: gateways publish over the cluster's MQTT
//! listener unchanged; a replicated stream holds every site's `events` (MQTT topic
//! `portvakt/<site>/events` is subject `portvakt.<site>.events`), and collectors are
//! instances of one durable pull consumer, so any number of them share the work (MQTT
//! shared subscriptions do not work on NATS 2.9). Each message is taken into PostgreSQL,
//! the site's signed acknowledgement is published on `portvakt.<site>.events.ack` (the
//! gateway's `events/ack`), and only then is the message acknowledged to JetStream (and
//! that acknowledgement confirmed): a collector or node that dies mid-way leaves a
//! redelivery, never a hole.

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use ed25519_dalek::SigningKey;
use futures_util::StreamExt as _;

use crate::collector::take_record;
use crate::db::DbError;

/// How long the stream keeps records (for replay by another consumer), and how long a
/// message delivered to a collector may stay unacknowledged before another gets it.
const KEEP: Duration = Duration::from_secs(14 * 24 * 3600);
const ACK_WAIT: Duration = Duration::from_secs(30);

/// Where and how to reach the cluster.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// `nats://host:4222` or `tls://host:4222`; several, separated by `,`.
    pub urls: String,
    /// The cluster's CA (PEM): with it, TLS is required.
    pub ca: Option<PathBuf>,
    /// This collector's client certificate and key (PEM), mapped to its user.
    pub cert: Option<(PathBuf, PathBuf)>,
    /// The first subject token under which gateways publish (`portvakt`).
    pub root: String,
    /// The stream's name.
    pub stream: String,
    /// The durable consumer every collector instance shares.
    pub consumer: String,
    /// The stream's replicas (3 on a three-node cluster).
    pub replicas: usize,
    /// This instance's name (in the server's connection list).
    pub name: String,
}

/// Why collecting stopped.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    /// The database failed (the message stays unacknowledged: JetStream redelivers it).
    #[error("{0}")]
    Db(#[from] DbError),
    /// The cluster could not be reached or refused the stream or consumer.
    #[error("NATS: {0}")]
    Nats(String),
}

fn nats(e: impl std::fmt::Display) -> NatsError {
    NatsError::Nats(e.to_string())
}

/// The site of `<root>.<site>.events`.
pub fn site_of<'a>(root: &str, subject: &'a str) -> Option<&'a str> {
    let site = subject.strip_prefix(root)?.strip_prefix('.')?.strip_suffix(".events")?;
    let plain = !site.is_empty()
        && site.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    plain.then_some(site)
}

/// The stream every site's `events` land in.
pub fn stream_config(c: &Cluster) -> stream::Config {
    stream::Config {
        name: c.stream.clone(),
        subjects: vec![format!("{}.*.events", c.root)],
        num_replicas: c.replicas,
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_age: KEEP,
        ..stream::Config::default()
    }
}

async fn connect(c: &Cluster) -> Result<async_nats::Client, NatsError> {
    let mut o = async_nats::ConnectOptions::new().name(&c.name).retry_on_initial_connect().max_reconnects(None);
    if let Some(ca) = &c.ca {
        o = o.add_root_certificates(ca.clone()).require_tls(true);
    }
    if let Some((cert, key)) = &c.cert {
        o = o.add_client_certificate(cert.clone(), key.clone());
    }
    let urls: Vec<async_nats::ServerAddr> =
        c.urls.split(',').map(|u| u.trim().parse()).collect::<Result<_, _>>().map_err(nats)?;
    o.connect(urls).await.map_err(nats)
}

/// Collects until `stop` resolves or the database fails.
pub async fn run(
    c: &Cluster,
    key: &SigningKey,
    db: &mut tokio_postgres::Client,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), NatsError> {
    let client = connect(c).await?;
    let js = jetstream::new(client.clone());
    // A cluster that has just started has no JetStream leader for a few seconds.
    let mut tries = 0;
    let stream = loop {
        match js.get_or_create_stream(stream_config(c)).await {
            Ok(s) => break s,
            Err(e) if tries < 30 => {
                tries += 1;
                log::info!("stream {}: {e}; asking again in 1 s", c.stream);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(nats(e)),
        }
    };
    let config = consumer::pull::Config {
        durable_name: Some(c.consumer.clone()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        max_ack_pending: 10_000,
        ..consumer::pull::Config::default()
    };
    let consumer = stream.get_or_create_consumer(&c.consumer, config).await.map_err(nats)?;
    let mut messages = consumer.messages().await.map_err(nats)?;
    log::info!("collecting from stream {} as consumer {} ({})", c.stream, c.consumer, c.name);
    tokio::pin!(stop);
    let mut taken: u64 = 0;
    loop {
        let next = tokio::select! {
            () = &mut stop => {
                log::info!("stopping after taking {taken} message(s)");
                return Ok(());
            }
            m = messages.next() => m,
        };
        let message = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                log::warn!("NATS: {e}; going on");
                continue;
            }
            None => return Err(NatsError::Nats("the consumer's message stream ended".into())),
        };
        let Some(site) = site_of(&c.root, &message.subject) else {
            log::warn!("not an events subject, acknowledged and ignored: {}", message.subject);
            let _ = message.ack().await;
            continue;
        };
        let site = site.to_owned();
        if let Some(ack) = take_record(db, key, &site, &message.payload).await? {
            let subject = format!("{}.{site}.events.ack", c.root);
            if let Err(e) = client.publish(subject, ack.into()).await {
                log::warn!("{site}: the acknowledgement was not sent ({e}); the record stays for redelivery");
                continue;
            }
        }
        taken += 1;
        // Only now may JetStream forget it: committed, and acknowledged to the gateway.
        if let Err(e) = message.double_ack().await {
            log::warn!("{site}: JetStream did not confirm the acknowledgement ({e}); it may come again");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_site_is_read_from_the_events_subject_and_anything_else_is_not_a_site() {
        assert_eq!(site_of("portvakt", "portvakt.storgatan-12.events"), Some("storgatan-12"));
        assert_eq!(site_of("portvakt", "portvakt.storgatan-12.events.ack"), None);
        assert_eq!(site_of("portvakt", "portvakt.a.b.events"), None);
        assert_eq!(site_of("portvakt", "other.storgatan-12.events"), None);
        assert_eq!(site_of("portvakt", "portvakt..events"), None);
    }

    #[test]
    fn the_stream_takes_every_sites_events_and_not_their_acknowledgements() {
        let c = Cluster {
            urls: "nats://127.0.0.1:4222".into(),
            ca: None,
            cert: None,
            root: "portvakt".into(),
            stream: "PORTVAKT_EVENTS".into(),
            consumer: "central".into(),
            replicas: 3,
            name: "t".into(),
        };
        let s = stream_config(&c);
        assert_eq!(s.subjects, ["portvakt.*.events"]);
        assert_eq!(s.num_replicas, 3);
    }
}
