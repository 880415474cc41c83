//! An MQTT subscriber for tests: a rumqttc client that records every message under a
//! filter, with a way to wait for what a test expects.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS};

#[derive(Debug, Clone)]
pub struct Seen {
    pub topic: String,
    pub payload: Vec<u8>,
    pub retain: bool,
}

impl Seen {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.payload).unwrap_or(serde_json::Value::Null)
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.payload).into_owned()
    }
}

pub struct Subscriber {
    pub client: AsyncClient,
    pub seen: Arc<Mutex<Vec<Seen>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Subscriber {
    /// Connects to a plain broker on loopback and subscribes to `filter`.
    pub async fn connect(port: u16, id: &str, filter: &str) -> Self {
        let mut opts = MqttOptions::new(id, "127.0.0.1", port);
        opts.set_max_packet_size(8 << 20, 8 << 20);
        let (client, mut events) = AsyncClient::new(opts, 64);
        client.subscribe(filter, QoS::AtLeastOnce).await.unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let task = tokio::spawn(async move {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) => sink.lock().unwrap().push(Seen {
                        topic: p.topic,
                        payload: p.payload.to_vec(),
                        retain: p.retain,
                    }),
                    Ok(_) => {}
                    Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
                }
            }
        });
        Self { client, seen, task }
    }

    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    pub fn on(&self, topic: &str) -> Vec<Seen> {
        self.all().into_iter().filter(|s| s.topic == topic).collect()
    }

    /// Waits (at most `secs`) until a message on `topic` satisfies `pred`; returns it.
    pub async fn wait(&self, topic: &str, secs: u64, pred: impl Fn(&Seen) -> bool) -> Seen {
        for _ in 0..secs * 100 {
            if let Some(s) = self.on(topic).into_iter().rev().find(|s| pred(s)) {
                return s;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let topics: Vec<String> = self.all().into_iter().map(|s| format!("{} {}", s.topic, s.text())).collect();
        panic!("nothing on {topic} as expected within {secs} s; seen:\n{}", topics.join("\n"));
    }

    /// Sequence numbers of the `events` messages seen, in arrival order.
    pub fn event_seqs(&self, topic: &str) -> Vec<u64> {
        self.on(topic).iter().filter_map(|s| s.json()["seq"].as_u64()).collect()
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The daemon's environment for an uplink to the broker on `port` (plain MQTT on
/// loopback), and more.
pub fn uplink_env(port: u16, more: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut env = vec![
        ("PORTVAKT__UPLINK__BROKER".to_owned(), format!("mqtt://127.0.0.1:{port}")),
        ("PORTVAKT__UPLINK__ALLOW_PLAINTEXT".to_owned(), "true".to_owned()),
    ];
    env.extend(more.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    env
}

/// The daemon with an uplink to `broker`, ready.
pub async fn started(
    broker: &portvakt::uplink::sim_broker::SimBroker,
    more: &[(&str, &str)],
) -> super::daemon::TestDaemon {
    let d = super::daemon::TestDaemon::start_with(None, uplink_env(broker.addr().port(), more));
    d.notified("READY=1", 10).await;
    d
}
