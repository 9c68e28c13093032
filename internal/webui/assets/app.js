// multilink's web UI: the daemon's own API, read every second and on
// every event (server-sent events), drawn with the DOM (text only, never
// HTML from an answer). Changes send the token kept in sessionStorage as
// a bearer header; no cookie, so no cross-site request can make them.
"use strict";

const TOKEN_KEY = "multilink-token";
const HISTORY = 120; // RTT samples kept per link (one a second: 2 minutes)
const rtt = new Map(); // "bond/link" -> [ms or null, ...]
let events = [];
let refreshing = false;
let again = false;

const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function token() { return sessionStorage.getItem(TOKEN_KEY) || ""; }

async function api(method, path, body) {
  const headers = { "Accept": "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const t = token();
  if (t && method !== "GET") headers["Authorization"] = "Bearer " + t;
  const resp = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store" });
  const text = await resp.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = null; }
  if (!resp.ok && !(path === "/health" && resp.status === 503 && data)) { // a "down" report is an answer
    const msg = (data && data.error) || text || resp.statusText;
    const err = new Error(resp.status + ": " + msg);
    err.status = resp.status;
    throw err;
  }
  return data;
}

function say(text, kind) {
  const m = $("message");
  m.textContent = text;
  m.className = "message" + (kind === "info" ? " info" : "");
  m.hidden = !text;
}

// act runs a change and tells what came of it.
async function act(what, method, path, body) {
  if (!token()) {
    say(what + ": enter the API token first (multilink daemon prints where it is; on the host: " +
      "cat /var/lib/multilink/token)");
    return;
  }
  try {
    await api(method, path, body);
    say(what + ": done", "info");
  } catch (e) {
    say(what + ": " + e.message + (e.status === 401 ? " (the token was refused)" : ""));
  }
  refresh();
}

function fmtMs(v) {
  if (v === null || v === undefined) return "–";
  return v < 10 ? v.toFixed(2) + " ms" : v.toFixed(0) + " ms";
}

function age(since) {
  if (!since) return "–";
  let s = Math.max(0, (Date.now() - Date.parse(since)) / 1000);
  if (s < 60) return s.toFixed(1) + " s";
  if (s < 3600) return Math.floor(s / 60) + " min " + Math.floor(s % 60) + " s";
  return Math.floor(s / 3600) + " h " + Math.floor((s % 3600) / 60) + " min";
}

function chart(key, label) {
  const samples = rtt.get(key) || [];
  const vals = samples.filter((v) => v !== null);
  const max = Math.max(1, ...vals) * 1.15;
  const w = 300, h = 70;
  const pts = [];
  samples.forEach((v, i) => {
    if (v === null) return;
    const x = (w * (i + HISTORY - samples.length)) / (HISTORY - 1);
    pts.push(x.toFixed(1) + "," + (h - (h * v) / max).toFixed(1));
  });
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  svg.setAttribute("preserveAspectRatio", "none");
  const axis = document.createElementNS(ns, "line");
  for (const [k, v] of Object.entries({ x1: 0, y1: h - 0.5, x2: w, y2: h - 0.5, class: "axis" })) axis.setAttribute(k, v);
  svg.append(axis);
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", pts.join(" "));
  svg.append(line);
  const last = vals.length ? vals[vals.length - 1] : null;
  return el("div", { class: "chart", "data-link": key },
    el("div", { class: "label" }, el("span", {}, label + " RTT · 2 min"), el("span", {}, "now " + fmtMs(last) + " · max " + fmtMs(vals.length ? Math.max(...vals) : null))),
    svg);
}

function record(stats) {
  const seen = new Set();
  for (const s of stats) {
    const key = s.bond + "/" + s.link;
    seen.add(key);
    const list = rtt.get(key) || [];
    list.push(s.rtt && s.rtt.smoothed_ms !== null && s.rtt.smoothed_ms !== undefined ? s.rtt.smoothed_ms : null);
    if (list.length > HISTORY) list.splice(0, list.length - HISTORY);
    rtt.set(key, list);
  }
  for (const k of [...rtt.keys()]) if (!seen.has(k)) rtt.delete(k);
}

