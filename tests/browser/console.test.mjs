// Portvakt Central's console in a real browser (Debian's chromium, headless, driven by
// playwright-core), against `portvakt-central demo --keep-running`: real gateways,
// collectors, a NATS cluster and PostgreSQL. Started by scripts/browser-console.sh,
// which passes the console's address, the demo login, a team leader's login, how to
// open a door at storgatan-12, and where screenshots go.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execSync } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const URL = process.env.CONSOLE_URL;
const PASSWORD = process.env.DEMO_PASSWORD;
const LEADER_PASSWORD = process.env.LEADER_PASSWORD;
const AUDITOR_PASSWORD = process.env.AUDITOR_PASSWORD;
const DOOR = process.env.DOOR_COMMAND; // "env … portvakt --config …": append "sim laundry open"
const ACCOUNT = process.env.ACCOUNT_COMMAND; // "portvakt-central account add --db …": append "--name … --role …"
const SHOTS = process.env.SHOTS ?? "target/browser";
mkdirSync(SHOTS, { recursive: true });

let browser;
before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});
after(async () => { await browser?.close(); });

async function loggedIn(name, password) {
  const context = await browser.newContext({ acceptDownloads: true, locale: "sv-SE", timezoneId: "Europe/Stockholm" });
  const page = await context.newPage();
  await page.goto(`${URL}/login`);
  await page.fill("input[name=name]", name);
  await page.fill("input[name=password]", password);
  await Promise.all([page.waitForURL(`${URL}/`), page.click("form.login button")]);
  return { context, page };
}

const AXE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");

/// axe-core's WCAG 2.1 A and AA rules on the page as it is: the violations, each with its rule and where.
async function violations(page) {
  // Evaluated through the DevTools protocol: the console's CSP (scripts from itself only)
  // rightly refuses an injected <script>.
  await page.evaluate(AXE);
  return page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] });
    return r.violations.map((v) => `${v.id}: ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  });
}

const shot = (page, name) => page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: true });
const door = (act) => execSync(`${DOOR} sim laundry ${act}`, { stdio: "pipe" }).toString();

test("a wrong password is refused and the console says so in Swedish", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${URL}/login`);
  await shot(page, "01-login");
  await page.fill("input[name=name]", "demo");
  await page.fill("input[name=password]", "not the password");
  await page.click("form.login button");
  await page.waitForSelector("p.error");
  assert.match(await page.textContent("p.error"), /Fel användarnamn eller lösenord/);
  await context.close();
});

