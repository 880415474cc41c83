//! The BLE actor: it owns the exchange state of every connected phone. Transports feed it
//! [`LinkEvent`]s; it runs the pure exchange, sends challenges and results back in
//! fragments that fit each phone's MTU, has the access actor verify presented
//! certificates, has the gateway decide (and pulse, and audit) for a proven key, and
//! audits every refusal the protocol makes (`ble.refused`; a flood is audited once per
//! bout). Nonces come from the operating system's random source.
//!
//! Channels: link events in (bounded, [`super::link::EVENTS`]; transports wait), one
//! bounded queue per phone out (a phone that does not read is dropped).

use std::collections::HashMap;
use std::sync::Arc;

use ring::rand::{SecureRandom as _, SystemRandom};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::exchange::{Claim, Refused, Service, Settings, Step};
use super::frame::fragment;
use super::link::LinkEvent;
use super::message::{Code, Message, Verdict};
use crate::config::Config;
use crate::core::credential::PhoneKey;
use crate::core::decide::{Decision, DenyReason};
use crate::credentials::verify::Refusal;
use crate::gateway::clock::Clock;
use crate::site::view::DoorsView;
use crate::store::{EventKind, NewEvent};

/// The exchange settings a configuration asks for (`None` without `[ble]`).
pub fn settings(cfg: &Config) -> Option<Settings> {
    let ble = cfg.ble.as_ref()?;
    Some(Settings {
        site: cfg.site.id.to_string(),
        challenge_valid: ble.challenge_valid,
        max_exchanges: ble.max_exchanges,
        rate: ble.rate,
    })
}

/// The code a phone is told for a decision.
pub fn code_for(decision: &Decision) -> Code {
    match decision.deny_reason() {
        None => Code::Granted,
        Some(DenyReason::UnknownDoor) => Code::UnknownDoor,
        Some(DenyReason::UnknownCredential) => Code::UnknownKey,
        Some(DenyReason::Revoked) => Code::Revoked,
        Some(DenyReason::NotValidYet { .. } | DenyReason::Expired { .. }) => Code::NotValidNow,
        Some(DenyReason::DoorNotInScope) => Code::NotInScope,
        Some(DenyReason::OutsideSchedule { .. } | DenyReason::NoBooking) => Code::NotNow,
        Some(DenyReason::Lockdown) => Code::Lockdown,
        Some(_) => Code::Refused,
    }
}

/// The code a phone is told when its certificate is refused.
pub fn code_for_certificate(refusal: &Refusal) -> Code {
    match refusal {
        Refusal::Revoked | Refusal::DelegationRevoked(_) => Code::Revoked,
        Refusal::Expired(_) | Refusal::NotYetValid(_) | Refusal::DelegationEnded { .. } => Code::NotValidNow,
        _ => Code::BadCertificate,
    }
}

struct Phone {
    mtu: usize,
    to_phone: mpsc::Sender<Vec<u8>>,
}

/// What the actor reaches of the rest of the daemon.
#[derive(Clone)]
pub struct Reach {
    /// The running doors (`None` while they restart or stop).
    pub doors: watch::Receiver<Option<Arc<DoorsView>>>,
    /// The store, for audit records.
    pub store: crate::store::Handle,
    /// The access actor, which verifies certificates (`None`: certificates refused, as in
    /// the demo, which has no trust anchors running).
    pub access: Option<crate::access::Handle>,
    /// The clock's trust.
    pub trust: watch::Receiver<crate::core::clock::ClockState>,
}

impl From<&crate::site::reach::Reach> for Reach {
    fn from(r: &crate::site::reach::Reach) -> Self {
        Self { doors: r.doors.clone(), store: r.store.clone(), access: Some(r.access.clone()), trust: r.trust.clone() }
    }
}

struct Actor {
    service: Service,
    phones: HashMap<String, Phone>,
    reach: Reach,
    clock: Arc<dyn Clock>,
    random: SystemRandom,
}

impl Actor {
    fn send(&mut self, peer: &str, message: &Message) {
        let Some(phone) = self.phones.get(peer) else { return };
        for f in fragment(&message.encode(), phone.mtu) {
            if phone.to_phone.try_send(f).is_err() {
                log::warn!("ble: {peer} does not read its notifications; dropped");
                self.phones.remove(peer);
                self.service.disconnected(peer);
                return;
            }
        }
    }

    async fn audit_refusal(&self, peer: &str, r: &Refused) {
        let now = self.clock.now();
        let trusted = self.reach.trust.borrow().is_trusted();
        // The record's door is a configured door or none: what a phone named (any text)
        // goes into the detail, escaped, never into the door column.
        let known = |d: &String| {
            self.reach.doors.borrow().as_ref().is_some_and(|v| v.cfg.policy.doors.iter().any(|x| x.id.as_str() == d))
        };
        let door = r.door.clone().filter(known);
        let mut detail = serde_json::json!({ "peer": peer, "reason": r.code.word(), "message": r.detail });
        if let Some(named) = r.door.as_ref().filter(|d| !known(d)) {
            detail["door_named"] = serde_json::json!(named);
        }
        let event = NewEvent::system(EventKind::BleRefused, now, trusted, door, &detail);
        if let Err(e) = self.reach.store.append(event).await {
            log::error!("audit record not stored: {e}");
        }
    }

