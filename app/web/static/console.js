// The console's little script: search as you type, and the progress bar of a running job.
// Loaded from this origin (the Content-Security-Policy allows no inline script); every page
// works without it.
"use strict";

function setUpSearch() {
  const box = document.getElementById("q");
  const list = document.getElementById("results");
  const status = document.getElementById("results-status");
  if (!box || !list || !box.dataset.searchUrl) return;
  let timer = null;
  let asked = 0;
  const show = (data, seq) => {
    if (seq !== asked) return; // an older answer arriving late
    list.replaceChildren();
    for (const m of data.items) {
      const li = document.createElement("li");
      const a = document.createElement("a");
      a.href = m.href;
      a.textContent = m.name;
      const info = document.createElement("span");
      info.className = "muted";
      // day first, as the server-rendered list shows it (the JSON has ISO dates)
      const born = /^\d{4}-\d{2}-\d{2}$/.test(m.birth_date || "")
        ? m.birth_date.split("-").reverse().join("/") : m.birth_date;
      info.textContent = " " + [m.number, m.union, born].join(" · ") + " ";
      // the status badge, as the server-rendered list shows it (macros.status_label)
      const badge = document.createElement("span");
      badge.className = "badge status-" + (/^[a-z]+$/.test(m.status || "") ? m.status : "unknown");
      badge.textContent = m.status_label || m.status || "";
      li.append(a, info, badge);
      list.append(li);
    }
    status.textContent = data.items.length
      ? status.dataset.some + " " + data.total : status.dataset.none;
  };
  box.addEventListener("input", () => {
    clearTimeout(timer);
    const q = box.value.trim();
    if (q.length < 2) return;
    timer = setTimeout(() => {
      const seq = ++asked;
      fetch(box.dataset.searchUrl + "?q=" + encodeURIComponent(q), {
        credentials: "same-origin", headers: {"Accept": "application/json"},
      }).then((r) => r.ok ? r.json() : null).then((data) => data && show(data, seq));
    }, 200);
  });
}

function setUpProgress() {
  const box = document.getElementById("job-progress");
  if (!box || box.dataset.finished === "true") return;
  const bar = document.getElementById("bar");
  const text = document.getElementById("progress-text");
  const poll = () => {
    fetch(box.dataset.url, {credentials: "same-origin"})
      .then((r) => r.ok ? r.json() : null)
      .then((p) => {
        if (!p) return;
        bar.max = Math.max(1, p.total);
        bar.value = p.finished && p.status === "succeeded" ? bar.max : p.processed;
        bar.textContent = p.percent + "%";
        text.textContent = p.processed + " / " + p.total;
        if (p.finished) {
          window.location.reload(); // the finished page shows the report
        } else {
          setTimeout(poll, 400); // each committed batch moves the bar
        }
      })
      .catch(() => setTimeout(poll, 2000)); // a dropped poll: try again, the job goes on
  };
  setTimeout(poll, 200);
}

// Date fields are text, day first (dd/mm/yyyy) whatever the browser's language: on leaving
// one, "1.5.1990" or "1-5-1990" is written "01/05/1990"; ISO and anything else is left for the
// server's strict check (and its inline error).
function setUpDates() {
  for (const box of document.querySelectorAll('input[data-date="dmy"]')) {
    box.addEventListener("change", () => {
      const m = /^\s*(\d{1,2})\s*[./\- ]\s*(\d{1,2})\s*[./\- ]\s*(\d{4})\s*$/.exec(box.value);
      if (m) box.value = [m[1].padStart(2, "0"), m[2].padStart(2, "0"), m[3]].join("/");
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  setUpSearch();
  setUpProgress();
  setUpDates();
});
