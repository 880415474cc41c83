//! The store actor: one OS thread owns the SQLite connection (blocking work stays off the
//! async runtime); everyone else holds a cloneable [`Handle`]. Appends queued while a
//! transaction commits are taken together into the next one (group commit), so a burst
//! costs one fsync per batch while an idle gateway still commits each event at once.
//!
//! Channel: bounded at [`QUEUE`]. Full-channel rule: senders wait. Audit events are never
//! dropped by the channel; only a full disk or cap turns them into a counted gap.

use jiff::Timestamp;
use tokio::sync::{mpsc, oneshot, watch};

use super::StoreError;
use super::db::{Appended, AuditFilter, Store, StoreHealth, StoredRecord, VerifyReport};
use super::record::{AuditRecord, NewEvent};

/// Commands waiting for the store, at most.
pub const QUEUE: usize = 1024;

/// Events committed in one transaction, at most.
pub const MAX_BATCH: usize = 512;

/// What became of one appended event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Durable with this sequence number.
    Stored(u64),
    /// The store was full; the event is counted in a gap record.
    Counted,
}

/// Records waiting for upload, with the chain's run they are published in.
#[derive(Debug, Clone)]
pub struct Outbox {
    /// The run (`events` carries it beside each record); none for a store's first run
    /// from before epochs.
    pub epoch: Option<portvakt_wire::event::Epoch>,
    /// The records, in order.
    pub records: Vec<AuditRecord>,
}

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;
type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// A request to the store actor.
pub enum Command {
    /// Append one event.
    Append {
        /// The event.
        event: NewEvent,
        /// Where the outcome goes.
        reply: Reply<Recorded>,
    },
    /// Read the outbox.
    Outbox {
        /// Records after this sequence number.
        after: u64,
        /// At most this many.
        limit: u32,
        /// Where the records go.
        reply: Reply<Outbox>,
    },
    /// Mark records confirmed.
    Confirm {
        /// Their sequence numbers.
        seqs: Vec<u64>,
        /// When.
        at: Timestamp,
        /// How many changed.
        reply: Reply<u64>,
    },
    /// Anything else, run on the store's thread.
    Run(Job),
}

/// The cloneable way to reach the store.
#[derive(Clone, Debug)]
pub struct Handle {
    tx: mpsc::Sender<Command>,
    head: watch::Receiver<u64>,
}

impl std::fmt::Debug for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Append { .. } => "Append",
            Self::Outbox { .. } => "Outbox",
            Self::Confirm { .. } => "Confirm",
            Self::Run(_) => "Run",
        })
    }
}

impl Handle {
    async fn ask<T>(&self, make: impl FnOnce(Reply<T>) -> Command) -> Result<T, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(make(reply)).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// Appends an event; returns once it is durable (or counted in a gap).
    pub async fn append(&self, event: NewEvent) -> Result<Recorded, StoreError> {
        self.ask(|reply| Command::Append { event, reply }).await
    }

    /// Queues an event for appending without waiting for its commit (the receiver says
    /// when it is durable); waits only for a place in the store's queue. Events submitted
    /// one after another are stored in that order.
    pub async fn submit(&self, event: NewEvent) -> Result<oneshot::Receiver<Result<Recorded, StoreError>>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx.send(Command::Append { event, reply }).await.map_err(|_| StoreError::Closed)?;
        Ok(rx)
    }

    /// The newest committed sequence number, updated after every commit (the uplink
    /// drains the outbox when it moves).
    pub fn head(&self) -> watch::Receiver<u64> {
        self.head.clone()
    }

    /// Up to `limit` unconfirmed records after `after`, in order.
    pub async fn outbox(&self, after: u64, limit: u32) -> Result<Outbox, StoreError> {
        self.ask(|reply| Command::Outbox { after, limit, reply }).await
    }

    /// Marks records confirmed by the uplink.
    pub async fn confirm(&self, seqs: Vec<u64>, at: Timestamp) -> Result<u64, StoreError> {
        self.ask(|reply| Command::Confirm { seqs, at, reply }).await
    }

    /// Runs `f` on the store's thread and returns its result.
    pub async fn call<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.ask(|reply| {
            Command::Run(Box::new(move |store: &mut Store| {
                let _ = reply.send(f(store));
            }))
        })
        .await
    }

    /// Marks everything up to `seq` confirmed (collector acknowledgement).
    pub async fn confirm_through(&self, seq: u64, at: Timestamp) -> Result<u64, StoreError> {
        self.call(move |s| s.confirm_through(seq, at)).await
    }

    /// Prunes confirmed records past their retention.
    pub async fn prune_expired(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.call(move |s| s.prune_expired(now)).await
    }

    /// Erases the personal parts past their class's period (`Store::erase_personal`).
    pub async fn erase_personal(&self, now: Timestamp) -> Result<u64, StoreError> {
        self.call(move |s| s.erase_personal(now)).await
    }

    /// A page of records matching `filter` with sequence numbers after `after`, oldest
    /// first (`filter.limit` is the page size).
    pub async fn page(&self, filter: AuditFilter, after: u64) -> Result<Vec<StoredRecord>, StoreError> {
        self.call(move |s| s.page(&filter, after)).await
    }

    /// The store's condition.
    pub async fn health(&self) -> Result<StoreHealth, StoreError> {
        self.call(|s| s.health()).await
    }

    /// A visit list.
    pub async fn query(&self, filter: AuditFilter) -> Result<Vec<StoredRecord>, StoreError> {
        self.call(move |s| s.query(&filter)).await
    }

    /// Verifies the chain.
    pub async fn verify(&self) -> Result<VerifyReport, StoreError> {
        self.call(|s| s.verify()).await
    }
}

