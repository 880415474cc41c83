//! The collector over MQTT (mosquitto; NATS's MQTT listener works the same for one
//! instance): subscribes to every site's `events`, takes each record into PostgreSQL,
//! then publishes the site's signed acknowledgement `{site, through, hash}` on
//! `events/ack` — `through` being the site's gap-free point as committed, whichever
//! collector stored what — and only then acknowledges the message to the broker
//! (rumqttc manual acks), so a collector that dies mid-way leaves duplicates, never a hole.
//! A persistent session (`clean_session` false) keeps the broker queueing while it is away.
//! It also takes the retained `status`, `state` and door states into the fleet's state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use portvakt_wire::ack::{AckBody, seal};
use portvakt_wire::event::ReceivedEvent;
use portvakt_wire::hex;
use rumqttc::{AsyncClient, Event, MqttOptions, Packet, Publish, QoS, TlsConfiguration, Transport};
use tokio::sync::mpsc;

use crate::alarms::Rules;
use crate::db::{self, DbError};
use crate::fleet::{self, Observation};
use crate::ingest::{Arrival, Whole};
use crate::keys::{Keys, ReadingKeys};
use crate::topics::{Topic, classify, state_filters};
use portvakt_wire::chain::Salt;

/// At most this many messages that have already arrived are taken in one transaction.
pub const BATCH: usize = 1000;

/// QoS 0 messages waiting for the collector, at most (QoS 1 ones are bounded by the
/// broker's in-flight window).
pub const MAX_WAITING_QOS0: usize = 4096;

/// Where and how to reach the broker.
#[derive(Debug, Clone)]
pub struct Broker {
    /// Host name or address.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS settings; `None` only for a loopback broker (tests, development).
    pub tls: Option<Arc<rustls::ClientConfig>>,
    /// The MQTT client id (one per collector instance).
    pub client_id: String,
    /// The first topic level under which gateways publish (`portvakt`).
    pub root: String,
}

/// What one collector was set up with.
pub struct Collector {
    /// The broker.
    pub broker: Broker,
    /// Signs the acknowledgements (its public half is the gateways' `uplink.collector_key`),
    /// and opens its own audiences' personal parts.
    pub keys: Keys,
    /// The database.
    pub db: tokio_postgres::Client,
}

/// Why collecting stopped.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The database failed (the message stays unacknowledged: the broker redelivers it).
    #[error("{0}")]
    Db(#[from] DbError),
    /// The connection to the broker could not be driven any further.
    #[error("the broker connection ended")]
    Broker,
}

fn options(b: &Broker) -> MqttOptions {
    let mut o = MqttOptions::new(b.client_id.clone(), b.host.clone(), b.port);
    o.set_keep_alive(Duration::from_secs(20));
    o.set_clean_session(false);
    o.set_manual_acks(true);
    o.set_max_packet_size(1 << 20, 1 << 20);
    match &b.tls {
        Some(tls) => o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls.clone()))),
        None => o.set_transport(Transport::tcp()),
    };
    o
}

