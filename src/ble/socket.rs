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

async fn read_fragment(stream: &mut (impl AsyncRead + Unpin), mtu: usize) -> std::io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let n = usize::from(u16::from_be_bytes(len));
    if n > mtu - 3 {
        return Err(std::io::Error::other(format!("a fragment of {n} bytes does not fit the MTU of {mtu}")));
    }
    let mut buf = vec![0u8; n];
    stream.read_exact(&mut buf).await?;
    Ok(Some(buf))
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
    read_fragment(stream, MAX_MTU).await
}

async fn connection(stream: UnixStream, peer: String, events: mpsc::Sender<LinkEvent>) -> std::io::Result<()> {
    let (mut rd, mut wr) = stream.into_split();
    let mut mtu = [0u8; 2];
    rd.read_exact(&mut mtu).await?;
    let mtu = usize::from(u16::from_be_bytes(mtu)).clamp(MIN_MTU, MAX_MTU);
    let (to_phone, mut outgoing) = mpsc::channel(TO_PHONE);
    let gone = |e| std::io::Error::other(format!("the BLE actor has stopped: {e}"));
    events.send(LinkEvent::Connected { peer: peer.clone(), mtu, to_phone }).await.map_err(gone)?;
    let result = loop {
        tokio::select! {
            read = read_fragment(&mut rd, mtu) => match read {
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
