// The sharing form's facility search, enhanced: results appear while the member types (the
// same search as the form's Search button, which works without this script: the page then
// comes back with the results and every choice kept). Loaded from this origin (no inline
// script); the results are built as elements, never as HTML text.
"use strict";

function setUpFacilitySearch() {
  const box = document.getElementById("facility-search");
  const input = document.getElementById("facility_q");
  const button = document.getElementById("facility-search-button");
  const results = document.getElementById("facility-results");
  if (!box || !input || !button || !results) return;
  let timer = null;
  let asked = "";

  const chosen = () => {
    const checked = results.querySelector("input[name=facility_code]:checked");
    return checked ? checked.closest("li") : null;
  };

  const item = (f) => {
    const li = document.createElement("li");
    li.className = "check";
    const radio = document.createElement("input");
    radio.type = "radio";
    radio.name = "facility_code";
    radio.value = f.facility_code;
    radio.id = "facility-" + f.facility_code;
    const label = document.createElement("label");
    label.className = "plain";
    label.htmlFor = radio.id;
    const name = document.createElement("strong");
    name.textContent = f.name;
    const where = document.createElement("span");
    where.className = "muted";
    where.textContent = f.place + " · " + f.kind;
    label.append(name, document.createElement("br"), where);
    li.append(radio, label);
    return li;
  };

  const show = (data) => {
    const keep = chosen();
    const keptCode = keep ? keep.querySelector("input").value : null;
    results.replaceChildren();
    const status = document.createElement("p");
    status.className = "hint";
    status.setAttribute("role", "status");
    status.textContent = data.items.length ? results.dataset.found : results.dataset.none;
    results.append(status);
    const list = document.createElement("ul");
    list.className = "facilities";
    if (keep && !data.items.some((f) => f.facility_code === keptCode)) list.append(keep);
    for (const f of data.items) {
      const li = item(f);
      if (f.facility_code === keptCode) li.querySelector("input").checked = true;
      list.append(li);
    }
    if (list.children.length) results.append(list);
  };

  const search = () => {
    const text = input.value.trim();
    if (text.length < 2 || text === asked) return;
    asked = text;
    fetch(box.dataset.url + "?q=" + encodeURIComponent(text),
          {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then((r) => r.ok ? r.json() : null)
      .then((data) => { if (data && data.q === input.value.trim()) show(data); })
      .catch(() => { asked = ""; }); // offline: the Search button still sends the form
  };

  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(search, 300);
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); asked = ""; search(); }
  });
  button.addEventListener("click", (event) => {
    event.preventDefault();
    asked = "";
    search();
  });
}

document.addEventListener("DOMContentLoaded", setUpFacilitySearch);
