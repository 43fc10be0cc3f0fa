// The member portal's service worker (served by the service at {{ scope }}sw.js). It keeps
// the portal's scripts and styles, and the member's current card ({{ kept }}: the card's QR,
// no presence code) so that she can show her card where the phone has no signal. That card is
// the only member data it keeps, on her own phone, and it is deleted when she signs out. Pages
// are always fetched from the network first; without network a portal page shows the kept
// card, or the offline page when no card is kept.
"use strict";
const STATIC_CACHE = "unioncard-me-{{ version }}";
const CARD_CACHE = {{ card_cache|tojson }};
const SCOPE = {{ scope|tojson }};
const CARD_PAGE = {{ card_page|tojson }};
const KEPT = {{ kept|tojson }};
const OFFLINE = {{ offline|tojson }};
const LOGOUT = {{ logout|tojson }};
const STATIC = {{ static|tojson }};

// The member's current card, as the service renders it for keeping (only while she is signed
// in: a redirect to the sign-in page is not kept).
async function keepCard() {
  try {
    const response = await fetch(KEPT, {credentials: "same-origin", cache: "no-store"});
    if (!response.ok || response.redirected) return;
    const cache = await caches.open(CARD_CACHE);
    await cache.put(KEPT, response);
  } catch (error) { /* no network: the card kept before stays */ }
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(STATIC_CACHE);
    await cache.addAll([OFFLINE, ...STATIC]);
    await keepCard();
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("unioncard-me-") && name !== STATIC_CACHE && name !== CARD_CACHE) {
        await caches.delete(name);
      }
    }
    await self.clients.claim();
  })());
});

// Without network: the kept card, else the offline page.
async function fallback(error) {
  const card = await caches.open(CARD_CACHE).then((cache) => cache.match(KEPT));
  if (card) return card;
  const offline = await caches.match(OFFLINE);
  if (offline) return offline;
  throw error;
}

// A portal page: the network (the card page refreshes the kept card), else the fallback.
async function page(event) {
  try {
    const response = await fetch(event.request);
    const path = new URL(event.request.url).pathname;
    if (path === CARD_PAGE && response.ok && !response.redirected) event.waitUntil(keepCard());
    return response;
  } catch (error) {
    return fallback(error);
  }
}

// Signing out: the kept card goes first, then the request (offline: the offline page).
async function signOut(request) {
  await caches.delete(CARD_CACHE);
  try {
    return await fetch(request);
  } catch (error) {
    const offline = await caches.match(OFFLINE);
    if (offline) return offline;
    throw error;
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
  if (request.method === "POST" && url.pathname === LOGOUT) {
    event.respondWith(signOut(request));
  } else if (request.method === "GET" && request.mode === "navigate"
             && url.pathname.startsWith(SCOPE)) {
    event.respondWith(page(event));
  } else if (request.method === "GET" && STATIC.includes(url.pathname)) {
    event.respondWith(asset(request));
  }
});

// The card page asks for its card to be kept (on the first visit the worker was not yet
// there to see it); the sign-out button asks for it to be forgotten.
self.addEventListener("message", (event) => {
  const type = event.data && event.data.type;
  if (type === "keep-card") event.waitUntil(keepCard());
  if (type === "forget-card") event.waitUntil(caches.delete(CARD_CACHE));
});
