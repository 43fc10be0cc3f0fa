// The clinic desk offline. On every desk page: register the desk's service worker (which keeps
// the offline check page, the verifier and the trust bundle cached) and, when the browser knows
// it is offline, send a card sent for an online check to the offline check instead. On the
// offline check page: verify the card in the browser (/site/uc1/verify.js, docs/uc1.md)
// against the cached trust bundle and the root key pinned in the page, and say when the
// network is back.
"use strict";

(function () {
  const manifest = document.querySelector("link[rel=manifest][data-sw]");
  const PENDING = "unioncard-pending-card";
  const SEEN_VERSION = "unioncard-bundle-version";

  if (manifest && "serviceWorker" in navigator) {
    navigator.serviceWorker.register(manifest.dataset.sw, {scope: manifest.dataset.scope})
      .catch(() => { /* without it the desk works online only */ });
    // a card sent while the browser knows it is offline goes to the offline check
    document.addEventListener("submit", (event) => {
      const form = event.target;
      const field = form.querySelector("[name=uc1]");
      if (navigator.onLine !== false || !field || !field.value || !form.closest("main")) return;
      if (form.id === "offline-form") return;
      event.preventDefault();
      toOffline(field.value);
    }, true);
    // the desk's own script checks in the page: a check that cannot reach the service goes
    // to the offline check with its card (scanner.js calls this hook)
    if (window.deskScanner) {
      window.deskScanner.onOffline = (body) => {
        const card = body && typeof body.get === "function" ? body.get("uc1") : null;
        if (typeof card === "string" && card) toOffline(card);
      };
    }
  }

  function toOffline(card) {
    sessionStorage.setItem(PENDING, card);
    window.location.assign(manifest.dataset.offline);
  }

  const desk = document.getElementById("offline-desk");
  if (!desk) return;
  const $ = (id) => document.getElementById(id);
  const lang = desk.dataset.lang === "en" ? "en-GB" : "vi-VN";
  const provinces = JSON.parse(desk.dataset.provinces || "{}");
  const words = $("words").content;
  const word = (attribute, value) => {
    const node = words.querySelector(`[data-${attribute}="${value}"]`);
    return node ? node.textContent : "";
  };
  const two = (n) => String(n).padStart(2, "0");
  const day = (date) => `${two(date.getDate())}/${two(date.getMonth() + 1)}/${date.getFullYear()}`;
  const clock = (date) => `${two(date.getHours())}:${two(date.getMinutes())} ${day(date)}`;
  const ago = (seconds) => {
    const format = new Intl.RelativeTimeFormat(lang, {numeric: "always"});
    if (seconds < 3600) return format.format(-Math.max(1, Math.round(seconds / 60)), "minute");
    if (seconds < 2 * 86400) return format.format(-Math.round(seconds / 3600), "hour");
    return format.format(-Math.round(seconds / 86400), "day");
  };

  function networkState() {
    const online = navigator.onLine !== false;
    const state = $("network-state");
    state.textContent = online ? state.dataset.online : state.dataset.offline;
    state.className = online ? "notice" : "warning";
    $("back-online").hidden = !online;
    desk.dataset.network = online ? "online" : "offline";
  }
  window.addEventListener("online", networkState);
  window.addEventListener("offline", networkState);
  networkState();

  let verifier = null;
  let bundle = null;

  async function loadBundle() {
    const state = $("bundle-state");
    verifier = await import(desk.dataset.verifier);
    let text;
    try {
      const response = await fetch(desk.dataset.bundleUrl);
      if (!response.ok) throw new Error(String(response.status));
      text = await response.text();
    } catch (error) {
      state.textContent = state.dataset.none;
      state.className = "warning";
      return;
    }
    try {
      const seen = Number(localStorage.getItem(SEEN_VERSION)) || null;
      bundle = await verifier.loadTrustBundle(text, desk.dataset.rootJwk, {minVersion: seen});
      localStorage.setItem(SEEN_VERSION, String(Math.max(seen || 0, bundle.version)));
    } catch (error) {
      state.textContent = state.dataset.bad;
      state.className = "warning";
      return;
    }
    const age = Math.max(0, Date.now() / 1000 - bundle.issuedAt);
    const stale = bundle.warnings(Math.floor(Date.now() / 1000)).length > 0;
    state.textContent = stale ? state.dataset.stale : state.dataset.age
      .replace("{date}", clock(new Date(bundle.issuedAt * 1000))).replace("{age}", ago(age));
    state.className = stale ? "warning" : "";
    desk.dataset.bundleVersion = String(bundle.version);
  }

  function fact(id, value) { $(id).textContent = value || "—"; }

  async function check(text) {
    const started = performance.now();
    if (!bundle) await ready;
    const result = bundle
      ? await verifier.verifyCard(text, bundle)
      : {status: "invalid", reason: "no-trust-bundle", warnings: [], claims: null};
    const verdict = $("verdict");
    const tone = result.status === "valid" ? "ok"
      : ["expired", "not-yet-valid", "suspended"].includes(result.status) ? "warn" : "bad";
    verdict.className = `verdict ${tone}`;
    verdict.dataset.status = result.status;
    verdict.dataset.reason = result.reason;
    $("verdict-word").textContent = word("status", result.status) || result.status;
    const notes = [];
    if (["revoked", "key-compromise", "suspended"].includes(result.reason)) {
      notes.push(word("reason", result.reason));
    } else if (result.status === "invalid" || result.status === "unknown-issuer") {
      notes.push(word("reason", "other"));
    }
    for (const warning of result.warnings) notes.push(word("reason", warning));
    $("verdict-reason").textContent = notes.filter(Boolean).join(" ");
    const claims = result.claims;
    fact("fact-name", claims && claims.name);
    fact("fact-birth", claims && claims.birth_date.split("-").reverse().join("/"));
    fact("fact-member", claims && claims.member_number);
    fact("fact-union", claims && `${claims.union_code} · ${provinces[claims.province_code]
      || claims.province_code}`);
    fact("fact-expires", claims && day(new Date(claims.expires_at * 1000)));
    fact("fact-checked", clock(new Date()));
    $("offline-facts").hidden = !claims;
    $("photo-id").hidden = !claims;
    $("offline-verdict").hidden = false;
    desk.dataset.checkMs = String(Math.round((performance.now() - started) * 10) / 10);
    desk.dataset.checks = String(Number(desk.dataset.checks || 0) + 1);
    verdict.focus?.();
  }

  async function pending() {
    const kept = sessionStorage.getItem(PENDING);
    sessionStorage.removeItem(PENDING);
    if (kept) return kept;
    const worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (!worker) return null;
    return new Promise((resolve) => {
      const channel = new MessageChannel();
      channel.port1.onmessage = (event) => resolve(event.data);
      worker.postMessage({type: "pending-card"}, [channel.port2]);
      setTimeout(() => resolve(null), 1000);
    });
  }

  const ready = loadBundle();
  $("offline-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const field = $("offline-text");
    // a handheld reader types the card's text and Enter; the text itself is never trimmed
    check(field.value.replace(/\r?\n$/, "")).then(() => { field.select(); });
  });
  ready.then(pending).then((text) => {
    if (text) {
      $("offline-text").value = text;
      return check(text);
    }
    return null;
  }).finally(() => { desk.dataset.ready = "true"; });
})();
