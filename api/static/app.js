// The operators' dashboard: fleet map and list (live over WebSocket), shipment view (track,
// temperature against its band, events, claims) and finance view (borrowing base vs
// outstanding, drawdowns, funding calendar). Plain ES modules, served by the API itself.

import { baseMap, el, lineChart, pathOf, project, zoomTo } from "./draw.js";

const $ = (sel) => document.querySelector(sel);
const BAD = ["condition_breached", "tampered", "shocked"];
const WARN = ["delayed", "deviated", "tracker_silent", "battery_low"];

const state = {
  key: null,
  shipments: new Map(), // id -> summary
  markers: new Map(), // id -> svg circle
  overlay: null,
  positions: 0,
  alerts: 0,
  socket: null,
  view: null,
};

// --- key and fetch -------------------------------------------------------------------------

function initKey() {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get("key") || new URLSearchParams(location.hash.split("?")[1] || "").get("key");
  state.key = fromUrl || localStorage.getItem("tradelane-key") || "";
  if (fromUrl) localStorage.setItem("tradelane-key", fromUrl);
  $("#key-input").value = state.key;
  $("#key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.key = $("#key-input").value.trim();
    localStorage.setItem("tradelane-key", state.key);
    start();
  });
}

async function api(path) {
  const res = await fetch(path, { headers: { "X-API-Key": state.key } });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${res.status}: ${detail}`);
  }
  return res.json();
}

// --- helpers --------------------------------------------------------------------------------

function severity(s) {
  if (s.flags.some((f) => BAD.includes(f))) return "bad";
  if (s.flags.some((f) => WARN.includes(f))) return "warn";
  return "ok";
}

function when(iso) {
  return iso ? iso.replace("T", " ").slice(0, 16) : "—";
}

function money(m) {
  return m ? `${Number(m.amount).toLocaleString()} ${m.currency}` : "—";
}

function amount(v) {
  return v === null || v === undefined ? "—" : Number(v).toLocaleString(undefined, { maximumFractionDigits: 0 });
}

function row(tbody, cells, attrs = {}) {
  const tr = document.createElement("tr");
  for (const [k, v] of Object.entries(attrs)) tr.setAttribute(k, v);
  for (const c of cells) {
    const td = document.createElement("td");
    if (c instanceof Node) td.appendChild(c); else td.textContent = c;
    tr.appendChild(td);
  }
  tbody.appendChild(tr);
  return tr;
}

function tags(s) {
  const span = document.createElement("span");
  for (const f of s.flags) {
    const t = document.createElement("span");
    t.className = `tag ${BAD.includes(f) ? "bad" : "warn"}`;
    t.textContent = f.replace(/_/g, " ");
    span.appendChild(t);
  }
  return span;
}

// --- fleet ----------------------------------------------------------------------------------

async function loadFleet() {
  const found = new Map();
  for (let offset = 0; ; offset += 1000) {
    const page = await api(`/api/v1/shipments?limit=1000&offset=${offset}`);
    for (const s of page.items) found.set(s.shipment_id, s);
    if (offset + page.items.length >= page.total || !page.items.length) break;
  }
  state.shipments = found;
  $("#shipment-count").textContent = String(found.size);
}

async function drawFleetMap() {
  const svg = $("#fleet-map");
  state.overlay = await baseMap(svg);
  state.markers.clear();
  const routes = el("g", {}, state.overlay);
  el("g", { id: "markers" }, state.overlay);
  for (const s of state.shipments.values()) {
    if (s.route.length) el("path", { class: "route", d: pathOf(s.route) }, routes);
    placeMarker(s);
  }
}

function placeMarker(s) {
  const group = document.getElementById("markers");
  if (!group || !s.position) return;
  let m = state.markers.get(s.shipment_id);
  const [x, y] = project(s.position.lat, s.position.lon);
  if (!m) {
    m = el("circle", { r: 4, class: "ship", "data-shipment": s.shipment_id }, group);
    m.addEventListener("click", () => { location.hash = `#/shipment/${encodeURIComponent(s.shipment_id)}`; });
    el("title", {}, m).textContent = s.shipment_id;
    state.markers.set(s.shipment_id, m);
  }
  m.setAttribute("cx", x.toFixed(1));
  m.setAttribute("cy", y.toFixed(1));
  m.setAttribute("class", `ship ${severity(s)}`);
}

