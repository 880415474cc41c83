//! The gateway's side of the BLE exchange, as a pure state machine over every connected
//! phone: fragments in, steps out (the time and fresh nonces passed in, no I/O). Nonce
//! lifetimes and rate limits run on monotonic time; wall time only goes into the
//! challenge's `issued` field for the phone.
//!
//! Per phone: *idle* → (open request) → *challenged* (nonce, door, issue time) →
//! (proof) → idle. A proof is checked here — a challenge is open, it is fresh, it names
//! the challenged door, and the signature over (context, nonce, site, door) verifies with
//! the key the phone named — and only then handed out as a [`Claim`] for the gateway's
//! decision (allowlist or certificate, revocation, scope, schedule, mode). The nonce is
//! gone once a proof was read, whatever its fate, so every nonce is used at most once.
//! Limits, so that one attacker cannot keep real phones out: an open request costs a token
//! from its radio address's bucket and from its phone key's, both remembered across
//! reconnects; a key has at most one challenge open (a new one replaces it, wherever it
//! was asked), an address at most one; at most `max_exchanges` challenges are open at
//! once, far more than one radio can hold.

use std::collections::HashMap;

use ed25519_dalek::{Signature, VerifyingKey};
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
    /// The phone's public key.
    pub key: [u8; 32],
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
}

/// Every phone's exchange.
#[derive(Debug)]
pub struct Service {
    settings: Settings,
    peers: HashMap<String, Peer>,
    keys: HashMap<[u8; 32], Bucket>,
}