/// Collects until `stop` resolves or the database fails.
pub async fn run(mut c: Collector, stop: impl std::future::Future<Output = ()>) -> Result<(), CollectError> {
    let prepared = db::Prepared::on(&c.db).await?;
    let (client, mut eventloop) = AsyncClient::new(options(&c.broker), 256);
    // Unbounded on purpose: what arrives is bounded by the in-flight window the broker
    // grants (unacknowledged QoS 1 messages past it are not sent), whatever that window is
    // (mosquitto's max_inflight_messages, NATS's 1 024); a bounded channel smaller than it
    // would stop the driver, and with it the acknowledgements that would free the window.
    let (tx, mut rx) = mpsc::unbounded_channel::<Publish>();
    // QoS 0 messages are outside any window: past this many waiting they are dropped
    // (retained states come again; records are published at QoS 1).
    let waiting = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = waiting.clone();
    let mut filters = vec![format!("{}/+/events", c.broker.root)];
    filters.extend(state_filters(&c.broker.root, '/', "+"));
    let subscriber = client.clone();
    // The connection is driven on its own task, so a slow commit never starves keep-alive.
    let driver = tokio::spawn(async move {
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    log::info!("connected to the broker; subscribing to {}", filters.join(", "));
                    // Never awaited inside the poll loop: only polling drains the requests.
                    for f in &filters {
                        if let Err(e) = subscriber.try_subscribe(f.clone(), QoS::AtLeastOnce) {
                            log::error!("could not subscribe to {f}: {e}");
                        }
                    }
                }
                Ok(Event::Incoming(Packet::Publish(p))) => {
                    use std::sync::atomic::Ordering::Relaxed;
                    if p.qos == QoS::AtMostOnce && counted.load(Relaxed) >= MAX_WAITING_QOS0 {
                        log::warn!("{}: a QoS 0 message dropped ({MAX_WAITING_QOS0} already waiting)", p.topic);
                        continue;
                    }
                    counted.fetch_add(1, Relaxed);
                    if tx.send(p).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    log::warn!("broker: {e}; connecting again in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });
    tokio::pin!(stop);
    let result = loop {
        tokio::select! {
            () = &mut stop => break Ok(()),
            p = rx.recv() => {
                let Some(p) = p else { break Err(CollectError::Broker) };
                // What has already arrived is taken in with it, in one transaction.
                let mut batch = vec![p];
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(p) => batch.push(p),
                        Err(_) => break,
                    }
                }
                waiting.fetch_sub(batch.len(), std::sync::atomic::Ordering::Relaxed);
                if let Err(e) = handle(&mut c, &prepared, &client, &batch).await {
                    break Err(e);
                }
                // Only now may the broker forget them: committed, and acknowledged.
                for p in &batch {
                    let _ = client.ack(p).await;
                }
            }
        }
    };
    let _ = client.try_disconnect();
    driver.abort();
    result
}

async fn handle(
    c: &mut Collector,
    prepared: &db::Prepared,
    client: &AsyncClient,
    batch: &[Publish],
) -> Result<(), CollectError> {
    let now = jiff::Timestamp::now();
    let rules = Rules::default();
    let root = c.broker.root.clone();
    let mut events = Vec::new();
    for p in batch {
        let message = &p.payload[..];
        match classify(&root, &p.topic, '/') {
            Some(Topic::Events(site)) => events.push((site, message)),
            Some(Topic::Status(site)) => {
                fleet::observe_message(&c.db, site, message, Observation::Status, now, &rules).await?;
            }
            Some(Topic::State(site)) => {
                fleet::observe_message(&c.db, site, message, Observation::State, now, &rules).await?;
            }
            Some(Topic::Door(site, door)) => {
                fleet::observe_message(&c.db, site, message, |t| Observation::Door(door, t), now, &rules).await?;
            }
            None => log::warn!("not a topic of Central's, ignored: {}", p.topic),
        }
    }
    for ack in take_records(&mut c.db, prepared, &c.keys, &events, now).await? {
        let topic = format!("{root}/{}/events/ack", ack.site);
        let sealed = seal(&ack, &c.keys.signing);
        client.publish(topic, QoS::AtLeastOnce, false, sealed).await.map_err(|_| CollectError::Broker)?;
    }
    Ok(())
}

/// Takes `events` messages — (site, bytes) — into PostgreSQL and returns, for each run of
/// a site's chain among them that has a gap-free point, the acknowledgement to sign
/// ([`seal`]) and publish on the site's `events/ack`. Shared by both engines' collectors,
/// so every rule is made once:
///
/// - each message is checked at the trust boundary ([`crate::boundary`]) before it joins
///   the batch; what fails is quarantined with its reason (and the site's alarm raised);
/// - the rest go in one transaction; if PostgreSQL refuses a statement anyway, the batch
///   is split until the message it refuses is alone, and that one is quarantined — one
///   bad record never holds the others;
/// - a lost race with another collector (a deadlock) runs the same batch again; only a
///   lost connection comes back as an error (the messages stay unacknowledged).
///
/// Every message given is then taken or quarantined: the caller acknowledges them all.
pub async fn take_records(
    db: &mut tokio_postgres::Client,
    prepared: &db::Prepared,
    keys: &Keys,
    messages: &[(&str, &[u8])],
    now: jiff::Timestamp,
) -> Result<Vec<AckBody>, DbError> {
    let mut parsed = Vec::with_capacity(messages.len());
    for (site, payload) in messages {
        let checked = ReceivedEvent::parse(payload)
            .map_err(|e| e.to_string())
            .and_then(|e| crate::boundary::check(site, &e, payload).map(|()| e).map_err(|u| u.to_string()));
        match checked {
            Ok(mut e) => {
                let salt = open_own(&keys.reading, site, &mut e);
                parsed.push((*site, e, *payload, salt));
            }
            Err(why) => quarantine(db, site, &why, payload).await?,
        }
    }
    let mut wholes: BTreeMap<(&str, &str), Whole> = BTreeMap::new();
    for (i, taken) in take_isolating(db, prepared, &parsed).await? {
        let (site, event, _, _) = &parsed[i];
        // A resend too: its first judging may have been lost with a connection after the
        // commit (judging again changes only a `not_stored` outcome).
        if taken.arrival != Arrival::Equivocation && event.kind == "audit.checkpoint" {
            let judged = db::check_checkpoint(db, site, event).await?;
            if judged.outcome.failed() {
                log::error!("{site}: {}", judged.words());
                fleet::reconcile(&*db, site, now, &Rules::default()).await?;
            }
        }
        if taken.arrival == Arrival::Equivocation {
            log::error!("{site}: record {} came again with another hash: kept beside the first", event.seq);
        }
        // The last taken of a run holds it after everything taken before it.
        wholes.insert((site, db::epoch_of(event)), taken.whole);
    }
    // A checkpoint that came before the record it covers is judged once that record is here.
    let mut sites: Vec<&str> = wholes.keys().map(|(s, _)| *s).collect();
    sites.dedup();
    for (site, judged) in db::rejudge_checkpoints(db, &sites).await? {
        log::error!("{site}: {}", judged.words());
        fleet::reconcile(&*db, &site, now, &Rules::default()).await?;
    }
    let mut acks = Vec::new();
    for ((site, epoch), whole) in wholes {
        if let Some(at) = whole.broken_at {
            log::error!("{site}: the chain is broken at record {at}: acknowledged through {} only", whole.through);
        }
        if let Some(hash) = whole.hash.filter(|_| whole.through > 0) {
            let epoch = (!epoch.is_empty()).then(|| epoch.to_owned());
            acks.push(AckBody { site: site.to_owned(), epoch, through: whole.through, hash: hex::encode(&hash) });
        }
    }
    Ok(acks)
}

/// Opens a record's sealed personal part when this Central holds its audience's reading
/// key: the holder and credential are then the record's (checked against its commitment),
/// and the salt is returned to be kept beside them. A part of another audience stays
/// sealed; one of ours that does not open is kept sealed, and said.
fn open_own(reading: &ReadingKeys, site: &str, e: &mut ReceivedEvent) -> Option<Salt> {
    let (Some(audience), Some(commitment), Some(sealed)) = (&e.audience, &e.commitment, &e.sealed) else {
        return None;
    };
    let key = reading.key_of(audience)?;
    let opened = portvakt_wire::personal::open(key, site, e.seq, commitment, sealed).map_err(|e| e.to_string());
    let storable = opened.and_then(|o| {
        crate::boundary::personal(o.holder.as_deref(), o.credential.as_deref()).map(|()| o).map_err(|u| u.to_string())
    });
    match storable {
        Ok(opened) => {
            e.holder = opened.holder;
            e.credential = opened.credential;
            e.sealed = None;
            Some(opened.salt)
        }
        Err(why) => {
            log::warn!("{site}: record {}'s personal part ({audience}) is kept sealed: {why}", e.seq);
            None
        }
    }
}

async fn quarantine(db: &tokio_postgres::Client, site: &str, why: &str, payload: &[u8]) -> Result<(), DbError> {
    log::warn!("{site}: quarantined: {why}");
    db::refuse(db, site, why, payload).await
}

/// How often a batch that lost a race with another collector is run again.
const RETRIES: u32 = 5;

/// Takes `parsed` in, splitting a batch PostgreSQL refuses until the refused message is
/// alone (then quarantined); returns what became of each message taken, by index, in the
/// order taken.
async fn take_isolating(
    db: &mut tokio_postgres::Client,
    prepared: &db::Prepared,
    parsed: &[(&str, ReceivedEvent, &[u8], Option<Salt>)],
) -> Result<Vec<(usize, db::Taken)>, DbError> {
    let mut out = Vec::with_capacity(parsed.len());
    let mut pending: Vec<std::ops::Range<usize>> = Vec::new();
    pending.push(0..parsed.len());
    while let Some(range) = pending.pop() {
        if range.is_empty() {
            continue;
        }
        let incoming: Vec<db::Incoming<'_>> = parsed[range.clone()]
            .iter()
            .map(|(site, event, payload, salt)| db::Incoming { site, event, payload, salt: *salt })
            .collect();
        let mut tries = 0;
        let result = loop {
            match db::take_many(db, prepared, &incoming).await {
                Err(e) if e.is_retryable() && tries < RETRIES => tries += 1,
                other => break other,
            }
        };
        match result {
            Ok(taken) => out.extend(range.zip(taken)),
            Err(e) if e.is_refused_statement() && range.len() == 1 => {
                let (site, _, payload, _) = &parsed[range.start];
                quarantine(db, site, &format!("refused by {e}"), payload).await?;
            }
            Err(e) if e.is_refused_statement() => {
                let mid = range.start + range.len() / 2;
                // The later half is taken after the earlier (a stack: pushed first, popped last).
                pending.push(mid..range.end);
                pending.push(range.start..mid);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
