// The seller's page (/seller): the borrower's balance, the next four weeks of drawdowns and
// repayments, the tranches waiting for a yes (confirm, decline, change the amount), reminders
// and pledged shipments; the credit profile, repayment plan and FX locks come from
// seller-finance.js. Phone first. Plain ES modules, no build step, no dependencies.
//
// A decision is a request: the API answers 202 and the bank's engine decides later, so the
// page shows "sent" until the tranche list (polled, and refreshed on live finance items of the
// facility) shows the outcome. Money stays a decimal string: formatted, never parsed to float.

import { financeSections } from "./seller-finance.js";

const $ = (sel) => document.querySelector(sel);
const KEY_SLOT = "tradelane-seller-key";
const POLL_MS = 4000;
const FULL_EVERY = 6; // full refresh every sixth poll
const WAIT_MS = 90000; // after this, a sent decision no longer blocks the buttons
const OPEN = ["awaiting", "recorded", "upcoming"];
const MILESTONE = {
  departed_origin: "departure",
  arrived_transshipment: "transshipment arrival",
  departed_transshipment: "transshipment departure",
  arrived_destination: "arrival",
  entered_bonded_warehouse: "bonded warehouse",
  customs_cleared: "customs clearance",
  delivered: "delivery",
};
const BASIS = {
  reached: "reached", eta: "from ETA", plan: "planned", delivery_lag: "delivery + lag",
  accrual: "interest accrual",
};

const state = {
  key: "",
  facilities: [],
  facility: null, // selected id
  currency: "",
  pledged: new Set(),
  tranches: null,
  pending: new Map(), // "shp/milestone" -> {phase, choice, sig, sentAt, text}
  notes: new Map(), // "shp/milestone" -> outcome text after a decision
  editing: new Map(), // "shp/milestone" -> amount being typed
  lastRender: "",
  socket: null,
  polls: 0,
  timer: null,
  more: null, // the credit, plan and FX sections (seller-finance.js)
};

// --- formatting ---------------------------------------------------------------------------

function money(amount, currency = state.currency) {
  if (amount === null || amount === undefined) return "—";
  const text = String(amount);
  const negative = text.startsWith("-");
  const [whole, frac = ""] = (negative ? text.slice(1) : text).split(".");
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = frac.length > 2 ? frac : frac.padEnd(2, "0");
  return `${negative ? "−" : ""}${grouped}.${cents}${currency ? ` ${currency}` : ""}`;
}

function isZero(amount) {
  return !amount || /^-?0*(\.0*)?$/.test(String(amount));
}

