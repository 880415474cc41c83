//! Local Unix sockets for the daemon's own clients and the simulated BLE transport:
//! binding one (mode 0660, removing a stale socket nobody answers on, refusing when
//! another daemon answers) and accepting connections until cancelled.

use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{UnixListener, UnixStream};
use tokio_util::sync::CancellationToken;

/// Why the control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// Another daemon answers on the socket.
    #[error("{0}: another portvakt daemon is already running")]
    InUse(PathBuf),
    /// The socket could not be made.
    #[error("control socket {path}: {source}")]
    Io {
        /// The socket's path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Binds the socket at `path` (removing a stale one nobody answers on), mode 0660.
pub async fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let io = |source| ControlError::Io { path: path.to_owned(), source };
    if path.exists() {
        if UnixStream::connect(path).await.is_ok() {
            return Err(ControlError::InUse(path.to_owned()));
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io)?;
    Ok(listener)
}

/// The next connection on `listener` (`None` at `cancel`); a failed accept (out of file
/// descriptors, say) is logged under `name` and retried after a pause.
pub async fn accept(listener: &UnixListener, name: &str, cancel: &CancellationToken) -> Option<UnixStream> {
    loop {
        tokio::select! {
            () = cancel.cancelled() => return None,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => return Some(stream),
                Err(e) => {
                    log::warn!("{name}: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}
