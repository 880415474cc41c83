//! What a transport (BlueZ, or the simulated socket) tells the BLE actor: a phone came,
//! sent a fragment, or went. Each connected phone gets a bounded queue for the fragments
//! the gateway sends back; a phone that does not read them is dropped, never waited for.

use tokio::sync::mpsc;

/// Events from all transports, waiting for the actor, at most.
pub const EVENTS: usize = 256;
/// Fragments waiting for one phone, at most.
pub const TO_PHONE: usize = 64;

/// Something a transport saw.
#[derive(Debug)]
pub enum LinkEvent {
    /// A phone connected.
    Connected {
        /// The transport's name for it (address or connection number), for rate limits
        /// and audit records; phones rotate addresses, so never an identity.
        peer: String,
        /// The negotiated ATT MTU.
        mtu: usize,
        /// Where to put fragments for it.
        to_phone: mpsc::Sender<Vec<u8>>,
    },
    /// The phone wrote a fragment.
    Fragment {
        /// Which phone.
        peer: String,
        /// The bytes of one ATT write.
        bytes: Vec<u8>,
    },
    /// The phone went away.
    Disconnected {
        /// Which phone.
        peer: String,
    },
}
