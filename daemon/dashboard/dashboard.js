// luaotad's dashboard: reads /api/v1 with the operator's token and
// renders the fleet.  Data only ever goes into textContent, never HTML.
"use strict";

const REFRESH_MS = 5000;
let token = "";

function el(id) {
  return document.getElementById(id);
}

function cell(row, text, className) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "-" : String(text);
  if (className) td.className = className;
  row.appendChild(td);
  return td;
}

function outcomeCell(row, outcome) {
  cell(row, outcome || "never", "outcome-" + (outcome || "never"));
}

function fill(tableId, rows, render) {
  const body = el(tableId).querySelector("tbody");
  body.replaceChildren();
  for (const item of rows) {
    const tr = document.createElement("tr");
    render(tr, item);
    body.appendChild(tr);
  }
}

async function api(path) {
  const response = await fetch("/api/v1/" + path, {
    headers: { Authorization: "Bearer " + token },
    cache: "no-store",
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const error = new Error(body.error || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function renderSummary(s) {
  el("version").textContent = "version " + s.version;
  el("sum-chips").textContent = s.chips;
  el("sum-failing").textContent = s.failing;
  el("sum-never").textContent = s.never_seen;
  el("sum-open").textContent = s.daemon.sessions_open;
  el("sum-checkins").textContent = s.daemon.checkins;
  el("sum-updates").textContent = s.daemon.updates;

  const list = el("rollouts");
  list.replaceChildren();
  el("rollouts-empty").hidden = s.rollouts.length > 0;
  for (const r of s.rollouts) {
    const waves = r.waves || [];
    const chips = waves.reduce((n, w) => n + w.chips, 0);
    const healthy = waves.reduce((n, w) => n + w.healthy, 0);
    const li = document.createElement("li");
    li.dataset.rollout = r.id;
    const title = document.createElement("strong");
    title.textContent = "rollout " + r.id + " of " + r.group;
    const detail = document.createElement("span");
    detail.className = "detail";
    detail.textContent = " " + r.state + ", wave " + r.wave + " of " +
      waves.length + ", " + healthy + " of " + chips + " chips healthy, " +
      r.failed + " failed (halts above " + r.failure_limit + ")";
    const bar = document.createElement("div");
    bar.className = "bar";
    const fillBar = document.createElement("span");
    fillBar.style.width = (chips ? Math.round(100 * healthy / chips) : 0) + "%";
    bar.appendChild(fillBar);
    li.append(title, detail, bar);
    list.appendChild(li);
  }
}

function renderChips(chips) {
  const failing = chips.filter((c) =>
    ["failed", "rejected", "interrupted"].includes(c.last_outcome));
  el("failing-empty").hidden = failing.length > 0;
  el("failing").hidden = failing.length === 0;
  fill("failing", failing, (tr, c) => {
    cell(tr, c.id, "mono");
    cell(tr, c.group);
    cell(tr, c.last_seen || "never");
    outcomeCell(tr, c.last_outcome);
  });
  fill("chips", chips, (tr, c) => {
    tr.dataset.chip = c.id;
    cell(tr, c.id, "mono");
    cell(tr, c.group);
    cell(tr, c.last_seen || "never");
    outcomeCell(tr, c.last_outcome);
    cell(tr, c.revision ? c.revision.slice(0, 12) : null, "mono");
    cell(tr, c.label);
  });
}

function renderHistory(page) {
  fill("history", page.sessions, (tr, s) => {
    cell(tr, s.time);
    cell(tr, s.chip, "mono");
    outcomeCell(tr, s.outcome);
    cell(tr, s.files_sent);
    cell(tr, s.reason);
  });
}

function showError(message) {
  const box = el("error");
  box.textContent = message;
  box.hidden = false;
  document.body.dataset.state = "error";
}

async function refresh() {
  try {
    const [summary, chips, history] = await Promise.all([
      api("summary"), api("chips"), api("history?limit=20"),
    ]);
    renderSummary(summary);
    renderChips(chips);
    renderHistory(history);
    el("error").hidden = true;
    el("login").hidden = true;
    el("fleet").hidden = false;
    el("updated").textContent = "updated " + new Date().toISOString();
    document.body.dataset.state = "ready";
  } catch (error) {
    if (error.status === 401) {
      sessionStorage.removeItem("luaotad-token");
      el("login").hidden = false;
    }
    showError(error.message);
  }
}

function start() {
  // A token in the fragment (#token=...) never reaches the server's logs.
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("token");
  if (fromUrl) {
    sessionStorage.setItem("luaotad-token", fromUrl);
    history.replaceState(null, "", location.pathname);
  }
  token = sessionStorage.getItem("luaotad-token") || "";
  el("login").addEventListener("submit", (event) => {
    event.preventDefault();
    token = el("token").value.trim();
    sessionStorage.setItem("luaotad-token", token);
    refresh();
  });
  if (!token) {
    el("login").hidden = false;
    document.body.dataset.state = "login";
    return;
  }
  refresh();
  setInterval(refresh, REFRESH_MS);
}

start();