function bondCard(c, policy, stats) {
  const bond = c.bond;
  const active = policy ? policy.active_link : c.active_slave;
  const judged = new Map(((policy && policy.links) || []).map((l) => [l.link, l]));
  const measured = new Map(stats.filter((s) => s.bond === bond).map((s) => [s.link, s]));
  const rows = (c.links || []).map((l) => {
    const j = judged.get(l.tap) || { state: "unknown", reason: "", since: null };
    const m = measured.get(l.tap) || {};
    const tunnel = !l.running ? "stopped" : (l.up ? "running" : "down");
    const isActive = l.tap === active;
    const pinned = policy && policy.pin === l.tap;
    return el("tr", { "data-link": l.tap, "data-state": j.state, "data-active": isActive ? "true" : "false" },
      el("td", {}, l.tap, isActive ? el("span", { class: "active-mark", title: "active link" }, " ● active") : null),
      el("td", {}, el("span", { class: "state " + j.state }, j.state)),
      el("td", {}, age(j.since)),
      el("td", {}, fmtMs(m.rtt && m.rtt.smoothed_ms)),
      el("td", {}, m.loss === undefined ? "–" : (100 * m.loss).toFixed(1) + " %"),
      el("td", {}, tunnel + (l.restarts ? ` (${l.restarts} restarts)` : "")),
      el("td", { class: "reason" }, j.reason || ""),
      el("td", {},
        el("button", { class: "pin", "data-link": l.tap, disabled: pinned, onclick: () => act(`pin ${bond} to ${l.tap}`, "PUT", `/v1/client/policy/${encodeURIComponent(bond)}`, { pin: l.tap }) }, pinned ? "pinned" : "pin"),
        " ",
        el("button", { class: "tap", onclick: () => act(`${l.up ? "take down" : "bring up"} ${l.tap}`, "POST", `/v1/${l.up ? "tap_down" : "tap_up"}/${encodeURIComponent(l.tap)}`) }, l.up ? "tap down" : "tap up")));
  });
  const head = el("div", {},
    el("h2", {}, "Gateway bond ", bond),
    el("p", { class: "muted" }, `${c.ip_address}  ·  driver ${c.driver || "–"}  ·  tunnels ${c.tunnel_mode || "–"}  ·  hub ${c.server_api_url}`),
    c.pending ? el("p", { class: "message" }, "pending: " + c.pending) : null,
    el("p", {}, "Active link: ", el("strong", { id: "active-" + bond, class: "active-link" }, active || "none"),
      policy && policy.pin ? el("span", {}, "  (pinned by the operator) ", el("button", { class: "unpin", onclick: () => act(`unpin ${bond}`, "PUT", `/v1/client/policy/${encodeURIComponent(bond)}`, { pin: "" }) }, "unpin")) : null));
  const table = el("table", { class: "links" },
    el("thead", {}, el("tr", {}, ["link", "state", "for", "RTT", "loss", "tunnel", "why", ""].map((h) => el("th", {}, h)))),
    el("tbody", {}, rows));
  const charts = el("div", { class: "charts" }, (c.links || []).map((l) => chart(bond + "/" + l.tap, l.tap)));
  return el("section", { class: "card bond", "data-bond": bond }, head, table, charts, paramsForm(bond));
}

// The bond parameters form keeps what is typed across redraws.
const paramDrafts = new Map();

function paramsForm(bond) {
  const box = el("details", { class: "bond-params", open: paramDrafts.has(bond) },
    el("summary", {}, "Bond parameters"));
  box.addEventListener("toggle", () => {
    if (box.open && !paramDrafts.has(bond)) {
      api("GET", `/v1/client/bond_params/${encodeURIComponent(bond)}`).then((p) => { paramDrafts.set(bond, { params: p || {}, edits: {} }); refresh(); })
        .catch((e) => say("bond parameters: " + e.message));
    } else if (!box.open) {
      paramDrafts.delete(bond);
    }
  });
  const draft = paramDrafts.get(bond);
  if (!draft) return box;
  const fields = Object.entries(draft.params).filter(([, v]) => typeof v === "number" || typeof v === "string");
  const form = el("form", {},
    el("div", { class: "params" }, fields.map(([k, v]) => el("label", {}, k,
      el("input", { name: k, value: k in draft.edits ? draft.edits[k] : String(v), oninput: (ev) => { draft.edits[k] = ev.target.value; } })))),
    el("button", { type: "submit" }, "Apply"));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const body = {};
    for (const [k, v] of Object.entries(draft.edits)) {
      body[k] = typeof draft.params[k] === "number" ? Number(v) : v;
    }
    if (!Object.keys(body).length) { say("bond parameters: nothing changed", "info"); return; }
    paramDrafts.delete(bond);
    act(`bond parameters of ${bond}`, "PUT", `/v1/client/bond_params/${encodeURIComponent(bond)}`, body);
  });
  box.append(form);
  return box;
}

