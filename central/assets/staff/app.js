// The staff app (docs/central.md, "The staff app"): sign in for the shift, a phone key
// kept non-extractable in the browser, the shift certificate fetched once, the team's
// doors opened over Web Bluetooth with the gateway's challenge-response — offline too —,
// locked with a PIN when idle, "could not get in" reports queued until there is coverage.
// Swedish first, English second.
import * as p from './protocol.js';
import * as store from './store.js';

const IDLE_MS = 5 * 60 * 1000;
const ANSWER_MS = 10000;

const WORDS = {
  skip: ['Till innehållet', 'Skip to content'],
  title: ['Portvakt – personal', 'Portvakt – staff'],
  signin_heading: ['Logga in för ditt pass', 'Sign in for your shift'],
  signin_text: ['Logga in med din e-legitimation. Telefonen får då nycklar till ditt teams dörrar för passet, även där det saknas täckning.',
    "Sign in with your e-identification. Your phone then holds keys to your team's doors for the shift, even without coverage."],
  signin_button: ['Logga in med e-legitimation', 'Sign in with e-identification'],
  pin_heading: ['Välj en PIN-kod för appen', 'Choose a PIN for the app'],
  pin_text: ['Appen låser sig när den inte används. Med PIN-koden låser du upp den.', 'The app locks itself when idle. The PIN unlocks it.'],
  pin_new: ['Ny PIN-kod (4–8 siffror)', 'New PIN (4–8 digits)'],
  pin_again: ['Samma PIN-kod igen', 'The same PIN again'],
  pin_save: ['Spara PIN-kod', 'Save PIN'],
  locked_heading: ['Appen är låst', 'The app is locked'],
  pin_enter: ['PIN-kod', 'PIN'],
  unlock: ['Lås upp', 'Unlock'],
  doors_heading: ['Dörrar', 'Doors'],
  offline: ['Ingen täckning: appen använder passerbehörigheten den redan har.', 'No coverage: the app uses the key it already has.'],
  report_heading: ['Kom du inte in?', 'Could you not get in?'],
  report_door: ['Dörr', 'Door'],
  report_note: ['Vad hände? (valfritt)', 'What happened? (optional)'],
  report_send: ['Skicka rapport', 'Send report'],
  lock: ['Lås appen', 'Lock the app'],
  signout: ['Logga ut', 'Sign out'],
  limits_heading: ['Vad appen kan och inte kan', 'What the app can and cannot do'],
  limits_text: ['Appen öppnar dörrar över Bluetooth i Chrome och Edge på Android. På iPhone finns inte Web Bluetooth i någon webbläsare; där behövs en egen app.',
    'The app opens doors over Bluetooth in Chrome and Edge on Android. No iPhone browser has Web Bluetooth; an iPhone needs an app of its own.'],
  open: ['Öppna', 'Open'],
  opening: ['Öppnar', 'Opening'],
  valid_until: ['Passerbehörighet giltig till', 'Key valid until'],
  no_key: ['Ingen giltig passerbehörighet. Logga in igen.', 'No valid key. Sign in again.'],
  getting_key: ['Hämtar passerbehörighet …', 'Getting your key …'],
  pin_mismatch: ['PIN-koderna är inte lika.', 'The PINs differ.'],
  pin_wrong: ['Fel PIN-kod.', 'Wrong PIN.'],
  no_bluetooth: ['Den här webbläsaren har inte Web Bluetooth.', 'This browser has no Web Bluetooth.'],
  no_answer: ['Porten svarade inte. Gå närmare och försök igen.', 'The door did not answer. Move closer and try again.'],
  report_sent: ['Rapporten är skickad.', 'The report is sent.'],
  reports_waiting: ['rapport(er) skickas när det finns täckning.', 'report(s) will be sent when there is coverage.'],
  team: ['team', 'team'],
  sign_in_again: ['Logga in igen', 'Sign in again'],
  tries_left: ['försök kvar.', 'tries left.'],
  wiped: ['För många fel PIN-koder: appen har glömt nyckeln. Logga in igen.', 'Too many wrong PINs: the app forgot its key. Sign in again.'],
};

let lang = localStorage.getItem('lang') === 'en' ? 1 : 0;
const t = (k) => WORDS[k][lang];
const $ = (id) => document.getElementById(id);
const hex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const unhex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));

let me = null;
let lastTouch = Date.now();
let locked = false;
// Wrong PINs in a row before the key and certificate are wiped from the phone.
const MAX_WRONG = 5;

function say(text, kind = '') {
  const s = $('status');
  s.textContent = text;
  s.className = kind;
}

function translate() {
  document.documentElement.lang = lang ? 'en' : 'sv';
  document.querySelectorAll('[data-t]').forEach((e) => { e.textContent = t(e.dataset.t); });
  const other = $('lang');
  other.textContent = lang ? 'Svenska' : 'English';
  other.lang = lang ? 'sv' : 'en';
  document.title = t('title');
}

function show(section) {
  for (const id of ['signin', 'choose-pin', 'locked', 'doors-view']) $(id).hidden = id !== section;
}

