//! Authority key files: the 32-byte Ed25519 seed as 64 hexadecimal digits, in a file only
//! its owner can read (mode 600). A key file that others can read is refused, not used.

use std::io::Write as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use ed25519_dalek::SigningKey;

use crate::core::hex;

/// Why a key file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read or written.
    #[error("{path}: {reason}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why (shown in the message, so not also a `source`).
        reason: std::io::Error,
    },
    /// Group or others can read it.
    #[error("{path} can be read by other users (mode {mode:o}); run chmod 600 on it, and consider the key exposed")]
    Exposed {
        /// The file.
        path: PathBuf,
        /// Its mode.
        mode: u32,
    },
    /// Not 64 hexadecimal digits.
    #[error("{0} does not hold a key (64 hexadecimal digits)")]
    Malformed(PathBuf),
    /// Neither an Ed25519 seed nor a P-256 key.
    #[error(
        "{0} holds no phone key (64 hexadecimal digits, or a P-256 key's PKCS#8 in hexadecimal from keygen --p256)"
    )]
    NotPhoneKey(PathBuf),
    /// A public key where the private key belongs (both are 64 hexadecimal digits).
    #[error("{0} is a public key; sign with the private key file (the one without .pub)")]
    PublicKey(PathBuf),
}

/// 32 bytes from the operating system's random source (ring's `SystemRandom`, as for
/// BLE nonces: getrandom(2) where the kernel has it).
pub fn random_seed() -> std::io::Result<[u8; 32]> {
    use ring::rand::SecureRandom as _;
    let mut seed = [0u8; 32];
    ring::rand::SystemRandom::new()
        .fill(&mut seed)
        .map_err(|_| std::io::Error::other("the operating system's random source failed"))?;
    Ok(seed)
}

/// Writes a new private key file (mode 600); refuses to overwrite one.
pub fn write_private(path: &Path, seed: &[u8; 32]) -> Result<(), KeyFileError> {
    write_private_bytes(path, seed)
}

/// Writes any private key as hexadecimal (mode 600; a P-256 phone key's PKCS#8 document);
/// refuses to overwrite one.
pub fn write_private_bytes(path: &Path, private: &[u8]) -> Result<(), KeyFileError> {
    let io = |reason| KeyFileError::Io { path: path.to_path_buf(), reason };
    let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path).map_err(io)?;
    writeln!(f, "{}", hex::encode(private)).map_err(io)?;
    f.sync_all().map_err(io)
}

/// Reads a private key file, refusing one that others can read.
pub fn read_private(path: &Path) -> Result<SigningKey, KeyFileError> {
    read_private_seed(path).map(|seed| SigningKey::from_bytes(&seed))
}

/// The 32 private bytes of a key file (a signing key's seed, or a reading key), with the
/// same checks as [`read_private`].
pub fn read_private_seed(path: &Path) -> Result<[u8; 32], KeyFileError> {
    let io = |reason| KeyFileError::Io { path: path.to_path_buf(), reason };
    let mode = std::fs::metadata(path).map_err(io)?.permissions().mode();
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Exposed { path: path.to_path_buf(), mode: mode & 0o777 });
    }
    if path.extension().is_some_and(|e| e == "pub") {
        return Err(KeyFileError::PublicKey(path.to_path_buf()));
    }
    let text = std::fs::read_to_string(path).map_err(io)?;
    let seed = hex::decode32(&text).ok_or_else(|| KeyFileError::Malformed(path.to_path_buf()))?;
    // keygen writes `<key>.pub` beside it: if that holds this very text, this is a copy of
    // the public key, not the private one.
    let beside = std::fs::read_to_string(format!("{}.pub", path.display())).ok();
    if beside.as_deref().and_then(hex::decode32) == Some(seed) {
        return Err(KeyFileError::PublicKey(path.to_path_buf()));
    }
    Ok(seed)
}

/// A phone's private key file: an Ed25519 seed (64 hexadecimal digits, `keygen`) or a
/// P-256 key's PKCS#8 document in hexadecimal (`keygen --p256`), with the same checks as
/// [`read_private`].
pub fn read_phone_key(path: &Path) -> Result<portvakt_phone::PhoneSecret, KeyFileError> {
    match read_private(path) {
        Ok(key) => return Ok(key.into()),
        Err(KeyFileError::Malformed(_)) => {}
        Err(other) => return Err(other),
    }
    let not_phone = || KeyFileError::NotPhoneKey(path.to_path_buf());
    let text = std::fs::read_to_string(path).map_err(|reason| KeyFileError::Io { path: path.to_path_buf(), reason })?;
    let der = hex::decode(text.trim()).ok_or_else(not_phone)?;
    portvakt_phone::PhoneSecret::p256_from_pkcs8(&der).map_err(|_| not_phone())
}

/// The public key of a signing key, as hex.
pub fn public_hex(key: &SigningKey) -> String {
    hex::encode(&key.verifying_key().to_bytes())
}