function day(iso) {
  const d = new Date(`${String(iso).slice(0, 10)}T00:00:00Z`);
  return d.toLocaleDateString("en-GB", { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" });
}

function moment(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  const time = d.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", timeZone: "UTC" });
  return `${day(iso)}, ${time} UTC`;
}

function milestone(m) {
  return MILESTONE[m] || String(m || "").replace(/_/g, " ");
}

function node(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false || v === null || v === undefined) continue;
    if (k === "text") el.textContent = v; else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

// --- key and requests ---------------------------------------------------------------------

function loopback() {
  return ["127.0.0.1", "localhost", "[::1]", "::1"].includes(location.hostname);
}

function initKey() {
  const params = new URLSearchParams(location.search);
  const fromUrl = params.get("key");
  if (fromUrl) {
    localStorage.setItem(KEY_SLOT, fromUrl);
    params.delete("key"); // keep the key out of the history and the address bar
    const query = params.toString();
    history.replaceState(null, "", `${location.pathname}${query ? `?${query}` : ""}${location.hash}`);
  }
  state.key = fromUrl || localStorage.getItem(KEY_SLOT) || (loopback() ? "demo-borrower-key" : "");
  $("#key-input").value = state.key;
  $("#key-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.key = $("#key-input").value.trim();
    localStorage.setItem(KEY_SLOT, state.key);
    start();
  });
}

async function api(path, options = {}) {
  const headers = { "X-API-Key": state.key, ...(options.body ? { "Content-Type": "application/json" } : {}) };
  const res = await fetch(path, { ...options, headers });
  if (!res.ok) {
    let detail = res.statusText;
    try { detail = (await res.json()).detail || detail; } catch (_) { /* not JSON */ }
    throw new Error(`${res.status}: ${typeof detail === "string" ? detail : JSON.stringify(detail)}`);
  }
  return res.json();
}

function notice(text) {
  const n = $("#notice");
  n.textContent = text || "";
  n.hidden = !text;
}

function facilityPath(rest = "") {
  return `/api/v1/facilities/${encodeURIComponent(state.facility)}${rest}`;
}

// --- balance ------------------------------------------------------------------------------

function renderBalance(f) {
  state.currency = f.currency || "";
  $("#outstanding").textContent = money(f.outstanding);
  $("#headroom").textContent = money(f.headroom);
  $("#base").textContent = money(f.base);
  $("#limit").textContent = money(f.limit);
  const p = f.position || {};
  const parts = [];
  if (p.as_of) parts.push(`as of ${moment(p.as_of)}`);
  if (!isZero(p.interest_due)) parts.push(`interest due ${money(p.interest_due)}`);
  if (p.ledger_seq !== null && p.ledger_seq !== undefined) parts.push(`ledger entry ${p.ledger_seq}${p.ledger_verified ? ", verified" : ", NOT verified"}`);
  if (f.open_margin_calls) parts.push(`${f.open_margin_calls} open margin call(s)`);
  $("#as-of").textContent = parts.join(" · ") || "no ledger entries yet";
  $("#facility-name").textContent = `${f.facility_id}${f.bank_id ? ` · lender ${f.bank_id}` : ""}`;
}

// --- calendar -----------------------------------------------------------------------------

function lineItem(l) {
  const kind = l.kind === "drawdown" ? "in" : l.kind === "repayment" ? "out" : "interest";
  const arrow = { in: "↓ in", out: "↑ out", interest: "· interest" }[kind];
  const what = l.shipment_id ? `${l.shipment_id} ${milestone(l.milestone)}` : "on the balance";
  const status = l.status === "expected" ? "" : ` · ${l.status}`;
  const tag = node("span", { class: `tag ${l.certainty}`, text: l.certainty });
  const basis = node("span", { class: "basis", text: `${BASIS[l.basis] || l.basis}${status}` });
  return node("li", { class: `line ${kind}${l.status === "overdue" ? " overdue" : ""}`, "data-kind": l.kind },
    node("span", { class: "what" }, node("b", { text: arrow }), ` ${what}`),
    node("span", { class: "amount", text: l.amount === null ? "unpriced" : money(l.amount, "") }),
    node("span", { class: "how" }, basis, " ", tag));
}

function dayItem(d, lines, gap) {
  const head = node("div", { class: "day-head" },
    node("span", { class: "date", text: day(d.day) }),
    node("span", { class: "balance-after" }, "balance ", node("b", { text: money(d.outstanding, "") })));
  const li = node("li", { class: `day${gap ? " gap" : ""}`, "data-day": d.day }, head);
  if (lines.length) li.append(node("ul", { class: "lines" }, ...lines.map(lineItem)));
  if (gap) li.append(node("p", { class: "gap-note", text: `Cash gap: ${money(gap.due, "")} due, ${money(gap.available, "")} available — short ${money(gap.short)}` }));
  return li;
}

function renderCalendar(cal) {
  const byDay = new Map();
  for (const l of cal.lines) byDay.set(l.day, [...(byDay.get(l.day) || []), l]);
  const gaps = new Map(cal.warnings.map((w) => [w.day, w]));
  const box = $("#calendar-weeks");
  box.replaceChildren();
  for (const w of cal.weeks) {
    const days = cal.days.filter((d) => d.day >= w.start && d.day <= w.last && (byDay.has(d.day) || gaps.has(d.day)));
    const summary = `in ${money(w.drawdowns, "")} · out ${money(w.repayments, "")} · lowest headroom ${money(w.headroom_min, "")}`;
    const section = node("section", { class: `week${isZero(w.short) ? "" : " gap"}` },
      node("h3", { text: `${day(w.start)} – ${day(w.last)}` }),
      node("p", { class: "week-sum", text: summary }));
    section.append(days.length
      ? node("ul", { class: "days" }, ...days.map((d) => dayItem(d, byDay.get(d.day) || [], gaps.get(d.day))))
      : node("p", { class: "muted", text: "Nothing expected this week." }));
    box.append(section);
  }
  const summary = $("#gap-summary");
  summary.className = `gap-summary${cal.warnings.length ? " warn" : " ok"}`;
  summary.textContent = cal.warnings.length
    ? `⚠ ${cal.warnings.length} cash-gap day(s): ${cal.warnings.map((w) => `${day(w.day)} short ${money(w.short)}`).join("; ")}`
    : `No cash gaps expected (${day(cal.start)} – ${day(cal.end)}).`;
}

// --- tranches -----------------------------------------------------------------------------

const keyOf = (t) => `${t.shipment_id}/${t.milestone}`;
const sigOf = (t) => (t ? [t.state, t.choice, t.chosen_amount, t.code, t.amount].join("|") : "gone");

function describe(t) {
  if (!t) return "no longer listed";
  const chosen = t.chosen_amount ? ` (at most ${money(t.chosen_amount)})` : "";
  switch (t.state) {
    case "executed": return `Done: the bank lent ${money(t.amount)}.`;
    case "declined": return "Declined: nothing will be lent for this tranche.";
    case "expired": return "Expired: the deadline passed without a yes; nothing was lent.";
    case "not_executed": return "Not lent (the engine's code: " + (t.code || "—") + ").";
    case "rejected": return `Refused by the bank's engine: ${t.code || "—"}.`;
    case "recorded": return `Recorded: ${String(t.choice).replace(/_/g, " ")}${chosen}; applies when the milestone is reached.`;
    default: return `The engine answered: ${t.code || t.state}.`;
  }
}

function settlePending(items) {
  const byKey = new Map(items.map((t) => [keyOf(t), t]));
  for (const [key, p] of state.pending) {
    if (p.phase === "sending") continue;
    const now = byKey.get(key);
    if (sigOf(now) !== p.sig) {
      state.pending.delete(key);
      state.notes.set(key, describe(now));
    } else if (p.phase === "waiting" && Date.now() - p.sentAt > WAIT_MS) {
      p.phase = "slow";
      p.text = "Sent; no answer from the bank's engine yet. It will show here when it comes.";
    }
  }
}

function stateLine(t) {
  if (t.state === "awaiting") return node("p", { class: "due" }, node("b", { text: "Waiting for you" }), ` — decide by ${moment(t.deadline)}`);
  if (!OPEN.includes(t.state) || t.state === "recorded") return node("p", { class: "muted", text: describe(t) });
  const when = t.expected_on ? `Expected ${day(t.expected_on)}` : "Expected";
  return node("p", { class: "muted" }, `${when} `, t.certainty ? node("span", { class: `tag ${t.certainty}`, text: t.certainty }) : "");
}

function amountEditor(t, key, busy) {
  const id = `amount-${key.replace(/[^a-zA-Z0-9_-]/g, "_")}`;
  const input = node("input", { id, name: "amount", inputmode: "decimal", autocomplete: "off", required: true, pattern: "\\d+(\\.\\d{1,2})?", placeholder: t.amount || "" });
  input.value = state.editing.get(key) ?? "";
  input.addEventListener("input", () => state.editing.set(key, input.value));
  const form = node("form", { class: "amount-form" },
    node("label", { for: id, text: `New amount (${state.currency}, at most)` }),
    node("div", { class: "row" }, input,
      node("button", { type: "submit", class: "primary", disabled: busy, text: "Send" }),
      node("button", { type: "button", class: "cancel", disabled: busy, text: "Cancel" })));
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const value = input.value.trim();
    if (!/^\d+(\.\d{1,2})?$/.test(value) || /^0*(\.0*)?$/.test(value)) { input.setCustomValidity("an amount above zero, like 5000.00"); input.reportValidity(); return; }
    input.setCustomValidity("");
    decide(t, "change_amount", value);
  });
  form.querySelector(".cancel").addEventListener("click", () => { state.editing.delete(key); renderTranches(true); });
  return form;
}

