//! The uplink actor: owns the MQTT connection. Each connection is a fresh rumqttc client
//! (clean session); on its CONNACK the gateway publishes the retained `online` birth,
//! subscribes, publishes retained state and door states, and drains the outbox from the
//! oldest unconfirmed record in sequence order, at most [`WINDOW`] in flight. PUBACKs
//! confirm records in the store (batched), unless the collector's `events/ack` is what
//! confirms. A failed connection is dropped whole and retried after a capped, jittered
//! backoff; nothing is lost because nothing leaves the outbox before it is confirmed.
//! At stop the outbox gets a short last drain, then the retained `offline` goes out and
//! the connection is closed.
//!
//! Channels: commands in (bounded, [`COMMANDS`]; senders wait); inbound messages to the
//! worker ([`super::inbound`]); status out on a `watch`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, Event, EventLoop, Outgoing, Packet, QoS, SubscribeFilter, SubscribeReasonCode};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::backoff::{self, Jitter};
use super::inbound::{self, Message, Out, ReloadRequest, Worker};
use super::options::{CHANNEL, WINDOW, mqtt_options};
use super::payload::DoorMessage;
use super::topics::Topics;
use super::window::{Slot, Window};

mod drain;
mod health;
use crate::config::{Config, ConfirmOn, UplinkConfig};
use crate::site::reach::Reach;
use crate::site::status::UplinkStatus;
use health::publish_doors;

/// Commands waiting for the uplink, at most.
pub const COMMANDS: usize = 8;
/// Confirmations are written to the store at least this often while events flow.
const CONFIRM_EVERY: Duration = Duration::from_millis(50);
/// Door and gateway state are compared with what was published this often.
const LOOK_EVERY: Duration = Duration::from_secs(2);
/// With collector acknowledgement, a published record the collector has not confirmed
/// after this long is published again, with everything after it (the collector may have
/// been away when it went out).
const RESEND_AFTER: Duration = Duration::from_secs(10);
/// At stop, the outbox drains for at most this long before `offline` goes out.
const LAST_DRAIN: Duration = Duration::from_secs(2);

enum Command {
    Reconfigure(Arc<Config>),
    Ping(oneshot::Sender<()>),
}

/// The cloneable way to reach the uplink.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Reconfigure(_) => "Reconfigure",
            Self::Ping(_) => "Ping",
        })
    }
}

impl Handle {
    /// Whether the actor's loop answers.
    pub async fn ping(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Ping(tx)).await.is_ok() && rx.await.is_ok()
    }

    /// Takes a reloaded configuration; the connection is made anew if the broker,
    /// certificates, prefix or client settings changed.
    pub async fn reconfigure(&self, cfg: Arc<Config>) {
        let _ = self.tx.send(Command::Reconfigure(cfg)).await;
    }
}

/// What the uplink starts from.
pub struct Start {
    /// The configuration (with an `[uplink]`).
    pub cfg: Arc<Config>,
    /// The daemon's parts.
    pub reach: Reach,
    /// Where reloads asked for over MQTT go.
    pub reload: mpsc::Sender<ReloadRequest>,
    /// Where the uplink's condition is published.
    pub status: watch::Sender<Option<UplinkStatus>>,
}

enum Ended {
    Stopped,
    Reconfigured,
    Failed(String),
}

struct Uplink {
    cfg_tx: watch::Sender<Arc<Config>>,
    reach: Reach,
    status: watch::Sender<Option<UplinkStatus>>,
    /// The last report made while the doors ran: the last `state` at a stop keeps its figures.
    last_running: Option<crate::site::status::StatusReport>,
    inbound: mpsc::Sender<Message>,
    out: mpsc::Receiver<Out>,
    commands: mpsc::Receiver<Command>,
}

