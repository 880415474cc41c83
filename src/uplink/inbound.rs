//! What arrives over MQTT, handled away from the connection loop (a reload or a large
//! bundle must not stall keep-alives): signed bundles and revocation lists go through the
//! access actor exactly as the inbox does; commands are checked ([`super::command`]) and
//! carried out against the gateway, the store or the supervisor; collector
//! acknowledgements confirm the outbox. Every refusal is audited (`uplink.refused` or
//! `credentials.refused`) and, for commands, answered on `cmd/<name>/reply`.
//!
//! Channels: messages in (bounded, [`INBOUND`]; when full the connection loop drops the
//! message and logs it — a command then gets no reply and may be sent again), replies and
//! update results out (bounded, [`OUTBOUND`]; the worker waits).

use std::sync::Arc;

use jiff::Timestamp;
use serde_json::value::RawValue;
use sha2::{Digest as _, Sha256};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::ack;
use super::command::{self, Accepted, Action, Checks, Refused, ReplayMemory};
use super::payload::{self, UpdateResult};
use super::seen_documents::SeenDocuments;
use super::topics::{Inbound, Topics};
use crate::access::Published;
use crate::config::{Config, ConfirmOn, UplinkConfig};
use crate::credentials::envelope::DocType;
use crate::gateway::handle::Actor;
use crate::site::reach::{self, Reach};
use crate::store::{AuditFilter, EpochReason, EventKind, NewEvent};
use portvakt_wire::command::AuditQuery;

/// Messages waiting for the worker, at most.
pub const INBOUND: usize = 16;
/// Results waiting for the connection loop, at most.
pub const OUTBOUND: usize = 16;
/// Characters of an odd topic kept in its refusal record.
const MAX_TOPIC_SHOWN: usize = 200;

/// A reload asked for over MQTT: the supervisor answers with the problems, if any.
pub type ReloadRequest = oneshot::Sender<Result<(), Vec<String>>>;

/// One message from the broker.
#[derive(Debug)]
pub struct Message {
    /// Its topic.
    pub topic: String,
    /// Its payload.
    pub payload: bytes::Bytes,
}

/// What the worker hands back to the connection loop.
#[derive(Debug)]
pub enum Out {
    /// Publish a command's reply (QoS 1, not retained).
    Reply {
        /// `cmd/<name>/reply`.
        topic: String,
        /// The reply.
        payload: Vec<u8>,
    },
    /// An update was taken in or refused (goes into `state`).
    Update(UpdateResult),
    /// A collector's acknowledgement was refused (counted in `state`).
    AckRefused,
    /// The store began a new run of its chain: publish again from its first record.
    EpochBegun {
        /// The run's first record.
        from: u64,
    },
}

/// The worker's surroundings.
pub struct Worker {
    /// The configuration in use (replaced at reload).
    pub cfg: watch::Receiver<Arc<Config>>,
    /// The daemon's parts.
    pub reach: Reach,
    /// Where reloads are asked for.
    pub reload: mpsc::Sender<ReloadRequest>,
    /// Where results go.
    pub out: mpsc::Sender<Out>,
    memory: ReplayMemory,
    seen: SeenDocuments,
    /// The refusal codes of the acknowledgements refused since the last one taken: each
    /// code is audited once an episode (its record would itself be acknowledged into the
    /// same refusal — a replaced gateway against a collector that holds the old chain),
    /// every refusal is counted in `state`.
    refusing_acks: Vec<&'static str>,
}

impl Worker {
    /// A worker with empty replay memory.
    pub fn new(
        cfg: watch::Receiver<Arc<Config>>,
        reach: Reach,
        reload: mpsc::Sender<ReloadRequest>,
        out: mpsc::Sender<Out>,
    ) -> Self {
        Self {
            cfg,
            reach,
            reload,
            out,
            memory: ReplayMemory::default(),
            seen: SeenDocuments::default(),
            refusing_acks: Vec::new(),
        }
    }

    /// Handles messages until `cancel` or until the connection loop drops its sender.
    pub async fn run(mut self, mut rx: mpsc::Receiver<Message>, cancel: CancellationToken) {
        loop {
            let msg = tokio::select! {
                () = cancel.cancelled() => return,
                m = rx.recv() => match m { Some(m) => m, None => return },
            };
            self.handle(msg).await;
        }
    }