function trancheItem(t, decidable) {
  const key = keyOf(t);
  // a decision sent from here, or one the server read on finance.requests and the engine has
  // not answered yet (after a reload, or from another device)
  const p = state.pending.get(key) || (t.pending_request_id
    ? { phase: "waiting", text: "Sent — waiting for the bank's engine…" } : undefined);
  const busy = !!p && p.phase !== "slow";
  const li = node("li", { class: `tranche ${t.state}`, "data-tranche": key, "data-state": t.state },
    node("div", { class: "tranche-head" },
      node("span", { class: "what" }, node("b", { text: t.shipment_id }), ` · ${milestone(t.milestone)}`),
      node("span", { class: "amount", text: money(t.amount) })),
    stateLine(t));
  if (decidable && t.can_decide) {
    const label = `${t.shipment_id} ${milestone(t.milestone)}`;
    const buttons = node("div", { class: "actions", role: "group", "aria-label": `Decide on ${label}` },
      node("button", { type: "button", class: "primary", "data-choice": "confirm", disabled: busy, text: "Confirm" }),
      node("button", { type: "button", "data-choice": "decline", disabled: busy, text: "Decline" }),
      node("button", { type: "button", "data-choice": "change_amount", disabled: busy, "aria-expanded": String(state.editing.has(key)), text: "Change amount" }));
    buttons.querySelector("[data-choice=confirm]").addEventListener("click", () => decide(t, "confirm"));
    buttons.querySelector("[data-choice=decline]").addEventListener("click", () => decide(t, "decline"));
    buttons.querySelector("[data-choice=change_amount]").addEventListener("click", () => {
      if (state.editing.has(key)) state.editing.delete(key); else state.editing.set(key, "");
      renderTranches(true);
      if (state.editing.has(key)) document.querySelector(`[data-tranche="${CSS.escape(key)}"] input`)?.focus();
    });
    li.append(buttons);
    if (state.editing.has(key)) li.append(amountEditor(t, key, busy));
  }
  const text = p ? p.text : state.notes.get(key);
  li.append(node("p", { class: `status${p ? ` ${p.phase}` : text ? " done" : ""}`, role: "status", "aria-live": "polite", text: text || "" }));
  return li;
}

