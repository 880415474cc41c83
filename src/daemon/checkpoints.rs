//! The audit chain's anchor while the daemon runs: the device key, loaded or made at start
//! (the `system.device_key` record says so, with its public key), and a checkpoint of the
//! chain signed with it every `store.checkpoint_interval` while records come in, and once
//! more at an orderly stop. A checkpoint is an `audit.checkpoint` record and leaves the box
//! in `events` like every other (`docs/audit.md`: Checkpoints).

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use jiff::{SignedDuration, Timestamp};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::core::clock::ClockState;
use crate::core::hex;
use crate::credentials::checkpoint::Checkpoint;
use crate::credentials::device_key;
use crate::store::actor::Recorded;
use crate::store::{EventKind, NewEvent, StoreError};

/// Signs checkpoints for one site with its device key.
#[derive(Clone)]
pub struct Checkpointer {
    key: Arc<SigningKey>,
    site: String,
    store: crate::store::Handle,
    /// The sequence number of the last checkpoint record written, if any.
    last: Option<u64>,
}

impl Checkpointer {
    /// Loads the device key (or makes it at first start, recorded as `system.device_key`).
    /// `None` when it can neither be read nor made: the doors run without checkpoints, and
    /// the record says why.
    pub async fn start(cfg: &Config, store: &crate::store::Handle, trusted: bool) -> Option<Self> {
        let path = &cfg.checkpoints.device_key;
        let (detail, key) = match device_key::load_or_make(path) {
            Ok((key, made)) => {
                let public = hex::encode(&key.verifying_key().to_bytes());
                log::info!("device key {public} ({})", path.display());
                let detail = made.then(|| serde_json::json!({ "public_key": public, "path": path }));
                (detail, Some(key))
            }
            Err(e) => {
                log::error!("no device key, so no checkpoints of the audit chain: {e}");
                (Some(serde_json::json!({ "error": e.to_string(), "path": path })), None)
            }
        };
        if let Some(d) = detail {
            let e = NewEvent::system(EventKind::DeviceKey, Timestamp::now(), trusted, None, &d);
            if let Err(err) = store.append(e).await {
                log::error!("audit record not stored: {err}");
            }
        }
        Some(Self { key: Arc::new(key?), site: cfg.site.id.to_string(), store: store.clone(), last: None })
    }

    /// The device's public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.verifying_key().to_bytes()
    }

    /// Signs a checkpoint of the newest record, unless that is the last checkpoint itself.
    pub async fn checkpoint(&mut self, trusted: bool) -> Result<Option<u64>, StoreError> {
        let (seq, hash) = self.store.call(|s| Ok(s.head())).await?;
        if seq == 0 || self.last == Some(seq) {
            return Ok(None);
        }
        let now = Timestamp::now();
        let c = Checkpoint::sign(&self.site, seq, hash, now, &self.key);
        let recorded = self.store.append(NewEvent::system(EventKind::AuditCheckpoint, now, trusted, None, &c.detail()));
        if let Recorded::Stored(at) = recorded.await? {
            self.last = Some(at);
        }
        Ok(Some(seq))
    }
}

/// Signs a checkpoint every `every` until `cancel`.
pub async fn run(
    mut checkpointer: Checkpointer,
    every: SignedDuration,
    trust: watch::Receiver<ClockState>,
    cancel: CancellationToken,
) {
    let mut tick = tokio::time::interval(every.unsigned_abs());
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let trusted = trust.borrow().is_trusted();
        if let Err(e) = checkpointer.checkpoint(trusted).await {
            log::error!("checkpoint not stored: {e}");
        }
    }
}
