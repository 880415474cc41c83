//! The gateway's ordered audit writer: the door loop hands it records (and the lockouts
//! and door modes it keeps) and goes on at once; a task of its own carries them to the
//! store in the order given. The door loop never waits on the disk: while the store is
//! slow or stalled, writes wait in a backlog in the gateway's memory and drain as the
//! writer's queue has room. Whoever must know a record is durable before saying so (the
//! control socket's `pulse`, a remote command, a phone's answer) gets a [`Committed`]
//! and waits on it outside the door loop.
//!
//! Channel: bounded at [`QUEUE`]; past it the backlog holds up to [`BACKLOG_MAX`]
//! writes, and only beyond that does the door loop wait (records are never dropped).

use std::collections::VecDeque;

use tokio::sync::{mpsc, oneshot};

use crate::store::NewEvent;
use crate::store::actor::MAX_BATCH;
use crate::store::state::{DoorModeRow, LockoutRow};

/// Writes waiting for the writer task, at most.
pub const QUEUE: usize = 1024;
/// Writes the gateway keeps in memory while the writer's queue is full, at most.
pub const BACKLOG_MAX: usize = 100_000;

type Done = oneshot::Sender<Result<(), String>>;

/// One thing to write, in order.
#[derive(Debug)]
pub enum Write {
    /// An audit record.
    Event(NewEvent, Option<Done>),
    /// The keypad lockouts (all of them).
    Lockouts(Vec<LockoutRow>),
    /// A door's mode, kept across restarts.
    DoorMode {
        /// The sealed row.
        row: DoorModeRow,
        /// Stored, or why not.
        done: Done,
    },
}

/// The writes someone waits on before saying they are done.
#[derive(Debug, Default)]
pub struct Committed(Vec<oneshot::Receiver<Result<(), String>>>);

impl Committed {
    /// Waits until every write is durable; the first failure, if any.
    pub async fn wait(self) -> Result<(), String> {
        for rx in self.0 {
            rx.await.map_err(|_| "the audit writer stopped before the record was stored".to_owned())??;
        }
        Ok(())
    }

    fn push(&mut self) -> Done {
        let (tx, rx) = oneshot::channel();
        self.0.push(rx);
        tx
    }
}

/// The gateway's end of the writer.
#[derive(Debug)]
pub struct AuditWriter {
    tx: mpsc::Sender<Write>,
    backlog: VecDeque<Write>,
    /// The writer's inputs until [`AuditWriter::start`], then its task.
    unstarted: Option<(crate::store::Handle, mpsc::Receiver<Write>)>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl AuditWriter {
    /// A writer to `store`; writes queue until [`AuditWriter::start`].
    pub fn new(store: crate::store::Handle) -> Self {
        let (tx, rx) = mpsc::channel(QUEUE);
        Self { tx, backlog: VecDeque::new(), unstarted: Some((store, rx)), task: None }
    }

    /// Starts the writer task (on the current runtime).
    pub fn start(&mut self) {
        if let Some((store, rx)) = self.unstarted.take() {
            self.task = Some(tokio::spawn(run(store, rx)));
        }
    }

    /// Records an event; nobody waits for it.
    pub fn record(&mut self, event: NewEvent) {
        self.push(Write::Event(event, None));
    }

    /// Records an event; `committed` learns when it is durable.
    pub fn record_into(&mut self, event: NewEvent, committed: &mut Committed) {
        let done = committed.push();
        self.push(Write::Event(event, Some(done)));
    }

    /// Saves the keypad lockouts.
    pub fn save_lockouts(&mut self, rows: Vec<LockoutRow>) {
        self.push(Write::Lockouts(rows));
    }

    /// Saves a door's mode; `committed` learns when it is durable.
    pub fn save_mode(&mut self, row: DoorModeRow, committed: &mut Committed) {
        let done = committed.push();
        self.push(Write::DoorMode { row, done });
    }

    fn push(&mut self, w: Write) {
        if !self.backlog.is_empty() {
            self.backlog.push_back(w);
            return;
        }
        match self.tx.try_send(w) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(w)) => self.backlog.push_back(w),
            Err(mpsc::error::TrySendError::Closed(_)) => log::error!("audit writer stopped: a record is not stored"),
        }
    }

    /// The sender to wait on while writes are backlogged (`None`: nothing waits).
    pub fn backlogged(&self) -> Option<mpsc::Sender<Write>> {
        (!self.backlog.is_empty()).then(|| self.tx.clone())
    }

    /// Moves the oldest backlogged write into the place `permit` holds.
    pub fn flush_one(&mut self, permit: mpsc::OwnedPermit<Write>) {
        if let Some(w) = self.backlog.pop_front() {
            permit.send(w);
        }
    }

    /// Only when the backlog is past [`BACKLOG_MAX`]: waits until it is half that.
    pub async fn hold_if_overflowing(&mut self) {
        if self.backlog.len() <= BACKLOG_MAX {
            return;
        }
        log::warn!("the audit store is far behind: the doors wait for it");
        while self.backlog.len() > BACKLOG_MAX / 2 {
            let Some(w) = self.backlog.pop_front() else { break };
            if self.tx.send(w).await.is_err() {
                break;
            }
        }
    }

    /// Hands over the whole backlog and waits until the writer has stored everything.
    pub async fn finish(mut self) {
        self.start();
        while let Some(w) = self.backlog.pop_front() {
            if self.tx.send(w).await.is_err() {
                break;
            }
        }
        drop(self.tx);
        if let Some(task) = self.task {
            let _ = task.await;
        }
    }
}

type Pending = Vec<(oneshot::Receiver<Result<crate::store::actor::Recorded, crate::store::StoreError>>, Option<Done>)>;

/// Waits for submitted records in order and tells whoever waits on them.
async fn settle(pending: &mut Pending) {
    for (rx, done) in pending.drain(..) {
        let outcome = match rx.await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(e.to_string()),
            Err(_) => Err("the store stopped".to_owned()),
        };
        if let Err(e) = &outcome {
            log::error!("audit record not stored: {e}");
        }
        if let Some(done) = done {
            let _ = done.send(outcome);
        }
    }
}

async fn run(store: crate::store::Handle, mut rx: mpsc::Receiver<Write>) {
    let mut pending = Pending::new();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(w) => batch.push(w),
                Err(_) => break,
            }
        }
        // Consecutive records are all submitted, then awaited: the store commits them
        // together. Other writes keep their place in the order.
        for w in batch {
            match w {
                Write::Event(event, done) => match store.submit(event).await {
                    Ok(rx) => pending.push((rx, done)),
                    Err(e) => {
                        log::error!("audit record not stored: {e}");
                        if let Some(done) = done {
                            let _ = done.send(Err(e.to_string()));
                        }
                    }
                },
                Write::Lockouts(rows) => {
                    settle(&mut pending).await;
                    if let Err(e) = store.call(move |s| s.save_lockouts(&rows)).await {
                        log::error!("keypad lockouts not saved: {e}");
                    }
                }
                Write::DoorMode { row, done } => {
                    settle(&mut pending).await;
                    let stored = store.call(move |s| s.set_door_mode(&row)).await;
                    let _ = done.send(stored.map_err(|e| format!("the mode could not be stored: {e}")));
                }
            }
        }
        settle(&mut pending).await;
    }
}
