// The seller's page, continued: the credit profile, the repayment plan (with requests for a
// later due date) and FX rate locks. Imported by seller.js, which hands over its helpers, so
// requests, formatting and money as decimal strings work the same in every section.
//
// A delay or a quote is a request like a tranche decision: the API answers 202 with its
// request id and the bank's engine answers later. The section says "sent" and keeps its
// buttons disabled until the list (re-read on every poll while something is pending) holds
// that request id; after WAIT_MS the buttons come back.

const WAIT_MS = 90000;
const SENT = "Sent — waiting for the bank's engine…";
const SLOW = "Sent; no answer from the bank's engine yet. It will show here when it comes.";
const SIDE = { repayment: "Repayment", drawdown_payout: "Tranche payout" };

export function financeSections(h) {
  // h: seller.js's helpers {api, path, money, day, moment, node}
  const $ = (sel) => document.querySelector(sel);
  const node = h.node;
  const st = {
    plan: null, fx: null, terms: null, delays: new Map(), quote: null, notes: new Map(),
    open: new Set(), drafts: new Map(), lastPlan: "", lastFx: "", factorsOpened: false,
  };

  // --- helpers --------------------------------------------------------------------------

  function percent(rate) {
    // "0.6" -> "60 %", "0.125" -> "12.5 %": a decimal shift on the string, no float
    const [whole, frac = ""] = String(rate).split(".");
    const digits = frac.padEnd(2, "0");
    const head = `${whole}${digits.slice(0, 2)}`.replace(/^0+(?=\d)/, "");
    const tail = digits.slice(2).replace(/0+$/, "");
    return `${head}${tail ? `.${tail}` : ""} %`;
  }

  const words = (s) => String(s || "").replace(/_/g, " ");
  const instKey = (i) => `${i.shipment_id}/${i.instalment_id}`;
  const safeId = (s) => s.replace(/[^a-zA-Z0-9_-]/g, "_");

  function settle(pending, found, describe) {
    if (!pending || pending.phase === "sending") return pending;
    if (found) return { ...pending, phase: "done", text: describe(found) };
    if (pending.phase === "waiting" && Date.now() - pending.sentAt > WAIT_MS) {
      return { ...pending, phase: "slow", text: SLOW };
    }
    return pending;
  }

  function statusLine(p, note) {
    const text = p && p.phase !== "done" ? p.text : note || (p ? p.text : "");
    const phase = p && p.phase !== "done" ? ` ${p.phase}` : text ? " done" : "";
    return node("p", { class: `status${phase}`, role: "status", "aria-live": "polite", text: text || "" });
  }

  // --- credit profile -------------------------------------------------------------------

  function renderCredit(c) {
    const card = $("#credit");
    card.hidden = false;
    const meter = $("#credit-meter");
    if (c.score === null || c.score === undefined) {
      $("#credit-score").textContent = "No score yet";
      meter.hidden = true;
      $("#credit-as-of").textContent = "The bank's engine announces a score after the facility's first events.";
    } else {
      $("#credit-score").replaceChildren(node("b", { text: String(c.score) }), " / 1000 ",
        node("span", { class: "band", text: c.band ? `band ${c.band}` : "no score bands" }));
      meter.hidden = false;
      meter.value = c.score;
      meter.textContent = `${c.score} of 1000`;
      $("#credit-as-of").textContent = `as of ${h.moment(c.at)} (announced when it moves 10 points or changes band)`;
    }
    const box = $("#credit-factors");
    box.hidden = !c.factors.length;
    $("#factor-count").textContent = `${c.factors.length} factor${c.factors.length === 1 ? "" : "s"}`;
    if (!st.factorsOpened) { // open on a wide screen, collapsed on a phone; then the user's
      box.open = window.matchMedia("(min-width: 900px)").matches;
      st.factorsOpened = true;
    }
    $("#factor-list").replaceChildren(...c.factors.map((f) => node("li", { "data-factor": f.name },
      node("span", { class: "what" }, node("b", { text: words(f.name) })),
      node("span", { class: "amount", text: `${f.points} / ${f.weight} points` }),
      node("span", { class: "how", text: f.explanation }))));
    const change = c.rate_changes[0];
    const line = $("#rate-change");
    line.hidden = !change;
    if (change) {
      const rates = Object.keys(change.new_rates).map((k) => `${words(k)} ${percent(change.old_rates[k] ?? "0")} → ${percent(change.new_rates[k])}`);
      line.textContent = `Advance rates changed ${h.moment(change.at)}: score ${change.old_score} → ${change.new_score}, band ${change.old_band} → ${change.new_band}; ${rates.join(", ")}.${change.moved.length ? ` Mostly: ${change.moved[0]}` : ""}`;
    }
  }

  // --- repayment plan -------------------------------------------------------------------

  function delayForm(i, key, busy) {
    const id = safeId(key);
    const draft = st.drafts.get(key) || { date: "", reason: "" };
    const min = new Date(`${String(i.due).slice(0, 10)}T00:00:00Z`);
    min.setUTCDate(min.getUTCDate() + 1);
    const date = node("input", { id: `due-${id}`, name: "new_due", type: "date", required: true, min: min.toISOString().slice(0, 10) });
    const reason = node("input", { id: `why-${id}`, name: "reason", maxlength: "500", autocomplete: "off", placeholder: "e.g. the goods are held at the port" });
    date.value = draft.date;
    reason.value = draft.reason;
    const keep = () => st.drafts.set(key, { date: date.value, reason: reason.value });
    date.addEventListener("input", keep);
    reason.addEventListener("input", keep);
    const form = node("form", { class: "delay-form" },
      node("label", { for: date.id, text: "New due date" }), date,
      node("label", { for: reason.id, text: "Reason (the bank reads it)" }), reason,
      node("div", { class: "row" },
        node("button", { type: "submit", class: "primary", disabled: busy, text: "Ask the bank" }),
        node("button", { type: "button", class: "cancel", disabled: busy, text: "Cancel" })));
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      if (!date.value || date.value < date.min) { date.setCustomValidity(`a date after ${h.day(i.due)}`); date.reportValidity(); return; }
      date.setCustomValidity("");
      askDelay(i, `${date.value}T${String(i.due).slice(11, 19)}Z`, reason.value.trim());
    });
    form.querySelector(".cancel").addEventListener("click", () => { st.open.delete(key); renderPlan(true); });
    return form;
  }

  function instalmentItem(i) {
    const key = instKey(i);
    const p = st.delays.get(key);
    const busy = !!p && (p.phase === "sending" || p.phase === "waiting");
    const li = node("li", { class: `instalment ${i.state}`, "data-instalment": key, "data-state": i.state },
      node("div", { class: "tranche-head" },
        node("span", { class: "what" }, node("b", { text: h.day(i.due) }), ` · ${i.shipment_id} no. ${i.index + 1}`),
        node("span", { class: "amount", text: h.money(i.state === "paid" ? i.amount : i.open) })),
      node("p", { class: "muted" }, node("span", { class: `tag ${i.state}`, text: i.state }),
        i.state === "paid" && i.paid_at ? ` paid ${h.moment(i.paid_at)}` : i.state === "overdue" ? " past its due date" : ""));
    if (i.state !== "paid") {
      const toggle = node("button", { type: "button", class: "ask", disabled: busy, "aria-expanded": String(st.open.has(key)), text: "Ask for a later date" });
      toggle.addEventListener("click", () => {
        if (st.open.has(key)) st.open.delete(key); else st.open.add(key);
        renderPlan(true);
        if (st.open.has(key)) document.getElementById(`due-${safeId(key)}`)?.focus();
      });
      li.append(node("div", { class: "actions" }, toggle));
      if (st.open.has(key)) li.append(delayForm(i, key, busy));
    }
    li.append(statusLine(p, st.notes.get(key)));
    return li;
  }

  function delayItem(d, byId) {
    const inst = byId.get(`${d.shipment_id}/${d.instalment_id}`);
    const what = inst ? `${d.shipment_id} no. ${inst.index + 1}` : d.shipment_id;
    return node("li", { "data-delay": d.request_id, "data-state": d.state },
      node("span", { class: "what" }, `${what} to `, node("b", { text: d.new_due ? h.day(d.new_due) : "—" })),
      node("span", { class: `tag ${d.state}`, text: d.state.replace(/_/g, " ") }),
      node("span", { class: "how", text: `asked ${h.moment(d.at)}${d.decided_at ? ` · answered ${h.moment(d.decided_at)}` : ""}` }));
  }

  function describeDelay(d) {
    if (d.state === "approved") return `Approved: due ${h.day(d.new_due)}.`;
    if (d.state === "refused") return "Refused by the bank; the due date stays.";
    if (d.state === "not_accepted") return `Not accepted: ${String(d.code || "").replace(/_/g, " ")}.`;
    return "Recorded: the bank has your request and will answer here.";
  }

  function renderPlan(force = false) {
    const plan = st.plan;
    if (!plan) return;
    const hasPlan = !!(st.terms && st.terms.repayment_plan);
    $("#plan").hidden = !plan.instalments.length && !hasPlan;
    const sig = JSON.stringify([plan, [...st.delays], [...st.notes], [...st.open]]);
    if (!force && sig === st.lastPlan) return; // keep focus and typing intact
    st.lastPlan = sig;
    const items = [...plan.instalments].sort((a, b) => (a.due < b.due ? -1 : a.due > b.due ? 1 : 0));
    const ul = $("#instalment-list");
    ul.replaceChildren(...items.map(instalmentItem));
    if (!items.length) ul.append(node("li", { class: "muted", text: "No instalments yet: a shipment's plan starts at its delivery." }));
    const byId = new Map(items.map((i) => [instKey(i), i]));
    $("#delays-title").hidden = !plan.delays.length;
    $("#delay-list").replaceChildren(...plan.delays.map((d) => delayItem(d, byId)));
  }

  async function askDelay(i, newDue, reason) {
    const key = instKey(i);
    st.delays.set(key, { phase: "sending", sentAt: Date.now(), text: "Sending…" });
    st.notes.delete(key);
    renderPlan(true);
    const path = h.path(`/instalments/${encodeURIComponent(i.shipment_id)}/${encodeURIComponent(i.instalment_id)}/delay`);
    try {
      const sent = await h.api(path, { method: "POST", body: JSON.stringify({ new_due: newDue, reason }) });
      st.open.delete(key);
      st.drafts.delete(key);
      st.delays.set(key, { phase: "waiting", id: sent.request_id, sentAt: Date.now(), text: SENT });
    } catch (err) {
      st.delays.delete(key);
      st.notes.set(key, `Not sent: ${err.message}`);
    }
    renderPlan(true);
    refreshPlan().catch(() => {});
  }

  async function refreshPlan() {
    st.plan = await h.api(h.path("/instalments"));
    const byId = new Map(st.plan.delays.map((d) => [d.request_id, d]));
    for (const [key, p] of st.delays) {
      const next = settle(p, p.id && byId.get(p.id), describeDelay);
      if (next.phase === "done") { st.delays.delete(key); st.notes.set(key, next.text); } else st.delays.set(key, next);
    }
    renderPlan();
  }

  // --- FX lock --------------------------------------------------------------------------

  function quoteItem(q) {
    const head = node("div", { class: "tranche-head" },
      node("span", { class: "what" }, node("b", { text: SIDE[q.side] || words(q.side) }), ` · asked ${h.moment(q.at)}`),
      node("span", { class: "amount", text: h.money(q.notional, q.currency) }));
    let body;
    if (q.state === "issued") {
      body = node("p", { class: "rate" }, node("b", { text: `1 ${q.base} = ${q.all_in_rate} ${q.quote}` }),
        ` · valid until ${h.moment(q.valid_until)}`);
    } else if (q.state === "refused") {
      body = node("p", { class: "muted", text: `Refused: ${words(q.code) || "no reason given"}.` });
    } else {
      body = node("p", { class: "muted", text: `Used by a repayment at 1 ${q.base} = ${q.all_in_rate} ${q.quote}.` });
    }
    const ref = q.quote_id ? node("p", { class: "how", text: `quote ${q.quote_id} (name it with your repayment)` }) : null;
    return node("li", { class: `quote ${q.state}`, "data-quote": q.request_id, "data-state": q.state },
      head, node("span", { class: `tag ${q.state}`, text: q.state }), body, ref);
  }

  function describeQuote(q) {
    if (q.state === "issued") return `Quoted: 1 ${q.base} = ${q.all_in_rate} ${q.quote}, valid until ${h.moment(q.valid_until)}.`;
    if (q.state === "refused") return `Refused: ${words(q.code)}.`;
    return "Used by a repayment.";
  }

  function renderFx(force = false) {
    const fx = st.fx;
    if (!fx) return;
    $("#fx").hidden = !fx.offered;
    const sig = JSON.stringify([fx, st.quote, st.notes.get("fx")]);
    if (!force && sig === st.lastFx) return;
    st.lastFx = sig;
    const lock = st.terms && st.terms.fx_lock;
    $("#fx-terms").textContent = lock
      ? `A locked rate holds ${lock.validity_minutes} minutes; spread ${lock.spread_bp} bp; at most ${h.money(lock.max_notional.amount, lock.max_notional.currency)} a quote.`
      : "";
    const busy = !!st.quote && (st.quote.phase === "sending" || st.quote.phase === "waiting");
    $("#fx-send").disabled = busy;
    $("#fx-status").replaceWith(Object.assign(statusLine(st.quote, st.notes.get("fx")), { id: "fx-status" }));
    const ul = $("#quote-list");
    ul.replaceChildren(...fx.quotes.slice(0, 10).map(quoteItem));
    if (!fx.quotes.length) ul.append(node("li", { class: "muted", text: "No quotes asked for yet." }));
  }

  async function askQuote(ev) {
    ev.preventDefault();
    const amount = $("#fx-amount");
    const currency = $("#fx-currency");
    currency.value = currency.value.trim().toUpperCase();
    const value = amount.value.trim();
    if (!/^\d+(\.\d{1,4})?$/.test(value) || /^0*(\.0*)?$/.test(value)) { amount.setCustomValidity("an amount above zero, like 25000.00"); amount.reportValidity(); return; }
    amount.setCustomValidity("");
    st.quote = { phase: "sending", sentAt: Date.now(), text: "Sending…" };
    st.notes.delete("fx");
    renderFx(true);
    try {
      const body = { side: $("#fx-side").value, amount: value, currency: currency.value };
      const sent = await h.api(h.path("/fx-quotes"), { method: "POST", body: JSON.stringify(body) });
      st.quote = { phase: "waiting", id: sent.request_id, sentAt: Date.now(), text: SENT };
    } catch (err) {
      st.quote = null;
      st.notes.set("fx", `Not sent: ${err.message}`);
    }
    renderFx(true);
    refreshFx().catch(() => {});
  }

  async function refreshFx() {
    st.fx = await h.api(h.path("/fx-quotes"));
    if (st.quote) {
      const next = settle(st.quote, st.quote.id && st.fx.quotes.find((q) => q.request_id === st.quote.id), describeQuote);
      if (next.phase === "done") { st.quote = null; st.notes.set("fx", next.text); } else st.quote = next;
    }
    renderFx();
  }

  // --- wiring ---------------------------------------------------------------------------

  $("#fx-form").addEventListener("submit", askQuote);

  return {
    /** Everything, after the facility's detail (its terms) was read. */
    async refresh(terms) {
      st.terms = terms || null;
      const [credit] = await Promise.all([h.api(h.path("/credit-profile")), refreshPlan(), refreshFx()]);
      renderCredit(credit);
    },
    /** On a short poll: only the lists a request sent from here waits on. */
    async refreshPending() {
      const work = [];
      if ([...st.delays.values()].some((p) => p.phase === "waiting")) work.push(refreshPlan());
      if (st.quote && st.quote.phase === "waiting") work.push(refreshFx());
      await Promise.all(work);
    },
    reset() {
      Object.assign(st, { plan: null, fx: null, terms: null, quote: null, lastPlan: "", lastFx: "" });
      for (const m of [st.delays, st.notes, st.drafts]) m.clear();
      st.open.clear();
      for (const id of ["#credit", "#plan", "#fx"]) $(id).hidden = true;
    },
  };
}