function renderTranches(force = false) {
  const list = state.tranches;
  if (!list) return;
  const signature = JSON.stringify([list, [...state.pending], [...state.notes], [...state.editing.keys()]]);
  if (!force && signature === state.lastRender) return; // keep focus and typing intact
  state.lastRender = signature;
  const open = list.items.filter((t) => OPEN.includes(t.state) && t.can_decide);
  const done = list.items.filter((t) => !OPEN.includes(t.state) || !t.can_decide);
  const order = (t) => OPEN.indexOf(t.state);
  open.sort((a, b) => order(a) - order(b));
  $("#confirm-terms").textContent = list.confirmation_required
    ? `Each tranche waits for your yes${list.window_hours ? ` up to ${list.window_hours} h after its milestone` : ""}; undecided at the deadline, it is ${list.on_deadline === "execute" ? "lent anyway" : "skipped (nothing lent)"}.`
    : "This facility lends each tranche without asking: nothing to confirm.";
  const ul = $("#tranche-list");
  ul.replaceChildren(...open.map((t) => trancheItem(t, list.confirmation_required)));
  if (!open.length) ul.append(node("li", { class: "muted", text: "Nothing waiting for a decision." }));
  $("#outcomes-title").hidden = !done.length;
  $("#outcome-list").replaceChildren(...done.slice(0, 10).map((t) => trancheItem(t, false)));
}

