// The staff app end to end, as a nurse uses it: Debian's chromium (headless, driven by
// playwright-core) against `portvakt-central demo --keep-running` with the staff side,
// signing in at a real OpenID provider (tests/browser/idp.mjs), the door being the real
// gateway daemon of storgatan-12 behind its simulated BLE socket. Started by
// scripts/browser-staff.sh, which passes the console's address, the demo's login, the
// database, the gateway's BLE socket and Central's binary.
//
// Chromium's Bluetooth emulation (the DevTools protocol's BluetoothEmulation and
// DeviceAccess domains) carries the app's Web Bluetooth code through the chooser, the GATT
// connection, discovery, the subscription and every write, which the test hands to the
// gateway; it has no command to deliver a notification to the page, so the gateway's
// answer stops there. The whole exchange then runs through the same app code with the
// link injected (`globalThis.portvaktLink`), bridged to the same socket.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { connect } from "node:net";
import { chromium } from "playwright-core";
import * as p from "../../central/assets/staff/protocol.js";

const URL = process.env.CONSOLE_URL;
const APP = `${URL}/personal`;
const PASSWORD = process.env.DEMO_PASSWORD;
const BLE = process.env.BLE_SOCKET;
const SHOTS = process.env.SHOTS ?? "target/browser-staff";
const NURSE = "anna.lind@hemtjansten.example";
const PIN = "482615";
mkdirSync(SHOTS, { recursive: true });

let browser;
let context;
let page;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--enable-features=WebBluetooth"],
  });
  // A phone: 390 CSS pixels wide, Swedish, Stockholm's time.
  context = await browser.newContext({
    viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true,
    locale: "sv-SE", timezoneId: "Europe/Stockholm",
  });
  await context.exposeBinding("pvBle", (_source, op, id, bytes) => bridge(op, id, bytes));
  page = await context.newPage();
});
after(async () => { await browser?.close(); });

/** A connection to the gateway's simulated BLE socket: the phone's MTU, then fragments as u16 length and bytes. */
function gatewayLink(mtu = 23) {
  const socket = connect(BLE);
  socket.write(Buffer.from([mtu >> 8, mtu & 255]));
  let buffered = Buffer.alloc(0);
  const queue = [];
  const waiting = [];
  socket.on("data", (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 2 && buffered.length >= 2 + buffered.readUInt16BE(0)) {
      const n = buffered.readUInt16BE(0);
      const f = Uint8Array.from(buffered.subarray(2, 2 + n));
      buffered = buffered.subarray(2 + n);
      const w = waiting.shift();
      if (w) w(f); else queue.push(f);
    }
  });
  socket.on("error", () => {});
  return {
    send: (f) => {
      const b = Buffer.from(f);
      socket.write(Buffer.concat([Buffer.from([b.length >> 8, b.length & 255]), b]));
    },
    next: () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((r) => waiting.push(r))),
    close: () => socket.end(),
  };
}

// The links the page has opened through the injected transport, by number.
const links = new Map();
let linkCount = 0;
async function bridge(op, id, bytes) {
  if (op === "open") {
    links.set(++linkCount, gatewayLink());
    return linkCount;
  }
  const l = links.get(id);
  if (op === "send") return l.send(Uint8Array.from(bytes));
  if (op === "next") return Array.from(await l.next());
  l.close();
  links.delete(id);
  return null;
}

/** The app's link to a door through the test's bridge instead of Web Bluetooth. */
const injectLink = () => page.evaluate(() => {
  globalThis.portvaktLink = async () => {
    const id = await window.pvBle("open");
    return {
      send: (f) => window.pvBle("send", id, Array.from(f)),
      next: async () => Uint8Array.from(await window.pvBle("next", id)),
      close: () => window.pvBle("close", id),
    };
  };
});

