// The phone's side of Portvakt's BLE door protocol (docs/ble-protocol.md), for the staff
// app: framing in fragments for the smallest ATT MTU, the P-256 open request (type 5), the
// proof, the gateway's challenge and verdict read strictly, and the verdicts in words.
// Pure: no browser API but TextEncoder; tests/browser/protocol.test.mjs checks it against
// the documented vectors.

export const SERVICE = '5b0e8a40-3c1d-4f6e-9a57-707274760000';
export const REQUEST = '5b0e8a40-3c1d-4f6e-9a57-707274760001';
export const RESPONSE = '5b0e8a40-3c1d-4f6e-9a57-707274760002';
export const OPEN_P256 = 5;
export const PROOF = 3;
export const CHALLENGE = 2;
export const RESULT = 4;
const MAX_BODY = 8192;
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

const u16 = (n) => [(n >> 8) & 255, n & 255];
const u32 = (n) => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const str = (s) => {
  const b = encoder.encode(s);
  return [...u16(b.length), ...b];
};

/** A whole message: version 1, type, body length, body. */
export function frame(type, body) {
  return Uint8Array.from([1, type, ...u16(body.length), ...body]);
}

/** The open request for a P-256 key (65 bytes, uncompressed) with its certificate. */
export function openRequest(tag, door, key, certificate) {
  const cert = certificate ? [1, ...u32(certificate.length), ...certificate] : [0];
  return frame(OPEN_P256, [...tag, ...str(door), ...key, ...cert]);
}

/** The proof: the door signed for and the signature (r | s). */
export function proof(door, signature) {
  return frame(PROOF, [...str(door), ...signature]);
}

/** What the phone signs: the context, the nonce, the site and the door. */
export function signedBytes(nonce, site, door) {
  return Uint8Array.from([...encoder.encode('portvakt/ble-open/v1'), ...nonce, ...str(site), ...str(door)]);
}

/** A message in fragments of at most mtu - 3 bytes, each behind its header byte. */
export function fragments(message, mtu = 23) {
  const room = mtu - 3 - 1;
  const out = [];
  for (let i = 0, n = 0; i < message.length; i += room, n++) {
    const more = i + room < message.length;
    out.push(Uint8Array.from([(more ? 0x80 : 0) | (n % 128), ...message.slice(i, i + room)]));
  }
  return out;
}

/** Fragments back into messages, strictly; throws on anything out of order. */
export class Reassembler {
  constructor() {
    this.parts = null;
  }

  /** Takes one fragment: the message ({ type, body }) when it is whole, else null. */
  push(fragment) {
    if (fragment.length < 1) throw new Error('an empty fragment');
    const index = fragment[0] & 0x7f;
    const more = (fragment[0] & 0x80) !== 0;
    if (this.parts === null) {
      if (index !== 0) throw new Error('a fragment out of order');
      this.parts = { next: 0, bytes: [] };
    } else if (index !== this.parts.next) {
      this.parts = null;
      throw new Error('a fragment out of order');
    }
    this.parts.bytes.push(...fragment.slice(1));
    this.parts.next = (this.parts.next + 1) % 128;
    const b = this.parts.bytes;
    if (b.length >= 4) {
      const length = (b[2] << 8) | b[3];
      if (b[0] !== 1 || length > MAX_BODY) {
        this.parts = null;
        throw new Error('not a message of version 1');
      }
      if (b.length > 4 + length || (!more && b.length !== 4 + length)) {
        this.parts = null;
        throw new Error('a message of the wrong length');
      }
      if (!more) {
        this.parts = null;
        return { type: b[1], body: Uint8Array.from(b.slice(4)) };
      }
    } else if (!more) {
      this.parts = null;
      throw new Error('a message shorter than its header');
    }
    return null;
  }
}

/** Reads the gateway's message: a challenge or a verdict; throws on anything else. */
export function parse({ type, body }) {
  let at = 0;
  const take = (n) => {
    if (at + n > body.length) throw new Error('a short message');
    const out = body.slice(at, at + n);
    at += n;
    return out;
  };
  const text = () => {
    const [hi, lo] = take(2);
    return decoder.decode(take((hi << 8) | lo));
  };
  let message;
  if (type === CHALLENGE) {
    const tag = take(8);
    const nonce = take(16);
    const site = text();
    const door = text();
    const issued = take(8);
    const valid = take(4);
    message = { kind: 'challenge', tag, nonce, site, door, issued, validMs: ((valid[0] << 24) >>> 0) + (valid[1] << 16) + (valid[2] << 8) + valid[3] };
  } else if (type === RESULT) {
    message = { kind: 'result', tag: take(8), code: take(1)[0] };
  } else {
    throw new Error(`a message of type ${type} from the gateway`);
  }
  if (at !== body.length) throw new Error('bytes after the end');
  return message;
}

export const sameTag = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** The verdicts in words: [Swedish, English]. */
export const VERDICTS = {
  0: ['Porten är öppen', 'The door is open'],
  1: ['Fel i överföringen. Försök igen.', 'A transmission error. Try again.'],
  2: ['Försök igen.', 'Try again.'],
  3: ['Det tog för lång tid. Försök igen.', 'It took too long. Try again.'],
  4: ['Fel dörr. Försök igen.', 'The wrong door. Try again.'],
  5: ['Nekad: telefonens nyckel godtogs inte', "Refused: the phone's key was not accepted"],
  6: ['För många försök. Vänta en stund.', 'Too many attempts. Wait a while.'],
  7: ['Upptaget. Försök igen.', 'Busy. Try again.'],
  8: ['Den dörren finns inte här', 'No such door here'],
  9: ['Nekad: telefonen är okänd här', 'Refused: this phone is not known here'],
  10: ['Nekad: behörigheten är spärrad', 'Refused: the access is blocked'],
  11: ['Nekad: passerbehörigheten godtogs inte', 'Refused: the key was not accepted'],
  12: ['Nekad: passerbehörigheten gäller inte nu. Logga in igen.', 'Refused: the key is not valid now. Sign in again.'],
  13: ['Nekad: utanför teamets dörrar', "Refused: not one of your team's doors"],
  14: ['Nekad: inte på den här tiden', 'Refused: not at this time'],
  15: ['Nekad: dörren är spärrad av fastigheten', 'Refused: the door is locked down'],
  16: ['Nekad', 'Refused'],
  17: ['Porten kan inte svara just nu', 'The door cannot answer now'],
  18: ['Låset svarade inte. Försök igen eller använd nyckel.', 'The lock did not answer. Try again or use the key.'],
};
