//! The access actor: it owns the registry of accepted signed documents and the current
//! configuration's trust anchors. It looks in the inbox at an interval (reading and
//! verification on its worker, [`worker`]; only the writes on the store's thread), and
//! rebuilds the core's inputs when a document is accepted or the configuration is
//! reloaded. New inputs go to the supervisor, which hands them to the current gateway.
//! It also verifies the certificates phones present over BLE (its trust anchors and
//! registry decide them), taking in a newer revocation list a certificate carries.
//!
//! Channels: commands in (bounded, [`COMMANDS`]; senders wait), new inputs out through a
//! mailbox of one that keeps the newest ([`latest`]): the actor never waits on the
//! supervisor, which may be waiting on the actor (a reload), and a build replaced before it
//! was taken is superseded by the newer one, made from the same registry and more.

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::core::clock::ClockState;
use crate::core::credential::{PhoneKey, Token};
use crate::core::expiry::{Expiry, expiry};
use crate::credentials::envelope::DocType;
use crate::credentials::intake::{
    Expected, IntakeProblem, Outcome, authenticated, inbox_settled, label, process_inbox, take_from,
};
use crate::credentials::intake_report::{IntakeReport, report};
use crate::credentials::phone::{CertifiedPhone, present_certificate};
use crate::credentials::registry::{Built, BundleInfo, Registry};
use crate::credentials::verify::{Refusal, Trust};
use crate::gateway::clock::Clock;
use crate::gateway::handle::NewAccess;
use crate::store::{EventKind, NewEvent, StoreError};

mod handle;
use handle::Command;
pub use handle::{BundleStatus, COMMANDS, Handle, NotTaken, Published};

pub mod latest;
pub mod verdicts;
mod worker;

use worker::WorkerStore;

struct Access {
    cfg: Arc<Config>,
    registry: Registry,
    /// The worker's store (taken while the worker has it). In a mutex only so that the
    /// actor is `Sync` (a SQLite connection is not); only the actor touches it.
    worker: std::sync::Mutex<Option<WorkerStore>>,
    clock: Arc<dyn Clock>,
    trust: watch::Receiver<ClockState>,
    updates: latest::Sender<NewAccess>,
    inbox_error: Option<String>,
    /// Builds handed out so far (each [`NewAccess`] is stamped with the next).
    generation: u64,
    /// The store, for the records this actor writes itself.
    store: crate::store::Handle,
    /// Bundles (authority, version, over) already warned about: as the end nears, and past it.
    warned: std::collections::HashSet<(String, u64, bool)>,
    /// The last word on each authority's documents, for `status` and `state`.
    verdicts: verdicts::Verdicts,
}

impl Access {
    /// Runs `work` on the worker (a blocking thread, not the store's) with the registry,
    /// this configuration's trust, the worker's store, the time validity is judged at
    /// (the clock, or while it is untrusted the later of it and the floor) and whether the
    /// clock is trusted; the registry and the store come back after.
    async fn on_worker<T: Send + 'static>(
        &mut self,
        work: impl FnOnce(&mut Registry, &Trust<'_>, &mut WorkerStore, Timestamp, bool) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let cfg = self.cfg.clone();
        let mut registry = std::mem::take(&mut self.registry);
        let slot = self.worker.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut store = slot.take().ok_or(StoreError::Closed)?;
        let clock = *self.trust.borrow();
        let (now, trusted) = (clock.validity_time(self.clock.now()), clock.is_trusted());
        let done = tokio::task::spawn_blocking(move || {
            let out = work(&mut registry, &Trust::of(&cfg), &mut store, now, trusted);
            (registry, store, out)
        })
        .await
        .map_err(|_| StoreError::Closed)?;
        let (registry, store, out) = done;
        self.registry = registry;
        *self.worker.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(store);
        Ok(out)
    }

    /// Notes the verdicts on the files of one inbox round.
    fn note_outcomes(&mut self, outcomes: &[Outcome]) {
        let now = self.clock.now();
        let cfg = self.cfg.clone();
        let trusted = |a: &str| cfg.authorities.iter().any(|x| x.id.as_str() == a);
        for o in outcomes {
            let name = o.file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let source = format!("file {name}");
            match &o.result {
                Ok(a) => self.verdicts.note(verdicts::About::accepted(a), true, &a.to_string(), source, now),
                // Stays in the inbox for the next round: no verdict yet. The version in
                // force offered again is no news.
                Err(IntakeProblem::Store(_) | IntakeProblem::Refused(Refusal::Replay(_))) => {}
                Err(e) => {
                    let about = verdicts::About::refused(o.label.as_ref(), authenticated(e), trusted);
                    self.verdicts.note(about, false, &e.to_string(), source, now);
                }
            }
        }
    }

