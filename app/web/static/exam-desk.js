// The desk's exam-round check-in (issue 26): each code a handheld QR reader types into the
// field (with its Enter) is sent in the background, one after another, and the page's answer
// line and today's list are taken from the service's answer page — the field is emptied at
// once, so the next worker's card can be scanned while the last one is checked. Without this
// script the form posts and the service answers with the whole page.
"use strict";

(function () {
  const form = document.getElementById("checkin-form");
  const input = document.getElementById("uc1");
  if (!form || !input) return;
  const queue = [];
  let busy = false;
  const desk = {sent: 0, answered: 0, timings: []};
  window.examDesk = desk;

  function take(doc, id) {
    const mine = document.getElementById(id);
    const theirs = doc.getElementById(id);
    if (mine && theirs) mine.replaceWith(document.adoptNode(theirs));
  }

  async function next() {
    if (busy || !queue.length) return;
    busy = true;
    const text = queue.shift();
    const body = new URLSearchParams(new FormData(form));
    body.set("uc1", text);
    const started = performance.now();
    try {
      const response = await fetch(form.action, {method: "POST", body, credentials: "same-origin"});
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const answer = doc.getElementById("checkin-answer");
      const live = document.getElementById("checkin-answer");
      if (answer && live) live.replaceChildren(...Array.from(answer.childNodes).map((n) => document.adoptNode(n)));
      take(doc, "checkin-list");
      take(doc, "checkin-count");
      if (!response.ok && !input.value) {  // a refused card: its text kept, selected for the next scan
        input.value = text;
        input.select();
        input.setAttribute("aria-invalid", "true");
      } else if (response.ok) {
        input.removeAttribute("aria-invalid");
      }
      desk.timings.push(performance.now() - started);
    } catch (e) {
      const live = document.getElementById("checkin-answer");
      if (live) live.textContent = form.dataset.offline || "";
      input.value = input.value || text;
    } finally {
      desk.answered += 1;
      busy = false;
      next();
    }
  }

  form.addEventListener("submit", (event) => {
    const text = input.value.replace(/\r?\n$/, "");
    if (!text.trim()) return;
    event.preventDefault();
    input.value = "";
    input.removeAttribute("aria-invalid");
    desk.sent += 1;
    queue.push(text);
    input.focus();
    next();
  });
  if (input.value) input.select();  // a refused card's text (without this script)
})();
