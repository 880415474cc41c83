//! The audit chain's anchor, in `[store]`: where the gateway's device key lives
//! (`device_key`, beside the store unless set) and how often it signs a checkpoint of the
//! chain (`checkpoint_interval`; also at every orderly stop).

use std::path::{Path, PathBuf};

use jiff::SignedDuration;

use super::fields::duration_within;
use super::problems::Problems;
use super::raw::RawStore;

/// The validated checkpoint settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointConfig {
    /// The device key file (made at first start, mode 600).
    pub device_key: PathBuf,
    /// A checkpoint is signed this often while records come in.
    pub every: SignedDuration,
}

/// Reads the checkpoint keys of `[store]`; `store_path` is the database's.
pub(super) fn checkpoint_options(raw: &RawStore, store_path: &Path, base: &Path, p: &mut Problems) -> CheckpointConfig {
    let device_key = raw
        .device_key
        .as_deref()
        .map_or_else(|| store_path.parent().unwrap_or_else(|| Path::new(".")).join("device.key"), |k| base.join(k));
    let secs = SignedDuration::from_secs;
    let every = duration_within(
        raw.checkpoint_interval.as_deref(),
        secs(3600),
        (secs(1), secs(86_400)),
        "store.checkpoint_interval",
        p,
    );
    CheckpointConfig { device_key, every }
}