function renderList() {
  const tbody = $("#shipment-table tbody");
  tbody.replaceChildren();
  const text = $("#filter-text").value.toLowerCase();
  const status = $("#filter-status").value;
  const rows = [...state.shipments.values()]
    .filter((s) => !status || s.status === status)
    .filter((s) => !text || [s.shipment_id, s.shipper || "", s.consignee || ""].some((t) => t.toLowerCase().includes(text)))
    .sort((a, b) => ["bad", "warn", "ok"].indexOf(severity(a)) - ["bad", "warn", "ok"].indexOf(severity(b)) || a.shipment_id.localeCompare(b.shipment_id));
  for (const s of rows.slice(0, 500)) {
    const id = document.createElement("span");
    id.innerHTML = `<span class="dot ${severity(s)}"></span> `;
    id.append(s.shipment_id);
    const tr = row(tbody, [id, s.status.replace(/_/g, " "), when(s.eta || s.planned_arrival), tags(s)], { "data-shipment": s.shipment_id });
    tr.addEventListener("click", () => { location.hash = `#/shipment/${encodeURIComponent(s.shipment_id)}`; });
  }
}

let listTimer = null;
function scheduleList() {
  if (listTimer) return;
  listTimer = setTimeout(() => { listTimer = null; if (state.view === "fleet") renderList(); }, 500);
}

// --- live feed ------------------------------------------------------------------------------

function connectLive() {
  if (state.socket) state.socket.close();
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const url = `${proto}://${location.host}/api/v1/live/ws`;
  // the key travels as a subprotocol (a header), never in the URL: servers off loopback
  // refuse ?key=; a key with characters a subprotocol cannot carry falls back to the URL
  let socket;
  try {
    socket = new WebSocket(url, ["tradelane", `tradelane-key.${state.key}`]);
  } catch (_) {
    socket = new WebSocket(`${url}?key=${encodeURIComponent(state.key)}`);
  }
  state.socket = socket;
  socket.onopen = () => setLive(true);
  socket.onclose = (ev) => {
    setLive(false);
    if (state.socket === socket && ev.code !== 4401) setTimeout(() => { if (state.socket === socket) reconnect(); }, 2000);
  };
  socket.onmessage = (ev) => onItem(JSON.parse(ev.data));
}

async function reconnect() {
  try { await loadFleet(); await drawFleetMap(); renderList(); } catch (_) { /* retry later */ }
  connectLive();
}

function setLive(on) {
  const s = $("#live-status");
  s.textContent = on ? "live" : "offline";
  s.className = `status ${on ? "on" : "off"}`;
}

function onItem(item) {
  if (item.type === "hello") return;
  const id = item.shipment_id;
  let s = id ? state.shipments.get(id) : null;
  if (id && !s && (item.type === "position" || item.type === "state")) {
    api(`/api/v1/shipments/${encodeURIComponent(id)}`).then((d) => {
      state.shipments.set(id, d);
      $("#shipment-count").textContent = String(state.shipments.size);
      placeMarker(d);
      scheduleList();
    }).catch(() => {});
    return;
  }
  if (item.type === "position" && s) {
    s.position = { lat: item.lat, lon: item.lon, at: item.at };
    s.status = item.status || s.status;
    state.positions += 1;
    $("#position-count").textContent = String(state.positions);
    placeMarker(s);
  } else if ((item.type === "alert" || item.type === "state") && s) {
    if (item.status) s.status = item.status;
    if (item.type === "alert") {
      state.alerts += 1;
      $("#alert-count").textContent = String(state.alerts);
    }
    if (item.flags) s.flags = item.flags; // the server's fold decides the flags (api/projection.py)
    if (item.data && item.data.kind === "eta_changed") s.eta = item.data.eta;
    placeMarker(s);
    scheduleList();
  }
  if (state.view === "shipment" && state.current === id && item.type !== "position") showShipment(id, false);
  if (state.view === "claims" && item.type === "claim") showClaims();
}

// --- shipment view --------------------------------------------------------------------------