test("the accessibility statement is one link from every page, without logging in, says how it was judged and names what is not yet met", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${URL}/login`);
  await Promise.all([page.waitForURL(/\/tillganglighet/), page.click("footer a")]);
  assert.equal(await page.textContent("h1"), "Tillgänglighetsredogörelse");
  const text = await page.textContent("main");
  assert.match(text, /delvis förenlig/);
  assert.match(text, /självskattning/);
  assert.match(text, /WCAG 2\.2\.1/, "a session's end on a page only watched");
  assert.doesNotMatch(text, /WCAG 1\.4\.10/, "pages reflow on a phone now");
  assert.match(text, /DIGG/);
  await page.goto(`${URL}/tillganglighet?lang=en`);
  assert.equal(await page.textContent("h1"), "Accessibility statement");
  await shot(page, "00-accessibility-statement");
  await context.close();
});

test("the administrator logs in and sees every site of the fleet", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  const sites = await page.$$eval("#fleet tbody tr", (rows) => rows.map((r) => r.dataset.site));
  assert.deepEqual(sites.sort(), ["ekvagen-3", "solbacken-7", "storgatan-12"]);
  assert.match(await page.textContent("#fleet tbody"), /synkad/);
  // Sites by the names their configs give, the id on hover; the role in words.
  const link = page.locator("#fleet a[href='/sites/ekvagen-3']");
  assert.equal((await link.textContent()).trim(), "Ekvägen 3");
  assert.equal(await link.getAttribute("title"), "ekvagen-3");
  assert.match(await page.textContent("#fleet tbody"), /Solna stad, hemtjänsten: \d+ d gammal/, "bundles by their authority's name");
  assert.match(await page.textContent("header .who"), /^demo \(administratör\)$/);
  // Filtered by a part of a name, in any case, with or without å ä ö.
  await page.goto(`${URL}/?q=EKV%C3%84GEN`);
  assert.deepEqual(await page.$$eval("#fleet tbody tr", (rows) => rows.map((r) => r.dataset.site)), ["ekvagen-3"]);
  await shot(page, "02-fleet");
  await page.goto(`${URL}/?lang=en`);
  assert.equal(await page.textContent("h1"), "Sites");
  await page.goto(`${URL}/?lang=sv`);
  assert.equal(await page.textContent("h1"), "Anläggningar");
  await context.close();
});

test("on the fleet page a change at one site brings that site's row in the live stream, with no fetch, and the page starts with a skip link", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  assert.equal(await page.getAttribute("a.skip", "href"), "#main");
  assert.equal(await page.getAttribute("#fleet th[aria-sort]", "aria-sort"), "ascending", "sorted by site");
  const fetched = [];
  page.on("request", (r) => { if (r.url().includes("/fragments/")) fetched.push(r.url()); });
  await page.evaluate(() => document.querySelectorAll("#fleet tbody tr").forEach((r) => { r.dataset.mark = "old"; }));
  door("open");
  await page.waitForFunction(
    () => document.querySelector("#fleet tbody tr[data-site='storgatan-12']")?.dataset.mark === undefined,
    null, { timeout: 15000 });
  assert.deepEqual(fetched, [], "the row came in the stream: nothing fetched");
  assert.equal(await page.$$eval("#fleet tbody tr[data-site='storgatan-12']", (trs) => trs.length), 1, "in its place, once");
  door("close");
  await context.close();
});

test("the live updates can be paused (WCAG 2.2.2), and resuming reads what changed meanwhile", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  await page.click(".live-note button.pause");
  assert.equal((await page.textContent(".live-note .live-state")).trim(), "Pausad: uppdateras inte");
  assert.equal((await page.textContent(".live-note button.pause")).trim(), "Återuppta uppdateringarna");
  await page.evaluate(() => document.querySelectorAll("#fleet tbody tr").forEach((r) => { r.dataset.mark = "old"; }));
  // A stream of the page's own, opened beside it, hears the change and one after it: by
  // then the page's stream has had the first too, and left it aside.
  await page.evaluate(() => {
    window.heard = 0;
    const witness = new EventSource("/events");
    witness.addEventListener("sites", (e) => { if (e.data.includes("storgatan-12")) window.heard += 1; });
  });
  door("open");
  await page.waitForFunction(() => window.heard >= 1, null, { timeout: 15000 });
  door("close");
  await page.waitForFunction(() => window.heard >= 2, null, { timeout: 15000 });
  assert.equal(await page.$eval("#fleet tbody tr[data-site='storgatan-12']", (r) => r.dataset.mark), "old", "paused: unchanged");
  await page.click(".live-note button.pause");
  assert.equal((await page.textContent(".live-note .live-state")).trim(), "Uppdateras direkt");
  await page.waitForFunction(
    () => document.querySelector("#fleet tbody tr[data-site='storgatan-12']")?.dataset.mark === undefined,
    null, { timeout: 15000 });
  await context.close();
});

test("a site's door state change arrives live, without reloading the page", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  await page.click("a[href='/sites/storgatan-12']");
  await page.waitForSelector("#doors tr[data-door=laundry]");
  // The demo shut the door at the end of its day; a door state the cluster lost while a
  // node came back is republished within the demo's state_interval (10 s), live.
  await page.waitForFunction(
    () => document.querySelector("#doors tr[data-door=laundry] td.contact")?.textContent.trim() === "stängd",
    null, { timeout: 15000 });
  const devices = await page.$$eval("#devices tbody tr", (trs) => trs.map((tr) => tr.textContent));
  assert.equal(devices.length, 5, "the panel, relay board, input module and two readers");
  for (const d of devices) assert.match(d, /rs485.*ja/);
  assert.match(devices.join(" "), /portens knappsats.*reläkort.*ingångsmodul.*soprummets läsare.*tvättstugans läsare/, "devices by name");
  // The site, its doors and its latest events in words, the ids on hover.
  assert.equal(await page.textContent("h1"), "Storgatan 12");
  assert.equal((await page.textContent("#doors tr[data-door=laundry] td:first-child")).trim(), "Tvättstuga");
  assert.equal(await page.getAttribute("#doors tr[data-door=laundry] td:first-child", "title"), "laundry");
  const events = await page.textContent("table.visits tbody");
  assert.doesNotMatch(events, /\b(door|access|system|audit|credentials|store|clock)\.[a-z_]+/, "no record kind as a code");
  await page.evaluate(() => { window.notReloaded = true; });
  door("open");
  await page.waitForFunction(
    () => document.querySelector("#doors tr[data-door=laundry] td.contact")?.textContent.trim() === "öppen",
    null, { timeout: 15000 });
  assert.equal(await page.evaluate(() => window.notReloaded), true, "the page was not reloaded");
  assert.equal(await page.$$eval("tbody[data-live^='/fragments/fleet'] tr", (trs) => trs.length), 1, "the site's own line only");
  await shot(page, "03-site-door-open-live");
  door("close");
  await page.waitForFunction(
    () => document.querySelector("#doors tr[data-door=laundry] td.contact")?.textContent.trim() === "stängd",
    null, { timeout: 15000 });
  await context.close();
});

test("the forced door's alarm is acknowledged, with who and when", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  await page.goto(`${URL}/alarms`);
  const row = page.locator("#alarms tr", { hasText: "Dörr forcerad" }).filter({ hasText: "Kvittera" }).first();
  const id = await row.getAttribute("data-alarm");
  // Each button says which alarm it acknowledges, beginning with its visible word.
  assert.match(await row.locator("button").getAttribute("aria-label"), /^Kvittera: Dörr forcerad, (Storgatan 12|Ekvägen 3|Solbacken 7), /);
  // What it found, in Swedish, by the door's name.
  assert.match(await row.textContent(), /Öppna(d|des) medan den var låst/);
  assert.doesNotMatch(await page.textContent("#alarms"), /opened while locked|not closed since/);
  await Promise.all([page.waitForURL(`${URL}/alarms`), row.locator("button").click()]);
  const acknowledged = page.locator(`#alarms tr[data-alarm="${id}"]`);
  assert.match(await acknowledged.textContent(), /demo \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  assert.equal(await acknowledged.locator("button").count(), 0, "acknowledged once");
  await shot(page, "04-alarms");
  await context.close();
});

