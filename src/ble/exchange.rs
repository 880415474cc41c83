//! The gateway's side of the BLE exchange, as a pure state machine over every connected
//! phone: fragments in, steps out (the time and fresh nonces passed in, no I/O). Nonce
//! lifetimes and rate limits run on monotonic time; wall time only goes into the
//! challenge's `issued` field for the phone.
//!
//! Per peer (radio address, or connection): *idle* → (open request) → *challenged*
//! (nonce, door, key, issue time) → (proof) → idle. A proof is checked here — a challenge
//! is open, it is fresh, it names the challenged door, and the signature over (context,
//! nonce, site, door) verifies with the key the open named (Ed25519 or P-256) — and only
//! then handed out, with the key's id, as a
//! [`Claim`] for the gateway's decision. The nonce is gone once a proof was read, whatever
//! its fate, so every nonce is used at most once.
//!
//! Limits, so that one attacker cannot keep real phones out. A key travels in clear and
//! bundles list it, so naming a key proves nothing: an open request (and a malformed
//! message) is charged to its peer's bucket and to the gateway-wide cap of open
//! challenges only; a challenge belongs to the peer that asked and only that peer's next
//! open replaces it. A phone key's own state — its bucket — is created and charged only
//! when a proof made with that key verifies, so only the key's holder can spend it.

use std::collections::HashMap;

use jiff::{SignedDuration, Timestamp};

use crate::core::monotonic::Monotonic;

use super::frame::Reassembler;
use super::limits::{Bucket, Rate, Verdict};
use super::message::{Challenge, Code, Message, Open, Proof, signed_bytes};

/// Peers remembered for rate limiting, at most (phones rotate their addresses).
pub const MAX_PEERS: usize = 1024;
/// Phone keys remembered for rate limiting, at most.
pub const MAX_KEYS: usize = 4096;

/// How the exchange is run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// This gateway's site.
    pub site: String,
    /// How long a nonce is valid.
    pub challenge_valid: SignedDuration,
    /// Challenges open at once, at most.
    pub max_exchanges: usize,
    /// Attempts per phone.
    pub rate: Rate,
}

/// A phone that proved possession of its key, asking to open a door.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The open request's tag.
    pub tag: [u8; 8],
    /// The door.
    pub door: String,
    /// The proven key's id (`PhonePublicKey::id`): what allowlists and certificates name.
    pub key: [u8; 32],
    /// The key's kind (`ed25519`, `p256`).
    pub kind: &'static str,
    /// The certificate it presented, if any.
    pub certificate: Option<Vec<u8>>,
}

/// An attempt refused by the protocol, before any decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The open request's tag (zero when none was read).
    pub tag: [u8; 8],
    /// What the phone is told.
    pub code: Code,
    /// What went wrong, for the audit record and the log.
    pub detail: String,
    /// The door, when the phone named one.
    pub door: Option<String>,
    /// Whether to audit it (repeated rate-limit refusals are not).
    pub audit: bool,
}

/// What to do after a fragment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Part of a message: wait for more.
    Wait,
    /// Send this message to the phone (a challenge).
    Send(Message),
    /// Decide, then tell the phone the result.
    Decide(Claim),
    /// Tell the phone this refusal (and audit it when asked).
    Refuse(Refused),
}

#[derive(Debug)]
enum Exchange {
    Idle,
    Challenged { open: Open, nonce: [u8; 16], issued: Monotonic },
}

#[derive(Debug)]
struct Peer {
    frames: Reassembler,
    exchange: Exchange,
    bucket: Bucket,
    /// When this peer last sent a fragment (the least recently heard is forgotten first).
    heard: Monotonic,
}

/// Every phone's exchange.
#[derive(Debug)]
pub struct Service {
    settings: Settings,
    peers: HashMap<String, Peer>,
    keys: HashMap<[u8; 32], Bucket>,
}

/// Whether a challenge issued at `issued` is past its life at `now` (or the readings are
/// out of order: then it is never valid longer).
fn expired(issued: Monotonic, now: Monotonic, valid: SignedDuration) -> bool {
    now < issued || now.duration_since(issued) > valid
}

/// Whether `exchange` holds a challenge still open at `now`.
fn is_open(exchange: &Exchange, now: Monotonic, valid: SignedDuration) -> bool {
    matches!(exchange, Exchange::Challenged { issued, .. } if !expired(*issued, now, valid))
}

fn refuse(tag: [u8; 8], code: Code, detail: impl Into<String>, door: Option<&str>) -> Step {
    Step::Refuse(Refused { tag, code, detail: detail.into(), door: door.map(str::to_owned), audit: true })
}