    fn next_generation(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Hands new core inputs to the supervisor (for the gateway).
    fn hand_over(&mut self, built: Built) -> Result<(), StoreError> {
        let access = NewAccess { built, key: self.cfg.credential_key.clone(), generation: self.next_generation() };
        if self.updates.put(access) { Ok(()) } else { Err(StoreError::Closed) }
    }

    /// Takes in what waits in the inbox (on the store's thread) and sends new inputs when
    /// anything was accepted.
    async fn intake(&mut self) -> Result<(), StoreError> {
        let inbox = self.cfg.intake.inbox.clone();
        let wall = self.clock.now(); // files' modification times are on the wall clock
        let outcome = self
            .on_worker(move |registry, trust, store, now, trusted| {
                if !inbox_settled(&inbox, wall) {
                    return Ok((Vec::new(), None)); // a file is still being written
                }
                let mut last = None;
                let outcome = process_inbox(&inbox, registry, trust, store, now, trusted, |built| last = Some(built));
                outcome.map(|o| (o, last))
            })
            .await?;
        match outcome {
            Ok((outcomes, last)) => {
                self.inbox_error = None;
                self.note_outcomes(&outcomes);
                for o in &outcomes {
                    match &o.result {
                        Ok(a) => log::info!("inbox: {} taken in: {a:?}", o.file.display()),
                        Err(e) => log::warn!("inbox: {} refused: {e}", o.file.display()),
                    }
                }
                if let Some(built) = last {
                    self.hand_over(built)?;
                }
            }
            Err(e) => {
                let text = format!("inbox {}: {e}", self.cfg.intake.inbox.display());
                if self.inbox_error.as_ref() != Some(&text) {
                    log::warn!("{text}");
                    self.inbox_error = Some(text);
                }
            }
        }
        Ok(())
    }

    /// One round asked for by a person: processes the inbox at once and reports.
    async fn intake_now(&mut self) -> Result<Result<IntakeReport, String>, StoreError> {
        let inbox = self.cfg.intake.inbox.clone();
        let cfg = self.cfg.clone();
        let outcome = self
            .on_worker(move |registry, trust, store, now, trusted| {
                let mut last = None;
                let outcomes = process_inbox(&inbox, registry, trust, store, now, trusted, |built| last = Some(built));
                outcomes.map(|o| (report(&cfg, &inbox, &o, registry, now), o, last))
            })
            .await?;
        match outcome {
            Ok((report, outcomes, last)) => {
                self.note_outcomes(&outcomes);
                if let Some(built) = last {
                    self.hand_over(built)?;
                }
                Ok(Ok(report))
            }
            Err(e) => Ok(Err(format!("inbox {}: {e}", self.cfg.intake.inbox.display()))),
        }
    }

    async fn take(&mut self, doc: Published) -> Result<Result<String, NotTaken>, StoreError> {
        let source = format!("topic {}", doc.topic);
        let document = if doc.doc_type == DocType::Revocations { "revocations" } else { "bundle" };
        let topic_authority = doc.authority.clone();
        let (result, claimed) = self
            .on_worker(move |registry, trust, store, now, trusted| {
                // What a refused document claimed (its first fields), read on the worker.
                let claimed = label(&doc.bytes);
                let expected = Expected { doc_type: doc.doc_type, authority: &doc.authority };
                let taken = take_from(doc.bytes, ("topic", &doc.topic), expected, registry, trust, store, now, trusted);
                (taken, claimed)
            })
            .await?;
        match result {
            Ok((accepted, built)) => {
                log::info!("uplink: taken in: {accepted}");
                let about = verdicts::About::accepted(&accepted);
                self.verdicts.note(about, true, &accepted.to_string(), source, self.clock.now());
                if let Some(built) = built {
                    self.hand_over(built)?;
                }
                Ok(Ok(accepted.to_string()))
            }
            Err(e) => {
                log::warn!("uplink: refused: {e}");
                // Refused is for good; not stored (the store full or failing) may pass.
                let passing = matches!(e, IntakeProblem::Store(_) | IntakeProblem::Io(_));
                if !passing && !matches!(e, IntakeProblem::Refused(Refusal::Replay(_))) {
                    // Said under the topic's authority (the broker lets only it publish
                    // there), with the version the document claims only when it proved to
                    // be that authority's.
                    let cfg = self.cfg.clone();
                    let mut about = verdicts::About::unknown(document);
                    if cfg.authorities.iter().any(|x| x.id.as_str() == topic_authority) {
                        let proven = authenticated(&e);
                        about.version =
                            claimed.filter(|l| proven && l.authority == topic_authority).and_then(|l| l.version);
                        about.authority = topic_authority;
                    }
                    self.verdicts.note(about, false, &e.to_string(), source, self.clock.now());
                }
                Ok(Err(NotTaken { message: e.to_string(), passing }))
            }
        }
    }

    async fn present(
        &mut self,
        certificate: Vec<u8>,
        key: [u8; 32],
    ) -> Result<Result<CertifiedPhone, Refusal>, StoreError> {
        let result = self
            .on_worker(move |registry, trust, store, now, trusted| {
                let p = present_certificate(&certificate, registry, &*store, trust, now, trusted)?;
                if p.phone.credential.token != Token::Phone(PhoneKey(key)) {
                    return Err(Refusal::Unresolvable(vec![
                        "the certificate is for another phone key than the one that signed".into(),
                    ]));
                }
                let newer = p.newer_revocations.and_then(|(bytes, list, _)| {
                    let id = p.phone.credential.id.to_string();
                    let expected = Expected { doc_type: DocType::Revocations, authority: &list.authority };
                    take_from(bytes, ("certificate", &id), expected, registry, trust, store, now, trusted)
                        .map_err(|e| log::warn!("a revocation list carried by certificate {id} was not taken in: {e}"))
                        .ok()
                        .and_then(|(_, built)| built)
                });
                Ok((p.phone, newer, p.refusal))
            })
            .await?;
        let (phone, newer, refusal) = match result {
            Ok(ok) => ok,
            Err(refusal) => return Ok(Err(refusal)),
        };
        if let Some(built) = newer {
            log::info!("ble: a newer revocation list came with certificate {}", phone.credential.id);
            self.hand_over(built)?;
        }
        // Judged against the carried list itself: refused even if it could not be stored.
        if let Some(refusal) = refusal {
            return Ok(Err(refusal));
        }
        Ok(Ok(phone))
    }

    fn bundles(&self) -> Vec<BundleStatus> {
        let now = self.trust.borrow().validity_time(self.clock.now());
        self.registry
            .bundles()
            .map(|(authority, info)| {
                let (ends, grace_until) = self.ending(authority, info, now);
                BundleStatus {
                    authority: authority.to_owned(),
                    info: info.clone(),
                    stale: now.duration_since(info.issued_at) > self.cfg.intake.stale_after,
                    expires_in_hours: info.not_after.duration_since(now).as_hours(),
                    expiring: ends.warns(),
                    expired: ends.is_over(),
                    grace_until,
                }
            })
            .collect()
    }

    /// How `authority`'s bundle ends as seen at `now`, and when its grace ends if it is in it.
    fn ending(&self, authority: &str, info: &BundleInfo, now: Timestamp) -> (Expiry, Option<Timestamp>) {
        let grace = self.cfg.expiry_grace(authority);
        let ends = expiry(info.not_after, now, self.cfg.intake.expiry_warning, grace);
        (ends, matches!(ends, Expiry::Grace(_)).then(|| info.not_after + grace))
    }

    /// Audits each bundle once when it comes within the warning lead of its end
    /// (`credentials.expiring`), so the authority is told before anyone is refused.
    async fn warn_expiring(&mut self) -> Result<(), StoreError> {
        let now = self.trust.borrow().validity_time(self.clock.now());
        let trusted = self.trust.borrow().is_trusted();
        let due: Vec<(String, BundleInfo, Expiry, Option<Timestamp>)> = self
            .registry
            .bundles()
            .map(|(a, info)| {
                let (e, grace_until) = self.ending(a, info, now);
                (a.to_owned(), info.clone(), e, grace_until)
            })
            .filter(|(a, info, e, _)| e.warns() && !self.warned.contains(&(a.clone(), info.version, e.is_over())))
            .collect();
        for (authority, info, e, grace_until) in due {
            log::warn!("bundle of {authority} version {}: {}", info.version, e.words());
            let detail = serde_json::json!({
                "authority": authority, "version": info.version, "not_after": info.not_after,
                "expires_in_hours": info.not_after.duration_since(now).as_hours(), "message": e.words(),
                "expired": e.is_over(), "grace_until": grace_until,
            });
            let event = NewEvent::system(EventKind::CredentialsExpiring, now, trusted, None, &detail);
            self.store.append(event).await?;
            // Once as the end nears, once more when it has passed.
            self.warned.insert((authority, info.version, e.is_over()));
        }
        Ok(())
    }

    async fn reload(&mut self, cfg: Arc<Config>) -> Result<NewAccess, Vec<String>> {
        let for_store = cfg.clone();
        let rebuilt = self
            .on_worker(move |_, _, store, _, _| Registry::built_from_store(&store.reader, &Trust::of(&for_store)))
            .await
            .map_err(|e| vec![e.to_string()])?;
        let (registry, dropped, built) = rebuilt.map_err(|e| vec![e.to_string()])?;
        let built = built?;
        for d in dropped {
            log::warn!("a stored document does not verify under the new configuration and is not used: {d}");
        }
        self.registry = registry;
        let key = cfg.credential_key.clone();
        self.cfg = cfg;
        Ok(NewAccess { built, key, generation: self.next_generation() })
    }
}

/// What the access actor starts from.
pub struct Start {
    /// The configuration in use.
    pub cfg: Arc<Config>,
    /// The registry restored from the store.
    pub registry: Registry,
    /// The store.
    pub store: crate::store::Handle,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// The clock's trust as the clock watcher sees it.
    pub trust: watch::Receiver<ClockState>,
}

/// Starts the actor; new inputs come out of the returned receiver. It stops at `cancel`
/// and fails when the store is gone.
pub fn spawn(
    start: Start,
    cancel: CancellationToken,
) -> (Handle, latest::Receiver<NewAccess>, impl Future<Output = Result<(), StoreError>>) {
    let (tx, mut rx) = mpsc::channel(COMMANDS);
    let (updates, updates_rx) = latest::latest();
    let every = start.cfg.daemon.intake_every.unsigned_abs().max(Duration::from_secs(1));
    if let Err(e) = std::fs::create_dir_all(&start.cfg.intake.inbox) {
        log::warn!("inbox {} cannot be created: {e}", start.cfg.intake.inbox.display());
    }
    let store = start.store;
    let mut access = Access {
        cfg: start.cfg,
        registry: start.registry,
        worker: std::sync::Mutex::new(None),
        clock: start.clock,
        trust: start.trust,
        updates,
        inbox_error: None,
        generation: 0,
        store: store.clone(),
        warned: std::collections::HashSet::new(),
        verdicts: verdicts::Verdicts::default(),
    };
    let task = async move {
        let path = access.cfg.store.path.clone();
        let opened = WorkerStore::open(&path, store, tokio::runtime::Handle::current())?;
        *access.worker.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(opened);
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            // The first tick is at once, and is taken before any request: the start's own
            // intake round is over before the daemon says it is ready (it pings this actor).
            tokio::select! {
                biased;
                () = cancel.cancelled() => return Ok(()),
                _ = ticker.tick() => {
                    access.intake().await?;
                    access.warn_expiring().await?;
                }
                cmd = rx.recv() => match cmd {
                    Some(Command::Ping(reply)) => { let _ = reply.send(()); }
                    Some(Command::Take(doc, reply)) => { let _ = reply.send(access.take(doc).await?); }
                    Some(Command::Bundles(reply)) => { let _ = reply.send(access.bundles()); }
                    Some(Command::Verdicts(reply)) => { let _ = reply.send(access.verdicts.all()); }
                    Some(Command::Present { certificate, key, reply }) => {
                        let _ = reply.send(access.present(certificate, key).await?);
                    }
                    Some(Command::Reload { cfg, reply }) => { let _ = reply.send(access.reload(cfg).await); }
                    Some(Command::IntakeNow(reply)) => {
                        // A round asked for is a whole round: the inbox, then the ends near.
                        let report = access.intake_now().await?;
                        access.warn_expiring().await?;
                        let _ = reply.send(report);
                    }
                    None => return Ok(()),
                },
            }
        }
    };
    (Handle { tx }, updates_rx, task)
}
