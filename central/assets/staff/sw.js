// The staff app offline: the app itself is kept at install and served from the cache when
// there is no coverage; the certificate and doors are in IndexedDB (store.js). Nothing
// under /personal/ that answers with personal data is cached here.
const CACHE = 'portvakt-staff-v1';
const SHELL = ['/personal', '/personal/app.js', '/personal/protocol.js', '/personal/store.js', '/personal/app.css',
  '/personal/manifest.webmanifest', '/personal/icon.svg'];

self.addEventListener('install', (e) => {
  e.waitUntil(caches.open(CACHE).then((c) => c.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys().then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener('fetch', (e) => {
  const url = new URL(e.request.url);
  if (e.request.method !== 'GET' || !SHELL.includes(url.pathname)) return;
  // The network first (a new version), the cache without coverage.
  e.respondWith(fetch(e.request).then((r) => {
    if (!r.ok) return caches.match(e.request).then((kept) => kept ?? r);
    const copy = r.clone();
    caches.open(CACHE).then((c) => c.put(e.request, copy));
    return r;
  }).catch(() => caches.match(e.request)));
});