/** One whole message of the gateway's, read from a link. */
async function message(link) {
  const r = new p.Reassembler();
  for (;;) {
    const whole = r.push(await link.next());
    if (whole) return whole;
  }
}

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/** axe-core's WCAG 2.1 A and AA rules on the page as it is: the violations, each with its rule and where. */
async function violations() {
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] });
    return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
}
/** Signs the nurse in on the identity provider's own pages (login, then consent), from the app's sign-in page. */
async function signIn(p_) {
  await p_.click("#signin a");
  await p_.waitForURL(/127\.0\.0\.1:\d+\/interaction\//);
  await p_.fill("input[name=login]", NURSE);
  await p_.fill("input[name=password]", "e-legitimation");
  await p_.click("button[type=submit]");
  await p_.waitForSelector("button[type=submit]");
  if (!p_.url().startsWith(URL)) await p_.click("button[type=submit]");
  await p_.waitForURL((u) => u.href.startsWith(APP));
}
const shot = (name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
const status = () => page.textContent("#status");
/** Does `act` and waits for the app's verdict (the status line with its kind set anew). */
async function verdictAfter(act) {
  await page.evaluate(() => { const s = document.getElementById("status"); s.textContent = ""; s.className = ""; });
  await act();
  await page.waitForFunction(() => document.getElementById("status").className !== "", null, { timeout: 15000 });
}
const visible = (id) => page.waitForSelector(`#${id}:not([hidden])`);

test("the nurse signs in at the identity provider's own pages, chooses a PIN and gets her shift's key for her team's doors", async () => {
  await page.goto(APP);
  await visible("signin");
  assert.deepEqual(await violations(), [], "the sign-in page");
  await shot("01-sign-in");
  await signIn(page);
  await visible("choose-pin");
  assert.deepEqual(await violations(), [], "the PIN page");
  await shot("02-choose-pin");
  await page.fill("#pin1", PIN);
  await page.fill("#pin2", PIN);
  await page.click("#pin-form button");
  await visible("doors-view");
  await page.waitForSelector("#doors button");
  assert.equal(await page.textContent("#who"), "Anna Lind, team Hemtjänsten Norr");
  assert.match(await page.textContent("#valid"), /^Passerbehörighet giltig till \d\d:\d\d$/);
  assert.deepEqual(await page.$$eval("#doors button", (bs) => bs.map((b) => b.textContent)),
    ["Öppna: Porten", "Öppna: Soprummet"], "the doors by the names in the roster");
  // The phone's key: P-256, its private half not extractable, kept in IndexedDB.
  const key = await page.evaluate(() => new Promise((resolve) => {
    indexedDB.open("portvakt-staff").onsuccess = (e) => {
      e.target.result.transaction("kv").objectStore("kv").get("key").onsuccess = (g) => {
        const k = g.target.result.privateKey;
        resolve({ name: k.algorithm.name, curve: k.algorithm.namedCurve, extractable: k.extractable });
      };
    };
  }));
  assert.deepEqual(key, { name: "ECDSA", curve: "P-256", extractable: false });
  assert.deepEqual(await violations(), [], "the doors page");
  await shot("03-doors");
});

test("Chromium's Bluetooth emulation carries the app's Web Bluetooth code to the gateway: chooser, connection, discovery, subscription and the open request, which the gateway answers with its challenge", async () => {
  // In chromium 156 the radio's emulation is a domain of the browser's session, the
  // device chooser one of the page's.
  const cdp = await browser.newBrowserCDPSession();
  const chooser = await context.newCDPSession(page);
  const address = "09:09:09:09:09:01";
  await cdp.send("BluetoothEmulation.enable", { state: "powered-on", leSupported: true });
  await cdp.send("BluetoothEmulation.simulatePreconnectedPeripheral", {
    address, name: "Portvakt storgatan-12", manufacturerData: [], knownServiceUuids: [p.SERVICE],
  });
  const { serviceId } = await cdp.send("BluetoothEmulation.addService", { address, serviceUuid: p.SERVICE });
  const request = await cdp.send("BluetoothEmulation.addCharacteristic",
    { serviceId, characteristicUuid: p.REQUEST, properties: { write: true } });
  const response = await cdp.send("BluetoothEmulation.addCharacteristic",
    { serviceId, characteristicUuid: p.RESPONSE, properties: { notify: true } });
  // Notifications need the characteristic's client configuration descriptor, as BlueZ adds it.
  await cdp.send("BluetoothEmulation.addDescriptor",
    { characteristicId: response.characteristicId, descriptorUuid: "00002902-0000-1000-8000-00805f9b34fb" });
  const seen = [];
  let gateway = null;
  const written = new p.Reassembler();
  let sent = null;
  let whole; // resolved with the gateway's link once the app's request is written whole
  const requested = new Promise((r) => { whole = r; });
  let chosen = false;
  chooser.on("DeviceAccess.deviceRequestPrompted", ({ id, devices }) => {
    // The chooser is told again as devices are found; it is answered once.
    if (chosen || devices.length === 0) return;
    chosen = true;
    seen.push(`chooser: ${devices.map((d) => d.id).join(", ")}`);
    chooser.send("DeviceAccess.selectPrompt", { id, deviceId: devices[0].id });
  });
  cdp.on("BluetoothEmulation.gattOperationReceived", ({ type }) => {
    seen.push(type);
    if (type === "connection") gateway = gatewayLink();
    cdp.send("BluetoothEmulation.simulateGATTOperationResponse", { address, type, code: 0 });
  });
  cdp.on("BluetoothEmulation.characteristicOperationReceived", ({ characteristicId, type, data }) => {
    seen.push(type);
    if (type === "write" && characteristicId === request.characteristicId) {
      const f = Uint8Array.from(Buffer.from(data, "base64"));
      gateway.send(f);
      sent = written.push(f) ?? sent;
      if (sent) whole(gateway);
    }
    cdp.send("BluetoothEmulation.simulateCharacteristicOperationResponse", { characteristicId, type, code: 0 });
  });
  await chooser.send("DeviceAccess.enable");
  await page.click("#doors button >> nth=0");
  // The gateway's answer to what the app wrote through Web Bluetooth.
  const answer = await Promise.race([
    requested.then(message),
    new Promise((_, reject) => setTimeout(() => reject(new Error(`no challenge; the emulation saw ${seen.join(", ")}`)), 15000)),
  ]);
  assert.equal(sent.type, p.OPEN_P256, "the app wrote an open request for its P-256 key");
  const challenge = p.parse(answer);
  assert.equal(challenge.kind, "challenge");
  assert.equal(challenge.door, "entrance");
  assert.equal(challenge.site, "storgatan-12");
  assert.ok(p.sameTag(challenge.tag, sent.body.slice(0, 8)), "the challenge answers the app's request");
  assert.deepEqual(seen.slice(0, 4), [`chooser: ${address}`, "connection", "discovery", "subscribe-to-notifications"]);
  assert.ok(seen.filter((s) => s === "write").length >= 2, "the request went in several writes (fragments for the smallest MTU)");
  // Here the emulation stops: it cannot notify the page, so the app hears nothing and says so.
  await page.waitForFunction(() => /svarade inte/.test(document.getElementById("status").textContent), null, { timeout: 15000 });
  assert.equal(await status(), "Porten svarade inte. Gå närmare och försök igen.");
  gateway.close();
  await chooser.send("DeviceAccess.disable");
  await cdp.send("BluetoothEmulation.disable");
  await chooser.detach();
  await cdp.detach();
});

test("the door opens from the app over the same exchange with the link injected, and the visit shows in Central's console under her holder id", async () => {
  await injectLink();
  await verdictAfter(() => page.click("#doors button >> nth=0"));
  assert.equal(await status(), "Porten är öppen");
  assert.deepEqual(await violations(), [], "the doors page with a verdict");
  await shot("04-door-open");
  const console_ = await browser.newContext({ locale: "sv-SE", timezoneId: "Europe/Stockholm" });
  const operator = await console_.newPage();
  await operator.goto(`${URL}/login`);
  await operator.fill("input[name=name]", "demo");
  await operator.fill("input[name=password]", PASSWORD);
  await Promise.all([operator.waitForURL(`${URL}/`), operator.click("form.login button")]);
  let rows = [];
  for (let i = 0; i < 60 && rows.length === 0; i++) {
    await operator.goto(`${URL}/visits?purpose=invoicing&holder=anna-lind`);
    // Each row's words, with the ids the cells carry on hover.
    rows = await operator.$$eval("table.visits tbody tr", (trs) => trs.map((tr) =>
      Array.from(tr.cells).map((td) => `${td.textContent}${td.title ? ` [${td.title}]` : ""}`).join(" ")));
    if (rows.length === 0) await new Promise((r) => setTimeout(r, 1000));
  }
  assert.ok(rows.some((r) => /Anna Lind \[anna-lind\]/.test(r) && /Porten \[entrance\]/.test(r)),
    `her visit at the entrance, by her name and the door's: ${rows.join(" | ")}`);
  await operator.screenshot({ path: `${SHOTS}/05-console-visit.png`, fullPage: true });
  await console_.close();
});

test("a report made without coverage waits on the phone and is sent when coverage is back", async () => {
  await context.setOffline(true);
  await page.selectOption("#report-door", "rubbish");
  await page.fill("#report-note", "Dörren till soprummet tog inte emot telefonen");
  await page.click("#report-form button");
  await page.waitForFunction(() => /^1 rapport/.test(document.getElementById("queued").textContent));
  await context.setOffline(false);
  await page.waitForFunction(() => document.getElementById("queued").textContent === "", null, { timeout: 15000 });
});

test("without coverage the app starts from its service worker, unlocks with the PIN and still opens the door", async () => {
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector("#doors-view:not([hidden]), #locked:not([hidden])");
  if (await page.isVisible("#locked")) {
    await page.fill("#pin", PIN);
    await page.click("#unlock-form button");
  }
  await page.waitForSelector("#doors button");
  assert.equal(await page.isVisible("#offline"), true, "it says it has no coverage");
  await injectLink();
  await verdictAfter(() => page.click("#doors button >> nth=0"));
  assert.equal(await status(), "Porten är öppen");
  await context.setOffline(false);
});

test("the app locks itself, asks for the PIN in words, and an unlock with the right PIN opens it again", async () => {
  await page.click("#lock");
  await visible("locked");
  assert.deepEqual(await violations(), [], "the locked page");
  await shot("06-locked");
  await page.fill("#pin", "000000");
  await page.click("#unlock-form button");
  await page.waitForFunction(() => /Fel PIN-kod/.test(document.getElementById("status").textContent));
  assert.equal(await status(), "Fel PIN-kod. 4 försök kvar.");
  await page.fill("#pin", PIN);
  await page.click("#unlock-form button");
  await visible("doors-view");
});

test("in English the app says the same things in English", async () => {
  await page.click("#lang");
  await page.waitForFunction(() => document.documentElement.lang === "en");
  assert.equal(await page.textContent("#doors-view h3"), "Doors");
  assert.deepEqual(await violations(), [], "the doors page in English");
  await page.click("#lang");
  await page.waitForFunction(() => document.documentElement.lang === "sv");
});

test("in the demo, a browser without Web Bluetooth opens the simulated door through Central, with the same exchange", async () => {
  const desktop = await browser.newContext({ locale: "sv-SE", timezoneId: "Europe/Stockholm" });
  // A browser without Web Bluetooth (Firefox, Chrome on Linux by default).
  await desktop.addInitScript(() => { delete Navigator.prototype.bluetooth; });
  const other = await desktop.newPage();
  await other.goto(APP);
  await other.waitForSelector("#signin:not([hidden])");
  await signIn(other);
  await other.waitForSelector("#choose-pin:not([hidden])");
  await other.fill("#pin1", PIN);
  await other.fill("#pin2", PIN);
  await other.click("#pin-form button");
  await other.waitForSelector("#doors button");
  assert.equal(await other.evaluate(() => "bluetooth" in navigator), false);
  await other.click("#doors button >> nth=0");
  await other.waitForFunction(() => document.getElementById("status").className !== "", null, { timeout: 15000 });
  assert.equal(await other.textContent("#status"), "Porten är öppen");
  await desktop.close();
});

test("a person disabled in Central gets no new key, and the online gateway refuses her current one within seconds", async () => {
  const said = execFileSync(process.env.CENTRAL, ["staff", "disable", "--db", process.env.DB, "--holder", "anna-lind", "--as", "lena"]).toString();
  assert.match(said, /anna-lind is disabled/);
  assert.match(said, /certificates still valid: shift-[0-9a-f]{16}/);
  const r = await page.request.post(`${URL}/personal/nonce`);
  assert.equal(r.status(), 401, "her session is gone");
  // Central publishes its issuer's revocation list within 2 s; the gateway takes it over MQTT.
  await injectLink();
  let heard = "";
  for (let i = 0; i < 20; i++) {
    await verdictAfter(() => page.click("#doors button >> nth=0"));
    heard = await status();
    if (heard !== "Porten är öppen") break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  assert.equal(heard, "Nekad: behörigheten är spärrad");
  assert.deepEqual(await violations(), [], "the doors page with a refusal");
  await shot("07-refused-disabled");
});

test("when the shift has ended (the phone's clock stepped past it, no coverage) the app holds no key and opens nothing", async () => {
  await context.setOffline(true);
  await page.clock.install({ time: Date.now() + 13 * 3600 * 1000 });
  await page.reload();
  // Thirteen hours idle: locked first.
  await visible("locked");
  await page.fill("#pin", PIN);
  await page.click("#unlock-form button");
  await visible("doors-view");
  await page.waitForFunction(() => /Ingen giltig/.test(document.getElementById("valid").textContent));
  assert.equal(await page.textContent("#valid"), "Ingen giltig passerbehörighet. Logga in igen.");
  assert.equal(await page.$$eval("#doors button", (bs) => bs.length), 0);
  await context.setOffline(false);
});