test("a visit list is found by part of a site's name and of a holder's id, in any case and with accents, the sites offered being the account's own", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  await page.goto(`${URL}/visits?purpose=invoicing&site=Storgatan&holder=NATT`);
  await page.waitForSelector("table.visits tbody tr");
  const rows = await page.$$eval("table.visits tbody tr", (trs) => trs.map((tr) => tr.textContent));
  assert.ok(rows.length > 0 && rows.every((r) => /Storgatan 12/.test(r) && /Karin Berg/.test(r)), rows.join(" | "));
  // A person by a part of her name in the roster, a site by its configured name.
  await page.goto(`${URL}/visits?purpose=invoicing&site=ekv%C3%A4gen%203&holder=karin`);
  const ek = await page.$$eval("table.visits tbody tr", (trs) => trs.map((tr) => tr.textContent));
  assert.ok(ek.length > 0 && ek.every((r) => /Ekvägen 3/.test(r) && /Karin Berg/.test(r)), ek.join(" | "));
  assert.equal(await page.getAttribute("table.visits tbody tr td[title='hemtjanst-natt-5']", "title"), "hemtjanst-natt-5", "the id on hover");
  // The sites offered by name, each picked by its id (names need not be unique).
  assert.deepEqual(await page.$$eval("#site-list option", (os) => os.map((o) => `${o.label}=${o.value}`)),
    ["Ekvägen 3=ekvagen-3", "Solbacken 7=solbacken-7", "Storgatan 12=storgatan-12"]);
  // A resident's passages are the owner's: "anna" finds no resident here.
  await page.goto(`${URL}/visits?purpose=deviation&holder=anna`);
  assert.equal(await page.$$eval("table.visits tbody tr td", (tds) => tds.filter((td) => /lgh/.test(td.textContent)).length), 0);
  await context.close();
  const leader = await loggedIn("lena", LEADER_PASSWORD);
  await leader.page.goto(`${URL}/visits?purpose=invoicing&site=storgatan`);
  assert.equal(await leader.page.$$eval("table.visits tbody tr td", (tds) => tds.filter((td) => /storgatan/i.test(td.textContent)).length), 0,
    "a part of another site's name finds nothing of it");
  // and says so, pointing to the sites offered.
  assert.match(await leader.page.textContent("p.error"), /Ingen av dina anläggningar heter något med ”storgatan”/);
  assert.deepEqual(await leader.page.$$eval("#site-list option", (os) => os.map((o) => `${o.label}=${o.value}`)), ["Ekvägen 3=ekvagen-3"]);
  // One lowercase word of her own site's name finds it.
  await leader.page.goto(`${URL}/visits?purpose=invoicing&site=ekvagen`);
  assert.equal(await leader.page.locator("p.error").count(), 0, "no hint for her own site");
  const own = await leader.page.$$eval("table.visits tbody tr", (trs) => trs.map((tr) => tr.textContent));
  assert.ok(own.length > 0 && own.every((r) => /Ekvägen 3/.test(r)), own.join(" | "));
  await leader.context.close();
});