    async fn handle(&mut self, msg: Message) {
        let cfg = self.cfg.borrow().clone();
        let Some(up) = &cfg.uplink else { return };
        let topics = Topics::new(&up.prefix);
        match topics.inbound(&msg.topic) {
            Some(Inbound::Bundle(a)) => self.document(&msg, DocType::Bundle, a).await,
            Some(Inbound::Revocations(a)) => self.document(&msg, DocType::Revocations, a).await,
            Some(Inbound::Command(name)) => {
                let reply = self.command(&cfg, &name, &msg).await;
                let _ = self.out.send(Out::Reply { topic: topics.reply(&name), payload: reply }).await;
            }
            Some(Inbound::EventsAck) => self.events_ack(up, cfg.site.id.as_str(), &msg).await,
            // It matched a subscription, but its last level is empty, too long or not a name.
            None => {
                let topic: String = msg.topic.chars().take(MAX_TOPIC_SHOWN).collect();
                let why = "not a topic the gateway reads: the last level must be a name (letters, digits, - _ .; \
                           at most 64)";
                let r = Refused { id: None, code: "bad_topic", message: why.into() };
                self.refused(&topic, &r).await;
            }
        }
    }

    async fn document(&mut self, msg: &Message, doc_type: DocType, authority: String) {
        // A retained document comes again at every reconnect: the same bytes once is enough
        // — once they were taken in or refused for good; after a passing failure (the store
        // full, say) they are tried again when they come again.
        let digest: [u8; 32] = Sha256::digest(&msg.payload).into();
        if self.seen.unchanged(&msg.topic, &digest) {
            log::debug!("uplink: {} unchanged since it was last taken in", msg.topic);
            return;
        }
        let doc = Published { topic: msg.topic.clone(), doc_type, authority, bytes: msg.payload.to_vec() };
        let result = self.reach.access.take(doc).await;
        if result.as_ref().is_ok() || result.as_ref().is_err_and(|e| !e.passing) {
            let cfg = self.cfg.borrow().clone();
            let named = |t: &str| {
                cfg.authorities
                    .iter()
                    .any(|a| t.ends_with(&format!("/{}", a.id)) || t.contains(&format!("/revocations/{}/", a.id)))
            };
            self.seen.remember(&msg.topic, digest, named);
        } else {
            self.seen.forget(&msg.topic);
        }
        let update = UpdateResult {
            topic: msg.topic.clone(),
            // Milliseconds, as every other time the gateway publishes.
            at: Timestamp::now().round(jiff::Unit::Millisecond).unwrap_or_else(|_| Timestamp::now()).to_string(),
            accepted: result.is_ok(),
            message: result.unwrap_or_else(|e| e.message),
        };
        let _ = self.out.send(Out::Update(update)).await;
    }

    async fn events_ack(&mut self, up: &UplinkConfig, site: &str, msg: &Message) {
        let Some(key) = up.collector_key.filter(|_| up.confirm == ConfirmOn::Collector) else {
            log::debug!("uplink: an acknowledgement on {}, but records leave the outbox on PUBACK", msg.topic);
            return;
        };
        let ack = match ack::read(&msg.payload, site, &key) {
            Ok(a) => a,
            Err(r) => return self.ack_refused(&msg.topic, &r).await,
        };
        // The store's run, its newest record and its hash of the one acknowledged, in one
        // visit to the store.
        let through = ack.through;
        let asked = self.reach.store.call(move |s| {
            let (head, _) = s.head();
            let stored = if through > head { None } else { s.hash_of(through)? };
            Ok((s.epoch().map(|e| e.id.clone()), head, stored))
        });
        let (mine, head, stored) = match asked.await {
            Ok(found) => found,
            Err(e) => return log::error!("uplink: acknowledgement not checked: {e}"),
        };
        if ack.epoch != mine {
            // Of another run of this site's chain (the one before a replacement, still in
            // flight): it confirms nothing here, and is no reason to write anything.
            let _ = self.out.send(Out::AckRefused).await;
            return log::debug!("uplink: an acknowledgement of another run of the chain ({:?})", ack.epoch);
        }
        let refused = |code, message: String| Refused { id: None, code, message };
        if through > head {
            let why = format!("acknowledges {through} but the newest record is {head}");
            return self.behind_collector(&msg.topic, refused("ahead", why)).await;
        }
        match stored {
            // Pruned, and so confirmed with everything before it already.
            None => log::debug!("uplink: an acknowledgement through {through}, which is no longer stored"),
            Some(h) if h != ack.hash => {
                let why = format!("record {through} has another hash here: not this gateway's chain");
                self.behind_collector(&msg.topic, refused("wrong_hash", why)).await;
            }
            Some(_) => match self.reach.store.confirm_through(through, Timestamp::now()).await {
                Ok(n) => {
                    self.refusing_acks.clear();
                    log::debug!("uplink: the collector confirmed {n} record(s) through {through}");
                }
                Err(e) => log::error!("uplink: acknowledgement not stored: {e}"),
            },
        }
    }