/// Starts the actor on its own thread. It stops when every `Handle` is dropped.
pub fn spawn(store: Store) -> Result<(Handle, std::thread::JoinHandle<()>), StoreError> {
    let (tx, rx) = mpsc::channel(QUEUE);
    let (head_tx, head) = watch::channel(store.head().0);
    let thread = std::thread::Builder::new()
        .name("store".into())
        .spawn(move || run(store, rx, &head_tx))
        .map_err(|source| StoreError::Io { path: "store thread".into(), source })?;
    Ok((Handle { tx, head }, thread))
}

/// Commits a batch, moves `head`, then answers: whoever saw its record stored sees the
/// head past it too (the uplink's last drain relies on this).
fn commit(store: &mut Store, batch: Vec<(NewEvent, Reply<Recorded>)>, head: &watch::Sender<u64>) {
    let (events, replies): (Vec<NewEvent>, Vec<Reply<Recorded>>) = batch.into_iter().unzip();
    let appended = store.append(&events);
    tell_head(store, head);
    match appended {
        Ok(Appended::Stored { last, .. }) => {
            let first = last + 1 - events.len() as u64;
            for (i, reply) in replies.into_iter().enumerate() {
                let _ = reply.send(Ok(Recorded::Stored(first + i as u64)));
            }
        }
        Ok(Appended::Counted) => {
            for reply in replies {
                let _ = reply.send(Ok(Recorded::Counted));
            }
        }
        Err(e) => {
            log::error!("audit store: {e}");
            let (detail, unusable) = (e.to_string(), e.is_unusable());
            let path = store.path().display().to_string();
            for reply in replies {
                let _ =
                    reply.send(Err(StoreError::BatchFailed { path: path.clone(), detail: detail.clone(), unusable }));
            }
        }
    }
}

fn run(mut store: Store, mut rx: mpsc::Receiver<Command>, head: &watch::Sender<u64>) {
    let mut pending: Option<Command> = None;
    loop {
        let Some(cmd) = pending.take().or_else(|| rx.blocking_recv()) else { break };
        match cmd {
            Command::Append { event, reply } => {
                let mut batch = vec![(event, reply)];
                while batch.len() < MAX_BATCH {
                    match rx.try_recv() {
                        Ok(Command::Append { event, reply }) => batch.push((event, reply)),
                        Ok(other) => {
                            pending = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                commit(&mut store, batch, head);
            }
            Command::Outbox { after, limit, reply } => {
                let records = store.outbox(after, limit);
                let _ = reply.send(records.map(|records| Outbox { epoch: store.epoch().cloned(), records }));
            }
            Command::Confirm { seqs, at, reply } => {
                let _ = reply.send(store.confirm(&seqs, at));
            }
            Command::Run(job) => job(&mut store),
        }
        // After jobs too (intake audits its outcomes directly).
        tell_head(&store, head);
    }
}

fn tell_head(store: &Store, head: &watch::Sender<u64>) {
    let now = store.head().0;
    head.send_if_modified(|h| std::mem::replace(h, now) != now);
}
