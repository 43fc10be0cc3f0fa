// The clinic desk's service worker (served by the service at {{ scope }}sw.js). It keeps a
// cache of what the desk needs when the network drops: the offline check page, the desk's
// scripts and styles, the in-browser UC1 verifier, the trust bundle and the root key. The
// desk's pages are always fetched from the network first (they hold member data and are never
// cached); when the network fails, a page of the desk falls back to the offline check.
"use strict";
const CACHE = "unioncard-desk-{{ version }}";
const OFFLINE = {{ offline|tojson }};
const SCOPE = {{ scope|tojson }};
const TRUST = [{{ bundle|tojson }}, {{ root_key|tojson }}];
const STATIC = {{ static|tojson }};

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll([OFFLINE, ...STATIC]);
    // the trust bundle may be missing on a first install without network: fetched later
    await Promise.all(TRUST.map((url) => cache.add(url).catch(() => null)));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("unioncard-desk-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

// The trust bundle and root key: the network's copy when there is one (kept for later),
// else the cached copy.
async function trusted(request) {
  const cache = await caches.open(CACHE);
  try {
    const response = await fetch(request, {cache: "no-cache"});
    if (response.ok) await cache.put(request.url, response.clone());
    return response;
  } catch (error) {
    const cached = await cache.match(request.url);
    if (cached) return cached;
    throw error;
  }
}

// A desk page: the network; when it cannot be reached, the offline check (a card's text sent
// for an online check is kept for it, so the clerk need not scan again).
async function page(request) {
  let pending = null;
  if (request.method === "POST") {
    try {
      pending = (await request.clone().formData()).get("uc1");
    } catch (error) { /* not a form */ }
  }
  try {
    return await fetch(request);
  } catch (error) {
    const cache = await caches.open(CACHE);
    const offline = await cache.match(OFFLINE);
    if (!offline) throw error;
    if (typeof pending === "string" && pending) {
      await cache.put("pending-card", new Response(pending));
    }
    return offline;
  }
}

// Static files: the cache first (a new release changes the cache's name), else the network.
async function asset(request) {
  const cached = await caches.match(request.url);
  return cached || fetch(request);
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "GET" && TRUST.includes(url.pathname)) {
    event.respondWith(trusted(request));
  } else if (request.mode === "navigate" && url.pathname.startsWith(SCOPE)) {
    event.respondWith(page(request));
  } else if (request.method === "GET" && STATIC.includes(url.pathname)) {
    event.respondWith(asset(request));
  }
});

// The offline page asks for a card text kept from a failed online check (and takes it once).
self.addEventListener("message", (event) => {
  if (!event.data || event.data.type !== "pending-card" || !event.ports[0]) return;
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    const kept = await cache.match("pending-card");
    await cache.delete("pending-card");
    event.ports[0].postMessage(kept ? await kept.text() : null);
  })());
});
