//! Tests of the pure BLE exchange: proofs, refusals, and the limits that keep one
//! attacker from keeping staff out.

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
    Message::Open(Open {
        tag: [7; 8],
        door: door.into(),
        key: portvakt_phone::PhonePublicKey::Ed25519(key.verifying_key().to_bytes()),
        certificate: None,
    })
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
            kind: "ed25519",
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

/// Challenges from `peer` for `key` until one is granted or refused; the proof's verdict.
fn attempt(s: &mut Service, peer: &str, key: &SigningKey, now: Monotonic) -> Code {
    match send(s, peer, &open(key, "entrance"), now) {
        Step::Send(Message::Challenge(c)) => code(&send(s, peer, &proof(key, &c, "entrance"), now)),
        other => code(&other),
    }
}

#[test]
fn fifty_opens_naming_a_phones_key_from_another_radio_leave_the_phone_granted() {
    let phone = SigningKey::from_bytes(&[6; 32]);
    let mut s = service(32);
    let mut at = t0();
    // The phone asks; the attacker, who read the key off the air or a bundle, names it
    // fifty times within a minute, between the phone's open and its proof among others.
    let c = challenge(send(&mut s, "phone", &open(&phone, "entrance"), at));
    let mut attacker = Vec::new();
    for i in 0..50 {
        at = t0() + SignedDuration::from_millis(i * 1100);
        attacker.push(match send(&mut s, "attacker", &open(&phone, "entrance"), at) {
            Step::Send(_) => Code::Granted,
            other => code(&other),
        });
        if i == 0 {
            // The phone's challenge is its own: its proof still answers it.
            let step = send(&mut s, "phone", &proof(&phone, &c, "entrance"), at);
            assert_eq!(code(&step), Code::Granted);
        }
    }
    assert!(attacker.contains(&Code::RateLimited), "the attacker's radio is limited: {attacker:?}");
    // The phone's own next attempt, after the flood: granted, every time it tries.
    for _ in 0..3 {
        assert_eq!(attempt(&mut s, "phone", &phone, at), Code::Granted);
    }
}

#[test]
fn only_proofs_that_verify_spend_a_phone_keys_attempts() {
    let phone = SigningKey::from_bytes(&[6; 32]);
    let forger = SigningKey::from_bytes(&[7; 32]);
    let mut s = service(32);
    // Forged proofs for the key, from many addresses: refused, and the key spends nothing.
    for i in 0..20 {
        let peer = format!("forger-{i}");
        let c = challenge(send(&mut s, &peer, &open(&phone, "entrance"), t0()));
        assert_eq!(code(&send(&mut s, &peer, &proof(&forger, &c, "entrance"), t0())), Code::BadSignature);
    }
    // burst 3: the key's holder proves three times, then its own key is limited —
    // whichever address it comes from.
    let codes: Vec<Code> = (0..5).map(|i| attempt(&mut s, &format!("phone-{i}"), &phone, t0())).collect();
    assert_eq!(codes, [Code::Granted, Code::Granted, Code::Granted, Code::RateLimited, Code::RateLimited]);
    assert_eq!(attempt(&mut s, "phone-9", &phone, t0() + SignedDuration::from_secs(10)), Code::Granted);
}

#[test]
fn a_radio_holds_one_challenge_and_only_its_own_next_open_replaces_it() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut s = Service::new(Settings { rate: Rate { burst: 10, per_minute: 60 }, ..service(2).settings });
    let first = challenge(send(&mut s, "x", &open(&key, "entrance"), t0()));
    let second = challenge(send(&mut s, "x", &open(&key, "entrance"), t0()));
    // x holds one slot of two: another phone still gets one.
    let phone = SigningKey::from_bytes(&[6; 32]);
    assert_eq!(attempt(&mut s, "phone", &phone, t0()), Code::Granted);
    assert_eq!(code(&send(&mut s, "x", &proof(&key, &first, "entrance"), t0())), Code::BadSignature);
    let third = challenge(send(&mut s, "x", &open(&key, "entrance"), t0()));
    assert_eq!(code(&send(&mut s, "x", &proof(&key, &third, "entrance"), t0())), Code::Granted);
    assert_eq!(code(&send(&mut s, "x", &proof(&key, &second, "entrance"), t0())), Code::NoChallenge);
}

#[test]
fn a_radio_rotating_its_address_holds_at_most_the_cap_and_staff_get_in_as_its_challenges_expire() {
    let junk = SigningKey::from_bytes(&[5; 32]);
    let phone = SigningKey::from_bytes(&[6; 32]);
    let mut s = service(4);
    for i in 0..10 {
        let step = send(&mut s, &format!("rotated-{i}"), &open(&junk, "entrance"), t0());
        assert_eq!(matches!(step, Step::Send(_)), i < 4, "{i}: {step:?}");
    }
    assert_eq!(attempt(&mut s, "phone", &phone, t0()), Code::Busy);
    assert_eq!(attempt(&mut s, "phone", &phone, t0() + SignedDuration::from_secs(6)), Code::Granted);
}