/// One connection's state.
struct Conn {
    client: AsyncClient,
    events: EventLoop,
    up: UplinkConfig,
    topics: Topics,
    window: Window,
    connected: bool,
    confirms: Vec<u64>,
    acked: u64,
    head: watch::Receiver<u64>,
    doors: HashMap<String, DoorMessage>,
    state: Option<(serde_json::Value, Instant)>,
    /// The oldest unconfirmed record already published, and since when it is the oldest.
    waiting: Option<(u64, Instant)>,
    /// Subscriptions asked again after the broker refused them, on this connection.
    resubscribed: u32,
}

/// A broker that refuses subscriptions this often on one connection is left alone until
/// the next connect (a NATS cluster refuses them while a JetStream leader is elected).
const RESUBSCRIBE_LIMIT: u32 = 20;

impl Uplink {
    fn cfg(&self) -> Arc<Config> {
        self.cfg_tx.borrow().clone()
    }

    fn set_status(&self, f: impl FnOnce(&mut UplinkStatus)) {
        self.status.send_modify(|s| {
            if let Some(s) = s {
                f(s);
            }
        });
    }

    fn connect(&self, up: UplinkConfig) -> Conn {
        let topics = Topics::new(&up.prefix);
        let (client, mut events) = AsyncClient::new(mqtt_options(&up, &topics), CHANNEL);
        events.set_network_options(super::options::network_options());
        Conn {
            client,
            events,
            up,
            topics,
            window: Window::new(WINDOW),
            connected: false,
            confirms: Vec::new(),
            acked: 0,
            head: self.reach.store.head(),
            doors: HashMap::new(),
            state: None,
            waiting: None,
            resubscribed: 0,
        }
    }

    /// Runs one connection until it fails, is reconfigured, or the uplink stops.
    async fn connection(&mut self, conn: &mut Conn, cancel: &CancellationToken) -> Ended {
        let mut confirm_tick = tokio::time::interval(CONFIRM_EVERY);
        let mut look = tokio::time::interval(LOOK_EVERY);
        look.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // Door changes are published as they happen; `look` is the fallback and the
        // gateway state's clock. The doors restart on a reload: follow the new ones.
        let mut views = self.reach.doors.clone();
        let mut doors = door_states(&views);
        loop {
            tokio::select! {
                () = cancel.cancelled() => {
                    self.farewell(conn, true).await;
                    return Ended::Stopped;
                }
                event = conn.events.poll() => match event {
                    Ok(e) => self.on_event(conn, e).await,
                    Err(e) => {
                        self.flush_confirms(conn);
                        return Ended::Failed(e.to_string());
                    }
                },
                Ok(()) = conn.head.changed(), if conn.connected => self.fill(conn).await,
                Ok(()) = door_changed(&mut doors), if conn.connected => {
                    if let Some(rx) = &doors {
                        let now = rx.borrow().clone();
                        publish_doors(conn, &now, false);
                    }
                }
                Ok(()) = views.changed() => {
                    doors = door_states(&views);
                    if conn.connected {
                        self.publish_state(conn, false).await;
                    }
                }
                _ = confirm_tick.tick(), if !conn.confirms.is_empty() || conn.acked > 0 => self.flush_confirms(conn),
                _ = look.tick(), if conn.connected => {
                    self.publish_state(conn, false).await;
                    self.resend_unacknowledged(conn).await;
                }
                Some(out) = self.out.recv() => match out {
                    Out::Reply { topic, payload } => { send(conn, &topic, false, payload); }
                    Out::AckRefused => self.set_status(|s| s.acks_refused += 1),
                    Out::EpochBegun { from } => {
                        self.set_status(|s| s.epochs_begun += 1);
                        conn.window.rewind(from.saturating_sub(1));
                        self.fill(conn).await;
                    }
                    Out::Update(u) => {
                        self.set_status(|s| s.last_update = Some(u));
                        if conn.connected {
                            self.publish_state(conn, false).await;
                        }
                    }
                },
                Some(cmd) = self.commands.recv() => match cmd {
                    Command::Ping(reply) => { let _ = reply.send(()); }
                    Command::Reconfigure(cfg) => {
                        let changed = cfg.uplink.as_ref() != Some(&conn.up);
                        self.cfg_tx.send_replace(cfg);
                        if changed {
                            log::info!("uplink: settings changed; connecting anew");
                            self.farewell(conn, false).await;
                            return Ended::Reconfigured;
                        }
                    }
                },
            }
        }
    }

