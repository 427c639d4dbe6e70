// The console's service worker, served at /sw.js so that it controls the whole console.
// The service puts two constants before this file: SHELL, the addresses of the console's own
// files (page, modules, style, catalogs, manifest, icons), and VERSION, a digest of them.
// It keeps those files so that the console opens without signal: each is fetched from the
// service when it can be (so a new version shows at once) and from the kept copy when not.
// The API is not handled here: the page keeps its reads in IndexedDB (store.js).
/* global SHELL, VERSION */

const PREFIX = 'plantroom-shell-';
const CACHE = `${PREFIX}${VERSION}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    caches.open(CACHE)
      .then((cache) => cache.addAll(SHELL.map((path) => new Request(path, { cache: 'reload' }))))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k.startsWith(PREFIX) && k !== CACHE).map((k) => caches.delete(k))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (!SHELL.includes(url.pathname) && !url.pathname.startsWith('/console/')) return;
  event.respondWith(fromServiceOrKept(request));
});

async function fromServiceOrKept(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request);
    if (response.ok) await cache.put(request, response.clone());
    return response;
  } catch (error) {
    const kept = (await cache.match(request, { ignoreSearch: true })) ?? (request.mode === 'navigate' ? await cache.match('/') : undefined);
    if (kept) return kept;
    throw error;
  }
}
