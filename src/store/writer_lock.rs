//! The one-writer rule, enforced by the OS: whoever opens the store to write holds an
//! exclusive `flock` on the database file for as long as the [`Store`](super::Store)
//! lives. A second writer — `portvakt intake` or `doctor` while the daemon runs, or a
//! second daemon — is refused at once with [`StoreError::Locked`] instead of appending
//! records whose sequence numbers the first writer is about to use. Readers (`audit
//! list`, `audit verify`, `explain`) open read-only and take no lock; SQLite's WAL lets
//! them read beside the writer. The lock goes with the process, even under SIGKILL.
//!
//! `flock` locks are independent of the POSIX record locks SQLite itself uses on the same
//! file, so the two do not interfere.

use std::fs::{File, OpenOptions};
use std::path::Path;

use nix::fcntl::{Flock, FlockArg};

use super::StoreError;

/// The held lock; released when dropped.
pub struct WriterLock {
    _held: Flock<File>,
}

impl std::fmt::Debug for WriterLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WriterLock")
    }
}

impl WriterLock {
    /// Takes the exclusive lock on `path` (creating the file if needed), or says who holds it.
    pub fn take(path: &Path) -> Result<Self, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|source| StoreError::Io { path: path.to_path_buf(), source })?;
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(held) => Ok(Self { _held: held }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Err(StoreError::Locked { path: path.to_path_buf() }),
            Err((_, errno)) => Err(StoreError::Io { path: path.to_path_buf(), source: errno.into() }),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_second_writer_is_refused_while_the_first_holds_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("portvakt.db");
        let first = WriterLock::take(&path).unwrap();
        assert!(matches!(WriterLock::take(&path), Err(StoreError::Locked { .. })));
        drop(first);
        assert!(WriterLock::take(&path).is_ok(), "the lock goes with its holder");
    }
}
