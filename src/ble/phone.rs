//! The phone's side of the exchange, for the emulator (`portvakt-admin phone`), the demo
//! and the tests: it holds a phone key and perhaps a certificate, and opens a door over
//! any [`PhoneLink`] — the simulated socket here, a BLE central elsewhere.

use std::path::Path;
use std::time::Duration;

use portvakt_phone::key::KeyError;
pub use portvakt_phone::{Phone, PhoneSecret};
use tokio::net::UnixStream;

use super::frame::{FrameError, Reassembler, fragment};
use super::message::{Challenge, Code, Message, MessageError};
use super::socket::{read_peer_fragment, write_fragment};

/// How long a phone waits for the gateway's next message.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(5);

/// Why a phone could not finish an exchange.
#[derive(Debug, thiserror::Error)]
pub enum PhoneError {
    /// The link failed.
    #[error("link: {0}")]
    Io(#[from] std::io::Error),
    /// The gateway's fragments did not make a message.
    #[error("the gateway's frames: {0}")]
    Frame(#[from] FrameError),
    /// The gateway's message could not be read.
    #[error("the gateway's message: {0}")]
    Message(#[from] MessageError),
    /// The gateway closed the link.
    #[error("the gateway closed the link")]
    Closed,
    /// No answer in time.
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The phone's key could not sign.
    #[error("the phone's key: {0}")]
    Key(#[from] KeyError),
    /// An answer that does not belong here.
    #[error("unexpected answer: {0:?}")]
    Unexpected(Box<Message>),
}

/// A link from a phone to a gateway that carries fragments.
pub trait PhoneLink {
    /// The ATT MTU of the link.
    fn mtu(&self) -> usize;
    /// Writes one fragment.
    fn write(&mut self, fragment: &[u8]) -> impl Future<Output = std::io::Result<()>>;
    /// The next fragment from the gateway (`None` when the link closed).
    fn next(&mut self) -> impl Future<Output = std::io::Result<Option<Vec<u8>>>>;
}

/// The simulated transport's socket, from the phone's side.
#[derive(Debug)]
pub struct SocketLink {
    stream: UnixStream,
    mtu: usize,
}

impl SocketLink {
    /// Connects to the gateway's BLE socket with this MTU.
    pub async fn connect(path: &Path, mtu: u16) -> std::io::Result<Self> {
        let mut stream = UnixStream::connect(path).await?;
        tokio::io::AsyncWriteExt::write_all(&mut stream, &mtu.to_be_bytes()).await?;
        Ok(Self { stream, mtu: usize::from(mtu) })
    }
}

impl PhoneLink for SocketLink {
    fn mtu(&self) -> usize {
        self.mtu
    }
    async fn write(&mut self, fragment: &[u8]) -> std::io::Result<()> {
        write_fragment(&mut self.stream, fragment).await
    }
    async fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        read_peer_fragment(&mut self.stream).await
    }
}

/// Sends a message in fragments.
pub async fn send(link: &mut impl PhoneLink, message: &Message) -> std::io::Result<()> {
    for f in fragment(&message.encode(), link.mtu()) {
        link.write(&f).await?;
    }
    Ok(())
}

/// Receives the gateway's next message.
pub async fn receive(link: &mut impl PhoneLink) -> Result<Message, PhoneError> {
    let mut frames = Reassembler::default();
    loop {
        let next =
            tokio::time::timeout(ANSWER_WITHIN, link.next()).await.map_err(|_| PhoneError::Timeout(ANSWER_WITHIN))?;
        let Some(f) = next? else { return Err(PhoneError::Closed) };
        if let Some((kind, body)) = frames.push(&f)? {
            return Ok(Message::decode(kind, &body)?);
        }
    }
}

/// The exchange driven over a link, for a [`Phone`] (whose messages are the
/// `portvakt-phone` crate's).
pub trait PhoneExchange {
    /// Asks for a challenge for `door`: the challenge, or the gateway's refusal.
    fn challenge(
        &self,
        link: &mut impl PhoneLink,
        door: &str,
    ) -> impl Future<Output = Result<Result<Challenge, Code>, PhoneError>>;
    /// Opens `door`: open request, challenge, proof; returns the gateway's verdict.
    fn open_door(&self, link: &mut impl PhoneLink, door: &str) -> impl Future<Output = Result<Code, PhoneError>>;
}

impl PhoneExchange for Phone {
    async fn challenge(&self, link: &mut impl PhoneLink, door: &str) -> Result<Result<Challenge, Code>, PhoneError> {
        let tag = new_tag();
        send(link, &self.open(door, tag)).await?;
        loop {
            match receive(link).await? {
                Message::Challenge(c) if c.tag == tag => return Ok(Ok(c)),
                Message::Result(v) if v.tag == tag || v.tag == [0; 8] => return Ok(Err(v.code)),
                // Another phone's notification (over the radio every subscriber gets them).
                Message::Challenge(_) | Message::Result(_) => {}
                other => return Err(PhoneError::Unexpected(Box::new(other))),
            }
        }
    }

    async fn open_door(&self, link: &mut impl PhoneLink, door: &str) -> Result<Code, PhoneError> {
        let challenge = match self.challenge(link, door).await? {
            Ok(c) => c,
            Err(code) => return Ok(code),
        };
        send(link, &self.prove(&challenge, door)?).await?;
        verdict(link, challenge.tag).await
    }
}

/// Waits for the verdict on the exchange tagged `tag`.
pub async fn verdict(link: &mut impl PhoneLink, tag: [u8; 8]) -> Result<Code, PhoneError> {
    loop {
        match receive(link).await? {
            Message::Result(v) if v.tag == tag || v.tag == [0; 8] => return Ok(v.code),
            Message::Challenge(_) | Message::Result(_) => {}
            other => return Err(PhoneError::Unexpected(Box::new(other))),
        }
    }
}

/// A fresh random tag for an open request.
pub fn new_tag() -> [u8; 8] {
    use ring::rand::SecureRandom as _;
    let mut tag = [0u8; 8];
    if ring::rand::SystemRandom::new().fill(&mut tag).is_err() {
        // Unique enough for telling answers apart; the tag is no secret.
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        tag.copy_from_slice(&nanos.to_le_bytes()[..8]);
    }
    tag
}