    /// The collector holds more of this run of the chain than the store does, or another
    /// record under one of its numbers: the store was restored from a backup (or replaced
    /// under an old run's name). The store begins a new run from its first unconfirmed
    /// record, so the collector keeps what it has and takes the rest afresh, and the
    /// records go out again under the new run.
    async fn behind_collector(&mut self, topic: &str, r: Refused) {
        let _ = self.out.send(Out::AckRefused).await;
        log::warn!("uplink: {} ({}): beginning a new run of the chain", r.message, r.code);
        let trusted = self.reach.trust.borrow().is_trusted();
        let why = EpochReason { code: r.code, message: r.message.clone() };
        match self.reach.store.call(move |s| s.begin_epoch(Timestamp::now(), trusted, &why)).await {
            Ok(Some(epoch)) => {
                log::warn!("uplink: new run {} of the chain from record {}", epoch.id, epoch.from);
                self.refusing_acks.clear();
                let _ = self.out.send(Out::EpochBegun { from: epoch.from }).await;
            }
            Ok(None) => self.ack_refused(topic, &r).await,
            Err(e) => {
                log::error!("uplink: a new run of the chain could not begin: {e}");
                self.ack_refused(topic, &r).await;
            }
        }
    }

    /// A refused acknowledgement: each reason audited once per episode (until one is taken
    /// again), every one counted in `state`.
    async fn ack_refused(&mut self, topic: &str, r: &Refused) {
        let _ = self.out.send(Out::AckRefused).await;
        if self.refusing_acks.contains(&r.code) {
            return log::debug!("uplink: refused again on {topic}: {} ({})", r.message, r.code);
        }
        self.refusing_acks.push(r.code);
        self.refused(topic, r).await;
    }

    async fn refused(&self, topic: &str, r: &Refused) {
        log::warn!("uplink: refused on {topic}: {} ({})", r.message, r.code);
        let detail = serde_json::json!({ "topic": topic, "id": r.id, "code": r.code, "message": r.message });
        let trusted = self.reach.trust.borrow().is_trusted();
        let event = NewEvent::system(EventKind::UplinkRefused, Timestamp::now(), trusted, None, &detail);
        if let Err(e) = self.reach.store.append(event).await {
            log::error!("audit record not stored: {e}");
        }
    }

    async fn command(&mut self, cfg: &Config, name: &str, msg: &Message) -> Vec<u8> {
        let doors: Vec<String> = cfg.policy.doors.iter().map(|d| d.id.to_string()).collect();
        let max_age = cfg.uplink.as_ref().map(|u| u.command_max_age).unwrap_or_default();
        let checks = Checks {
            site: cfg.site.id.as_str(),
            authorities: &cfg.authorities,
            doors: &doors,
            now: Timestamp::now(),
            max_age,
            clock_trusted: self.reach.trust.borrow().is_trusted(),
        };
        let accepted = command::read(name, &msg.payload, &checks, &mut self.memory);
        let result = match accepted {
            Ok(a) => match self.remembered(&a, checks.now - max_age).await {
                Ok(()) => self.carry_out(a).await,
                Err(r) => Err(r),
            },
            Err(r) => Err(r),
        };
        match result {
            Ok((id, value)) => command::reply_ok(&id, &value),
            Err(r) => {
                self.refused(&msg.topic, &r).await;
                command::reply_refused(&r)
            }
        }
    }

