//! The collector on a NATS JetStream cluster: gateways publish over the cluster's MQTT
//! listener unchanged; a replicated stream holds every site's `events` (MQTT topic
//! `portvakt/<site>/events` is subject `portvakt.<site>.events`), and collectors are
//! instances of one durable pull consumer, so any number of them share the work (MQTT
//! shared subscriptions do not work on NATS 2.9). Each message is taken into PostgreSQL,
//! the site's signed acknowledgement is published on `portvakt.<site>.events.ack` (the
//! gateway's `events/ack`), and only then is the message acknowledged to JetStream: a
//! collector or node that dies mid-way leaves a redelivery, never a hole.
//!
//! - In a backlog (at least 100 messages taken and more already waiting), the answers of
//!   several batches are held up to 250 ms and only each run's newest is signed and sent
//!   ([`crate::acks`]); otherwise they go at once. A lost database NAKs the batch and
//!   every message already delivered here, so they come again at once.
//! - The acknowledgements to JetStream are not waited for: a confirmed one would cost the
//!   cluster a subscription and a reply more each, and a lost one costs only a redelivery,
//!   taken again as a duplicate. They are flushed before the collector stops.
//! - A second stream keeps the last `status`, `state` and door state of each gateway for
//!   the fleet's state (`fleet`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use async_nats::jetstream::consumer::pull::MessagesError;
use async_nats::jetstream::{self, consumer, stream};
use futures_util::{FutureExt as _, StreamExt as _};
use portvakt_wire::ack::{AckBody, seal};

use crate::acks::Held;
use crate::alarms::Rules;
use crate::collector::{BATCH, take_records};
use crate::db::DbError;
use crate::fleet::{self, Observation};
use crate::topics::{Topic, classify, state_filters};

/// How long the stream keeps records (for replay by another consumer).
const KEEP: Duration = Duration::from_secs(14 * 24 * 3600);

/// How long a message delivered to a collector may stay unacknowledged before another gets
/// it: what a collector that died had been delivered waits this long. A batch takes a
/// fraction of a second (held answers at most 250 ms more); one slower than this is taken
/// again by the other collector as a duplicate, which costs work, never a record.
const ACK_WAIT: Duration = Duration::from_secs(10);

/// How often the cluster says a pull request is alive while it has nothing to deliver.
const HEARTBEAT: Duration = Duration::from_secs(15);