    async fn on_event(&mut self, conn: &mut Conn, event: Event) {
        match event {
            Event::Incoming(Packet::ConnAck(_)) => self.on_connected(conn).await,
            Event::Incoming(Packet::PubAck(ack)) => {
                if let Some(seq) = conn.window.acknowledged(ack.pkid) {
                    conn.acked += 1;
                    if conn.up.confirm == ConfirmOn::Puback {
                        conn.confirms.push(seq);
                    }
                    if conn.window.room() >= WINDOW / 4 {
                        self.fill(conn).await;
                    }
                }
            }
            Event::Incoming(Packet::SubAck(ack)) if ack.return_codes.contains(&SubscribeReasonCode::Failure) => {
                // Without its subscriptions the gateway would hear no bundle, revocation,
                // command or acknowledgement, while believing it does.
                if conn.resubscribed < RESUBSCRIBE_LIMIT {
                    conn.resubscribed += 1;
                    log::warn!("uplink: the broker refused a subscription; subscribing again");
                    Self::subscribe(conn);
                } else {
                    log::error!("uplink: the broker keeps refusing subscriptions; trying again at the next connect");
                }
            }
            Event::Incoming(Packet::Publish(p)) => {
                let msg = Message { topic: p.topic, payload: p.payload };
                if let Err(mpsc::error::TrySendError::Full(msg)) = self.inbound.try_send(msg) {
                    log::warn!("uplink: too many messages at once; {} dropped", msg.topic);
                }
            }
            Event::Outgoing(Outgoing::Publish(packet)) => conn.window.written(packet),
            _ => {}
        }
    }

    async fn on_connected(&mut self, conn: &mut Conn) {
        conn.connected = true;
        log::info!("uplink: connected to {}", conn.up.url());
        self.set_status(|s| {
            s.connected = true;
            s.connections += 1;
            s.last_error = None;
        });
        send(conn, &conn.topics.status(), true, b"online".to_vec());
        conn.resubscribed = 0;
        Self::subscribe(conn);
        conn.doors.clear();
        conn.state = None;
        self.publish_state(conn, true).await;
        self.fill(conn).await;
    }

    fn subscribe(conn: &Conn) {
        // QoS 0: what arrives here is sent again anyway — a retained bundle or revocation
        // list at every subscribe, an acknowledgement at the next resend, a command when
        // its caller sees no reply — and a NATS cluster keeps a JetStream consumer per QoS 1
        // subscription (four per gateway), none for QoS 0.
        let filters = conn.topics.subscriptions().map(|t| SubscribeFilter::new(t, QoS::AtMostOnce));
        if let Err(e) = conn.client.try_subscribe_many(filters) {
            log::error!("uplink: could not subscribe: {e}");
        }
    }

    async fn wait(&mut self, delay: Duration, cancel: &CancellationToken) -> bool {
        let until = tokio::time::Instant::now() + delay;
        loop {
            tokio::select! {
                () = cancel.cancelled() => return false,
                () = tokio::time::sleep_until(until) => return true,
                Some(cmd) = self.commands.recv() => match cmd {
                    Command::Ping(reply) => { let _ = reply.send(()); }
                    Command::Reconfigure(cfg) => {
                        self.cfg_tx.send_replace(cfg);
                        return true;
                    }
                },
                Some(out) = self.out.recv() => {
                    match out {
                        Out::Update(u) => self.set_status(|s| s.last_update = Some(u)),
                        Out::AckRefused => self.set_status(|s| s.acks_refused += 1),
                        Out::EpochBegun { .. } => self.set_status(|s| s.epochs_begun += 1),
                        Out::Reply { .. } => {}
                    }
                }
            }
        }
    }

