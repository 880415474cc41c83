//! The other end of the control socket, for `portvakt status`, `pulse`, `watch` and
//! `sim`: one request line out, JSON lines back.

use std::path::Path;

use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::UnixStream;

use super::control::Request;

/// Why a request to the daemon failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No daemon listens at the socket.
    #[error("no daemon answers at {0} (is `portvakt run` running? `systemctl status portvakt`)")]
    NotRunning(String),
    /// The socket exists but may not be used.
    #[error("{0}: permission denied (join the portvakt group, or use sudo)")]
    Denied(String),
    /// The connection broke.
    #[error("control socket: {0}")]
    Io(#[from] std::io::Error),
    /// The daemon said no.
    #[error("{0}")]
    Refused(String),
    /// The daemon's answer was not understood.
    #[error("the daemon's answer was not understood: {0}")]
    Garbled(String),
}

async fn connect(path: &Path) -> Result<UnixStream, ClientError> {
    UnixStream::connect(path).await.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
            ClientError::NotRunning(path.display().to_string())
        }
        std::io::ErrorKind::PermissionDenied => ClientError::Denied(path.display().to_string()),
        _ => ClientError::Io(e),
    })
}

fn answer(line: &str) -> Result<serde_json::Value, ClientError> {
    let v: serde_json::Value = serde_json::from_str(line).map_err(|e| ClientError::Garbled(e.to_string()))?;
    if v.get("ok").and_then(serde_json::Value::as_bool) == Some(true) {
        Ok(v)
    } else {
        let why = v.get("error").and_then(serde_json::Value::as_str).unwrap_or("refused without a reason");
        Err(ClientError::Refused(why.to_owned()))
    }
}

/// Connects and sends `req` as one line.
async fn send(path: &Path, req: &Request) -> Result<UnixStream, ClientError> {
    let mut stream = connect(path).await?;
    let mut line = serde_json::to_string(req).map_err(|e| ClientError::Garbled(e.to_string()))?;
    line.push('\n');
    stream.write_all(line.as_bytes()).await?;
    Ok(stream)
}

/// Sends one request and returns the answer (`ok` is true in it).
pub async fn request(path: &Path, req: &Request) -> Result<serde_json::Value, ClientError> {
    let stream = send(path, req).await?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).await?;
    answer(&reply)
}

/// Streams `watch` lines to `show` until the daemon stops or `stop` resolves.
pub async fn watch(
    path: &Path,
    mut show: impl FnMut(&str),
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ClientError> {
    let mut lines = BufReader::new(send(path, &Request::Watch).await?).lines();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            () = &mut stop => return Ok(()),
            line = lines.next_line() => match line? {
                None => return Ok(()),
                Some(l) => {
                    // The first answer says the daemon is watching (nothing to show).
                    let v = answer(&l)?;
                    if let Some(line) = v.get("line").and_then(serde_json::Value::as_str) {
                        show(line);
                    }
                }
            },
        }
    }
}
