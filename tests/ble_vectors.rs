//! The test vectors in `docs/ble-protocol.md` verify: every line of the doc's vector
//! block is recomputed here from the inputs it names, and a phone implementation can
//! check itself against the same lines.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ed25519_dalek::{Signer as _, SigningKey};
use portvakt::ble::bluez::{SERVICE, site_tag};
use portvakt::ble::exchange::signature_ok;
use portvakt::ble::frame::{MIN_MTU, Reassembler, fragment};
use portvakt::ble::message::{Challenge, Code, Message, Open, Proof, Verdict, signed_bytes};
use portvakt::core::hex::encode as hex;
use portvakt_phone::PhonePublicKey;

/// The vectors, computed: (name, value).
fn computed() -> Vec<(String, String)> {
    let key = SigningKey::from_bytes(&[0x31; 32]);
    let tag = [1, 2, 3, 4, 5, 6, 7, 8];
    let nonce: [u8; 16] = std::array::from_fn(|i| u8::try_from(0xa0 + i).unwrap());
    let (site, door) = ("storgatan-12", "entrance");
    let open = Message::Open(Open {
        tag,
        door: door.into(),
        key: PhonePublicKey::Ed25519(key.verifying_key().to_bytes()),
        certificate: None,
    });
    let challenge = Message::Challenge(Challenge {
        tag,
        nonce,
        site: site.into(),
        door: door.into(),
        issued_ms: 1_795_400_000_000,
        valid_ms: 5000,
    });
    let signed = signed_bytes(&nonce, site, door);
    let signature = key.sign(&signed).to_bytes();
    let proof = Message::Proof(Proof { door: door.into(), signature });
    let granted = Message::Result(Verdict { tag, code: Code::Granted });
    let mut v = vec![
        ("service_uuid".to_owned(), SERVICE.to_string()),
        ("site".into(), site.into()),
        ("site_tag".into(), hex(&site_tag(site))),
        ("phone_seed".into(), hex(&[0x31; 32])),
        ("phone_public_key".into(), hex(&key.verifying_key().to_bytes())),
        ("open".into(), hex(&open.encode())),
        ("challenge".into(), hex(&challenge.encode())),
        ("signed_bytes".into(), hex(&signed)),
        ("signature".into(), hex(&signature)),
        ("proof".into(), hex(&proof.encode())),
        ("result_granted".into(), hex(&granted.encode())),
    ];
    for (i, f) in fragment(&open.encode(), MIN_MTU).iter().enumerate() {
        v.push((format!("open_fragment_mtu23_{i}"), hex(f)));
    }
    v
}

fn documented() -> Vec<(String, String)> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ble-protocol.md")).unwrap();
    let block = doc.split("```vectors\n").nth(1).expect("a ```vectors block").split("```").next().unwrap();
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').expect("name = value");
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

#[test]
fn the_documented_test_vectors_are_what_the_gateway_computes() {
    let want = computed();
    let text = want.iter().map(|(k, v)| format!("{k} = {v}")).collect::<Vec<_>>().join("\n");
    assert_eq!(documented(), want, "docs/ble-protocol.md should say:\n{text}");
}

#[test]
fn the_documented_signature_verifies_and_the_fragments_reassemble() {
    let doc: std::collections::HashMap<String, String> = documented().into_iter().collect();
    let bytes = |k: &str| -> Vec<u8> {
        let s = &doc[k];
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    };
    let key: [u8; 32] = bytes("phone_public_key").try_into().unwrap();
    let sig: [u8; 64] = bytes("signature").try_into().unwrap();
    assert!(signature_ok(&key, &bytes("signed_bytes"), &sig));
    let mut r = Reassembler::default();
    let mut out = None;
    for i in 0.. {
        let Some(_) = doc.get(&format!("open_fragment_mtu23_{i}")) else { break };
        out = r.push(&bytes(&format!("open_fragment_mtu23_{i}"))).unwrap();
    }
    let (kind, body) = out.expect("the fragments make a message");
    assert_eq!([&[1, kind][..], &u16::try_from(body.len()).unwrap().to_be_bytes(), &body].concat(), bytes("open"));
}

/// The `vectors-p256` block: name → value.
fn documented_p256() -> std::collections::HashMap<String, Vec<u8>> {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/ble-protocol.md")).unwrap();
    let block = doc.split("```vectors-p256\n").nth(1).expect("a ```vectors-p256 block").split("```").next().unwrap();
    block
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let (k, v) = l.split_once('=').expect("name = value");
            (k.trim().to_owned(), portvakt::core::hex::decode(v.trim()).expect("hex"))
        })
        .collect()
}

#[test]
fn the_documented_p256_vectors_hold_the_key_its_id_the_open_and_a_proof_that_verifies() {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let v = documented_p256();
    // ring accepts the pair only when the public key is the private scalar's.
    let rng = ring::rand::SystemRandom::new();
    let pair = EcdsaKeyPair::from_private_key_and_public_key(
        &ECDSA_P256_SHA256_FIXED_SIGNING,
        &v["p256_private"],
        &v["p256_public_key"],
        &rng,
    );
    assert!(pair.is_ok(), "p256_public_key is the public key of p256_private");
    let key = PhonePublicKey::p256(&v["p256_public_key"]).expect("65 bytes, uncompressed");
    assert_eq!(key.id().to_vec(), v["p256_key_id"]);
    let open = Message::Open(Open { tag: [1, 2, 3, 4, 5, 6, 7, 8], door: "entrance".into(), key, certificate: None });
    assert_eq!(hex(&open.encode()), hex(&v["open_p256"]));
    let nonce: [u8; 16] = std::array::from_fn(|i| u8::try_from(0xa0 + i).unwrap());
    let signature: [u8; 64] = v["p256_signature"].clone().try_into().unwrap();
    assert!(key.verify(&signed_bytes(&nonce, "storgatan-12", "entrance"), &signature));
    assert!(!key.verify(&signed_bytes(&nonce, "storgatan-12", "rubbish"), &signature));
    let proof = Message::Proof(Proof { door: "entrance".into(), signature });
    assert_eq!(hex(&proof.encode()), hex(&v["proof_p256"]));
}
