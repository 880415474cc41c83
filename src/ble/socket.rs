//! The simulated transport: a Unix socket that carries exactly the fragments a BLE link
//! would, so the daemon, the demo and the tests serve phones with no radio. A phone
//! connects, writes its ATT MTU as a big-endian u16, then each side writes fragments as a
//! big-endian u16 length and the bytes. A fragment longer than the MTU allows ends the
//! connection, as BlueZ would refuse such a write.

use std::path::PathBuf;

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::frame::{MAX_MTU, MIN_MTU};
use super::link::{LinkEvent, TO_PHONE};
use crate::site::local_socket::accept;

/// Phones connected over the socket at once, at most.
pub const MAX_CONNECTIONS: usize = 32;

/// Reads fragments from a stream, keeping what it has read between calls: a call
/// cancelled mid-fragment (inside `select!`) loses nothing — the next call goes on from
/// the bytes already buffered. Only `read` is awaited, which consumes nothing when
/// cancelled.
pub struct FragmentReader<R> {
    stream: R,
    mtu: usize,
    buffered: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FragmentReader<R> {
    /// A reader of fragments that fit `mtu`.
    pub fn new(stream: R, mtu: usize) -> Self {
        Self { stream, mtu, buffered: Vec::new() }
    }

    /// A whole fragment from the bytes buffered, if they hold one.
    fn take(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        let Some(len) = self.buffered.get(..2) else { return Ok(None) };
        let n = usize::from(u16::from_be_bytes([len[0], len[1]]));
        if n > self.mtu - 3 {
            return Err(std::io::Error::other(format!("a fragment of {n} bytes does not fit the MTU of {}", self.mtu)));
        }
        if self.buffered.len() < 2 + n {
            return Ok(None);
        }
        let fragment = self.buffered[2..2 + n].to_vec();
        self.buffered.drain(..2 + n);
        Ok(Some(fragment))
    }

    /// The next fragment (`None` at the end of the stream between fragments).
    pub async fn next(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        loop {
            if let Some(fragment) = self.take()? {
                return Ok(Some(fragment));
            }
            let mut chunk = [0u8; 512];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return if self.buffered.is_empty() {
                    Ok(None)
                } else {
                    Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "the stream ended inside a fragment"))
                };
            }
            self.buffered.extend_from_slice(&chunk[..n]);
        }
    }
}

/// Writes one fragment in the socket's framing.
pub async fn write_fragment(stream: &mut (impl AsyncWrite + Unpin), fragment: &[u8]) -> std::io::Result<()> {
    let n = u16::try_from(fragment.len()).map_err(|_| std::io::Error::other("fragment too long"))?;
    let mut out = Vec::with_capacity(fragment.len() + 2);
    out.extend_from_slice(&n.to_be_bytes());
    out.extend_from_slice(fragment);
    stream.write_all(&out).await
}

/// Reads one fragment in the socket's framing (`None` at the end of the stream).
pub async fn read_peer_fragment(stream: &mut (impl AsyncRead + Unpin)) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut buf = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut buf).await?;
    Ok(Some(buf))
}

async fn connection(stream: UnixStream, peer: String, events: mpsc::Sender<LinkEvent>) -> std::io::Result<()> {
    let (mut rd, mut wr) = stream.into_split();
    let mut mtu = [0u8; 2];
    rd.read_exact(&mut mtu).await?;
    let mtu = usize::from(u16::from_be_bytes(mtu)).clamp(MIN_MTU, MAX_MTU);
    let mut rd = FragmentReader::new(rd, mtu);
    let (to_phone, mut outgoing) = mpsc::channel(TO_PHONE);
    let gone = |e| std::io::Error::other(format!("the BLE actor has stopped: {e}"));
    events.send(LinkEvent::Connected { peer: peer.clone(), mtu, to_phone }).await.map_err(gone)?;
    let result = loop {
        tokio::select! {
            read = rd.next() => match read {
                Ok(Some(bytes)) => {
                    if events.send(LinkEvent::Fragment { peer: peer.clone(), bytes }).await.is_err() {
                        break Ok(());
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(e),
            },
            out = outgoing.recv() => match out {
                Some(f) => if let Err(e) = write_fragment(&mut wr, &f).await { break Err(e) },
                None => break Ok(()),
            },
        }
    };
    let _ = events.send(LinkEvent::Disconnected { peer }).await;
    result
}

/// Serves phones on `listener` until `cancel`; removes the socket file then.
pub async fn serve(listener: UnixListener, path: PathBuf, events: mpsc::Sender<LinkEvent>, cancel: CancellationToken) {
    let mut connections = tokio::task::JoinSet::new();
    let mut count = 0u64;
    while let Some(stream) = accept(&listener, "ble socket", &cancel).await {
        while connections.try_join_next().is_some() {}
        if connections.len() >= MAX_CONNECTIONS {
            log::warn!("ble socket: {MAX_CONNECTIONS} phones already connected; one refused");
            continue;
        }
        count += 1;
        let peer = format!("sim-{count}");
        let events = events.clone();
        connections.spawn(async move {
            if let Err(e) = connection(stream, peer.clone(), events).await {
                log::info!("ble socket: {peer}: {e}");
            }
        });
    }
    connections.abort_all();
    let _ = std::fs::remove_file(&path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_read_cancelled_mid_fragment_loses_no_bytes() {
        let (mut phone, gateway) = tokio::io::duplex(64);
        let mut reader = FragmentReader::new(gateway, MIN_MTU);
        phone.write_all(&[0, 5, b'h', b'e']).await.unwrap();
        // Cancelled (as another branch of a select! wins) with half a fragment read.
        let waited = tokio::time::timeout(std::time::Duration::from_millis(50), reader.next()).await;
        assert!(waited.is_err(), "no whole fragment yet");
        phone.write_all(&[b'l', b'l', b'o', 0, 1, b'!']).await.unwrap();
        assert_eq!(reader.next().await.unwrap(), Some(b"hello".to_vec()));
        assert_eq!(reader.next().await.unwrap(), Some(b"!".to_vec()));
        drop(phone);
        assert_eq!(reader.next().await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_fragment_longer_than_the_mtu_allows_is_refused() {
        let (mut phone, gateway) = tokio::io::duplex(64);
        let mut reader = FragmentReader::new(gateway, MIN_MTU);
        phone.write_all(&[0, 200]).await.unwrap();
        assert!(reader.next().await.is_err());
    }
}