#[test]
fn a_new_radio_is_never_turned_away_because_others_were_remembered() {
    let junk = SigningKey::from_bytes(&[5; 32]);
    let phone = SigningKey::from_bytes(&[6; 32]);
    let mut s = service(8);
    // Every remembered address has spent tokens (none is full), none holds a challenge.
    for i in 0..MAX_PEERS {
        let peer = format!("rotated-{i}");
        let at = t0() + SignedDuration::from_millis(i64::try_from(i).unwrap());
        send(&mut s, &peer, &open(&junk, "entrance"), at);
        s.disconnected(&peer);
    }
    let at = t0() + SignedDuration::from_secs(2);
    assert_eq!(attempt(&mut s, "phone", &phone, at), Code::Granted);
    assert_eq!(s.peers.len(), MAX_PEERS);
    assert!(!s.peers.contains_key("rotated-0"), "the least recently heard was forgotten");
}

#[test]
fn keys_proven_by_an_attacker_never_crowd_a_real_phone_out() {
    let phone = SigningKey::from_bytes(&[6; 32]);
    let mut s = Service::new(Settings { rate: Rate { burst: 1, per_minute: 1 }, ..service(8).settings });
    assert_eq!(attempt(&mut s, "phone", &phone, t0()), Code::Granted);
    for i in 0..=MAX_KEYS {
        let mut seed = [0x40; 32];
        seed[..8].copy_from_slice(&u64::try_from(i).unwrap().to_le_bytes());
        let own = SigningKey::from_bytes(&seed);
        assert_eq!(attempt(&mut s, &format!("a-{i}"), &own, t0()), Code::Granted);
    }
    assert!(s.keys.len() <= MAX_KEYS);
    // A minute later the phone's own bucket has a token again, remembered or not.
    assert_eq!(attempt(&mut s, "phone", &phone, t0() + SignedDuration::from_secs(61)), Code::Granted);
}

#[test]
fn proofs_answering_nothing_cost_their_radio_and_a_flood_of_them_is_audited_once() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut s = service(4);
    let stray = Message::Proof(Proof { door: "entrance".into(), signature: [0; 64] });
    let codes: Vec<Step> = (0..20).map(|_| send(&mut s, "x", &stray, t0())).collect();
    assert!(codes[..3].iter().all(|c| code(c) == Code::NoChallenge), "burst 3: {codes:?}");
    assert!(codes[3..].iter().all(|c| code(c) == Code::RateLimited));
    let audited = codes.iter().filter(|r| matches!(r, Step::Refuse(x) if x.audit)).count();
    assert_eq!(audited, 4, "three refusals, then the flood once");
    // Another radio is served meanwhile.
    challenge(send(&mut s, "phone", &open(&key, "entrance"), t0()));
}

#[test]
fn a_door_name_with_a_control_character_is_malformed() {
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut s = service(4);
    assert_eq!(code(&send(&mut s, "x", &open(&key, "ent\0rance"), t0())), Code::Malformed);
}

#[test]
fn a_p256_phone_proves_its_key_and_is_claimed_by_its_id_while_another_p256_key_is_refused() {
    use portvakt_phone::{Phone, PhoneSecret};
    let generate = || PhoneSecret::generate_p256().map_or_else(|e| panic!("{e}"), |(k, _)| k);
    let phone = Phone { key: generate(), certificate: None };
    let mut s = service(4);
    let c = challenge(send(&mut s, "phone", &phone.open("entrance", [7; 8]), t0()));
    let answer = phone.prove(&c, "entrance").unwrap_or_else(|e| panic!("{e}"));
    let Step::Decide(claim) = send(&mut s, "phone", &answer, t0() + SignedDuration::from_secs(1)) else {
        panic!("a P-256 proof is not a claim")
    };
    assert_eq!((claim.key, claim.kind), (phone.key.public().id(), "p256"));
    // Another P-256 key signs the challenge issued for this phone's key: refused.
    let c = challenge(send(&mut s, "phone", &phone.open("entrance", [7; 8]), t0() + SignedDuration::from_secs(2)));
    let thief = Phone { key: generate(), certificate: None };
    let forged = thief.prove(&c, "entrance").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(code(&send(&mut s, "phone", &forged, t0() + SignedDuration::from_secs(3))), Code::BadSignature);
}
