//! The access actor's mailbox: the cloneable [`Handle`] others reach it through, the
//! commands it takes, and what they carry and answer (a document published over MQTT,
//! why one was not taken, the bundles in use).

use std::sync::Arc;

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot};

use crate::config::Config;
use crate::credentials::envelope::DocType;
use crate::credentials::intake_report::IntakeReport;
use crate::credentials::phone::CertifiedPhone;
use crate::credentials::registry::BundleInfo;
use crate::credentials::verify::Refusal;
use crate::gateway::handle::NewAccess;

/// Commands waiting for the access actor, at most.
pub const COMMANDS: usize = 8;

/// Why a published document was not taken in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotTaken {
    /// What happened, for people and `state`.
    pub message: String,
    /// Whether it may pass (the store full or failing, the actor stopping), so the same
    /// bytes should be tried again when they come again; a refusal is for good.
    pub passing: bool,
}

/// One authority's bundle in use, for `status`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct BundleStatus {
    /// The authority.
    pub authority: String,
    /// Version, dates and size.
    #[serde(flatten)]
    pub info: BundleInfo,
    /// Older than the configured `stale_after_days`.
    pub stale: bool,
    /// Hours until it expires (negative: expired).
    pub expires_in_hours: i64,
    /// It ends within `expiry_warning_days`, or has ended.
    pub expiring: bool,
    /// It has ended (its credentials are refused, or in their grace).
    pub expired: bool,
    /// Ended, but its credentials stay in use until then (the authority's `expiry_grace`).
    pub grace_until: Option<Timestamp>,
}

/// A signed document that came over MQTT, and what its topic says it is.
#[derive(Debug)]
pub struct Published {
    /// The topic it came on.
    pub topic: String,
    /// Bundle or revocation list.
    pub doc_type: DocType,
    /// The authority the topic names.
    pub authority: String,
    /// The envelope's bytes.
    pub bytes: Vec<u8>,
}

pub(super) enum Command {
    Ping(oneshot::Sender<()>),
    Take(Published, oneshot::Sender<Result<String, NotTaken>>),
    Bundles(oneshot::Sender<Vec<BundleStatus>>),
    Verdicts(oneshot::Sender<Vec<super::verdicts::Verdict>>),
    Present { certificate: Vec<u8>, key: [u8; 32], reply: oneshot::Sender<Result<CertifiedPhone, Refusal>> },
    Reload { cfg: Arc<Config>, reply: oneshot::Sender<Result<NewAccess, Vec<String>>> },
    IntakeNow(oneshot::Sender<Result<IntakeReport, String>>),
}

/// The cloneable way to reach the access actor.
#[derive(Clone)]
pub struct Handle {
    pub(super) tx: mpsc::Sender<Command>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("access::Handle")
    }
}

impl Handle {
    /// Whether the actor's loop answers.
    pub async fn ping(&self) -> bool {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Command::Ping(tx)).await.is_ok() && rx.await.is_ok()
    }

    /// The bundles in use.
    pub async fn bundles(&self) -> Vec<BundleStatus> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Bundles(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// The last word on each authority's bundle and revocation list.
    pub async fn verdicts(&self) -> Vec<super::verdicts::Verdict> {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Verdicts(tx)).await.is_err() {
            return Vec::new();
        }
        rx.await.unwrap_or_default()
    }

    /// Takes in a document published over MQTT exactly as the inbox does (verified,
    /// stored, audited, then swapped in); says what was taken in, or why not.
    pub async fn take(&self, doc: Published) -> Result<String, NotTaken> {
        let stopped = || NotTaken { message: "the access actor has stopped".to_owned(), passing: true };
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Take(doc, reply)).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Verifies a phone certificate presented over BLE by the phone that proved `key`,
    /// and resolves it into a credential. A newer revocation list it carries is taken in
    /// (stored, audited, swapped in) first, and applies to this certificate too.
    pub async fn present(&self, certificate: Vec<u8>, key: [u8; 32]) -> Result<CertifiedPhone, Refusal> {
        let stopped = || Refusal::Unresolvable(vec!["the access actor has stopped".into()]);
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Present { certificate, key, reply }).await.map_err(|_| stopped())?;
        rx.await.map_err(|_| stopped())?
    }

    /// Takes in what waits in the inbox now, without waiting for the next round or for
    /// the files to settle (someone asked: `portvakt intake`), and says what became of each.
    pub async fn intake_now(&self) -> Result<IntakeReport, String> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::IntakeNow(reply)).await.map_err(|_| "the access actor has stopped".to_owned())?;
        rx.await.map_err(|_| "the access actor has stopped".to_owned())?
    }

    /// Builds the inputs for a new configuration; on success the actor adopts it, on
    /// failure it keeps the old one and says why.
    pub async fn reload(&self, cfg: Arc<Config>) -> Result<NewAccess, Vec<String>> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Reload { cfg, reply }).await.map_err(|_| vec!["the access actor has stopped".into()])?;
        rx.await.map_err(|_| vec!["the access actor has stopped".into()])?
    }
}