test("a visit list asks why it is read, shows home care's visits only, and is printed and exported with the same rows", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  await page.goto(`${URL}/visits?holder=hemtjanst-natt-5`);
  assert.match(await page.textContent("p.error"), /Syfte: ange varför besökslistan läses/, "no read without a purpose, said in Swedish");
  await page.goto(`${URL}/visits?purpose=invoicing&from=2026-13-01`);
  assert.match(await page.textContent("p.error"), /Från: ”2026-13-01” är inget datum/, "a bad date in the page's language");
  await page.goto(`${URL}/visits`);
  await page.selectOption("select[name=purpose]", "invoicing");
  await page.fill("input[name=holder]", "hemtjanst-natt-5");
  await page.click("#visit-filter button");
  await page.waitForSelector("table.visits tbody tr");
  const rows = await page.$$eval("table.visits tbody tr", (trs) => trs.map((tr) => tr.textContent));
  assert.ok(rows.length >= 6, `the night nurse visited at least twice at each of three sites: ${rows.length}`);
  for (const r of rows) assert.match(r, /Karin Berg/);
  await shot(page, "05-visits");
  // A resident's passages are the owner's: the municipality's console has no name to find.
  await page.goto(`${URL}/visits?purpose=deviation&holder=anna-lgh1101`);
  assert.equal(await page.$$eval("table.visits tbody tr td", (tds) => tds.filter((td) => /anna/.test(td.textContent)).length), 0);
  await page.goto(`${URL}/visits?purpose=invoicing&holder=hemtjanst-natt-5`);
  await page.emulateMedia({ media: "print" });
  assert.equal(await page.isVisible("#visit-filter"), false, "the form is not printed");
  // On paper: why, what was searched, who printed it and when.
  const printed = await page.textContent("#printed");
  assert.match(printed, /Syfte: Fakturaunderlag\. Sökt på: innehavare hemtjanst-natt-5\. Utskriven av demo \d{4}-\d\d-\d\d \d\d:\d\d:\d\d/);
  await shot(page, "06-visits-print");
  await page.emulateMedia({ media: "screen" });
  assert.equal(await page.isVisible("#printed"), false, "the print header is for paper only");
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#csv")]);
  // For a Swedish spreadsheet: a byte-order mark, `;`, Swedish headers and words, Stockholm time.
  const text = readFileSync(await download.path(), "utf8");
  assert.ok(text.startsWith("\ufeff"), "a BOM, so that Excel reads UTF-8");
  const csv = text.slice(1).trim().split("\r\n");
  assert.equal(csv[0], "Anläggning;Löpnummer;Tid;Klocka;Utfall;Dörr;Innehavare;Passermedel");
  assert.equal(csv.length - 1, rows.length, "the CSV has the page's rows");
  for (const line of csv.slice(1)) {
    const f = line.split(";");
    assert.equal(f[6], "Karin Berg (hemtjanst-natt-5)");
    assert.match(f[0], /^(Storgatan 12 \(storgatan-12\)|Ekvägen 3 \(ekvagen-3\)|Solbacken 7 \(solbacken-7\))$/, "sites by name, with the id");
    assert.match(f[5], /^(Porten \(entrance\)|Soprum \(rubbish\)|Tvättstuga \(laundry\))$/, "doors by name, with the id");
    assert.match(f[2], /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d CES?T$/);
    assert.match(f[4], /^(insläppt|nekad)/);
  }
  // The machine-readable form, behind a switch.
  const data = await (await context.request.get(`${URL}/visits.csv?format=data&purpose=invoicing&holder=hemtjanst-natt-5`)).text();
  assert.equal(data.split("\n")[0], "site,seq,at,clock_trusted,outcome,door,holder,credential");
  await page.goto(`${URL}/log`);
  const log = await page.textContent("#log");
  assert.match(log, /Exporterade besökslista/);
  assert.match(log, /Visade besökslista/);
  assert.match(log, /innehavare hemtjanst-natt-5; syfte: Fakturaunderlag; \d+ besök/);
  assert.doesNotMatch(log, /Filter \{|view_visits|export_visits/, "words, not codes or debug text");
  await shot(page, "07-console-log");
  await context.close();
});

