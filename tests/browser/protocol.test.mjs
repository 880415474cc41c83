// The staff app's protocol module (central/assets/staff/protocol.js) against the test
// vectors of docs/ble-protocol.md: the same bytes the gateway and the Rust phone make.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { webcrypto } from 'node:crypto';
import * as p from '../../central/assets/staff/protocol.js';

const doc = readFileSync(new URL('../../docs/ble-protocol.md', import.meta.url), 'utf8');
const block = (name) => Object.fromEntries(
  doc.split('```' + name + '\n')[1].split('```')[0].trim().split('\n').map((l) => l.split(' = ').map((s) => s.trim())),
);
const v = { ...block('vectors'), ...block('vectors-p256') };
const bytes = (hex) => Uint8Array.from(hex.match(/../g).map((h) => parseInt(h, 16)));
const hex = (b) => Buffer.from(b).toString('hex');
const tag = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]);
const nonce = Uint8Array.from({ length: 16 }, (_, i) => 0xa0 + i);

test('the P-256 open request, the signed bytes and the proof are the documented bytes', () => {
  assert.equal(hex(p.openRequest(tag, 'entrance', bytes(v.p256_public_key), null)), v.open_p256);
  assert.equal(hex(p.signedBytes(nonce, 'storgatan-12', 'entrance')), v.signed_bytes);
  assert.equal(hex(p.proof('entrance', bytes(v.p256_signature))), v.proof_p256);
});

test('fragments for the smallest MTU are the documented ones and reassemble', () => {
  const frags = p.fragments(bytes(v.open), 23);
  frags.forEach((f, i) => assert.equal(hex(f), v[`open_fragment_mtu23_${i}`]));
  const r = new p.Reassembler();
  let whole = null;
  for (const f of frags) whole = r.push(f) ?? whole;
  assert.equal(whole.type, 1);
  assert.equal(hex(p.frame(whole.type, whole.body)), v.open);
});

test("the gateway's challenge and verdict are read, and a message out of place is refused", () => {
  const challenge = bytes(v.challenge);
  const m = p.parse({ type: challenge[1], body: challenge.slice(4) });
  assert.equal(m.kind, 'challenge');
  assert.equal(m.site, 'storgatan-12');
  assert.equal(m.door, 'entrance');
  assert.equal(m.validMs, 5000);
  assert.ok(p.sameTag(m.tag, tag));
  const granted = bytes(v.result_granted);
  assert.deepEqual(p.parse({ type: 4, body: granted.slice(4) }).code, 0);
  assert.throws(() => p.parse({ type: 3, body: granted.slice(4) }));
  assert.throws(() => p.parse({ type: 4, body: Uint8Array.from([...granted.slice(4), 0]) }));
  assert.throws(() => new p.Reassembler().push(Uint8Array.from([1, 0])), /out of order/);
});

test('a signature WebCrypto makes verifies with the documented P-256 key format', async () => {
  const pair = await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
  const raw = new Uint8Array(await webcrypto.subtle.exportKey('raw', pair.publicKey));
  assert.equal(raw.length, 65);
  assert.equal(raw[0], 4);
  const signed = p.signedBytes(nonce, 'storgatan-12', 'entrance');
  const sig = new Uint8Array(await webcrypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, signed));
  assert.equal(sig.length, 64, 'r | s, as the proof carries it');
  assert.equal(p.proof('entrance', sig).length, 4 + 2 + 8 + 64);
  assert.ok(Object.keys(p.VERDICTS).length === 19, 'a word for every verdict code 0-18');
});