    async fn run(mut self, cancel: CancellationToken) {
        let mut failures = 0u32;
        let mut jitter = Jitter::seeded();
        let mut last_logged = None;
        while !cancel.is_cancelled() {
            let Some(up) = self.cfg().uplink.clone() else {
                // No uplink in the configuration: idle until a reload brings one.
                self.status.send_replace(None);
                if !self.wait(Duration::from_secs(3600), &cancel).await {
                    return;
                }
                continue;
            };
            self.status.send_modify(|s| s.get_or_insert_with(UplinkStatus::default).broker = up.url());
            let mut conn = self.connect(up);
            match self.connection(&mut conn, &cancel).await {
                Ended::Stopped => return,
                Ended::Reconfigured => failures = 0,
                Ended::Failed(why) => {
                    failures = if conn.connected { 0 } else { failures.saturating_add(1) };
                    self.set_status(|s| {
                        s.connected = false;
                        s.last_error = Some(why.clone());
                    });
                    if last_logged.as_ref() != Some(&why) {
                        log::warn!("uplink: {}: {why}; retrying", conn.up.url());
                        last_logged = Some(why);
                    }
                    let delay = backoff::delay(failures, jitter.unit());
                    if !self.wait(delay, &cancel).await {
                        return;
                    }
                }
            }
        }
    }
}

/// Hands a publish to the client and records it in the window; false when the client's
/// queue is full (the caller tries again later).
fn send_slot(conn: &mut Conn, topic: &str, retain: bool, payload: Vec<u8>, slot: Slot) -> bool {
    match conn.client.try_publish(topic, QoS::AtLeastOnce, retain, payload) {
        Ok(()) => {
            conn.window.queued(slot);
            true
        }
        Err(e) => {
            log::debug!("uplink: {topic} not queued: {e}");
            false
        }
    }
}

fn send(conn: &mut Conn, topic: &str, retain: bool, payload: Vec<u8>) -> bool {
    send_slot(conn, topic, retain, payload, Slot::Other)
}

/// Starts the uplink and its inbound worker; both stop at `cancel` (the uplink after a
/// last drain and its `offline`).
pub fn spawn(start: Start, cancel: CancellationToken) -> (Handle, impl Future<Output = ()>) {
    let (tx, commands) = mpsc::channel(COMMANDS);
    let (inbound_tx, inbound_rx) = mpsc::channel(inbound::INBOUND);
    let (out_tx, out) = mpsc::channel(inbound::OUTBOUND);
    let (cfg_tx, cfg_rx) = watch::channel(start.cfg);
    let worker = Worker::new(cfg_rx, start.reach.clone(), start.reload, out_tx);
    let uplink = Uplink {
        cfg_tx,
        reach: start.reach,
        status: start.status,
        last_running: None,
        inbound: inbound_tx,
        out,
        commands,
    };
    let task = async move {
        let worker_cancel = cancel.child_token();
        let worker_task = tokio::spawn(worker.run(inbound_rx, worker_cancel.clone()));
        uplink.run(cancel).await;
        worker_cancel.cancel();
        let _ = worker_task.await;
    };
    (Handle { tx }, task)
}

/// The running doors' state, to follow (`None` while the doors restart or stop).
fn door_states(
    views: &watch::Receiver<Option<Arc<crate::site::view::DoorsView>>>,
) -> Option<watch::Receiver<Vec<crate::gateway::handle::DoorStatus>>> {
    views.borrow().as_ref().map(|v| v.gateway.door_states())
}

/// Waits until the doors' state changes (forever without doors).
async fn door_changed(
    doors: &mut Option<watch::Receiver<Vec<crate::gateway::handle::DoorStatus>>>,
) -> Result<(), watch::error::RecvError> {
    match doors {
        Some(rx) => rx.changed().await,
        None => std::future::pending().await,
    }
}