/// The stream of fleet state beside the events: each gateway's `status`, `state` and door
/// states, the last message per subject kept (NATS's own retained messages).
pub fn state_stream_config(c: &Cluster) -> stream::Config {
    stream::Config {
        name: format!("{}_STATE", c.stream),
        subjects: state_filters(&c.root, '.', "*"),
        num_replicas: c.replicas,
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        max_messages_per_subject: 1,
        ..stream::Config::default()
    }
}

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
    keys: &crate::keys::Keys,
    db: &mut tokio_postgres::Client,
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), NatsError> {
    let prepared = crate::db::Prepared::on(db).await?;
    let client = connect(c).await?;
    let js = jetstream::new(client.clone());
    let events = consumer_of(&js, stream_config(c), &c.consumer).await?;
    let states = consumer_of(&js, state_stream_config(c), &format!("{}-state", c.consumer)).await?;
    // As many messages asked for at a time as one transaction takes.
    let mut messages =
        events.stream().max_messages_per_batch(BATCH).heartbeat(HEARTBEAT).messages().await.map_err(nats)?;
    let mut state_messages = states.messages().await.map_err(nats)?;
    log::info!("collecting from streams {0} and {0}_STATE as consumer {1} ({2})", c.stream, c.consumer, c.name);
    tokio::pin!(stop);
    let mut taken: u64 = 0;
    let rules = Rules::default();
    let mut held: Held<jetstream::Message> = Held::default();
    // A message taken while looking whether one was already waiting.
    let mut early: Option<Result<jetstream::Message, MessagesError>> = None;
    loop {
        if !held.is_empty() {
            if early.is_none() {
                match messages.next().now_or_never() {
                    Some(Some(m)) => early = Some(m),
                    Some(None) => {
                        answer(c, keys, &client, &mut held).await;
                        flushed(&client).await;
                        return Err(NatsError::Nats("a consumer's message stream ended".into()));
                    }
                    None => {}
                }
            }
            // Sent when nothing more waits, or once held long enough.
            if early.is_none() || held.due(Instant::now()) {
                taken += answer(c, keys, &client, &mut held).await;
            }
        }
        let next = tokio::select! {
            () = &mut stop => {
                taken += answer(c, keys, &client, &mut held).await;
                flushed(&client).await;
                log::info!("stopping after taking {taken} message(s)");
                return Ok(());
            }
            m = state_messages.next() => m,
            m = async { match early.take() { Some(m) => Some(m), None => messages.next().await } } => m,
        };
        let message = match next {
            Some(Ok(m)) => m,
            Some(Err(e)) => {
                log::warn!("NATS: {e}; going on");
                continue;
            }
            None => {
                answer(c, keys, &client, &mut held).await;
                flushed(&client).await;
                return Err(NatsError::Nats("a consumer's message stream ended".into()));
            }
        };
        // Records that have already arrived are taken in with it, in one transaction.
        let mut batch = vec![message];
        while batch.len() < BATCH {
            match messages.next().now_or_never() {
                Some(Some(Ok(m))) => batch.push(m),
                _ => break,
            }
        }
        let now = jiff::Timestamp::now();
        match take_batch(c, keys, db, &prepared, &batch, now, &rules).await {
            Ok(acks) => held.add(acks, batch, Instant::now()),
            Err(e) => {
                // What was committed before is answered; this batch comes again.
                answer(c, keys, &client, &mut held).await;
                // A lost database: what this batch held comes again as soon as a collector
                // asks, not after JetStream's acknowledgement wait, so records held up by
                // it flow again within moments of its return. Any other failure waits for
                // the acknowledgement wait (no hot loop on a batch that fails again).
                if e.is_connection_lost() || db.is_closed() {
                    give_back(batch, early.take(), &mut messages).await;
                }
                flushed(&client).await;
                return Err(e.into());
            }
        }
    }
}

/// NAKs a batch the lost database held, with every message already delivered here, so
/// they come again as soon as a collector asks, not after the acknowledgement wait.
async fn give_back(
    mut batch: Vec<jetstream::Message>,
    early: Option<Result<jetstream::Message, MessagesError>>,
    messages: &mut consumer::pull::Stream,
) {
    batch.extend(early.and_then(Result::ok));
    while let Some(Some(Ok(m))) = messages.next().now_or_never() {
        batch.push(m);
        if batch.len() >= 2 * BATCH {
            break;
        }
    }
    let naks = batch.iter().map(|m| m.ack_with(jetstream::AckKind::Nak(None)));
    for r in futures_util::future::join_all(naks).await {
        if let Err(n) = r {
            log::warn!(
                "NATS: a batch held by the lost database was not NAKed ({n}); it comes again after the acknowledgement wait"
            );
        }
    }
}

/// Sends what the connection has queued (acknowledgements, NAKs) before it is left.
async fn flushed(client: &async_nats::Client) {
    if let Err(e) = client.flush().await {
        log::warn!("NATS: the last acknowledgements were not flushed ({e}); those messages come again");
    }
}

/// Sends what is held: each run's newest acknowledgement, signed, to its gateway; then, for
/// every message whose gateway's acknowledgement went out, the acknowledgement to
/// JetStream (only now may it forget them: committed, and acknowledged to the gateways).
/// A message of a site whose acknowledgement could not be sent stays for redelivery.
/// Returns how many records were acknowledged.
async fn answer(
    c: &Cluster,
    keys: &crate::keys::Keys,
    client: &async_nats::Client,
    held: &mut Held<jetstream::Message>,
) -> u64 {
    let (acks, messages) = held.take();
    log::debug!("answering {} message(s) with {} acknowledgement(s)", messages.len(), acks.len());
    let mut unsent = Vec::new();
    for ack in acks {
        let subject = format!("{}.{}.events.ack", c.root, ack.site);
        if let Err(e) = client.publish(subject, seal(&ack, &keys.signing).into()).await {
            log::warn!("{}: the acknowledgement was not sent ({e}); its records stay for redelivery", ack.site);
            unsent.push(ack.site);
        }
    }
    let mut taken = 0;
    for message in messages {
        match classify(&c.root, &message.subject, '.') {
            Some(Topic::Events(site)) if unsent.iter().any(|u| u == site) => continue,
            Some(Topic::Events(_)) => taken += 1,
            _ => {}
        }
        if let Err(e) = message.ack().await {
            log::warn!("{}: the acknowledgement to JetStream was not sent ({e}); it comes again", message.subject);
        }
    }
    taken
}