async function decide(t, choice, amount) {
  const key = keyOf(t);
  state.pending.set(key, { phase: "sending", choice, sig: sigOf(t), sentAt: Date.now(), text: "Sending…" });
  state.notes.delete(key);
  renderTranches(true);
  const path = facilityPath(`/tranches/${encodeURIComponent(t.shipment_id)}/${encodeURIComponent(t.milestone)}/decision`);
  try {
    await api(path, { method: "POST", body: JSON.stringify(amount ? { choice, amount } : { choice }) });
    state.editing.delete(key);
    state.pending.set(key, { phase: "waiting", choice, sig: sigOf(t), sentAt: Date.now(), text: "Sent — waiting for the bank's engine…" });
  } catch (err) {
    state.pending.delete(key);
    state.notes.set(key, `Not sent: ${err.message}`);
  }
  renderTranches(true);
  refreshTranches();
}

async function refreshTranches() {
  if (!state.facility) return;
  const list = await api(facilityPath("/tranches?days=28"));
  state.tranches = list;
  state.currency = list.currency || state.currency;
  settlePending(list.items);
  renderTranches();
}

// --- reminders and shipments --------------------------------------------------------------

function renderReminders(r) {
  const ul = $("#reminder-list");
  const items = r.upcoming.length ? r.upcoming : r.recent.slice(0, 5);
  ul.replaceChildren(...items.map((x) => {
    const moved = x.previous_expected_on ? ` (moved from ${day(x.previous_expected_on)})` : "";
    const kind = x.line === "drawdown" ? "↓ drawdown" : "↑ repayment";
    return node("li", { "data-reminder": `${x.shipment_id}/${x.line}/${x.milestone}` },
      node("span", { class: "what" }, node("b", { text: day(x.expected_on) }), ` ${kind}, ${x.shipment_id} ${milestone(x.milestone)}${moved}`),
      node("span", { class: "amount", text: money(x.amount) }),
      node("span", { class: "how" }, node("span", { class: "basis", text: BASIS[x.basis] || x.basis }),
        x.needs_confirmation ? node("span", { class: "tag ask", text: "needs your yes" }) : ""));
  }));
  if (!items.length) ul.append(node("li", { class: "muted", text: `No reminders (sent ${r.reminder_days} days ahead).` }));
}

function renderShipments(items) {
  const ul = $("#shipment-list");
  ul.replaceChildren(...items.map((s) => node("li", { "data-shipment": s.shipment_id },
    node("span", { class: "what" }, node("b", { text: s.shipment_id }),
      ` ${s.origin ? s.origin.name : "?"} → ${s.destination ? s.destination.name : "?"}`),
    node("span", { class: `status-tag ${s.flags.length ? "flagged" : ""}`, text: s.status.replace(/_/g, " ") }),
    node("span", { class: "how", text: `ETA ${moment(s.eta || s.planned_arrival)}${s.eta ? "" : " (planned)"}${s.flags.length ? ` · ${s.flags.join(", ").replace(/_/g, " ")}` : ""}` }))));
  if (!items.length) ul.append(node("li", { class: "muted", text: "No pledged shipments." }));
}

async function refreshShipments() {
  const found = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await api(`/api/v1/shipments?facility_id=${encodeURIComponent(state.facility)}&limit=1000&offset=${offset}`);
    found.push(...page.items.filter((s) => state.pledged.has(s.shipment_id)));
    if (offset + page.items.length >= page.total || !page.items.length) break;
  }
  renderShipments(found);
}

// --- loading ------------------------------------------------------------------------------

async function refreshAll() {
  if (!state.facility) return;
  const [detail, cal, reminders] = await Promise.all([
    api(facilityPath()), api(facilityPath("/calendar?days=28")), api(facilityPath("/reminders")),
  ]);
  state.pledged = new Set((detail.facility && detail.facility.pledged_shipments) || []);
  renderBalance(detail);
  renderCalendar(cal);
  renderReminders(reminders);
  await Promise.all([refreshTranches(), refreshShipments(), state.more.refresh(detail.facility)]);
}