/** The server's JSON, or null without coverage; throws the server's refusal in words. */
async function api(path, method = 'GET', body = undefined) {
  let r;
  try {
    r = await fetch(path, { method, body: body && JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  } catch {
    return null;
  }
  const answer = await r.json().catch(() => ({}));
  if (!r.ok) {
    const e = new Error(answer.error ? answer.error[lang ? 'en' : 'sv'] : `${r.status}`);
    e.status = r.status;
    throw e;
  }
  return answer;
}

/** A shift certificate for this phone's key: a nonce, the proof, the certificate. */
async function fetchCertificate(pair) {
  say(t('getting_key'));
  const n = await api('/personal/nonce', 'POST');
  if (!n) return null;
  const key = await store.publicKey(pair);
  const enc = new TextEncoder();
  const holder = enc.encode(n.holder);
  const proofBytes = Uint8Array.from([...enc.encode('portvakt/shift-key/v1'), ...unhex(n.nonce), holder.length >> 8, holder.length & 255, ...holder]);
  const signature = await store.sign(pair, proofBytes);
  const c = await api('/personal/certifikat', 'POST', { key: hex(key), nonce: n.nonce, signature: hex(signature) });
  if (c) await store.put('certificate', c);
  say('');
  return c;
}

async function certificateNow() {
  const c = await store.get('certificate');
  return c && new Date(c.not_after) > new Date() ? c : null;
}

function renderDoors(c) {
  $('who').textContent = me ? `${me.name}, ${t('team')} ${me.team_name}` : '';
  const list = $('doors');
  list.replaceChildren();
  const select = $('report-door');
  select.replaceChildren();
  if (!c) {
    $('valid').textContent = t('no_key');
    return;
  }
  const until = new Date(c.not_after).toLocaleTimeString(lang ? 'en-GB' : 'sv-SE', { hour: '2-digit', minute: '2-digit' });
  $('valid').textContent = `${t('valid_until')} ${until}`;
  // Doors by the names people use (the roster's), their ids where none is given.
  const name = (door) => me?.door_names?.[door] ?? door;
  for (const door of c.doors) {
    const li = document.createElement('li');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = `${t('open')}: ${name(door)}`;
    b.addEventListener('click', () => openDoor(door));
    li.append(b);
    list.append(li);
    const o = document.createElement('option');
    o.value = door;
    o.textContent = name(door);
    select.append(o);
  }
}

/** The demo's simulated door over HTTP (only where Central offers one): the same fragments. */
async function simulatedLink() {
  const o = await api('/personal/simulerad-port', 'POST');
  if (!o) throw new Error(t('no_answer'));
  const base = `/personal/simulerad-port/${o.link}`;
  return {
    send: (f) => api(base, 'POST', { fragment: hex(f) }),
    next: async () => {
      for (;;) {
        const r = await fetch(base);
        if (r.status === 200) return unhex((await r.json()).fragment);
        if (r.status !== 204) throw new Error(t('no_answer'));
      }
    },
    close: () => api(`${base}/stang`, 'POST').catch(() => null),
  };
}

/** A link to a gateway: fragments out and in. Web Bluetooth; one a test injected; or,
 *  in the demo and without Web Bluetooth, the demo's simulated door. */
async function link() {
  if (typeof globalThis.portvaktLink === 'function') return globalThis.portvaktLink();
  if (!navigator.bluetooth && me?.simulated_door) return simulatedLink();
  if (!navigator.bluetooth) throw new Error(t('no_bluetooth'));
  const device = await navigator.bluetooth.requestDevice({ filters: [{ services: [p.SERVICE] }] });
  const server = await device.gatt.connect();
  const service = await server.getPrimaryService(p.SERVICE);
  const request = await service.getCharacteristic(p.REQUEST);
  const response = await service.getCharacteristic(p.RESPONSE);
  const queue = [];
  const waiting = [];
  response.addEventListener('characteristicvaluechanged', (e) => {
    const f = new Uint8Array(e.target.value.buffer.slice(0));
    const w = waiting.shift();
    if (w) w(f); else queue.push(f);
  });
  await response.startNotifications();
  return {
    send: (f) => request.writeValueWithResponse(f),
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))),
    close: () => device.gatt.disconnect(),
  };
}

/** The gateway's next message for this exchange (its tag, or the zero tag). */
async function answer(l, tag) {
  const r = new p.Reassembler();
  const deadline = Date.now() + ANSWER_MS;
  for (;;) {
    const left = deadline - Date.now();
    const f = await Promise.race([l.next(), new Promise((res) => setTimeout(() => res(null), Math.max(left, 0)))]);
    if (!f) throw new Error(t('no_answer'));
    const whole = r.push(f);
    if (!whole) continue;
    const m = p.parse(whole);
    if (p.sameTag(m.tag, tag) || (m.kind === 'result' && m.tag.every((x) => x === 0))) return m;
  }
}

