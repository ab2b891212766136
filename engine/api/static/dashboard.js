// The zkrisk dashboard: one EventSource on /dashboard/stream; every message is the whole state.
// Plain JS, no build step; charts are uPlot (vendored). window.__renders records when each
// state reached the DOM (the browser test measures journal time -> screen from it).
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const charts = {};
  window.__renders = [];

  const usd = (v) => v == null ? "—" : "$" + Number(v).toLocaleString("en-US", {maximumFractionDigits: 2});
  const num = (v, d = 2) => v == null ? "—" : Number(v).toLocaleString("en-US", {maximumFractionDigits: d});
  const bps = (v) => v == null ? "—" : num(v / 100, 2) + " %";
  const time = (t) => t == null ? "—" : new Date(t * 1000).toISOString().slice(11, 23);
  const esc = (s) => String(s == null ? "" : s).replace(/[&<>"']/g,
    (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
  const kv = (pairs) => pairs.map(([k, v, cls]) =>
    `<span>${esc(k)} <b class="${cls || ""}">${esc(v)}</b></span>`).join("");
  const notYet = (text) => `<div class="not-yet">${esc(text)}</div>`;
  const table = (head, rows) => `<tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>` +
    rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`).join("");
  const bar = (value, limit) => {
    if (value == null || !limit) return "";
    const share = Math.min(Math.abs(value) / limit, 1) * 100;
    return `<div class="bar"><i class="${Math.abs(value) > limit ? "over" : ""}" style="width:${share}%"></i></div>`;
  };
  const mark = (panel, filled) => document.querySelector(`[data-panel="${panel}"]`)
    .setAttribute("data-filled", filled ? "data" : "not-yet");

  function chart(id, title, names, colors) {
    const el = $(id);
    if (charts[id]) return charts[id];
    const series = [{}].concat(names.map((n, i) => ({label: n, stroke: colors[i], width: i ? 1 : 2,
      dash: i ? [6, 4] : undefined, points: {show: false}})));
    const opts = {title, width: Math.max(el.clientWidth, 300), height: 180, series,
      scales: {x: {time: true}}, axes: [{stroke: "#8593a3", grid: {stroke: "#2a3440"}},
        {stroke: "#8593a3", grid: {stroke: "#2a3440"}, size: 90}], legend: {show: true}};
    charts[id] = new uPlot(opts, [[]].concat(names.map(() => [])), el);
    return charts[id];
  }
  function plot(id, title, t, lines) {  // lines: [[name, values or constant, color]]
    const c = chart(id, title, lines.map((l) => l[0]), lines.map((l) => l[2]));
    c.setData([t].concat(lines.map(([, v]) => Array.isArray(v) ? v : t.map(() => v))));
  }

  function renderTrading(run) {
    const tr = run.trading, b = tr.breakers, s = tr.series;
    const badge = $("trading-state");
    badge.textContent = tr.state;
    badge.className = "badge " + tr.state;
    $("trading-kv").innerHTML = kv([
      ["state", tr.state, tr.state === "ACTIVE" ? "ok" : "bad"], ["equity", usd(tr.equity_usd)],
      ["P&L", usd(tr.pnl_usd)], ["peak", usd(tr.peak_usd)], ["drawdown", bps(tr.drawdown_bps)],
      ["daily loss", usd(tr.daily_loss_usd)], ["reducing at", bps(b.reducing_drawdown_bps)],
      ["halt at", bps(b.halt_drawdown_bps)], ["halt at daily loss", usd(b.halt_daily_loss_usd)],
      ["why", tr.reason ? `${tr.reason}: ${tr.detail}` : "—"]]);
    plot("chart-equity", "Equity, USD", s.t, [["equity", s.equity_usd, "#58a6ff"]]);
    const dd = [["drawdown (bps)", s.drawdown_bps, "#d29922"]];
    if (b.reducing_drawdown_bps != null) dd.push(["reducing", b.reducing_drawdown_bps, "#d29922"]);
    if (b.halt_drawdown_bps != null) dd.push(["halt", b.halt_drawdown_bps, "#f85149"]);
    plot("chart-drawdown", "Drawdown from peak, bps", s.t, dd);
    $("transitions").innerHTML = tr.transitions.slice(0, 4).map((x) =>
      `${time(x.t)} ${esc(x.previous)} → <b>${esc(x.current)}</b> (${esc(x.reason)}) ${esc(x.detail)}`).join("<br>");
    mark("trading", true);
  }

  function renderPrices(run) {
    const rows = Object.entries(run.prices).map(([sym, q]) =>
      [esc(sym), `<span id="price-${esc(sym)}" data-recv-ns="${q.recv_ns}">${num(q.mid, 4)}</span>`,
       time(q.recv_ns / 1e9), esc(q.position)]);
    $("prices").innerHTML = rows.length ? table(["symbol", "mid", "journaled", "position"], rows)
      : "<tr><td class='not-yet'>no quote journaled yet</td></tr>";
    mark("prices", rows.length > 0);
  }

  function renderExposure(run) {
    const e = run.exposure;
    const conc = Object.entries(e.concentration).map(([s, v]) =>
      [esc(s), bps(v), `${bar(v, e.max_concentration_bps)}`]);
    $("exposure").innerHTML =
      `<div>gross ${usd(e.gross_usd)} of ${usd(e.max_gross_usd)}</div>${bar(e.gross_usd, e.max_gross_usd)}` +
      `<div>net ${usd(e.net_usd)} of ${usd(e.max_net_usd)}</div>${bar(e.net_usd, e.max_net_usd)}` +
      `<div>leverage <b>${num(e.leverage, 4)}×</b> <span class="muted">${esc(e.leverage_note)}</span></div>` +
      `<div>concentration (cap ${bps(e.max_concentration_bps)} once gross ≥ ${usd(e.concentration_min_gross_usd)})</div>` +
      `<table>${table(["asset", "share of gross", ""], conc)}</table>`;
    mark("exposure", true);
  }

  function renderTail(run) {
    const v = run.tail_risk;
    $("tail-kv").innerHTML = kv([["α", num(v.alpha * 100, 2) + " %"],
      ["VaR now", usd(v.var_usd), v.var_usd > v.max_var_usd ? "bad" : ""], ["limit", usd(v.max_var_usd)],
      ["ES now", usd(v.es_usd), v.max_es_usd && v.es_usd > v.max_es_usd ? "bad" : ""],
      ["ES limit", usd(v.max_es_usd)], ["", v.note]]);
    plot("chart-var", "Post-trade VaR at each verdict, USD", v.series.t,
      [["VaR", v.series.post_trade_var_usd, "#58a6ff"], ["limit", v.max_var_usd, "#f85149"]]);
    mark("tail", v.var_usd != null || v.series.t.length > 0);
  }

  function renderHealth(run) {
    const h = run.health;
    $("health-kv").innerHTML = kv([["now", h.health_factor == null ? "∞" : num(h.health_factor, 4)],
      ["policy min", num(h.policy_min, 4)],
      [`vault min${h.vault_min_source ? ` (${h.vault_min_source})` : ""}`,
        h.vault_min == null ? "—" : num(h.vault_min, 4)],
      ...(h.vault_degraded_min == null ? [] : [["vault degraded min", num(h.vault_degraded_min, 4)]]),
      ["", h.note], ["", h.vault_note]]);
    const lines = [["post-trade HF", h.series.post_trade_health_factor, "#58a6ff"],
      ["policy min", h.policy_min, "#f85149"]];
    if (h.vault_min != null) lines.push([`vault min (${h.vault_min_source})`, h.vault_min, "#d29922"]);
    plot("chart-hf", "Post-trade health factor at each verdict", h.series.t, lines);
    mark("health", true);
  }

  function renderHeartbeats(run) {
    const rows = Object.entries(run.heartbeats).map(([c, h]) => [esc(c),
      `<span class="${h.missed ? "bad" : "ok"}">${num(h.age_seconds, 2)} s</span>`,
      `${num(h.limit_seconds, 2)} s`, h.missed ? "<b class='bad'>MISSED</b>" : "ok"]);
    $("heartbeats").innerHTML = table(["component", "age", "limit", ""], rows);
    mark("heartbeats", rows.length > 0);
  }

  function latest(list, fmt) {
    return list.length ? list.map((x) => `<div>${time(x.t)} ${fmt(x)}</div>`).join("")
      : "<div class='muted'>none</div>";
  }
  function renderFeeds(run) {
    const f = run.feeds;
    const health = Object.entries(f.health).map(([s, v]) =>
      `<b class="${v === "HEALTHY" ? "ok" : "warn"}">${esc(s)}: ${esc(v)}</b>`).join(" ");
    $("feeds").innerHTML = `<div>${health || "<span class='muted'>no feed health yet</span>"}</div>` +
      `<div>quarantined <b id="quarantined-count">${f.quarantined.count}</b></div>` +
      `<div class="list">${latest(f.quarantined.latest, (x) => `${esc(x.source)} ${esc(x.reason)}: ${esc(x.detail)}`)}</div>` +
      `<div>feed gaps <b id="gap-count">${f.gaps.count}</b></div>` +
      `<div class="list">${latest(f.gaps.latest, (x) => `${esc(x.source)} ${esc(x.symbol || "")} expected ${x.expected}, got ${x.received}`)}</div>`;
    mark("feeds", true);
  }

  function renderReconciliation(run) {
    const r = run.reconciliation;
    $("reconciliation").innerHTML = r.count
      ? `<div>mismatches <b>${r.count}</b></div><div class="list">${latest(r.latest, (x) =>
          `${esc(x.venue)} ${esc(x.symbol)}: book ${x.book}, venue ${x.venue_quantity}`)}</div>`
      : notYet(r.note);
    mark("reconciliation", r.count > 0);
  }

  function renderService(state) {
    const k = state.kill_switch;
    $("kill-kv").innerHTML = kv([["run", state.run ? state.run.trading.state : "—",
        state.run && state.run.trading.state === "HALTED" ? "bad" : "ok"],
      ["service switch", k.engaged ? "ENGAGED" : "released", k.engaged ? "bad" : "ok"],
      ["reason", k.reason || "—"]]);
    mark("killswitch", true);
    const a = state.audit;
    $("audit-kv").innerHTML = kv([["chain head", a.head ? a.head.slice(0, 16) + "…" : "— (empty log)"],
      [!a.root || a.root.anchored ? "anchored root" : "checkpoint root (not anchored yet)",
        a.root ? `${a.root.root.slice(0, 16)}… over ${a.root.size} rows` +
          (a.root.anchored ? ` (tx ${a.root.tx.slice(0, 12)}…, block ${a.root.block})` : "") : "—"],
      ["", a.root_note]]);
    $("audit").innerHTML = table(["seq", "time", "kind", "subject", "outcome", "hash"],
      a.latest.map((r) => [r.seq, time(r.t), esc(r.kind), esc(r.subject), esc(r.outcome),
        esc(r.hash.slice(0, 16)) + "…"]));
    mark("audit", a.latest.length > 0);
    const p = state.proofs;
    const ms = (v) => v == null ? "—" : `${num(v)} ms`;
    $("proofs").innerHTML = p.note ? notYet(p.note) : kv([["p50", ms(p.p50_ms)],
      ["p95", ms(p.p95_ms)], ["prove queue", p.queue == null ? "—" : `${p.queue} accounts`],
      ["proofs", p.proofs], ["", p.proofs_note], ["", p.stale_note]]);
    mark("proofs", !p.note);
  }

  function render(state) {
    $("run-note").textContent = state.run_note || "";
    if (state.run) {
      renderTrading(state.run); renderPrices(state.run); renderExposure(state.run);
      renderTail(state.run); renderHealth(state.run); renderHeartbeats(state.run);
      renderFeeds(state.run); renderReconciliation(state.run);
    } else {
      const waiting = notYet(state.run_note || "no run state yet");
      for (const id of ["trading-kv", "prices", "exposure", "tail-kv", "health-kv", "heartbeats", "feeds", "reconciliation"]) {
        $(id).innerHTML = waiting;
      }
      for (const p of ["trading", "prices", "exposure", "tail", "health", "heartbeats", "feeds", "reconciliation"]) mark(p, false);
    }
    renderService(state);
    const recv = state.run ? Math.max(0, ...Object.values(state.run.prices).map((q) => q.recv_ns)) : 0;
    window.__renders.push({recv_ns: recv, position: state.run ? state.run.position : 0, shown_ms: Date.now()});
    if (window.__renders.length > 1000) window.__renders.shift();
  }

  function connect() {
    const source = new EventSource("/dashboard/stream");
    source.addEventListener("state", (msg) => {
      $("connection").textContent = "live";
      render(JSON.parse(msg.data));
    });
    source.onerror = () => { $("connection").textContent = "reconnecting…"; };
  }

  async function kill(engaged) {
    const token = $("kill-token").value;
    const res = await fetch("/dashboard/killswitch", {method: "POST",
      headers: {"Content-Type": "application/json", "Authorization": "Bearer " + token},
      body: JSON.stringify({engaged, reason: $("kill-reason").value || "dashboard kill switch"})});
    const body = await res.json().catch(() => ({}));
    $("kill-result").textContent = res.ok
      ? `${engaged ? "halt" : "resume"} journaled at position ${body.journal_position}`
      : `refused (${res.status}): ${body.detail || ""}`;
    $("kill-result").className = res.ok ? "ok" : "bad";
  }
  $("kill-form").addEventListener("submit", (e) => { e.preventDefault(); kill(true); });
  $("kill-release").addEventListener("click", () => kill(false));
  connect();
})();
