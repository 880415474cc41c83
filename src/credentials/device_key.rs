//! The gateway's own Ed25519 key, with which it signs checkpoints of its audit chain. Made
//! on the box at first start (commissioning) and never leaves it; its public key is in the
//! `system.device_key` record written then, in every checkpoint and in `state`.

use std::path::Path;

use ed25519_dalek::SigningKey;

use super::keys::{self, KeyFileError};

/// The device key at `path`, made (mode 600) if there is none yet; `true` when made now.
pub fn load_or_make(path: &Path) -> Result<(SigningKey, bool), KeyFileError> {
    if path.exists() {
        return keys::read_private(path).map(|k| (k, false));
    }
    let seed = keys::random_seed().map_err(|reason| KeyFileError::Io { path: path.to_path_buf(), reason })?;
    keys::write_private(path, &seed)?;
    Ok((SigningKey::from_bytes(&seed), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_key_is_made_once_and_read_back_after() {
        let dir = std::env::temp_dir().join(format!("portvakt-device-key-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("device.key");
        let (made, fresh) = load_or_make(&path).expect("made");
        let (again, fresh_again) = load_or_make(&path).expect("read");
        assert!(fresh && !fresh_again);
        assert_eq!(made.to_bytes(), again.to_bytes());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
