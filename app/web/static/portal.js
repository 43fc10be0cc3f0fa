// The member portal's little script: the presence QR refreshes itself before it expires and
// shows how long it is still valid. Loaded from this origin (no inline script); without it the
// page still shows a code valid 5 minutes (reload for a new one).
"use strict";

function setUpPresence() {
  const box = document.getElementById("presence");
  const img = document.getElementById("presence-qr");
  const left = document.getElementById("presence-left");
  if (!box || !img || !left) return;
  let until = Date.now() + Number(box.dataset.seconds || 300) * 1000;
  let asking = false;
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
      })
      .finally(() => { asking = false; });
  };
  const tick = () => {
    const seconds = Math.max(0, Math.round((until - Date.now()) / 1000));
    left.textContent = left.dataset.label + " " + seconds + " " + left.dataset.unit;
    if (seconds <= 30) refresh(); // a fresh code well before this one ends
  };
  tick();
  setInterval(tick, 1000);
}

document.addEventListener("DOMContentLoaded", setUpPresence);
