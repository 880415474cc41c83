//! rumqttc's connection options from the validated settings: client id, keep-alive,
//! clean session, packet size limits, the retained `offline` last will, and the
//! transport (rustls with the ring provider, or plain TCP to a loopback broker).

use rumqttc::{LastWill, MqttOptions, NetworkOptions, QoS, TlsConfiguration, Transport};

use super::topics::Topics;
use crate::config::{Security, UplinkConfig};

/// Events in flight at once (unacknowledged QoS 1 publishes of audit records).
pub const WINDOW: usize = 512;
/// Requests the client may queue: the window plus state, door and reply messages.
pub const CHANNEL: usize = WINDOW + 128;

/// The options for one connection.
pub fn mqtt_options(up: &UplinkConfig, topics: &Topics) -> MqttOptions {
    let mut o = MqttOptions::new(up.client_id.clone(), up.host.clone(), up.port);
    o.set_keep_alive(up.keep_alive.unsigned_abs());
    o.set_clean_session(true);
    o.set_max_packet_size(up.max_packet, up.max_packet);
    o.set_inflight(u16::try_from(CHANNEL).unwrap_or(u16::MAX));
    o.set_last_will(LastWill::new(topics.status(), "offline", QoS::AtLeastOnce, true));
    match &up.security {
        Security::Tls { client, .. } => {
            o.set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(client.clone())));
        }
        Security::Plaintext => {
            o.set_transport(Transport::tcp());
        }
    }
    o
}

/// TCP settings: no Nagle delay (publishes and acknowledgements are small and pipelined;
/// with Nagle and delayed ACKs each window waits tens of milliseconds), and a connect
/// timeout of 10 s.
pub fn network_options() -> NetworkOptions {
    let mut n = NetworkOptions::new();
    n.set_tcp_nodelay(true);
    n.set_connection_timeout(10);
    n
}