function choose(id) {
  state.facility = id;
  state.tranches = null;
  state.lastRender = "";
  state.pending.clear();
  state.notes.clear();
  state.editing.clear();
  state.more.reset();
  $("#facility-select").value = id;
  history.replaceState(null, "", `${location.pathname}${location.search}#facility=${encodeURIComponent(id)}`);
  return refreshAll().catch((err) => notice(err.message));
}

async function loadFacilities() {
  const page = await api("/api/v1/facilities?limit=1000");
  state.facilities = page.items;
  const select = $("#facility-select");
  select.replaceChildren(...page.items.map((f) => node("option", { value: f.facility_id, text: `${f.facility_id} (${f.currency || ""})` })));
  $("#picker").hidden = page.items.length < 2;
  const wanted = new URLSearchParams(location.hash.slice(1)).get("facility");
  const known = page.items.map((f) => f.facility_id);
  return known.includes(wanted) ? wanted : known[0] || null;
}

// --- live feed ----------------------------------------------------------------------------

function connectLive() {
  if (state.socket) state.socket.close();
  const proto = location.protocol === "https:" ? "wss" : "ws";
  const url = `${proto}://${location.host}/api/v1/live/ws?type=finance,state`;
  let socket;
  try {
    socket = new WebSocket(url, ["tradelane", `tradelane-key.${state.key}`]);
  } catch (_) {
    return; // a key a subprotocol cannot carry: polling alone keeps the page current
  }
  state.socket = socket;
  socket.onopen = () => setLive(true);
  socket.onclose = (ev) => {
    setLive(false);
    if (state.socket === socket && ev.code !== 4401) setTimeout(() => { if (state.socket === socket) connectLive(); }, 3000);
  };
  socket.onmessage = (ev) => onItem(JSON.parse(ev.data));
}

let refreshSoon = null;
function onItem(item) {
  const ours = (item.type === "finance" && item.facility_id === state.facility)
    || (item.type === "state" && state.pledged.has(item.shipment_id));
  if (!ours || refreshSoon) return;
  refreshSoon = setTimeout(() => { refreshSoon = null; refreshAll().catch((err) => notice(err.message)); }, 300);
}

function setLive(on) {
  const s = $("#live-status");
  s.textContent = on ? "live" : "offline";
  s.className = `live ${on ? "on" : "off"}`;
}

function poll() {
  clearTimeout(state.timer);
  state.timer = setTimeout(async () => {
    if (!document.hidden && state.facility) {
      state.polls += 1;
      const work = state.polls % FULL_EVERY === 0 ? refreshAll()
        : Promise.all([refreshTranches(), state.more.refreshPending()]);
      await work.then(() => notice(""), (err) => notice(`Could not refresh: ${err.message}`));
    }
    poll();
  }, POLL_MS);
}

async function start() {
  try {
    const me = await api("/api/v1/me");
    $("#who").textContent = `· ${me.name} (${me.role}${me.party ? ` ${me.party}` : ""})`;
    $("#key-box").open = false;
    if (me.role !== "borrower") notice(`This key is a ${me.role}'s: the page shows what it may see, and only a borrower (or an operator) may decide.`);
    else notice("");
  } catch (err) {
    $("#who").textContent = "· key refused";
    $("#key-box").open = true;
    notice(`Key refused (${err.message}). Enter your seller key below.`);
    return;
  }
  const chosen = await loadFacilities();
  if (!chosen) { notice("No facility for this key."); return; }
  await choose(chosen);
  connectLive();
  poll();
}

document.addEventListener("DOMContentLoaded", () => {
  initKey();
  state.more = financeSections({
    api, path: facilityPath, money, day, moment, node,
  });
  $("#facility-select").addEventListener("change", (ev) => choose(ev.target.value));
  if (state.key) start();
  else { $("#key-box").open = true; notice("Enter your seller key to see your facilities."); }
});