test("a team leader's site page names nobody: whose each entry is, and names only in the visit list", async () => {
  const { context, page } = await loggedIn("lena", LEADER_PASSWORD);
  await page.goto(`${URL}/sites/ekvagen-3`);
  const text = await page.textContent("main");
  for (const resident of ["anna-lgh1101", "lars-lgh1203", "erik-vicevard", "anna-tag", "lars-tag"]) {
    assert.doesNotMatch(text, new RegExp(resident), `${resident} on a municipality account's page`);
  }
  assert.match(text, /namn visas inte här \(hemtjansten\)/, "home care's entries say whose");
  assert.match(text, /namn visas inte här \(owner\)/, "residents' entries say whose");
  assert.doesNotMatch(text, /hemtjanst-natt-5/, "names are read in the visit list, with a purpose");
  await shot(page, "08a-team-leader-site");
  await context.close();
});

test("a team leader sees only their sites and is refused the others", async () => {
  const { context, page } = await loggedIn("lena", LEADER_PASSWORD);
  const sites = await page.$$eval("#fleet tbody tr", (rows) => rows.map((r) => r.dataset.site));
  assert.deepEqual(sites, ["ekvagen-3"]);
  const refused = await page.goto(`${URL}/sites/storgatan-12`);
  assert.equal(refused.status(), 403);
  assert.match(await page.textContent("main"), /inte behörighet/);
  await shot(page, "08-team-leader-refused");
  // Another site's id in a visit export finds nothing of it and says so, as for a site
  // that does not exist (the answer tells nothing of which sites exist); the log has it.
  const csv = await page.request.get(`${URL}/visits.csv?site=storgatan-12&purpose=invoicing`);
  assert.equal(csv.status(), 400);
  assert.doesNotMatch(await csv.text(), /Storgatan 12/);
  const log = await page.goto(`${URL}/log`);
  assert.equal(log.status(), 403, "only administrators read the console's log");
  await context.close();
});