/// Takes a batch in: the fleet's states observed, the records stored; returns the
/// acknowledgements to send.
async fn take_batch(
    c: &Cluster,
    keys: &crate::keys::Keys,
    db: &mut tokio_postgres::Client,
    prepared: &crate::db::Prepared,
    batch: &[jetstream::Message],
    now: jiff::Timestamp,
    rules: &Rules,
) -> Result<Vec<AckBody>, DbError> {
    let mut events = Vec::new();
    for message in batch {
        let payload = &message.payload[..];
        match classify(&c.root, &message.subject, '.') {
            Some(Topic::Events(site)) => events.push((site, payload)),
            Some(Topic::Status(site)) => {
                fleet::observe_message(db, site, payload, Observation::Status, now, rules).await?;
            }
            Some(Topic::State(site)) => {
                fleet::observe_message(db, site, payload, Observation::State, now, rules).await?;
            }
            Some(Topic::Door(site, door)) => {
                fleet::observe_message(db, site, payload, |t| Observation::Door(door, t), now, rules).await?;
            }
            None => log::warn!("not a subject of Central's, acknowledged and ignored: {}", message.subject),
        }
    }
    take_records(db, prepared, keys, &events, now).await
}

/// Makes both streams if missing, as a collector does at start: gateways may publish
/// once this returns (before, the cluster keeps nothing of their publishes).
pub async fn make_streams(c: &Cluster) -> Result<(), NatsError> {
    let js = jetstream::new(connect(c).await?);
    stream_of(&js, stream_config(c)).await?;
    stream_of(&js, state_stream_config(c)).await?;
    Ok(())
}

/// The stream, made if missing (a cluster just started has no leader for a few seconds).
async fn stream_of(js: &jetstream::Context, config: stream::Config) -> Result<stream::Stream, NatsError> {
    let name = config.name.clone();
    let mut tries = 0;
    loop {
        match js.get_or_create_stream(config.clone()).await {
            Ok(s) => return Ok(s),
            Err(e) if tries < 30 => {
                tries += 1;
                log::info!("stream {name}: {e}; asking again in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(nats(e)),
        }
    }
}

/// The stream and its durable pull consumer.
async fn consumer_of(
    js: &jetstream::Context,
    config: stream::Config,
    durable: &str,
) -> Result<consumer::Consumer<consumer::pull::Config>, NatsError> {
    let stream = stream_of(js, config).await?;
    let config = consumer::pull::Config {
        durable_name: Some(durable.to_owned()),
        ack_policy: consumer::AckPolicy::Explicit,
        ack_wait: ACK_WAIT,
        max_ack_pending: 10_000,
        ..consumer::pull::Config::default()
    };
    let consumer: consumer::Consumer<consumer::pull::Config> =
        stream.get_or_create_consumer(durable, config).await.map_err(nats)?;
    // An existing consumer is taken as it is: one made by an older collector keeps its wait.
    let info = consumer.cached_info();
    if info.config.ack_wait != ACK_WAIT {
        log::warn!(
            "consumer {durable} of stream {}: acknowledgement wait {} s, not {} s (made by an older collector): what a \
             dead collector held comes again only after it; edit the consumer's ack wait to {} s (`nats consumer edit`), \
             do not delete it (a new one would take the stream's 14 days again, as duplicates)",
            info.stream_name,
            info.config.ack_wait.as_secs(),
            ACK_WAIT.as_secs(),
            ACK_WAIT.as_secs()
        );
    }
    Ok(consumer)
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let s = state_stream_config(&c);
        assert_eq!(s.subjects, ["portvakt.*.status", "portvakt.*.state", "portvakt.*.door.*.state"]);
        assert_eq!(s.max_messages_per_subject, 1, "the last state of each kept, as MQTT keeps the retained one");
    }
}