async function showShipment(id, full = true) {
  const d = await api(`/api/v1/shipments/${encodeURIComponent(id)}`);
  $("#shipment-title").textContent = `${d.shipment_id} — ${d.status.replace(/_/g, " ")}`;
  const facts = $("#shipment-facts");
  facts.replaceChildren();
  const fact = (k, v) => { const s = document.createElement("span"); s.innerHTML = `${k} <b></b>`; s.querySelector("b").textContent = v; facts.appendChild(s); };
  fact("from", d.origin ? `${d.origin.name} (${d.origin.locode})` : "—");
  fact("to", d.destination ? `${d.destination.name} (${d.destination.locode})` : "—");
  fact("shipper", d.shipper || "—");
  fact("consignee", d.consignee || "—");
  fact("ETA", when(d.eta));
  fact("planned", when(d.planned_arrival));
  fact("last reading", d.last_reading ? `${when(d.last_reading.ts)}${d.last_reading.temperature_c != null ? `, ${d.last_reading.temperature_c} °C` : ""}` : "—");
  fact("flags", d.flags.join(", ") || "none");
  const events = await api(`/api/v1/shipments/${encodeURIComponent(id)}/events?limit=200`);
  const etb = $("#event-table tbody");
  etb.replaceChildren();
  for (const e of events.items.slice().reverse()) {
    const { kind, ...rest } = e.data;
    const detail = Object.entries(rest).filter(([k, v]) => typeof v !== "object" && !["at", "id"].includes(k)).map(([k, v]) => `${k}=${v}`).join(" ");
    row(etb, [when(e.time), kind.replace(/_/g, " "), detail]);
  }
  const claims = await api(`/api/v1/claims?shipment_id=${encodeURIComponent(id)}`);
  const ctb = $("#claim-table tbody");
  ctb.replaceChildren();
  for (const c of claims.items) {
    const n = c.evidence.reduce((acc, ev) => acc + (ev.count || 0), 0);
    row(ctb, [c.claim_id.slice(0, 8), `${c.trigger} (tier ${c.tier})`, c.status, money(c.paid_total || c.claim_value), `${n} readings`]);
  }
  if (!full) return;
  const svg = $("#shipment-map");
  const overlay = await baseMap(svg);
  if (d.route.length) el("path", { class: "route", d: pathOf(d.route) }, overlay);
  let trackPoints = [];
  try {
    const track = await api(`/api/v1/shipments/${encodeURIComponent(id)}/track?resolution=1h`);
    trackPoints = track.points.filter((p) => p.lat !== null).map((p) => [p.lat, p.lon]);
    el("path", { class: "track", id: "track-path", d: pathOf(trackPoints), "data-points": String(trackPoints.length) }, overlay);
  } catch (err) {
    el("text", { x: 20, y: 30, class: "place" }, overlay).textContent = `track: ${err.message}`;
  }
  if (d.position) {
    const [x, y] = project(d.position.lat, d.position.lon);
    el("circle", { cx: x, cy: y, r: 5, class: `ship ${severity(d)}` }, overlay);
  }
  zoomTo(svg, trackPoints.length ? trackPoints.concat(d.route) : d.route);
  $("#band").textContent = d.temp_min_c !== null || d.temp_max_c !== null ? `band ${d.temp_min_c ?? "−∞"} … ${d.temp_max_c ?? "∞"} °C` : "";
  try {
    const temp = await api(`/api/v1/shipments/${encodeURIComponent(id)}/sensors?field=temperature_c&resolution=1h`);
    const pts = temp.points.map((p) => [new Date(p.time), p.temperature_c]);
    lineChart($("#temp-chart"), [{ name: "temperature", cls: "temp", color: "#4aa8ff", points: pts }], { band: [d.temp_min_c, d.temp_max_c], unit: "°" });
  } catch (err) {
    $("#temp-chart").replaceChildren();
    el("text", { x: 20, y: 30 }, $("#temp-chart")).textContent = `temperature: ${err.message}`;
  }
}

// --- finance view ---------------------------------------------------------------------------

