// Portvakt Central's console: live parts. The server's event stream (/events, asked with
// the page's own query) says at most once a second which sites' state, doors, alarms or
// records changed (`sites`: a JSON object from each site to its row of the fleet table as
// this page shows it, "" for a row the page no longer shows, null when not asked). In a
// table whose rows are sites (data-rows), in site order, a changed row is put in place as
// it came, with no fetch (unless a fetch of the whole table is under way); every other
// element with data-live whose data-site is that site (or "*") fetches its fragment
// again. `missed` (changes the page may have missed) makes every live part fetch its
// fragment again. One fetch per part at a time:
// changes that come meanwhile make one more fetch after it, never a queue of them. A
// person may pause the updates; resuming reads what changed meanwhile.
(function () {
  "use strict";
  const print = document.getElementById("print");
  if (print) print.addEventListener("click", (e) => { e.preventDefault(); window.print(); });
  const live = () => Array.from(document.querySelectorAll("[data-live]"));
  if (live().length === 0 || !window.EventSource) return;
  // `path` with its own parameters, and the page's (filter, sort, language) beside them.
  const withPage = (path) => {
    const u = new URL(path, window.location.origin);
    new URLSearchParams(window.location.search).forEach((v, k) => { if (!u.searchParams.has(k)) u.searchParams.set(k, v); });
    return u;
  };
  const address = (el) => withPage(el.dataset.live);
  // The page's query (filter, language) goes with the stream; rows only for a table of
  // them, and only its site's row for a table of one site's.
  const stream = withPage("/events");
  const tables = Array.from(document.querySelectorAll("[data-live][data-rows]")).map((el) => el.dataset.site);
  if (tables.length > 0) stream.searchParams.set("rows", "1");
  if (tables.length > 0 && !tables.includes("*")) stream.searchParams.set("only", tables[0]);
  // The listener's last word when the page was read: the stream begins with what came after.
  const since = document.querySelector("main")?.dataset.since;
  if (since !== undefined) stream.searchParams.set("since", since);
  const events = new EventSource(stream);
  // The session ended (logout, expiry, the account removed): the page stops updating and
  // says so, with a way to log in again — never the login page inside a table.
  const ended = () => stopped("session-ended", "/login",
    ["Sessionen har upphört; sidan uppdateras inte längre. ", "The session has ended; the page no longer updates. "],
    ["Logga in igen", "Log in again"]);
  // The stream was answered with an error and will not open again by itself (the server
  // could not reach its database): the page says it no longer updates.
  const halted = () => stopped("live-halted", window.location.href,
    ["Sidan uppdateras inte längre: servern kunde inte svara. ", "The page no longer updates: the server could not answer. "],
    ["Ladda om sidan", "Load the page again"]);
  function stopped(id, href, [svText, enText], [svLink, enLink]) {
    events.close();
    if (document.getElementById(id)) return;
    const sv = document.documentElement.lang !== "en";
    const p = document.createElement("p");
    p.id = id;
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = sv ? svText : enText;
    const a = document.createElement("a");
    a.href = href;
    a.textContent = sv ? svLink : enLink;
    p.appendChild(a);
    document.querySelectorAll(".live-note").forEach((n) => n.remove());
    document.querySelector("main").prepend(p);
  }
  // A fragment's HTML; a session that ended says so on the page.
  const fragment = (u) =>
    fetch(u, { credentials: "same-origin", redirect: "manual", headers: { "X-Portvakt-Live": "1" } })
      .then((r) => {
        if (r.type === "opaqueredirect" || r.status === 401 || r.status === 403) { ended(); return Promise.reject(r.status); }
        return r.ok ? r.text() : Promise.reject(r.status);
      });
  const refresh = (el) =>
    fragment(address(el))
      .then((html) => { el.innerHTML = html; el.dispatchEvent(new Event("refreshed")); })
      .catch(() => {});
  // One fetch per key at a time; what comes meanwhile makes exactly one more.
  const busy = new Map();
  const once = (key, work) => {
    const running = busy.get(key);
    if (running) { running.again = true; return; }
    const state = { again: false };
    busy.set(key, state);
    work().finally(() => { busy.delete(key); if (state.again) once(key, work); });
  };
  // A live part read again (one fetch at a time), and every one.
  const again = (el) => once(el.dataset.live, () => refresh(el));
  const allAgain = () => live().forEach(again);
  // A person may pause the live updates and resume them (WCAG 2.2.2): what changed
  // meanwhile is read when they resume.
  let paused = false;
  let stale = false;
  const resume = () => {
    if (stale) allAgain();
    stale = false;
  };
  document.querySelectorAll(".live-note button.pause").forEach((b) => {
    b.hidden = false;
    b.addEventListener("click", () => {
      paused = !paused;
      document.querySelectorAll(".live-note").forEach((note) => {
        const button = note.querySelector("button.pause");
        button.textContent = paused ? button.dataset.resume : button.dataset.pause;
        note.querySelector(".live-state").textContent = paused ? button.dataset.paused : button.dataset.updating;
      });
      if (!paused) resume();
    });
  });
  // Whether a change is put aside for now (paused).
  const putAside = () => { if (paused) stale = true; return paused; };
  // A site's row put in place as the stream sent it ("": no longer shown, as filtered).
  const place = (row, html) => {
    const t = document.createElement("tbody");
    t.innerHTML = html;
    const fresh = t.querySelector("tr[data-site]");
    if (fresh) row.replaceWith(fresh); else row.remove();
  };
  events.addEventListener("sites", (e) => {
    if (putAside()) return;
    const changed = JSON.parse(e.data);
    // A row keeps its place: only while the table is in site order (another order may move it).
    const bySite = ["", "site"].includes(new URLSearchParams(window.location.search).get("sort") ?? "");
    live().forEach((el) => {
      const mine = Object.keys(changed).filter((site) => el.dataset.site === "*" || el.dataset.site === site);
      if (mine.length === 0) return;
      const rows = new Map(Array.from(el.querySelectorAll("tr[data-site]")).map((r) => [r.dataset.site, r]));
      // Every changed row came and is in the table already (or is gone from it), and no
      // fetch of the whole part is under way (it would put back what it read before): in place.
      const inPlace = el.dataset.rows !== undefined && bySite && !busy.has(el.dataset.live) &&
        mine.every((site) => typeof changed[site] === "string" && (rows.has(site) || changed[site] === ""));
      if (!inPlace) { again(el); return; }
      mine.filter((site) => rows.has(site)).forEach((site) => place(rows.get(site), changed[site]));
      // The last row gone: the part says it has none, as the server words it.
      if (!el.querySelector("tr")) again(el);
      el.dispatchEvent(new Event("refreshed"));
    });
  });
  // Changes may have been missed (the server connected to its database again): every
  // live part is read again.
  events.addEventListener("missed", () => {
    if (!putAside()) allAgain();
  });
  // The account's sites or role changed: the page is loaded again, showing what it may
  // see now (the server has ended the stream).
  events.addEventListener("scope", () => { events.close(); window.location.reload(); });
  // The stream opened again after it broke (the browser reconnects by itself, saying the
  // last event it had): the server begins with what was said after it, or says `missed`.
  // The stream broke. The session is looked at with a request for no site's row (marked
  // as the page's own: it keeps no idle session alive); if it is over, the page says so;
  // if not and the browser gave up on the stream (an error answer), the page says that.
  events.addEventListener("error", () => {
    const gaveUp = () => { if (events.readyState === EventSource.CLOSED) halted(); };
    fetch("/fragments/fleet?only=-", { credentials: "same-origin", redirect: "manual", headers: { "X-Portvakt-Live": "1" } })
      .then((r) => { if (r.type === "opaqueredirect" || r.status === 401) ended(); else gaveUp(); })
      .catch(gaveUp);
  });
})();
