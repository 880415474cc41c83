// What the staff app keeps on the phone, in IndexedDB: the phone's key (a non-extractable
// WebCrypto P-256 key pair: the private half never leaves the browser's key store), the
// shift certificate with its doors, the PIN's salted PBKDF2 hash, and "could not get in"
// reports waiting for coverage.

const DB = 'portvakt-staff';
const STORE = 'kv';

function db() {
  return new Promise((resolve, reject) => {
    const r = indexedDB.open(DB, 1);
    r.onupgradeneeded = () => r.result.createObjectStore(STORE);
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

async function run(mode, f) {
  const d = await db();
  return new Promise((resolve, reject) => {
    const tx = d.transaction(STORE, mode);
    const req = f(tx.objectStore(STORE));
    tx.oncomplete = () => resolve(req?.result);
    tx.onerror = () => reject(tx.error);
  });
}

export const get = (key) => run('readonly', (s) => s.get(key));
export const put = (key, value) => run('readwrite', (s) => s.put(value, key));
export const remove = (key) => run('readwrite', (s) => s.delete(key));

/** The phone's key pair, made once: P-256, the private key not extractable. */
export async function keyPair() {
  let pair = await get('key');
  if (!pair) {
    pair = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign']);
    await put('key', pair);
  }
  return pair;
}

/** The public key, 65 bytes uncompressed. */
export async function publicKey(pair) {
  return new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
}

/** Signs with the phone's key: ECDSA P-256 SHA-256, r | s (64 bytes). */
export async function sign(pair, bytes) {
  return new Uint8Array(await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, pair.privateKey, bytes));
}

async function pinHash(pin, salt) {
  const base = await crypto.subtle.importKey('raw', new TextEncoder().encode(pin), 'PBKDF2', false, ['deriveBits']);
  const bits = await crypto.subtle.deriveBits({ name: 'PBKDF2', hash: 'SHA-256', salt, iterations: 200000 }, base, 256);
  return new Uint8Array(bits);
}

/** Keeps a new PIN (salted hash only). */
export async function setPin(pin) {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  await put('pin', { salt, hash: await pinHash(pin, salt) });
}

export const hasPin = async () => Boolean(await get('pin'));

/** Whether `pin` is the one kept. */
export async function pinMatches(pin) {
  const kept = await get('pin');
  if (!kept) return false;
  const hash = await pinHash(pin, kept.salt);
  return hash.length === kept.hash.length && hash.every((b, i) => b === kept.hash[i]);
}

/** Everything the app kept (signing out). */
export async function clear() {
  for (const k of ['key', 'certificate', 'me', 'pin', 'locked', 'wrong', 'last_use']) await remove(k);
}
