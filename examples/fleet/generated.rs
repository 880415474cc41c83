//! Generated sites: each a light MQTT client that writes its records with the gateway's
//! own chain and payload code (`portvakt-wire`) — deterministic, so a restarted driver
//! writes the same bytes — and takes acknowledgements as the gateway does: the envelope's
//! signature under the collector's key, its site, and the hash of the record it names;
//! unacknowledged records are published again after 10 s of silence and at every
//! reconnect. As the gateway, it publishes only while connected, after subscribing to its
//! acknowledgements (a record made while away waits for the connection: its latency counts
//! from when it was made). In `--burst` mode it only publishes, counting the broker's PUBACKs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use portvakt_wire::ack::AckBody;
use portvakt_wire::chain::{GENESIS, Header, Personal, Salt, commitment, header_hash};
use portvakt_wire::envelope::{self, DocType};
use portvakt_wire::event::{Detail, EventMessage};
use portvakt_wire::hex;
use rumqttc::{AsyncClient, Event, Packet, QoS};
use tokio::sync::{Mutex, watch};

use crate::{Counts, Link, options};

/// 2026-11-30T00:00:00Z: every generated record is one second after the one before.
const BASE_MS: i64 = 1_796_083_200_000;
const DETAIL: &str = r#"{"kind":"tag","pulse":5000,"role":"resident","rule":"role"}"#;
const RESEND_AFTER: Duration = Duration::from_secs(10);
/// Unacknowledged records sent again at once, at most (all a long outage makes, at this pace).
const RESEND_AT_MOST: usize = 5000;

/// A site's chain, written on demand and kept (payload and hash per seq).
pub struct Chain {
    payloads: Vec<Vec<u8>>,
    hashes: Vec<[u8; 32]>,
}

impl Chain {
    fn new() -> Self {
        Self { payloads: Vec::new(), hashes: Vec::new() }
    }

