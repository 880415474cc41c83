//! A one-off connection to the broker for `portvakt doctor` when no daemon runs: the same
//! transport and certificates as the uplink, its own client id (so the gateway's session
//! is not taken over) and no last will (so nothing says `offline`).

use std::time::{Duration, Instant};

use rumqttc::{AsyncClient, ConnectReturnCode, Event, MqttOptions, Packet};

use super::options::mqtt_options;
use super::topics::Topics;
use crate::config::UplinkConfig;

/// Connects, waits for the broker's CONNACK (at most `within`), disconnects; returns the
/// time to CONNACK, or why it failed.
pub async fn probe(up: &UplinkConfig, within: Duration) -> Result<Duration, String> {
    let base = mqtt_options(up, &Topics::new(&up.prefix));
    let mut opts = MqttOptions::new(format!("{}-doctor", up.client_id), up.host.clone(), up.port);
    opts.set_transport(base.transport());
    opts.set_keep_alive(base.keep_alive());
    let (client, mut events) = AsyncClient::new(opts, 4);
    let started = Instant::now();
    let outcome = tokio::time::timeout(within, async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(ack))) if ack.code == ConnectReturnCode::Success => {
                    return Ok(started.elapsed());
                }
                Ok(Event::Incoming(Packet::ConnAck(ack))) => return Err(format!("refused: {:?}", ack.code)),
                Ok(_) => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    })
    .await
    .unwrap_or_else(|_| Err(format!("no answer within {within:?}")));
    let _ = client.try_disconnect();
    let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
    outcome
}