test("the auditor checks the month's sample of reads, and the check is logged", async () => {
  const { context, page } = await loggedIn("greta", AUDITOR_PASSWORD);
  await page.goto(`${URL}/checks`);
  const rows = page.locator("#checks tbody tr[data-read]");
  assert.ok(await rows.count() >= 1, "the month's reads are in the sample");
  assert.match(await page.textContent("#checks"), /hemtjanst-natt-5/, "the read of one nurse's visits is in it");
  const first = rows.first();
  const id = await first.getAttribute("data-read");
  await first.locator("select[name=outcome]").selectOption("justified");
  await Promise.all([page.waitForURL(/\/checks\?month=/), first.locator("button").click()]);
  const checked = page.locator(`#checks tr[data-read="${id}"]`);
  assert.match(await checked.textContent(), /Befogad · greta/);
  assert.equal(await checked.locator("button").count(), 0, "checked once");
  await shot(page, "10-sample-check");
  await context.close();
  const admin = await loggedIn("demo", PASSWORD);
  await admin.page.goto(`${URL}/log`);
  assert.match(await admin.page.textContent("#log"), new RegExp(`Kontrollerade läsning.*läsning ${id}: befogad`));
  await admin.context.close();
  const leader = await loggedIn("lena", LEADER_PASSWORD);
  assert.equal((await leader.page.goto(`${URL}/checks`)).status(), 403, "a team leader does not check reads");
  const fragment = await leader.page.request.get(`${URL}/fragments/sites/storgatan-12/doors`);
  assert.equal(fragment.status(), 403, "another site's live fragment");
  await leader.context.close();
  // Every refusal has its line in the console's log, with who.
  const again = await loggedIn("demo", PASSWORD);
  await again.page.goto(`${URL}/log`);
  const log = await again.page.textContent("#log");
  for (const refused of ["GET /checks", "GET /log", "GET /sites/storgatan-12", "GET /visits.csv", "GET /fragments/sites/storgatan-12/doors"]) {
    assert.match(log, new RegExp(`lenaÅtkomst nekad${refused.replace(/[/.]/g, "\\$&")}`), `no log line for lena's refused ${refused}`);
  }
  await again.context.close();
});

test("an open page whose session ends stops updating and says so, never showing the login page inside it", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  await page.goto(`${URL}/sites/storgatan-12`);
  assert.ok(await page.isVisible(".live-note"));
  // The same session logged out in another tab.
  const other = await context.newPage();
  await other.goto(`${URL}/`);
  await Promise.all([other.waitForURL(`${URL}/login`), other.click("#logout")]);
  door("open"); // a change the open page would have fetched
  await page.waitForSelector("#session-ended", { timeout: 15000 });
  assert.match(await page.textContent("#session-ended"), /Sessionen har upphört/);
  assert.equal(await page.locator("main form.login").count(), 0, "no login page inside the page");
  assert.equal(await page.isVisible(".live-note"), false, "it no longer says it updates");
  door("close");
  await shot(page, "11-session-ended");
  await context.close();
});

/// Opens the live stream from `page` (its answer begun: the server has looked at the
/// session) and reads it until the server ends it: `done` says what it said.
async function streamed(page) {
  await page.evaluate(() => {
    window.streamDone = fetch("/events").then(async (r) => {
      window.streamOpen = true;
      const reader = r.body.getReader();
      let said = "";
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return said;
        said += new TextDecoder().decode(value);
      }
    });
  });
  await page.waitForFunction(() => window.streamOpen === true, null, { timeout: 10000 });
  const done = page.evaluate(() => window.streamDone);
  done.catch(() => {}); // awaited by the test; a failure before must not leave it unhandled
  return { done }; // not the promise itself, which the caller's await would wait out
}