async function showFinance(selected) {
  const page = await api("/api/v1/facilities?limit=1000");
  const tbody = $("#facility-table tbody");
  tbody.replaceChildren();
  const chosen = selected || (page.items[0] && page.items[0].facility_id);
  for (const f of page.items) {
    const tr = row(tbody, [f.facility_id, f.bank_id || "—", amount(f.base), amount(f.outstanding), amount(f.headroom)], { "data-facility": f.facility_id });
    if (f.facility_id === chosen) tr.className = "selected";
    tr.addEventListener("click", () => { location.hash = `#/finance/${encodeURIComponent(f.facility_id)}`; });
  }
  if (!chosen) return;
  const d = await api(`/api/v1/facilities/${encodeURIComponent(chosen)}`);
  // Outstanding is the ledger's: one point per entry, in chain order, from the same fold as
  // the summary's figure, so its last point is the summary's outstanding. Base comes from the
  // engine's valuations. Money is never below zero, so neither is the axis.
  const head = d.position.ledger_seq === null ? "no ledger entries" : `ledger seq ${d.position.ledger_seq}`;
  $("#facility-title").textContent = `${d.facility_id}: borrowing base vs outstanding (${d.currency || ""}), ${head}`;
  const base = d.base_history.map((p) => [new Date(p.at), Number(p.base)]);
  const out = d.history.map((p) => [new Date(p.at), Number(p.outstanding)]);
  const last = Math.max(...[...base, ...out].map((p) => p[0].getTime()));
  for (const series of [base, out]) {  // a step series holds its last value to the right edge
    const end = series[series.length - 1];
    if (end && end[0].getTime() < last) series.push([new Date(last), end[1]]);
  }
  lineChart($("#finance-chart"), [
    { name: "base", cls: "base", color: "#3ecf8e", points: base, step: true },
    { name: "outstanding", cls: "outstanding", color: "#f5a524", points: out, step: true },
  ], { floor: 0 });
  const dtb = $("#drawdown-table tbody");
  dtb.replaceChildren();
  for (const dd of d.drawdowns.slice().reverse()) row(dtb, [when(dd.at), dd.shipment_id, dd.milestone.replace(/_/g, " "), money(dd.amount)]);
  const ctb = $("#calendar-table tbody");
  ctb.replaceChildren();
  try {
    const cal = await api(`/api/v1/facilities/${encodeURIComponent(chosen)}/calendar`);
    for (const l of cal.lines) row(ctb, [`${l.day}${l.status === "expected" ? "" : ` (${l.status})`}`, l.kind, l.shipment_id, amount(l.amount)]);
  } catch (err) {
    row(ctb, [err.message, "", "", ""]);
  }
}

// --- claims view ----------------------------------------------------------------------------

async function showClaims() {
  const page = await api("/api/v1/claims?limit=500");
  const tbody = $("#claims-table tbody");
  tbody.replaceChildren();
  for (const c of page.items) {
    const readings = c.evidence.reduce((acc, ev) => acc + (ev.count || 0), 0);
    const digests = c.evidence.map((ev) => ev.digest.slice(0, 10)).join(" ");
    row(tbody, [when(c.at), c.claim_id.slice(0, 8), c.policy_id, c.shipment_id, `${c.trigger} (tier ${c.tier}, share ${c.share})`, c.status.replace(/_/g, " "), money(c.claim_value), money(c.paid_total), `${readings} readings ${digests}`]);
  }
}

// --- routing --------------------------------------------------------------------------------

function show(view) {
  state.view = view;
  for (const v of ["fleet", "shipment", "finance", "claims"]) $(`#view-${v}`).hidden = v !== view;
  for (const v of ["fleet", "finance", "claims"]) $(`#nav-${v}`).classList.toggle("active", view === v);
}

async function route() {
  const hash = location.hash.split("?")[0];
  try {
    if (hash.startsWith("#/shipment/")) {
      state.current = decodeURIComponent(hash.slice("#/shipment/".length));
      show("shipment");
      await showShipment(state.current);
    } else if (hash.startsWith("#/claims")) {
      show("claims");
      await showClaims();
    } else if (hash.startsWith("#/finance")) {
      show("finance");
      await showFinance(decodeURIComponent(hash.slice("#/finance/".length)) || null);
    } else {
      show("fleet");
      renderList();
    }
  } catch (err) {
    $("#who").textContent = err.message;
  }
}

async function start() {
  try {
    const me = await api("/api/v1/me");
    $("#who").textContent = `${me.name} (${me.role}${me.party ? ` ${me.party}` : ""})`;
  } catch (err) {
    $("#who").textContent = `key refused: ${err.message}`;
    return;
  }
  await loadFleet();
  await drawFleetMap();
  connectLive();
  await route();
}

window.addEventListener("hashchange", route);
document.addEventListener("DOMContentLoaded", () => {
  initKey();
  $("#filter-text").addEventListener("input", renderList);
  $("#filter-status").addEventListener("change", renderList);
  if (state.key) start(); else $("#who").textContent = "enter an API key";
});