    /// Record `seq` (from 1), written with every one before it.
    fn record(&mut self, seq: u64) -> (&[u8], [u8; 32]) {
        let i = usize::try_from(seq).unwrap_or(usize::MAX) - 1;
        while self.hashes.len() <= i {
            let seq = self.hashes.len() as u64 + 1;
            let prev = self.hashes.last().copied().unwrap_or(GENESIS);
            let at_ms = BASE_MS + i64::try_from(seq).unwrap_or(0) * 1000;
            let holder = format!("holder-{}", seq % 40);
            let credential = format!("tag-{}", seq % 40);
            // Format 2, as a gateway writes it: the header and a commitment to the personal
            // part, which (no reading key in the campaign) stays on the gateway.
            let salt: Salt = hash_prefix(&prev);
            let committed = commitment(&salt, &Personal { holder: Some(&holder), credential: Some(&credential) });
            let header = Header {
                at_ms,
                trusted: true,
                kind: "access.granted",
                door: Some("entrance"),
                audience: "hemtjansten",
                commitment: Some(&committed),
                detail: DETAIL,
            };
            let hash = header_hash(&prev, seq, &header);
            let at = jiff::Timestamp::from_millisecond(at_ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
            let payload = EventMessage {
                epoch: None,
                format: Some(2),
                seq,
                at: format!("{at:.3}"),
                trusted: true,
                kind: "access.granted",
                door: Some("entrance"),
                audience: Some("hemtjansten"),
                holder: None,
                credential: None,
                commitment: Some(hex::encode(&committed)),
                personal: None,
                detail: Detail::of(DETAIL),
                prev: hex::encode(&prev),
                hash: hex::encode(&hash),
            }
            .to_bytes();
            self.payloads.push(payload);
            self.hashes.push(hash);
        }
        (&self.payloads[i], self.hashes[i])
    }
}

/// A salt for the campaign's records (any 16 bytes do: nothing is sealed or erased here).
fn hash_prefix(h: &[u8; 32]) -> Salt {
    let mut salt = [0; 16];
    salt.copy_from_slice(&h[..16]);
    salt
}

/// What an acknowledgement says, if it is the collector's, for this site, and names a
/// record of this chain with its hash.
fn acknowledged(payload: &[u8], site: &str, collector: &[u8; 32], chain: &mut Chain) -> Option<u64> {
    let env = envelope::open(payload).ok()?;
    if env.doc_type != DocType::Ack || !envelope::signature_ok(&env, collector) {
        return None;
    }
    let body: AckBody = serde_json::from_slice(env.body).ok()?;
    if body.site != site || body.through == 0 || usize::try_from(body.through).ok()? > chain.hashes.len() {
        return None;
    }
    let (_, hash) = chain.record(body.through);
    (hex::encode(&hash) == body.hash).then_some(body.through)
}

/// What a site's connection heard.
enum Heard {
    /// Connected (again).
    Connected,
    /// A message on a subscribed topic.
    Message(bytes::Bytes),
    /// The connection failed; connecting again.
    Lost,
}

/// One generated site, publishing from `start` every `interval` until `stop`.
#[allow(clippy::too_many_arguments, clippy::too_many_lines)]
pub async fn site(
    link: Link,
    site: String,
    start: u64,
    interval: Duration,
    counts: Arc<Counts>,
    latencies: Arc<Mutex<Vec<(u64, u32)>>>,
    mut stop: watch::Receiver<bool>,
) {
    let prefix = format!("portvakt/{site}");
    let (client, mut eventloop) = AsyncClient::new(options(&link, &format!("fleet-{site}")), 256);
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    tokio::spawn(async move {
        loop {
            let heard = match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => Heard::Connected,
                Ok(Event::Incoming(Packet::Publish(p))) => Heard::Message(p.payload),
                Ok(_) => continue,
                Err(_) => {
                    let _ = tx.send(Heard::Lost).await;
                    tokio::time::sleep(Duration::from_millis(500 + rand_ms())).await;
                    continue;
                }
            };
            if tx.send(heard).await.is_err() {
                return;
            }
        }
    });
    let mut chain = Chain::new();
    let mut next = start;
    let mut acked = start - 1;
    let mut sent: Vec<Option<(Instant, u64)>> = Vec::new();
    let mut last_progress = Instant::now();
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut resend = tokio::time::interval(RESEND_AFTER);
    let mut producing = true;
    let mut connected = false;
    let publish = |chain: &mut Chain, seq: u64| {
        let (payload, _) = chain.record(seq);
        let payload = payload.to_vec();
        let client = client.clone();
        let topic = format!("{prefix}/events");
        async move { client.publish(topic, QoS::AtLeastOnce, false, payload).await.is_ok() }
    };
    loop {
        tokio::select! {
            _ = stop.changed() => producing = !*stop.borrow(),
            _ = tick.tick(), if producing => {
                // Made now whether or not connected (a door opens either way); sent once connected.
                if !connected || publish(&mut chain, next).await {
                    let i = usize::try_from(next).unwrap_or(0);
                    if sent.len() <= i { sent.resize(i + 1, None); }
                    sent[i] = Some((Instant::now(), unix_ms()));
                    counts.produced.fetch_add(1, Ordering::Relaxed);
                    counts.head(&site, next);
                    next += 1;
                }
            }
            _ = resend.tick(), if connected => {
                if acked + 1 < next && last_progress.elapsed() >= RESEND_AFTER {
                    for seq in (acked + 1..next).take(RESEND_AT_MOST) {
                        let _ = publish(&mut chain, seq).await;
                    }
                }
            }
            m = rx.recv() => match m {
                None => return,
                Some(Heard::Lost) => connected = false,
                Some(Heard::Connected) => {
                    // As the gateway does: QoS 0 (acknowledgements come again anyway), so the
                    // NATS cluster keeps no JetStream consumer for it; subscribed before the
                    // first publish, so no acknowledgement comes before the subscription.
                    let _ = client.subscribe(format!("{prefix}/events/ack"), QoS::AtMostOnce).await;
                    connected = true;
                    for seq in (acked + 1..next).take(RESEND_AT_MOST) {
                        let _ = publish(&mut chain, seq).await;
                    }
                }
                Some(Heard::Message(payload)) => {
                    if let Some(through) = acknowledged(&payload, &site, &link.collector_key, &mut chain)
                        && through > acked
                    {
                        let now = Instant::now();
                        let mut l = latencies.lock().await;
                        for seq in acked + 1..=through {
                            if let Some(Some((t, wall))) = sent.get(usize::try_from(seq).unwrap_or(0)) {
                                l.push((*wall, u32::try_from(now.duration_since(*t).as_millis()).unwrap_or(u32::MAX)));
                            }
                        }
                        counts.acked.fetch_add(through - acked, Ordering::Relaxed);
                        acked = through;
                        counts.through(&site, acked);
                        last_progress = now;
                    }
                }
            }
        }
    }
}

/// Publishes records 1..=n of `site` as fast as the broker acknowledges them (QoS 1, up
/// to rumqttc's in-flight window), once `go` says so; returns when every PUBACK came.
pub async fn burst(link: Link, site: String, n: u64, connected: Arc<AtomicU64>, mut go: watch::Receiver<bool>) -> u64 {
    let (client, mut eventloop) = AsyncClient::new(options(&link, &format!("fleet-{site}")), 256);
    let topic = format!("portvakt/{site}/events");
    let mut chain = Chain::new();
    let payloads: Vec<Vec<u8>> = (1..=n).map(|s| chain.record(s).0.to_vec()).collect();
    let mut pubacks = 0;
    let mut started = false;
    loop {
        tokio::select! {
            e = eventloop.poll() => match e {
                Ok(Event::Incoming(Packet::ConnAck(_))) => { connected.fetch_add(1, Ordering::Relaxed); }
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    pubacks += 1;
                    if pubacks == n { return n; }
                }
                Ok(_) => {}
                Err(_) => tokio::time::sleep(Duration::from_millis(500 + rand_ms())).await,
            },
            _ = go.changed(), if !started => {
                started = true;
                let client = client.clone();
                let topic = topic.clone();
                let payloads = payloads.clone();
                tokio::spawn(async move {
                    for p in payloads {
                        if client.publish(topic.clone(), QoS::AtLeastOnce, false, p).await.is_err() { return; }
                    }
                });
            }
        }
    }
}

fn unix_ms() -> u64 {
    u64::try_from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis()))
        .unwrap_or(0)
}

fn rand_ms() -> u64 {
    u64::from(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos()) % 1000)
}
