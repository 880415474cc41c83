// Portvakt Central's console: live parts. The server's event stream (/events) names a
// site whenever its state, doors, alarms or records change; every element with
// data-live whose data-site is that site (or "*") fetches its fragment again — in a
// table whose rows are sites (data-rows), only that site's row; `missed` (changes the
// server may have missed while it connected to its database again) makes every live part
// fetch its fragment again. One fetch per part at a
// time: changes that come meanwhile make one more fetch after it, never a queue of them.
(function () {
  "use strict";
  const print = document.getElementById("print");
  if (print) print.addEventListener("click", (e) => { e.preventDefault(); window.print(); });
  const live = () => Array.from(document.querySelectorAll("[data-live]"));
  if (live().length === 0 || !window.EventSource) return;
  // The fragment's own parameters, and the page's (filter, sort, language) beside them.
  const address = (el) => {
    const u = new URL(el.dataset.live, window.location.origin);
    new URLSearchParams(window.location.search).forEach((v, k) => { if (!u.searchParams.has(k)) u.searchParams.set(k, v); });
    return u;
  };
  const events = new EventSource("/events");
  // The session ended (logout, expiry, the account removed): the page stops updating and
  // says so, with a way to log in again — never the login page inside a table.
  const ended = () => {
    events.close();
    if (document.getElementById("session-ended")) return;
    const sv = document.documentElement.lang !== "en";
    const p = document.createElement("p");
    p.id = "session-ended";
    p.className = "error";
    p.setAttribute("role", "alert");
    p.textContent = sv ? "Sessionen har upphört; sidan uppdateras inte längre. " : "The session has ended; the page no longer updates. ";
    const a = document.createElement("a");
    a.href = "/login";
    a.textContent = sv ? "Logga in igen" : "Log in again";
    p.appendChild(a);
    document.querySelectorAll(".live-note").forEach((n) => n.remove());
    document.querySelector("main").prepend(p);
  };
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
  const rowOf = (el, site) => Array.from(el.querySelectorAll("tr[data-site]")).find((r) => r.dataset.site === site);
  // Only the site's row of a table of sites: the fragment for that site alone.
  const refreshRow = (el, site) => {
    const u = address(el);
    u.searchParams.set("only", site);
    return fragment(u)
      .then((html) => {
        const row = rowOf(el, site);
        if (!row) return;
        const t = document.createElement("tbody");
        t.innerHTML = html;
        const fresh = t.querySelector("tr[data-site]"); // none: the site no longer matches the filter
        if (fresh) row.replaceWith(fresh); else row.remove();
        el.dispatchEvent(new Event("refreshed"));
      })
      .catch(() => {});
  };
  events.addEventListener("site", (e) => {
    const site = e.data;
    live().filter((el) => el.dataset.site === "*" || el.dataset.site === site).forEach((el) => {
      // A row keeps its place: only while the table is in site order (another order may move it).
      const bySite = ["", "site"].includes(new URLSearchParams(window.location.search).get("sort") ?? "");
      if (el.dataset.rows !== undefined && el.dataset.site === "*" && bySite && rowOf(el, site)) {
        once("row\u0000" + el.dataset.live + "\u0000" + site, () => refreshRow(el, site));
      } else {
        once(el.dataset.live, () => refresh(el));
      }
    });
  });
  // Changes may have been missed (the server connected to its database again): every
  // live part is read again.
  events.addEventListener("missed", () => {
    live().forEach((el) => once(el.dataset.live, () => refresh(el)));
  });
  // The account's sites or role changed: the page is loaded again, showing what it may
  // see now (the server has ended the stream).
  events.addEventListener("scope", () => { events.close(); window.location.reload(); });
  // The stream ended and cannot be opened again (the server now answers with the login
  // page): the session is over.
  events.addEventListener("error", () => {
    fetch("/fragments/fleet", { credentials: "same-origin", redirect: "manual" })
      .then((r) => { if (r.type === "opaqueredirect" || r.status === 401) ended(); })
      .catch(() => {});
  });
})();