async function openDoor(door) {
  touch();
  const c = await certificateNow();
  if (!c) {
    say(t('no_key'), 'refused');
    return;
  }
  say(`${t('opening')} ${me?.door_names?.[door] ?? door} …`);
  let l;
  try {
    const pair = await store.keyPair();
    l = await link();
    const tag = crypto.getRandomValues(new Uint8Array(8));
    for (const f of p.fragments(p.openRequest(tag, door, await store.publicKey(pair), unhex(c.certificate)))) await l.send(f);
    let m = await answer(l, tag);
    if (m.kind === 'challenge' && m.door !== door) throw new Error(t('no_answer'));
    if (m.kind === 'challenge') {
      const signature = await store.sign(pair, p.signedBytes(m.nonce, m.site, door));
      for (const f of p.fragments(p.proof(door, signature))) await l.send(f);
      m = await answer(l, tag);
    }
    const code = m.kind === 'result' ? m.code : 16;
    say(p.VERDICTS[code]?.[lang] ?? p.VERDICTS[16][lang], code === 0 ? 'granted' : 'refused');
    if (code !== 0) $('report-door').value = door;
  } catch (e) {
    say(e.message || String(e), 'refused');
  } finally {
    l?.close();
  }
}

async function sendQueued() {
  const queued = (await store.get('reports')) ?? [];
  const left = [];
  for (const r of queued) {
    try {
      if (!(await api('/personal/rapport', 'POST', r))) left.push(r);
    } catch {
      // Refused by the server (signed out): kept until signed in again.
      left.push(r);
    }
  }
  await store.put('reports', left);
  $('queued').textContent = left.length ? `${left.length} ${t('reports_waiting')}` : '';
}

async function report(event) {
  event.preventDefault();
  const r = { door: $('report-door').value, note: $('report-note').value, at: new Date().toISOString() };
  await store.put('reports', [...((await store.get('reports')) ?? []), r]);
  $('report-note').value = '';
  await sendQueued();
  if (!$('queued').textContent) say(t('report_sent'));
}

function touch() {
  lastTouch = Date.now();
  store.put('last_use', lastTouch);
}

function lock() {
  locked = true;
  store.put('locked', true);
  show('locked');
  $('pin').value = '';
  $('pin').focus();
}

async function start() {
  translate();
  try {
    me = await api('/personal/jag');
    if (me) await store.put('me', me);
    $('offline').hidden = Boolean(me);
    if (!me) me = await store.get('me');
  } catch (e) {
    if (e.status === 401) {
      me = null;
      const c = await certificateNow();
      if (!c) {
        show('signin');
        return;
      }
      me = await store.get('me');
    } else {
      say(e.message, 'refused');
    }
  }
  if (!(await store.hasPin())) {
    show('choose-pin');
    return;
  }
  // Locked across reloads and restarts: the lock is kept on the phone, and a phone left
  // idle locks whatever happened to the page meanwhile.
  const lastUse = (await store.get('last_use')) ?? 0;
  if (locked || (await store.get('locked')) || Date.now() - lastUse > IDLE_MS) return lock();
  show('doors-view');
  let c = await certificateNow();
  if (!c && me && navigator.onLine) {
    try {
      c = await fetchCertificate(await store.keyPair());
    } catch (e) {
      say(e.message, 'refused');
    }
  }
  renderDoors(c);
  sendQueued();
}

$('lang').addEventListener('click', () => {
  lang = 1 - lang;
  localStorage.setItem('lang', lang ? 'en' : 'sv');
  translate();
  start();
});
$('pin-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if ($('pin1').value !== $('pin2').value) {
    say(t('pin_mismatch'), 'refused');
    return;
  }
  await store.setPin($('pin1').value);
  touch();
  start();
});
$('unlock-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  if (await store.pinMatches($('pin').value)) {
    locked = false;
    await store.put('locked', false);
    await store.put('wrong', 0);
    touch();
    say('');
    start();
  } else {
    const wrong = ((await store.get('wrong')) ?? 0) + 1;
    await store.put('wrong', wrong);
    if (wrong >= MAX_WRONG) {
      // Too many guesses: the key, certificate and PIN are gone; sign in again.
      await store.clear();
      locked = false;
      say(t('wiped'), 'refused');
      start();
      return;
    }
    say(`${t('pin_wrong')} ${MAX_WRONG - wrong} ${t('tries_left')}`, 'refused');
  }
});
$('report-form').addEventListener('submit', report);
$('lock').addEventListener('click', lock);
$('signout').addEventListener('click', async () => {
  await api('/personal/logga-ut', 'POST').catch(() => null);
  await store.clear();
  await store.remove('reports');
  me = null;
  start();
});
for (const ev of ['pointerdown', 'keydown']) document.addEventListener(ev, touch);
setInterval(() => {
  if (!locked && !$('doors-view').hidden && Date.now() - lastTouch > IDLE_MS) lock();
}, 15000);
window.addEventListener('online', () => { $('offline').hidden = true; sendQueued(); });
window.addEventListener('offline', () => { $('offline').hidden = false; });
if ('serviceWorker' in navigator) navigator.serviceWorker.register('/personal/sw.js', { scope: '/personal' }).catch(() => {});
start();
