//! The collector's signing key: a file of 64 hexadecimal digits (what `portvakt-admin
//! keygen` writes), readable by its owner only; its public half is every gateway's
//! `uplink.collector_key`. And the reading keys of the audiences this Central may read.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use ed25519_dalek::SigningKey;

/// Reads the key; the error names the file and what is wrong (never the key).
pub fn signing_key(path: &Path) -> Result<SigningKey, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{}: mode {:o} lets others read the collector's key; chmod 600 it",
            path.display(),
            meta.permissions().mode() & 0o777
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let bytes = portvakt_wire::hex::decode32(text.trim())
        .ok_or_else(|| format!("{}: not a private key of 64 hexadecimal digits", path.display()))?;
    Ok(SigningKey::from_bytes(&bytes))
}

/// The reading keys this Central holds: the audiences whose personal parts it may open
/// (its own authority's, in a municipality's own Central), each an X25519 private key.
#[derive(Clone, Default)]
pub struct ReadingKeys {
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for ReadingKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The audiences only, never a key.
        f.debug_list().entries(self.keys.iter().map(|(a, _)| a)).finish()
    }
}

impl ReadingKeys {
    /// Reads `AUDIENCE=FILE` (a file `portvakt-admin keygen --reading` wrote, mode 600).
    pub fn add(&mut self, spec: &str) -> Result<(), String> {
        let (audience, file) = spec
            .split_once('=')
            .ok_or_else(|| format!("--reading-key {spec}: write it as AUTHORITY=FILE, e.g. hemtjansten=reading.key"))?;
        let key = signing_key(Path::new(file))?.to_bytes();
        if portvakt_wire::personal::reading_public(&key).is_none() {
            return Err(format!("{file}: not a reading key"));
        }
        self.keys.push((audience.to_owned(), key));
        Ok(())
    }

    /// A set holding one key (tests, the demo).
    pub fn of(audience: &str, key: [u8; 32]) -> Self {
        Self { keys: vec![(audience.to_owned(), key)] }
    }

    /// The key of `audience`, if this Central holds it.
    pub fn key_of(&self, audience: &str) -> Option<&[u8; 32]> {
        self.keys.iter().find(|(a, _)| a == audience).map(|(_, k)| k)
    }

    /// The audiences this Central reads.
    pub fn audiences(&self) -> Vec<&str> {
        self.keys.iter().map(|(a, _)| a.as_str()).collect()
    }
}

/// What a collector signs and reads with.
#[derive(Clone)]
pub struct Keys {
    /// Signs acknowledgements.
    pub signing: SigningKey,
    /// Opens its own audiences' personal parts.
    pub reading: ReadingKeys,
}