const within = (promise, ms, what) => Promise.race([promise,
  new Promise((_, no) => setTimeout(() => no(new Error(`${what}: not within ${ms} ms`)), ms))]);

test("the live stream ends at logout, and when the account's sites change it ends and the page shows the new sites", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  const ended = (await streamed(page)).done;
  const other = await context.newPage();
  await other.goto(`${URL}/`);
  await Promise.all([other.waitForURL(`${URL}/login`), other.click("#logout")]);
  door("open"); // a change: the stream looks at its session again
  await within(ended, 15000, "the stream ending at logout");
  door("close");
  await context.close();

  const lena = await loggedIn("lena", LEADER_PASSWORD);
  assert.deepEqual(await lena.page.$$eval("#fleet tbody tr", (rows) => rows.map((r) => r.dataset.site)), ["ekvagen-3"]);
  // The stream read from a page without live parts of its own (the open fleet page
  // loads itself again when told, which would end a read made from it).
  const reader = await lena.context.newPage();
  await reader.goto(`${URL}/tillganglighet`);
  const scoped = (await streamed(reader)).done;
  const sites = (list) => execSync(`${ACCOUNT} --name lena --role team_leader --sites ${list}`, { input: `${LEADER_PASSWORD}\n`, stdio: "pipe" });
  sites("ekvagen-3,storgatan-12");
  try {
    door("open");
    assert.match(await within(scoped, 15000, "the stream ending after a change of sites"), /event: ?scope/);
    // The open page loaded itself again, with the sites it may see now.
    await lena.page.waitForFunction(() => document.querySelectorAll("#fleet tbody tr").length === 2, null, { timeout: 15000 });
    door("close");
  } finally {
    sites("ekvagen-3");
  }
  await lena.context.close();
});

test("logging out ends the session", async () => {
  const { context, page } = await loggedIn("demo", PASSWORD);
  await Promise.all([page.waitForURL(`${URL}/login`), page.click("#logout")]);
  await page.goto(`${URL}/`);
  assert.equal(page.url(), `${URL}/login`);
  await shot(page, "09-logged-out");
  await context.close();
});

test("axe-core finds no WCAG 2.1 AA violation on any page, on a desktop and on a phone, and no page scrolls sideways on the phone", async () => {
  const pages = ["/", "/sites/storgatan-12", "/alarms", "/visits", "/visits?purpose=invoicing&holder=hemtjanst-natt-5", "/log",
    "/checks", "/tillganglighet"];
  for (const [width, height] of [[1366, 900], [390, 844]]) {
    const { context, page } = await loggedIn("demo", PASSWORD);
    await page.setViewportSize({ width, height });
    const found = [];
    for (const path of pages) {
      await page.goto(`${URL}${path}`);
      for (const v of await violations(page)) found.push(`${width} px ${path}: ${v}`);
      // WCAG 1.4.10: the page reflows; a wide table scrolls in its own focusable region.
      const wide = await page.evaluate(() => document.documentElement.scrollWidth);
      if (wide > width) found.push(`${width} px ${path}: the page is ${wide} px wide`);
    }
    const login = await browser.newContext({ viewport: { width, height } });
    const lp = await login.newPage();
    await lp.goto(`${URL}/login`);
    for (const v of await violations(lp)) found.push(`${width} px /login: ${v}`);
    const wide = await lp.evaluate(() => document.documentElement.scrollWidth);
    if (wide > width) found.push(`${width} px /login: the page is ${wide} px wide`);
    await login.close();
    assert.deepEqual(found, [], found.join("\n"));
    await context.close();
  }
});
