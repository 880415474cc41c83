//! A small in-process MQTT 3.1.1 broker on loopback, so `cargo test` and `portvakt demo`
//! exercise the uplink's real rumqttc path without mosquitto. It speaks the wire format
//! through rumqttc's own packet codec and does what the uplink relies on: CONNECT with a
//! last will, SUBSCRIBE with `+`/`#`, QoS 0/1 PUBLISH with PUBACK, retained messages,
//! the will on an unclean disconnect, PINGREQ. Deliveries to subscribers are QoS 0.
//! Stopping it drops every connection at once (a broker crash); it keeps no state across
//! a restart, like mosquitto with `persistence false`. Not for production.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use rumqttc::{ConnAck, ConnectReturnCode, Packet, PubAck, Publish, QoS, SubAck, SubscribeReasonCode, UnsubAck};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::topics::matches;

/// Largest packet accepted.
const MAX_PACKET: usize = 64 << 20;
/// Non-retained publishes remembered for [`SimBroker::events_received`], at most.
const RECEIVED_CAP: usize = 1 << 20;
/// Packets waiting for a slow subscriber before it is disconnected.
const CLIENT_QUEUE: usize = 65_536;

#[derive(Default)]
struct State {
    retained: BTreeMap<String, Bytes>,
    received: Vec<(String, Bytes)>,
    clients: HashMap<u64, (Vec<String>, mpsc::Sender<Packet>)>,
    next_id: u64,
    /// SUBSCRIBE packets still to refuse, per client id (a fault, as a cluster refuses one
    /// while a node is gone).
    refuse_subscribes: HashMap<String, usize>,
}

