// Portvakt Central's console: live parts. The server's event stream (/events) names a
// site whenever its state, doors, alarms or records change; every element with
// data-live whose data-site is that site (or "*") fetches its fragment again.
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
  const refresh = (el) =>
    fetch(address(el), { credentials: "same-origin" })
      .then((r) => (r.ok ? r.text() : Promise.reject(r.status)))
      .then((html) => { el.innerHTML = html; el.dispatchEvent(new Event("refreshed")); })
      .catch(() => {});
  const events = new EventSource("/events");
  events.addEventListener("site", (e) => {
    live().filter((el) => el.dataset.site === "*" || el.dataset.site === e.data).forEach(refresh);
  });
})();