    async fn present(
        &self,
        certificate: Vec<u8>,
        key: [u8; 32],
    ) -> Result<crate::credentials::phone::CertifiedPhone, Refusal> {
        match &self.reach.access {
            Some(access) => access.present(certificate, key).await,
            None => Err(Refusal::Unresolvable(vec!["certificates are not verified here".into()])),
        }
    }

    /// Decides a proven claim; a refused certificate is returned as a refusal to audit.
    async fn decide(&self, claim: Claim) -> Result<Code, Refused> {
        let certificate = match claim.certificate {
            Some(bytes) => match self.present(bytes, claim.key).await {
                Ok(credential) => Some(credential),
                Err(refusal) => {
                    return Err(Refused {
                        tag: claim.tag,
                        code: code_for_certificate(&refusal),
                        detail: format!("certificate {}: {refusal}", refusal.code()),
                        door: Some(claim.door),
                        audit: true,
                    });
                }
            },
            None => None,
        };
        let view = self.reach.doors.borrow().clone();
        let Some(view) = view else { return Ok(Code::Unavailable) };
        let Some(answer) = view.gateway.phone(&claim.door, PhoneKey(claim.key), certificate).await else {
            return Ok(Code::Unavailable);
        };
        // The phone is told only once the decision's record is durable.
        if let Err(e) = answer.committed.wait().await {
            log::error!("ble: the decision for {} was not recorded: {e}", claim.door);
        }
        Ok(match answer.released {
            Some(Err(_)) => Code::DoorFault,
            _ => code_for(&answer.decision),
        })
    }

    async fn on_fragment(&mut self, peer: &str, bytes: &[u8]) {
        let now = self.clock.now();
        let random = &self.random;
        let mut nonce = || {
            let mut n = [0u8; 16];
            // The OS random source does not fail on Linux once booted; if it did, a zero
            // nonce would still be single-use and bound to this exchange.
            if random.fill(&mut n).is_err() {
                log::error!("ble: the random source failed");
            }
            n
        };
        match self.service.on_fragment(peer, bytes, now, self.clock.monotonic(), &mut nonce) {
            Step::Wait => {}
            Step::Send(message) => self.send(peer, &message),
            Step::Refuse(r) => {
                log::info!("ble: {peer} refused: {} ({})", r.code.word(), r.detail);
                if r.audit {
                    self.audit_refusal(peer, &r).await;
                }
                self.send(peer, &Message::Result(Verdict { tag: r.tag, code: r.code }));
            }
            Step::Decide(claim) => {
                let tag = claim.tag;
                let code = match self.decide(claim).await {
                    Ok(code) => code,
                    Err(r) => {
                        log::info!("ble: {peer} refused: {} ({})", r.code.word(), r.detail);
                        self.audit_refusal(peer, &r).await;
                        r.code
                    }
                };
                self.send(peer, &Message::Result(Verdict { tag, code }));
            }
        }
    }

    fn on_event(&mut self, event: LinkEvent) -> Option<(String, Vec<u8>)> {
        match event {
            LinkEvent::Connected { peer, mtu, to_phone } => {
                self.phones.insert(peer, Phone { mtu, to_phone });
                None
            }
            LinkEvent::Disconnected { peer } => {
                self.phones.remove(&peer);
                self.service.disconnected(&peer);
                None
            }
            LinkEvent::Fragment { peer, bytes } => Some((peer, bytes)),
        }
    }
}

/// What the actor starts from.
pub struct Start {
    /// The exchange settings.
    pub settings: Settings,
    /// The rest of the daemon.
    pub reach: Reach,
    /// The wall clock.
    pub clock: Arc<dyn Clock>,
    /// New settings after a reload.
    pub reconfigure: watch::Receiver<Option<Settings>>,
}

/// Runs the actor until `cancel` or until every transport has gone.
pub async fn run(start: Start, mut events: mpsc::Receiver<LinkEvent>, cancel: CancellationToken) {
    let Start { settings, reach, clock, mut reconfigure } = start;
    let mut actor =
        Actor { service: Service::new(settings), phones: HashMap::new(), reach, clock, random: SystemRandom::new() };
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            Ok(()) = reconfigure.changed() => {
                if let Some(s) = reconfigure.borrow_and_update().clone() {
                    actor.service.set_settings(s);
                }
            }
            event = events.recv() => match event {
                Some(e) => {
                    if let Some((peer, bytes)) = actor.on_event(e) {
                        actor.on_fragment(&peer, &bytes).await;
                    }
                }
                None => break,
            },
        }
    }
}