type Shared = Arc<Mutex<State>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, State> {
    s.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running broker.
pub struct SimBroker {
    addr: SocketAddr,
    state: Shared,
    cancel: CancellationToken,
}

impl SimBroker {
    /// Refuses the next `n` SUBSCRIBE packets of clients whose id starts with `client`
    /// (every filter's SUBACK code a failure, none registered), as a NATS cluster does
    /// while a JetStream leader is being elected.
    pub fn refuse_subscribes(&self, client: &str, n: usize) {
        lock(&self.state).refuse_subscribes.insert(client.to_owned(), n);
    }

    /// Starts a broker on `127.0.0.1:port` (0: any free port).
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let state = Shared::default();
        let cancel = CancellationToken::new();
        tokio::spawn(accept(listener, state.clone(), cancel.clone()));
        Ok(Self { addr, state, cancel })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The retained message on `topic`, if any.
    pub fn retained(&self, topic: &str) -> Option<Bytes> {
        lock(&self.state).retained.get(topic).cloned()
    }

    /// Payloads clients published on `topic`, in the order they arrived (what a collector
    /// with a persistent session would have got).
    pub fn events_received(&self, topic: &str) -> Vec<Bytes> {
        lock(&self.state).received.iter().filter(|(t, _)| t == topic).map(|(_, p)| p.clone()).collect()
    }

    /// Publishes as the broker itself would deliver a client's message.
    pub fn publish(&self, topic: &str, payload: impl Into<Bytes>, retain: bool) {
        route(&self.state, topic, &payload.into(), retain);
    }

    /// Stops at once: every connection is dropped, no wills are sent, nothing is kept.
    pub fn stop(self) {
        self.cancel.cancel();
    }
}

impl Drop for SimBroker {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

async fn accept(listener: TcpListener, state: Shared, cancel: CancellationToken) {
    loop {
        let stream = tokio::select! {
            () = cancel.cancelled() => return,
            a = listener.accept() => match a {
                Ok((s, _)) => s,
                Err(_) => continue,
            },
        };
        let (state, cancel) = (state.clone(), cancel.clone());
        tokio::spawn(async move {
            tokio::select! {
                () = cancel.cancelled() => {}
                () = session(stream, state) => {}
            }
        });
    }
}

fn route(state: &Shared, topic: &str, payload: &Bytes, retain: bool) {
    let mut s = lock(state);
    if retain {
        if payload.is_empty() {
            s.retained.remove(topic);
        } else {
            s.retained.insert(topic.to_owned(), payload.clone());
        }
    }
    let mut slow = Vec::new();
    for (id, (filters, tx)) in &s.clients {
        if filters.iter().any(|f| matches(f, topic)) {
            let p = Publish::new(topic, QoS::AtMostOnce, payload.clone());
            if tx.try_send(Packet::Publish(p)).is_err() {
                slow.push(*id);
            }
        }
    }
    for id in slow {
        s.clients.remove(&id);
    }
}

async fn read_packet(stream: &mut tokio::net::tcp::OwnedReadHalf, buf: &mut BytesMut) -> Option<Packet> {
    loop {
        match Packet::read(buf, MAX_PACKET) {
            Ok(p) => return Some(p),
            Err(rumqttc::Error::InsufficientBytes(_)) => {
                if stream.read_buf(buf).await.ok()? == 0 {
                    return None;
                }
            }
            Err(_) => return None,
        }
    }
}

async fn writer(mut out: tokio::net::tcp::OwnedWriteHalf, mut rx: mpsc::Receiver<Packet>) {
    let mut buf = BytesMut::new();
    while let Some(p) = rx.recv().await {
        buf.clear();
        if p.write(&mut buf, MAX_PACKET).is_err() || out.write_all(&buf).await.is_err() {
            return;
        }
    }
}

async fn session(stream: TcpStream, state: Shared) {
    let (mut input, output) = stream.into_split();
    let mut buf = BytesMut::new();
    let Some(Packet::Connect(connect)) = read_packet(&mut input, &mut buf).await else { return };
    let (tx, rx) = mpsc::channel(CLIENT_QUEUE);
    tokio::spawn(writer(output, rx));
    let id = {
        let mut s = lock(&state);
        s.next_id += 1;
        let id = s.next_id;
        s.clients.insert(id, (Vec::new(), tx.clone()));
        id
    };
    let _ = tx.try_send(Packet::ConnAck(ConnAck::new(ConnectReturnCode::Success, false)));
    let mut clean = false;
    while let Some(packet) = read_packet(&mut input, &mut buf).await {
        let reply = match packet {
            Packet::Publish(p) => {
                {
                    let mut s = lock(&state);
                    if !p.retain && s.received.len() < RECEIVED_CAP {
                        s.received.push((p.topic.clone(), p.payload.clone()));
                    }
                }
                let ack = (p.qos != QoS::AtMostOnce).then(|| Packet::PubAck(PubAck::new(p.pkid)));
                route(&state, &p.topic, &p.payload, p.retain);
                ack
            }
            Packet::Subscribe(sub) => {
                let refused = {
                    let mut s = lock(&state);
                    let left = s.refuse_subscribes.iter_mut().find(|(p, _)| connect.client_id.starts_with(p.as_str()));
                    match left {
                        Some((_, n)) if *n > 0 => {
                            *n -= 1;
                            true
                        }
                        _ => false,
                    }
                };
                if refused {
                    let codes = sub.filters.iter().map(|_| SubscribeReasonCode::Failure).collect();
                    let _ = tx.send(Packet::SubAck(SubAck::new(sub.pkid, codes))).await;
                    continue;
                }
                let codes = sub.filters.iter().map(|_| SubscribeReasonCode::Success(QoS::AtLeastOnce)).collect();
                let retained: Vec<(String, Bytes)> = {
                    let mut s = lock(&state);
                    if let Some((filters, _)) = s.clients.get_mut(&id) {
                        filters.extend(sub.filters.iter().map(|f| f.path.clone()));
                    }
                    s.retained
                        .iter()
                        .filter(|(t, _)| sub.filters.iter().any(|f| matches(&f.path, t)))
                        .map(|(t, p)| (t.clone(), p.clone()))
                        .collect()
                };
                let _ = tx.send(Packet::SubAck(SubAck::new(sub.pkid, codes))).await;
                for (topic, payload) in retained {
                    let mut p = Publish::new(topic, QoS::AtMostOnce, payload);
                    p.retain = true;
                    let _ = tx.send(Packet::Publish(p)).await;
                }
                None
            }
            Packet::Unsubscribe(u) => {
                if let Some((filters, _)) = lock(&state).clients.get_mut(&id) {
                    filters.retain(|f| !u.topics.contains(f));
                }
                Some(Packet::UnsubAck(UnsubAck::new(u.pkid)))
            }
            Packet::PingReq => Some(Packet::PingResp),
            Packet::Disconnect => {
                clean = true;
                break;
            }
            _ => None,
        };
        if let Some(r) = reply
            && tx.send(r).await.is_err()
        {
            break;
        }
    }
    lock(&state).clients.remove(&id);
    if !clean && let Some(will) = connect.last_will {
        route(&state, &will.topic, &will.message, will.retain);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use rumqttc::{AsyncClient, Event, MqttOptions};

    use super::*;

    async fn next_publish(events: &mut rumqttc::EventLoop) -> Publish {
        loop {
            match tokio::time::timeout(Duration::from_secs(5), events.poll()).await {
                Ok(Ok(Event::Incoming(Packet::Publish(p)))) => return p,
                Ok(Ok(_)) => {}
                other => panic!("no publish: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_subscriber_gets_retained_and_live_messages_matching_its_filter() {
        let broker = SimBroker::start(0).await.expect("broker");
        broker.publish("site/a/status", "online", true);
        let opts = MqttOptions::new("sub", "127.0.0.1", broker.addr().port());
        let (client, mut events) = AsyncClient::new(opts, 10);
        client.subscribe("site/+/status", QoS::AtLeastOnce).await.expect("subscribe");
        let p = next_publish(&mut events).await;
        assert_eq!((p.topic.as_str(), &p.payload[..], p.retain), ("site/a/status", &b"online"[..], true));
        broker.publish("site/b/status", "x", false);
        broker.publish("other/b/status", "y", false);
        broker.publish("site/c/status", "z", false);
        assert_eq!(&next_publish(&mut events).await.payload[..], b"x");
        assert_eq!(&next_publish(&mut events).await.payload[..], b"z");
    }
}