function bridgeCard(s) {
  const h = s.holder;
  const rows = (s.links || []).map((l, i) => {
    const fp = h ? ((h.link_fingerprints && h.link_fingerprints[i]) || h.fingerprint || "") : "";
    return el("tr", { "data-link": l.tap },
      el("td", {}, l.tap), el("td", {}, l.port),
      el("td", {}, !l.running ? "stopped" : (l.up ? "running" : "down")),
      el("td", {}, l.restarts), el("td", { class: "reason" }, fp ? fp.slice(0, 27) + "…" : "–"));
  });
  return el("section", { class: "card bridge", "data-bridge": s.bridge_interface },
    el("h2", {}, "Hub bridge ", s.bridge_interface),
    el("p", { class: "muted" }, `${s.bridge_ip}  ·  tunnels ${s.tunnel_mode || "–"}`),
    s.pending ? el("p", { class: "message" }, "pending: " + s.pending) : null,
    el("p", {}, h ? `Held by gateway ${h.gateway_id}, bond ${h.bond}, for ${age(h.since)}` : "Held by no gateway"),
    el("table", {}, el("thead", {}, el("tr", {}, ["link", "port", "tunnel", "restarts", "peer certificate"].map((x) => el("th", {}, x)))),
      el("tbody", {}, rows)));
}

function eventText(e) {
  if (e.kind === "switch") {
    let s = `${e.bond}: switch ${e.from || "–"} → ${e.to || "–"} (${e.reason || "–"}`;
    if (e.detection_ms !== undefined && e.detection_ms !== null) s += `, detected in ${e.detection_ms.toFixed(0)} ms`;
    return s + ")" + (e.detail ? ": " + e.detail : "");
  }
  return `${e.bond}: ${e.link} ${e.state}` + (e.detail ? ": " + e.detail : "");
}

function drawTimeline() {
  const list = $("timeline");
  list.replaceChildren(...events.slice().reverse().map((e) =>
    el("li", { class: "kind-" + e.kind }, new Date(e.at).toLocaleTimeString(undefined, { hour12: false }) + "  " + eventText(e))));
}

async function refresh() {
  if (refreshing) { again = true; return; }
  refreshing = true;
  try {
    const [health, clients, servers] = await Promise.all([api("GET", "/health"), api("GET", "/v1/client/status"), api("GET", "/v1/server/status")]);
    const bonds = (clients && clients.clients) || [];
    const stats = bonds.length ? await api("GET", "/v1/client/links") : [];
    const policies = await Promise.all(bonds.map((c) => c.pending ? null : api("GET", `/v1/client/policy/${encodeURIComponent(c.bond)}`).catch(() => null)));
    record(stats || []);
    const badge = $("health");
    badge.textContent = health.status;
    badge.className = "badge " + health.status;
    const typing = document.activeElement && document.activeElement.tagName === "INPUT" && $("gateway").contains(document.activeElement);
    if (!typing) { // a redraw would take the field being typed in away
      $("gateway").replaceChildren(...bonds.map((c, i) => bondCard(c, policies[i], stats || [])));
    }
    $("hub").replaceChildren(...((servers && servers.servers) || []).map(bridgeCard));
    $("timeline-section").hidden = !bonds.length && !events.length; // events are a gateway's bonds'

    if (!bonds.length && !((servers && servers.servers) || []).length) {
      $("gateway").replaceChildren(el("section", { class: "card" }, el("p", {}, "Nothing started: no gateway bond, no hub bridge.")));
    }
    const warnings = [...(health.warnings || []), ...(health.checks || []).filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`)];
    if (!$("message").classList.contains("info")) say(warnings.join(" · ")); // clears when all is well again
    $("updated").textContent = "updated " + new Date().toLocaleTimeString(undefined, { hour12: false });
  } catch (e) {
    $("updated").textContent = "the daemon does not answer: " + e.message;
  } finally {
    refreshing = false;
    if (again) { again = false; refresh(); }
  }
}

function stream() {
  const src = new EventSource("/v1/client/events?limit=100");
  const take = (m) => {
    try {
      const e = JSON.parse(m.data);
      events.push(e);
      if (events.length > 200) events.splice(0, events.length - 200);
      drawTimeline();
      refresh(); // a switch shows at once, not at the next second
    } catch (_) { /* not an event */ }
  };
  src.addEventListener("switch", take);
  src.addEventListener("state", take);
  src.addEventListener("missed", () => { $("stream-state").textContent = "live; some events were dropped while this page fell behind (reload for the list)"; });
  src.addEventListener("open", () => { $("stream-state").textContent = "live"; events = []; });
  src.addEventListener("error", () => { $("stream-state").textContent = "the event stream is down; trying again"; });
}

function tokenUI() {
  const show = () => { $("token-state").textContent = token() ? "token kept for this tab" : "no token: read only"; };
  $("token-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const t = $("token").value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t);
    $("token").value = "";
    show();
  });
  $("token-forget").addEventListener("click", () => { sessionStorage.removeItem(TOKEN_KEY); show(); });
  show();
}

tokenUI();
stream();
refresh();
setInterval(refresh, 1000);