    /// A signed command is remembered in the store before it is carried out; one the store
    /// already holds (carried out before a restart) is a replay.
    async fn remembered(&self, a: &Accepted, forget_before: Timestamp) -> Result<(), Refused> {
        let Some((signature, issued_at)) = a.signed else { return Ok(()) };
        let refused = |code, message: String| Refused { id: Some(a.id.clone()), code, message };
        match self.reach.store.call(move |s| s.remember_command(&signature, issued_at, forget_before)).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(refused("replayed", "this signed command was already carried out".into())),
            Err(e) => {
                Err(refused("store", format!("the command could not be remembered, so it is not carried out: {e}")))
            }
        }
    }

    async fn carry_out(&self, a: Accepted) -> Result<(String, serde_json::Value), Refused> {
        let id = a.id;
        let failed = |code: &'static str, message: String| Refused { id: Some(id.clone()), code, message };
        let gateway = || {
            self.reach
                .doors
                .borrow()
                .as_ref()
                .map(|v| v.gateway.clone())
                .ok_or_else(|| failed("unavailable", "the doors are restarting; try again".into()))
        };
        let value = match a.action {
            Action::Status => {
                let report = reach::status(&self.reach).await;
                serde_json::to_value(payload::state(&report, Timestamp::now())).unwrap_or_default()
            }
            Action::AuditQuery { query: q, authority } => {
                let limit = q.limit.unwrap_or(100);
                // Whose records were asked for is the read's personal part (sealed to the
                // asker like its visits), never its detail: the detail is hashed in clear.
                let whose = q.holder.clone();
                let asked = serde_json::to_value(AuditQuery { holder: None, purpose: None, note: None, ..q.clone() })
                    .unwrap_or_default();
                // Only the asker's own records and the building's: another authority's
                // (the owner's residents, say) are not the asker's to read, whatever its doors.
                let filter = AuditFilter {
                    door: q.door,
                    holder: q.holder,
                    since: q.since,
                    until: q.until,
                    limit: Some(limit),
                    audience: Some(authority.clone()),
                };
                let page =
                    self.reach.store.page(filter, q.after_seq).await.map_err(|e| failed("store", e.to_string()))?;
                let full = page.len() == limit as usize;
                let next_after = page.last().map(|r| r.record.seq).filter(|_| full);
                let cfg = self.cfg.borrow().clone();
                let sealing = payload::Sealing { site: cfg.site.id.as_str(), authorities: &cfg.authorities };
                let records: Vec<Box<RawValue>> = page
                    .iter()
                    .filter_map(|r| serde_json::from_slice(&payload::event(&r.record, None, &sealing)).ok())
                    .collect();
                // A visit list is personal data: who read which part of it is itself recorded.
                let by = format!("mqtt: {authority} ({id})");
                let detail = serde_json::json!({
                    // The purpose's word; a free-text reason is the asker's to keep, never
                    // hashed here in clear (it may name someone).
                    "by": by, "purpose": q.purpose, "note_given": q.note.is_some(),
                    "query": asked, "holder_named": whose.is_some(), "records": records.len()
                });
                let trusted = self.reach.trust.borrow().is_trusted();
                let event = NewEvent {
                    holder: whose,
                    ..NewEvent::system(EventKind::AuditQueried, Timestamp::now(), trusted, None, &detail)
                }
                .for_audience(authority.as_str());
                self.reach.store.append(event).await.map_err(|e| {
                    failed("store", format!("the read could not be recorded, so nothing is returned: {e}"))
                })?;
                serde_json::json!({ "records": records, "next_after": next_after })
            }
            Action::PersonalErase { holder, authority } => {
                let audience = authority.clone();
                let n = self
                    .reach
                    .store
                    .call(move |s| s.erase_holder(&audience, &holder, Timestamp::now()))
                    .await
                    .map_err(|e| failed("store", e.to_string()))?;
                // Who asked and how many, never whose: the record must not name the person.
                let detail = serde_json::json!({ "by": format!("mqtt: {authority} ({id})"), "records": n });
                let trusted = self.reach.trust.borrow().is_trusted();
                let event = NewEvent::system(EventKind::AuditErased, Timestamp::now(), trusted, None, &detail)
                    .for_audience(&authority);
                self.reach.store.append(event).await.map_err(|e| {
                    failed("store", format!("{n} part(s) erased, but the erasure could not be recorded: {e}"))
                })?;
                serde_json::json!({ "erased": n })
            }
            Action::DoorPulse { door, authority } => {
                let by = Actor::authority(format!("mqtt: {authority} ({id})"), authority.as_str());
                gateway()?.pulse(&door, by).await.map_err(|e| failed("failed", e))?;
                serde_json::json!({ "door": door, "pulsed": true })
            }
            Action::DoorMode { door, mode, authority } => {
                let by = Actor::authority(format!("mqtt: {authority} ({id})"), authority.as_str());
                gateway()?.set_mode(&door, mode, by).await.map_err(|e| failed("failed", e))?;
                serde_json::json!({ "door": door, "mode": mode })
            }
            Action::Reload { authority } => {
                log::info!("uplink: reload asked by {authority} ({id})");
                let (tx, rx) = oneshot::channel();
                self.reload.send(tx).await.map_err(|_| failed("unavailable", "the daemon is stopping".into()))?;
                match rx.await {
                    Ok(Ok(())) => serde_json::json!({ "reloaded": true }),
                    Ok(Err(problems)) => return Err(failed("config_refused", problems.join("; "))),
                    Err(_) => return Err(failed("unavailable", "the daemon is stopping".into())),
                }
            }
        };
        Ok((id, value))
    }
}