fn rate_limited(rate: Rate, verdict: Verdict, tag: [u8; 8], whose: &str, door: Option<&str>) -> Option<Step> {
    (verdict != Verdict::Allowed).then(|| {
        Step::Refuse(Refused {
            tag,
            code: Code::RateLimited,
            detail: format!("{whose}: more than {} attempts at once or {} a minute", rate.burst, rate.per_minute),
            door: door.map(str::to_owned),
            audit: verdict == Verdict::LimitedFirst,
        })
    })
}

impl Service {
    /// A service with no phones yet.
    pub fn new(settings: Settings) -> Self {
        Self { settings, peers: HashMap::new(), keys: HashMap::new() }
    }

    /// New settings (a reload); open challenges stay valid under the new ones.
    pub fn set_settings(&mut self, settings: Settings) {
        self.settings = settings;
    }

    fn open_challenges(&self, now: Monotonic) -> usize {
        let valid = self.settings.challenge_valid;
        self.peers.values().filter(|p| is_open(&p.exchange, now, valid)).count()
    }

    /// Forgets a peer's partial message and open challenge (it disconnected); its rate
    /// limit is remembered.
    pub fn disconnected(&mut self, peer: &str) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.frames = Reassembler::default();
            p.exchange = Exchange::Idle;
        }
    }

    /// Makes room for a new peer: peers with a full bucket and no open challenge go first,
    /// then the least recently heard without an open challenge. Open challenges are capped
    /// far below [`MAX_PEERS`], so there is always one to forget: a new phone is never
    /// turned away because others were remembered.
    fn make_room(&mut self, now: Monotonic) {
        if self.peers.len() < MAX_PEERS {
            return;
        }
        let rate = self.settings.rate;
        let valid = self.settings.challenge_valid;
        let open = |e: &Exchange| is_open(e, now, valid);
        // A phone halfway through a message it sends in fragments is kept too.
        self.peers.retain(|_, p| open(&p.exchange) || p.frames.in_progress() || !p.bucket.is_full(rate, now));
        if self.peers.len() < MAX_PEERS {
            return;
        }
        let oldest = self
            .peers
            .iter()
            .filter(|(_, p)| !open(&p.exchange))
            .min_by_key(|(_, p)| (p.frames.in_progress(), p.heard));
        if let Some(name) = oldest.map(|(name, _)| name.clone()) {
            self.peers.remove(&name);
        }
    }

    /// Takes one fragment from `peer` at monotonic `now` (`wall` is told the phone in a
    /// challenge). `nonce` is called when a challenge is made.
    pub fn on_fragment(
        &mut self,
        peer: &str,
        fragment: &[u8],
        wall: Timestamp,
        now: Monotonic,
        nonce: &mut dyn FnMut() -> [u8; 16],
    ) -> Step {
        // The peer is taken out while its fragment is handled, so the open challenges
        // counted for the cap are the other phones'.
        let mut p = if let Some(p) = self.peers.remove(peer) {
            p
        } else {
            self.make_room(now);
            Peer {
                frames: Reassembler::default(),
                exchange: Exchange::Idle,
                bucket: Bucket::full(self.settings.rate, now),
                heard: now,
            }
        };
        p.heard = p.heard.max(now);
        let step = self.step(&mut p, fragment, (wall, now), nonce);
        self.peers.insert(peer.to_owned(), p);
        step
    }

    fn step(
        &mut self,
        p: &mut Peer,
        fragment: &[u8],
        (wall, now): (Timestamp, Monotonic),
        nonce: &mut dyn FnMut() -> [u8; 16],
    ) -> Step {
        let message = match p.frames.push(fragment) {
            Ok(None) => return Step::Wait,
            Ok(Some((kind, body))) => Message::decode(kind, &body).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match message {
            Ok(Message::Open(open)) => self.open(p, open, (wall, now), nonce),
            Ok(Message::Proof(proof)) => self.prove(p, &proof, now),
            Ok(other) => {
                let tag = match &other {
                    Message::Challenge(c) => c.tag,
                    _ => [0; 8],
                };
                self.malformed(p, tag, format!("a phone may not send message type {}", other.kind()), now)
            }
            Err(e) => self.malformed(p, [0; 8], e, now),
        }
    }

    fn malformed(&self, p: &mut Peer, tag: [u8; 8], detail: String, now: Monotonic) -> Step {
        p.exchange = Exchange::Idle;
        let rate = self.settings.rate;
        rate_limited(rate, p.bucket.attempt(rate, now), tag, "this radio address", None)
            .unwrap_or_else(|| refuse(tag, Code::Malformed, detail, None))
    }

    /// An open request: charged to this peer and the gateway-wide cap only — the key it
    /// names is not proven yet, so nothing of the key's is touched.
    fn open(
        &self,
        p: &mut Peer,
        open: Open,
        (wall, now): (Timestamp, Monotonic),
        nonce: &mut dyn FnMut() -> [u8; 16],
    ) -> Step {
        let rate = self.settings.rate;
        if let Some(step) = rate_limited(rate, p.bucket.attempt(rate, now), open.tag, "this radio address", None) {
            return step;
        }
        // This peer's own earlier challenge, if any, is replaced; no one else's.
        p.exchange = Exchange::Idle;
        let others = self.open_challenges(now);
        if others >= self.settings.max_exchanges {
            return refuse(open.tag, Code::Busy, format!("{others} exchanges already open"), Some(&open.door));
        }
        let challenge = Challenge {
            tag: open.tag,
            nonce: nonce(),
            site: self.settings.site.clone(),
            door: open.door.clone(),
            issued_ms: wall.as_millisecond(),
            valid_ms: u32::try_from(self.settings.challenge_valid.as_millis()).unwrap_or(u32::MAX),
        };
        p.exchange = Exchange::Challenged { open, nonce: challenge.nonce, issued: now };
        Step::Send(Message::Challenge(challenge))
    }

    /// The proven key's bucket, made room for: full buckets are forgotten first, then the
    /// least recently charged (forgetting only ever gives a key more attempts, so no one
    /// can crowd a real phone out by proving keys of their own).
    fn key_bucket(&mut self, key: [u8; 32], now: Monotonic) -> &mut Bucket {
        let rate = self.settings.rate;
        if !self.keys.contains_key(&key) && self.keys.len() >= MAX_KEYS {
            self.keys.retain(|_, b| !b.is_full(rate, now));
            if self.keys.len() >= MAX_KEYS {
                let oldest = self.keys.iter().min_by_key(|(_, b)| b.charged_at()).map(|(k, _)| *k);
                if let Some(k) = oldest {
                    self.keys.remove(&k);
                }
            }
        }
        self.keys.entry(key).or_insert_with(|| Bucket::full(rate, now))
    }

    fn prove(&mut self, p: &mut Peer, proof: &Proof, now: Monotonic) -> Step {
        let exchange = std::mem::replace(&mut p.exchange, Exchange::Idle);
        let Exchange::Challenged { open, nonce, issued } = exchange else {
            // Answering nothing costs the address a token, as an open does: a flood of
            // proofs is limited and audited once per bout like any other.
            let rate = self.settings.rate;
            let limited = rate_limited(rate, p.bucket.attempt(rate, now), [0; 8], "this radio address", None);
            return limited.unwrap_or_else(|| {
                refuse(
                    [0; 8],
                    Code::NoChallenge,
                    "a proof with no open challenge (replayed or repeated)",
                    Some(&proof.door),
                )
            });
        };
        let (tag, door) = (open.tag, Some(open.door.as_str()));
        if expired(issued, now, self.settings.challenge_valid) {
            let age = now.duration_since(issued);
            return refuse(tag, Code::Stale, format!("the challenge is {age:#} old"), door);
        }
        if proof.door != open.door {
            return refuse(
                tag,
                Code::WrongDoor,
                format!("signed for door {:?}, challenged for {:?}", proof.door, open.door),
                door,
            );
        }
        if !open.key.verify(&signed_bytes(&nonce, &self.settings.site, &open.door), &proof.signature) {
            return refuse(tag, Code::BadSignature, "the signature does not verify with the phone's key", door);
        }
        // Proven: only now is the key's own limit touched.
        let rate = self.settings.rate;
        let key = open.key.id();
        let verdict = self.key_bucket(key, now).attempt(rate, now);
        if let Some(step) = rate_limited(rate, verdict, tag, "this phone key", door) {
            return step;
        }
        Step::Decide(Claim { tag, door: open.door, key, kind: open.key.kind(), certificate: open.certificate })
    }
}

/// Whether `signature` is the holder of Ed25519 `key`'s over `message` (strict: no
/// small-order keys, no malleable signatures).
pub fn signature_ok(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    portvakt_phone::PhonePublicKey::Ed25519(*key).verify(message, signature)
}

#[cfg(test)]
#[path = "exchange_tests.rs"]
mod tests;