fn refuse(tag: [u8; 8], code: Code, detail: impl Into<String>, door: Option<&str>) -> Step {
    Step::Refuse(Refused { tag, code, detail: detail.into(), door: door.map(str::to_owned), audit: true })
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
        self.peers
            .values()
            .filter(|p| matches!(p.exchange, Exchange::Challenged { issued, .. } if !self.expired(issued, now)))
            .count()
    }

    fn expired(&self, issued: Monotonic, now: Monotonic) -> bool {
        now < issued || now.duration_since(issued) > self.settings.challenge_valid
    }

    /// Forgets a peer's partial message and open challenge (it disconnected); its rate
    /// limit is remembered.
    pub fn disconnected(&mut self, peer: &str) {
        if let Some(p) = self.peers.get_mut(peer) {
            p.frames = Reassembler::default();
            p.exchange = Exchange::Idle;
        }
    }

    fn make_room(&mut self, now: Monotonic) -> bool {
        if self.peers.len() < MAX_PEERS {
            return true;
        }
        let rate = self.settings.rate;
        self.peers.retain(|_, p| !(matches!(p.exchange, Exchange::Idle) && p.bucket.is_full(rate, now)));
        self.peers.len() < MAX_PEERS
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
        let mut p = match self.peers.remove(peer) {
            Some(p) => p,
            None if self.make_room(now) => Peer {
                frames: Reassembler::default(),
                exchange: Exchange::Idle,
                bucket: Bucket::full(self.settings.rate, now),
            },
            None => return refuse([0; 8], Code::Busy, "too many phones remembered at once", None),
        };
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

    fn limited(&self, bucket: &mut Bucket, tag: [u8; 8], now: Monotonic) -> Option<Step> {
        let rate = self.settings.rate;
        match bucket.attempt(rate, now) {
            Verdict::Allowed => None,
            v => Some(Step::Refuse(Refused {
                tag,
                code: Code::RateLimited,
                detail: format!("more than {} attempts at once or {} a minute", rate.burst, rate.per_minute),
                door: None,
                audit: v == Verdict::LimitedFirst,
            })),
        }
    }

    fn malformed(&self, p: &mut Peer, tag: [u8; 8], detail: String, now: Monotonic) -> Step {
        p.exchange = Exchange::Idle;
        self.limited(&mut p.bucket, tag, now).unwrap_or_else(|| refuse(tag, Code::Malformed, detail, None))
    }

    /// The phone key's bucket, made room for; `None` when every remembered key is busy.
    fn key_bucket(&mut self, key: [u8; 32], now: Monotonic) -> Option<&mut Bucket> {
        let rate = self.settings.rate;
        if !self.keys.contains_key(&key) && self.keys.len() >= MAX_KEYS {
            self.keys.retain(|_, b| !b.is_full(rate, now));
            if self.keys.len() >= MAX_KEYS {
                return None;
            }
        }
        Some(self.keys.entry(key).or_insert_with(|| Bucket::full(rate, now)))
    }

    fn open(
        &mut self,
        p: &mut Peer,
        open: Open,
        (wall, now): (Timestamp, Monotonic),
        nonce: &mut dyn FnMut() -> [u8; 16],
    ) -> Step {
        if let Some(step) = self.limited(&mut p.bucket, open.tag, now) {
            return step;
        }
        let rate = self.settings.rate;
        let Some(bucket) = self.key_bucket(open.key, now) else {
            return refuse(open.tag, Code::Busy, "too many phone keys remembered at once", Some(&open.door));
        };
        let verdict = bucket.attempt(rate, now);
        if verdict != Verdict::Allowed {
            return Step::Refuse(Refused {
                tag: open.tag,
                code: Code::RateLimited,
                detail: format!(
                    "this phone key: more than {} attempts at once or {} a minute",
                    rate.burst, rate.per_minute
                ),
                door: None,
                audit: verdict == Verdict::LimitedFirst,
            });
        }
        // One challenge per key: a new request replaces the key's challenge elsewhere.
        for other in self.peers.values_mut() {
            if matches!(&other.exchange, Exchange::Challenged { open: o, .. } if o.key == open.key) {
                other.exchange = Exchange::Idle;
            }
        }
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

    fn prove(&self, p: &mut Peer, proof: &Proof, now: Monotonic) -> Step {
        let exchange = std::mem::replace(&mut p.exchange, Exchange::Idle);
        let Exchange::Challenged { open, nonce, issued } = exchange else {
            return refuse(
                [0; 8],
                Code::NoChallenge,
                "a proof with no open challenge (replayed or repeated)",
                Some(&proof.door),
            );
        };
        let (tag, door) = (open.tag, Some(open.door.as_str()));
        if self.expired(issued, now) {
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
        if !signature_ok(&open.key, &signed_bytes(&nonce, &self.settings.site, &open.door), &proof.signature) {
            return refuse(tag, Code::BadSignature, "the signature does not verify with the phone's key", door);
        }
        Step::Decide(Claim { tag, door: open.door, key: open.key, certificate: open.certificate })
    }
}

/// Whether `signature` is the holder of `key`'s over `message` (strict: no small-order
/// keys, no malleable signatures).
pub fn signature_ok(key: &[u8; 32], message: &[u8], signature: &[u8; 64]) -> bool {
    VerifyingKey::from_bytes(key).is_ok_and(|k| k.verify_strict(message, &Signature::from_bytes(signature)).is_ok())
}

#[cfg(test)]
mod tests {
    use ed25519_dalek::{Signer as _, SigningKey};

    use super::super::frame::{MIN_MTU, fragment};
    use super::*;

    fn t0() -> Monotonic {
        Monotonic::from_origin(SignedDuration::from_secs(1000))
    }

    fn wall() -> Timestamp {
        "2026-11-25T02:30:00Z".parse().unwrap()
    }

    fn service(max_exchanges: usize) -> Service {
        Service::new(Settings {
            site: "brf-eken".into(),
            challenge_valid: SignedDuration::from_secs(5),
            max_exchanges,
            rate: Rate { burst: 3, per_minute: 6 },
        })
    }

    fn send(s: &mut Service, peer: &str, m: &Message, now: Monotonic) -> Step {
        // Every challenge gets a new nonce, as the daemon's random source gives.
        static NEXT: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
        let mut nonce = || [NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed); 16];
        let mut last = Step::Wait;
        for f in fragment(&m.encode(), MIN_MTU) {
            last = s.on_fragment(peer, &f, wall(), now, &mut nonce);
        }
        last
    }

    fn open(key: &SigningKey, door: &str) -> Message {
        Message::Open(Open { tag: [7; 8], door: door.into(), key: key.verifying_key().to_bytes(), certificate: None })
    }

    fn proof(key: &SigningKey, challenge: &Challenge, door: &str) -> Message {
        let sig = key.sign(&signed_bytes(&challenge.nonce, &challenge.site, door));
        Message::Proof(Proof { door: door.into(), signature: sig.to_bytes() })
    }

    fn challenge(step: Step) -> Challenge {
        match step {
            Step::Send(Message::Challenge(c)) => c,
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    fn code(step: &Step) -> Code {
        match step {
            Step::Refuse(r) => r.code,
            Step::Decide(_) => Code::Granted,
            other => panic!("expected a verdict, got {other:?}"),
        }
    }

    #[test]
    fn a_signed_answer_to_a_fresh_challenge_becomes_a_claim_once() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let mut s = service(4);
        let c = challenge(send(&mut s, "phone", &open(&key, "entrance"), t0()));
        assert_eq!((c.site.as_str(), c.door.as_str(), c.valid_ms), ("brf-eken", "entrance", 5000));
        let answer = proof(&key, &c, "entrance");
        let step = send(&mut s, "phone", &answer, t0() + SignedDuration::from_secs(1));
        assert_eq!(
            step,
            Step::Decide(Claim {
                tag: [7; 8],
                door: "entrance".into(),
                key: key.verifying_key().to_bytes(),
                certificate: None
            })
        );
        assert_eq!(code(&send(&mut s, "phone", &answer, t0() + SignedDuration::from_secs(2))), Code::NoChallenge);
    }

    #[test]
    fn stale_wrong_door_forged_and_replayed_proofs_are_refused() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let thief = SigningKey::from_bytes(&[2; 32]);
        let mut s = Service::new(Settings { rate: Rate { burst: 10, per_minute: 60 }, ..service(4).settings });
        let late = t0() + SignedDuration::from_secs(6);
        let c = challenge(send(&mut s, "p", &open(&key, "entrance"), t0()));
        assert_eq!(code(&send(&mut s, "p", &proof(&key, &c, "entrance"), late)), Code::Stale);
        let c = challenge(send(&mut s, "p", &open(&key, "entrance"), t0()));
        assert_eq!(code(&send(&mut s, "p", &proof(&key, &c, "rubbish"), t0())), Code::WrongDoor);
        let c = challenge(send(&mut s, "p", &open(&key, "entrance"), t0()));
        assert_eq!(code(&send(&mut s, "p", &proof(&thief, &c, "entrance"), t0())), Code::BadSignature);
        // An answer recorded earlier does not fit a new nonce.
        let c1 = challenge(send(&mut s, "q", &open(&key, "entrance"), t0()));
        let recorded = proof(&key, &c1, "entrance");
        assert_eq!(code(&send(&mut s, "q", &recorded, t0())), Code::Granted);
        let _c2 = challenge(send(&mut s, "q", &open(&key, "entrance"), t0()));
        assert_eq!(code(&send(&mut s, "q", &recorded, t0())), Code::BadSignature);
        // Readings out of order make the nonce stale, not valid longer.
        let c = challenge(send(&mut s, "r", &open(&key, "entrance"), t0()));
        assert_eq!(
            code(&send(&mut s, "r", &proof(&key, &c, "entrance"), t0() - SignedDuration::from_secs(1))),
            Code::Stale
        );
    }

    #[test]
    fn garbage_and_gateway_messages_from_a_phone_are_malformed() {
        let mut s = service(4);
        let mut none = || [0; 16];
        assert_eq!(code(&s.on_fragment("p", &[0, 1, 1, 0, 1, 0xff], wall(), t0(), &mut none)), Code::Malformed);
        let c = Message::Result(super::super::message::Verdict { tag: [0; 8], code: Code::Granted });
        assert_eq!(code(&send(&mut s, "p", &c, t0())), Code::Malformed);
    }

    #[test]
    fn a_flood_from_one_phone_is_limited_and_audited_once_while_others_are_served() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let mut s = service(4);
        for _ in 0..3 {
            challenge(send(&mut s, "flood", &open(&key, "entrance"), t0()));
        }
        let refusals: Vec<Step> = (0..50).map(|_| send(&mut s, "flood", &open(&key, "entrance"), t0())).collect();
        assert!(refusals.iter().all(|r| code(r) == Code::RateLimited));
        let audited = refusals.iter().filter(|r| matches!(r, Step::Refuse(x) if x.audit)).count();
        assert_eq!(audited, 1);
        let other = SigningKey::from_bytes(&[9; 32]);
        challenge(send(&mut s, "other", &open(&other, "entrance"), t0()));
        challenge(send(&mut s, "flood", &open(&key, "entrance"), t0() + SignedDuration::from_secs(10)));
    }

    #[test]
    fn open_challenges_are_capped_and_expired_ones_do_not_count() {
        let keys: Vec<SigningKey> = (1..=4).map(|i| SigningKey::from_bytes(&[i; 32])).collect();
        let mut s = service(2);
        challenge(send(&mut s, "a", &open(&keys[0], "entrance"), t0()));
        challenge(send(&mut s, "b", &open(&keys[1], "entrance"), t0()));
        assert_eq!(code(&send(&mut s, "c", &open(&keys[2], "entrance"), t0())), Code::Busy);
        // A phone asking again replaces its own challenge.
        challenge(send(&mut s, "a", &open(&keys[0], "entrance"), t0()));
        s.disconnected("b");
        challenge(send(&mut s, "c", &open(&keys[2], "entrance"), t0()));
        assert_eq!(code(&send(&mut s, "d", &open(&keys[3], "entrance"), t0())), Code::Busy);
        challenge(send(&mut s, "d", &open(&keys[3], "entrance"), t0() + SignedDuration::from_secs(6)));
    }

    #[test]
    fn one_key_holds_one_challenge_however_many_connections_ask() {
        let attacker = SigningKey::from_bytes(&[5; 32]);
        let phone = SigningKey::from_bytes(&[6; 32]);
        let mut s = service(2);
        let first = challenge(send(&mut s, "x1", &open(&attacker, "entrance"), t0()));
        challenge(send(&mut s, "x2", &open(&attacker, "entrance"), t0()));
        challenge(send(&mut s, "x3", &open(&attacker, "entrance"), t0()));
        // The attacker holds one slot of two: the real phone still gets its challenge.
        let c = challenge(send(&mut s, "phone", &open(&phone, "entrance"), t0()));
        assert_eq!(code(&send(&mut s, "phone", &proof(&phone, &c, "entrance"), t0())), Code::Granted);
        // The replaced challenge is gone.
        assert_eq!(code(&send(&mut s, "x1", &proof(&attacker, &first, "entrance"), t0())), Code::NoChallenge);
    }

    #[test]
    fn reconnecting_does_not_refill_a_keys_attempts() {
        let attacker = SigningKey::from_bytes(&[5; 32]);
        let mut s = service(32);
        // burst 3: each attempt from a fresh connection, the same key.
        let codes: Vec<Code> = (0..20)
            .map(|i| match send(&mut s, &format!("conn-{i}"), &open(&attacker, "entrance"), t0()) {
                Step::Send(_) => Code::Granted,
                other => code(&other),
            })
            .collect();
        assert_eq!(codes.iter().filter(|c| **c == Code::Granted).count(), 3, "{codes:?}");
        assert!(codes[3..].iter().all(|c| *c == Code::RateLimited), "{codes:?}");
    }
}
