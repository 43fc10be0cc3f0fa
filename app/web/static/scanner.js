// The clinic desk's script. Whatever the member shows is "a code read": the card's QR (UC1:)
// or the phone's presence code (UCP1:), in either order, from a handheld QR reader typing into
// the text field and pressing Enter, from the camera (decoded in the browser where it offers
// BarcodeDetector, otherwise frames go to POST /clinic/frame), from a photo, or pasted. The
// page keeps what it has (the card, the phone's code), checks the card online with the
// service's own form (POST /clinic/verify) and shows the verdict in the page, so the camera
// stays on between patients ("keep scanning": a new card starts a new check, with a beep; the
// same code seen again within a few seconds is not checked again). Without this script the
// forms post and the service answers with whole pages.
//
// window.deskScanner is the hook for another verifier (e.g. offline): codeRead(text, source)
// is the step "a code was read", showVerdict(html, status) the step "show this verdict";
// check(form) sends a form and shows its answer, verifyOnline may be replaced.
"use strict";

(function () {
  const SAME_CODE_MS = 5000;
  const state = {card: null, presence: null, presenceAt: 0, checkedAt: 0, seq: 0};
  const seen = new Map();
  const desk = {
    state, timings: [], log: [], beeps: 0,
    codeRead: () => false, showVerdict: () => {}, check: () => Promise.resolve(),
    verifyOnline: null, continuous: false,
  };
  window.deskScanner = desk;

  const oneLine = (text) => text.replace(/\r?\n$/, "");
  const isPresence = (text) => text.trimStart().slice(0, 5).toUpperCase() === "UCP1:";

  let audio = null;
  let camera = {settle: () => {}};
  function beep(ok) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.frequency.value = ok ? 1320 : 330;
      gain.gain.value = 0.15;
      tone.connect(gain).connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + (ok ? 0.12 : 0.35));
      desk.beeps += 1;
    } catch (e) { /* no sound: the verdict still shows */ }
  }

  function setUp() {
    const form = document.getElementById("scan-form");
    const result = document.getElementById("desk-result");
    const status = document.getElementById("desk-status");
    const input = document.getElementById("uc1");
    const kept = document.getElementById("presence-token");
    if (!form || !result || !input) return;
    const csrf = form.querySelector("input[name=csrf_token]").value;
    const purpose = document.getElementById("purpose");
    const continuous = document.getElementById("continuous");
    const say = (key) => { if (status && status.dataset[key]) status.textContent = status.dataset[key]; };
    const greeting = status ? status.textContent : "";
    let readAt = 0;

    if (kept && kept.value) { state.presence = kept.value; state.presenceAt = performance.now(); }

    function adopt(root) {
      // a page's result goes under the scan page's own heading: its h1 becomes an h2
      root.querySelectorAll("h1").forEach((h1) => {
        const h2 = document.createElement("h2");
        for (const a of h1.attributes) h2.setAttribute(a.name, a.value);
        while (h1.firstChild) h2.appendChild(h1.firstChild);
        h1.replaceWith(h2);
      });
      return root;
    }

    // "show verdict": the answer page's #desk-result replaces the scan page's
    function showVerdict(html, httpStatus) {
      const doc = new DOMParser().parseFromString(html, "text/html");
      const answer = doc.getElementById("desk-result");
      if (!answer) { window.location.assign(form.action.replace(/verify$/, "")); return; }
      const nodes = Array.from(adopt(answer).childNodes);  // a copy: adopting empties the list
      result.replaceChildren(...nodes.map((n) => document.adoptNode(n)));
      for (const name of ["status", "opened", "needs"]) {
        if (answer.dataset[name]) result.dataset[name] = answer.dataset[name];
        else delete result.dataset[name];
      }
      state.card = answer.dataset.card || null;  // a refusal keeps no card
      const need = result.querySelector("#desk-need");
      if (need && need.dataset.presence) {
        state.presence = need.dataset.presence;
        state.presenceAt = performance.now();
        if (kept) kept.value = state.presence;
      } else if (kept) {
        kept.value = "";
      }
      if (status) status.textContent = need ? need.textContent : "";
      const verdict = result.querySelector("#verdict");
      if (verdict) {
        state.checkedAt = performance.now();
        beep(verdict.dataset.status === "valid");
      }
      const shown = performance.now();
      if (readAt) {
        desk.timings.push({ms: shown - readAt, status: verdict ? verdict.dataset.status : httpStatus});
        readAt = 0;
      }
      if (!result.contains(document.activeElement)) input.focus();
      if (verdict && typeof verdict.scrollIntoView === "function") verdict.scrollIntoView({block: "nearest"});
      camera.settle();
      if (desk.afterVerdict) desk.afterVerdict(result);
    }

    async function send(body, url) {
      const seq = ++state.seq;
      try {
        const response = await fetch(url || form.action, {
          method: "POST", body, credentials: "same-origin", headers: {"Accept": "text/html"},
        });
        const html = await response.text();
        if (seq === state.seq) showVerdict(html, response.status);
      } catch (e) {
        if (seq === state.seq) say("offline");
        if (desk.onOffline) desk.onOffline(body, e);
      }
    }

    function verifyOnline(card, presence, photo) {
      const body = new FormData();
      body.append("csrf_token", csrf);
      body.append("purpose", purpose ? purpose.value : "treatment");
      body.append("uc1", card || "");
      body.append("presence_token", presence || "");
      if (photo) body.append("photo", photo, photo.name || "photo.jpg");
      desk.log.push({card, presence: Boolean(presence), at: performance.now()});
      return send(body);
    }
    desk.verifyOnline = verifyOnline;

    // "a code was read": from the QR reader's field, the camera, or pasted
    function codeRead(raw, source) {
      const text = oneLine(String(raw || ""));
      if (!text.trim()) return false;
      const now = performance.now();
      const last = seen.get(text);
      seen.set(text, now);
      if (last !== undefined && now - last < SAME_CODE_MS && (source === "camera" || desk.continuous)) {
        return false;  // the same code again, moments later: not checked again
      }
      readAt = now;
      if (isPresence(text)) {
        state.presence = text.trim();
        state.presenceAt = now;
        if (kept) kept.value = state.presence;
        if (!state.card) {
          say("code");
          readAt = 0;
          return true;
        }
        say("checking");
        desk.verifyOnline(state.card, state.presence);
        return true;
      }
      if (text !== state.card) {
        // a new card, a new patient: the phone's code goes with it only if read since the last check
        if (state.presenceAt <= state.checkedAt) { state.presence = null; if (kept) kept.value = ""; }
        state.card = text;
      }
      say("card");
      desk.verifyOnline(state.card, state.presence);
      return true;
    }
    desk.codeRead = codeRead;
    desk.showVerdict = showVerdict;
    desk.check = (aForm) => {
      readAt = performance.now();
      const body = new FormData(aForm);
      return send(body, aForm.action);
    };
    desk.reset = () => {
      state.card = null; state.presence = null; state.presenceAt = 0; state.checkedAt = 0;
      seen.clear();
      if (kept) kept.value = "";
      result.replaceChildren();
      for (const name of ["status", "opened", "needs"]) delete result.dataset[name];
      if (status) status.textContent = greeting;
      input.value = "";
      input.focus();
    };

    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const photo = document.getElementById("photo");
      if (photo && photo.files && photo.files.length) {
        readAt = performance.now();
        const file = photo.files[0];
        photo.value = "";
        verifyOnline(state.card, state.presence, file);
        return;
      }
      const text = input.value;
      input.value = "";
      if (!codeRead(text, "typed")) input.focus();
    });
    const photo = document.getElementById("photo");
    if (photo) photo.addEventListener("change", () => { if (photo.files.length) form.requestSubmit(); });

    // the forms of a verdict shown in the page (PIN, phone code, emergency) answer in the page too
    result.addEventListener("submit", (event) => {
      const target = event.target;
      if (!(target instanceof HTMLFormElement)) return;
      event.preventDefault();
      desk.check(target);
    });
    result.addEventListener("click", (event) => {
      const next = event.target instanceof Element ? event.target.closest("#scan-next") : null;
      if (!next) return;
      event.preventDefault();
      desk.reset();
    });
    if (continuous) {
      continuous.closest("#continuous-box").hidden = false;
      continuous.addEventListener("change", () => { desk.continuous = continuous.checked; input.focus(); });
    }
    // without "keep scanning" the camera stops once a check needs nothing more from it
    camera = setUpCamera(codeRead, () => desk.continuous || result.dataset.needs === "presence");
  }

  function setUpCamera(read, keepLooking) {
    const box = document.getElementById("camera-box");
    const video = document.getElementById("camera");
    const start = document.getElementById("camera-start");
    const status = document.getElementById("camera-status");
    const none = {settle: () => {}};
    if (!box || !video || !start) return none;
    let busy = false;
    let timer = null;

    const stop = () => {
      if (timer) clearInterval(timer);
      timer = null;
      const stream = video.srcObject;
      if (stream) stream.getTracks().forEach((t) => t.stop());
      video.srcObject = null;
      start.disabled = false;
    };
    const found = (value) => {
      if (value && timer) read(value, "camera");
    };

    const viaService = () => {
      const canvas = document.createElement("canvas");
      return () => {
        if (busy || !video.videoWidth) return;
        busy = true;
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        canvas.getContext("2d").drawImage(video, 0, 0);
        canvas.toBlob((blob) => {
          const body = new FormData();
          body.append("photo", blob, "frame.jpg");
          fetch(box.dataset.frameUrl, {
            method: "POST", body, credentials: "same-origin",
            headers: {"X-CSRF-Token": box.dataset.csrf, "Accept": "application/json"},
          }).then((r) => r.ok ? r.json() : null)
            .then((data) => { if (data && data.text) found(data.text); })
            .catch(() => {})
            .finally(() => { busy = false; });
        }, "image/jpeg", 0.92);
      };
    };

    const inBrowser = (detector) => () => {
      if (busy || !video.videoWidth) return;
      busy = true;
      detector.detect(video)
        .then((codes) => { codes.forEach((c) => found(c.rawValue)); })
        .catch(() => {})
        .finally(() => { busy = false; });
    };

    start.addEventListener("click", async () => {
      start.disabled = true;
      try {
        if (!audio) audio = new (window.AudioContext || window.webkitAudioContext)();
      } catch (e) { /* no sound */ }
      try {
        const stream = await navigator.mediaDevices.getUserMedia(
          {video: {facingMode: "environment", width: {ideal: 1280}}, audio: false});
        video.srcObject = stream;
        await video.play();
      } catch (e) {
        if (status) status.textContent = status.dataset.none;
        start.disabled = false;
        return;
      }
      if (status) status.textContent = status.dataset.looking;
      let step = viaService();
      if ("BarcodeDetector" in window) {
        try {
          const formats = await window.BarcodeDetector.getSupportedFormats();
          if (formats.includes("qr_code")) {
            step = inBrowser(new window.BarcodeDetector({formats: ["qr_code"]}));
            box.dataset.decoder = "browser";
          }
        } catch (e) { /* the service decodes */ }
      }
      box.dataset.decoder = box.dataset.decoder || "service";
      timer = setInterval(step, 400);
    });
    return {settle: () => { if (timer && !keepLooking()) stop(); }};
  }

  document.addEventListener("DOMContentLoaded", setUp);
}());
