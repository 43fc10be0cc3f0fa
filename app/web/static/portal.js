// The member portal's little script: the presence QR refreshes itself before it expires and
// shows how long it is still valid (and, without network, that it cannot be renewed: the PIN
// instead). Loaded from this origin (no inline script); without it the page still shows a code
// valid 5 minutes (reload for a new one). It also registers the portal's service worker, which
// keeps the card for when the phone has no signal, and forgets the card on signing out.
"use strict";

function setUpPresence() {
  const box = document.getElementById("presence");
  const img = document.getElementById("presence-qr");
  const left = document.getElementById("presence-left");
  if (!box || !img || !left) return;
  let until = Date.now() + Number(box.dataset.seconds || 300) * 1000;
  let asking = false;
  let failed = false;
  const refresh = () => {
    if (asking) return;
    asking = true;
    fetch(box.dataset.url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then((r) => r.ok ? r.json() : null)
      .then((data) => {
        if (!data) return;
        img.src = data.png;
        img.dataset.token = data.token;
        until = Date.now() + data.seconds * 1000;
        failed = false;
      })
      .catch(() => { failed = true; })
      .finally(() => { asking = false; });
  };
  const tick = () => {
    const seconds = Math.max(0, Math.round((until - Date.now()) / 1000));
    const offline = navigator.onLine === false || failed;
    // an ended code is not shown: the clinic would be refused
    img.hidden = seconds === 0;
    left.textContent = offline && seconds <= 30 ? left.dataset.offline
      : left.dataset.label + " " + seconds + " " + left.dataset.unit;
    if (seconds <= 30) refresh(); // a fresh code well before this one ends
  };
  tick();
  setInterval(tick, 1000);
}

// The installable portal: its worker keeps the card page for when there is no signal; the
// card page asks it to keep the current card, and signing out forgets the card first.
function setUpOffline() {
  const manifest = document.querySelector("link[rel=manifest][data-sw]");
  if (!manifest || !("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register(manifest.dataset.sw, {scope: manifest.dataset.scope})
    .catch(() => { /* without it the card needs the network */ });
  // a controlled card page was seen by the worker, which keeps it; the first one was not
  if (document.getElementById("presence") && !navigator.serviceWorker.controller) {
    navigator.serviceWorker.ready.then((registration) => {
      if (registration.active) registration.active.postMessage({type: "keep-card"});
    });
  }
  const logout = new URL(manifest.dataset.logout, window.location.href).pathname;
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.dataset.forgotten) return;
    if (new URL(form.action, window.location.href).pathname !== logout) return;
    event.preventDefault();
    form.dataset.forgotten = "1";
    const worker = navigator.serviceWorker.controller;
    if (worker) worker.postMessage({type: "forget-card"});
    const forget = window.caches ? caches.delete("unioncard-me-card") : Promise.resolve();
    forget.catch(() => null).then(() => form.submit());
  });
}

document.addEventListener("DOMContentLoaded", setUpPresence);
document.addEventListener("DOMContentLoaded", setUpOffline);
