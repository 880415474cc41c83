//! The collector's signing key: a file of 64 hexadecimal digits (what `portvakt-admin
//! keygen` writes), readable by its owner only; its public half is every gateway's
//! `uplink.collector_key`.

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
