//! Delivery over MQTT: a signed bundle or revocation list published retained (QoS 1, so
//! a gateway that connects later still gets it) on `<root>/<site>/bundle/<authority>` or
//! `…/revocations/<authority>`, with the authority's client certificate over TLS; and a
//! gateway's retained `state` read back. Plain `mqtt://` only to a loopback test broker,
//! as the gateway's uplink allows.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, Event, MqttOptions, Packet, QoS, TlsConfiguration, Transport};

use super::Workspace;
use super::files::MqttDelivery;

fn options(ws: &Workspace, d: &MqttDelivery, purpose: &str) -> Result<MqttOptions, String> {
    let (tls, host, port) = portvakt_wire::broker::parse_broker(&d.broker)?;
    let id = format!("portvakt-admin-{}-{purpose}-{}", ws.settings.authority, std::process::id());
    let mut o = MqttOptions::new(id, host.clone(), port);
    o.set_keep_alive(Duration::from_secs(30));
    o.set_max_packet_size(1 << 24, 1 << 24);
    if tls {
        let read = |p: &Option<std::path::PathBuf>, what: &str| -> Result<Vec<u8>, String> {
            let p = p.as_ref().ok_or_else(|| format!("mqtt.{what} is needed for mqtts://"))?;
            let p = ws.resolve(p);
            std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))
        };
        let client = portvakt_wire::tls::tls_client(
            &read(&d.ca_file, "ca_file")?,
            &read(&d.cert_file, "cert_file")?,
            &read(&d.key_file, "key_file")?,
        )?;
        o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(Arc::new(client))));
    } else if !portvakt_wire::broker::is_loopback(&host) {
        return Err(format!("{}: plain MQTT is refused except to a loopback test broker; use mqtts://", d.broker));
    }
    Ok(o)
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| e.to_string())
}

/// Publishes `bytes` retained on `topic` and waits for the broker's acknowledgement.
pub fn publish_retained(
    ws: &Workspace,
    d: &MqttDelivery,
    topic: &str,
    bytes: Vec<u8>,
    within: Duration,
) -> Result<(), String> {
    let o = options(ws, d, "publish")?;
    runtime()?.block_on(async move {
        let (client, mut events) = AsyncClient::new(o, 4);
        client.publish(topic, QoS::AtLeastOnce, true, bytes).await.map_err(|e| e.to_string())?;
        let outcome = tokio::time::timeout(within, async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::PubAck(_))) => return Ok(()),
                    Ok(Event::Incoming(Packet::ConnAck(a))) if a.code != rumqttc::ConnectReturnCode::Success => {
                        return Err(format!("the broker refused the connection: {:?}", a.code));
                    }
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err(format!("no acknowledgement from {} within {within:?}", d.broker)));
        let _ = client.disconnect().await;
        let _ = tokio::time::timeout(Duration::from_millis(200), events.poll()).await;
        outcome
    })
}

/// Reads the retained message on `topic` (a gateway's `state`).
pub fn read_retained(ws: &Workspace, d: &MqttDelivery, topic: &str, within: Duration) -> Result<Vec<u8>, String> {
    let o = options(ws, d, "read")?;
    runtime()?.block_on(async move {
        let (client, mut events) = AsyncClient::new(o, 4);
        client.subscribe(topic, QoS::AtLeastOnce).await.map_err(|e| e.to_string())?;
        let outcome = tokio::time::timeout(within, async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => return Ok(p.payload.to_vec()),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err(format!("nothing retained on {topic} at {} within {within:?}", d.broker)));
        let _ = client.disconnect().await;
        outcome
    })
}

/// Reads the retained message on `topic`, or `None` when the broker holds none: it sends a
/// retained message right after acknowledging the subscription, so a short wait after that
/// acknowledgement tells.
pub fn read_retained_if_any(
    ws: &Workspace,
    d: &MqttDelivery,
    topic: &str,
    within: Duration,
) -> Result<Option<Vec<u8>>, String> {
    let o = options(ws, d, "read")?;
    runtime()?.block_on(async move {
        let (client, mut events) = AsyncClient::new(o, 4);
        client.subscribe(topic, QoS::AtLeastOnce).await.map_err(|e| e.to_string())?;
        let subscribed = tokio::time::timeout(within, async {
            loop {
                match events.poll().await {
                    Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => return Ok(Some(p.payload.to_vec())),
                    Ok(Event::Incoming(Packet::SubAck(_))) => return Ok(None),
                    Ok(_) => {}
                    Err(e) => return Err(e.to_string()),
                }
            }
        })
        .await
        .unwrap_or_else(|_| Err(format!("no answer from {} within {within:?}", d.broker)));
        let outcome = match subscribed {
            Ok(None) => {
                let after = tokio::time::timeout(Duration::from_millis(500), async {
                    loop {
                        match events.poll().await {
                            Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => {
                                return Ok(Some(p.payload.to_vec()));
                            }
                            Ok(_) => {}
                            Err(e) => return Err(e.to_string()),
                        }
                    }
                })
                .await;
                after.unwrap_or(Ok(None))
            }
            other => other,
        };
        let _ = client.disconnect().await;
        outcome
    })
}
