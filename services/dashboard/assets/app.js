// The dashboard page. Everything shown comes from /api/… and is put into the page with
// textContent (never innerHTML): document text is hostile web content and must stay text.
"use strict";

const token = new URLSearchParams(location.search).get("token");

async function api(path) {
  const headers = token ? { Authorization: "Bearer " + token } : {};
  const response = await fetch(path, { headers, credentials: "same-origin" });
  if (!response.ok) {
    let message = response.status + " " + response.statusText;
    try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
    throw new Error(message);
  }
  return response.json();
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "class") node.className = value;
    else if (key === "onclick") node.addEventListener("click", value);
    else node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

const fmt = (n) => (n === null || n === undefined) ? "—" : Number(n).toLocaleString("en-US");
const pct = (x) => (100 * x).toFixed(1) + "%";

function bar(fraction, drop) {
  const b = el("div", { class: drop ? "bar drop" : "bar" });
  b.style.width = Math.max(0, Math.min(100, 100 * fraction)).toFixed(2) + "%";
  return b;
}

function table(node, head, rows) {
  node.replaceChildren(el("tr", {}, ...head.map(([label, cls]) => el("th", { class: cls || "" }, label))),
    ...rows);
}

function setStatus(text, error) {
  const s = document.getElementById("status");
  s.textContent = text;
  s.className = error ? "error" : "muted";
}

// ---- overview ----

async function loadOverview() {
  const [summary, funnel, runs] = await Promise.all([api("/api/summary"), api("/api/funnel"), api("/api/runs")]);
  document.getElementById("title").textContent = summary.title + " (" + summary.mode + ")";
  const first = funnel.steps.length ? funnel.steps[0].count : 0;
  table(document.getElementById("funnel"), [["step"], ["documents", "num"], [""], ["dropped here", "num"], ["why"]],
    funnel.steps.map((s) => el("tr", { "data-step": s.name },
      el("td", {}, s.name),
      el("td", { class: "num" }, fmt(s.count)),
      el("td", { class: "barcell" }, bar(first ? s.count / first : 0)),
      el("td", { class: "num" }, s.dropped ? fmt(s.dropped) : ""),
      el("td", { class: "reasons" }, s.reasons.slice(0, 4).map((r) => r.reason + " " + fmt(r.count)).join(", ") +
        (s.reasons.length > 4 ? ", … " + (s.reasons.length - 4) + " more" : "")))));
  const chars = document.getElementById("chars");
  chars.textContent = "characters written: " + fmt(funnel.chars_written) + " · curated: " +
    fmt(funnel.chars_curated) + (funnel.chars_curated_exact === false ? " (first documents only)" : "") +
    " · tokens: " + (funnel.tokens_curated === null || funnel.tokens_curated === undefined ? "— (no tokenizer)"
      : fmt(funnel.tokens_curated) + " (" + funnel.tokenizer + ")");
  table(document.getElementById("inputs"), [["snapshot"], ["input"], ["records", "num"], ["documents", "num"], ["MB", "num"]],
    runs.inputs.map((i) => el("tr", {}, el("td", {}, i.snapshot || "—"), el("td", {}, i.input),
      el("td", { class: "num" }, fmt(i.records)), el("td", { class: "num" }, fmt(i.documents)),
      el("td", { class: "num" }, (i.bytes / 1e6).toFixed(1)))));
  table(document.getElementById("runs"), [["finished"], ["inputs", "num"], ["records", "num"], ["documents", "num"], ["seconds", "num"], ["records/s", "num"], ["MB/s", "num"]],
    runs.runs.map((r) => el("tr", {}, el("td", {}, r.finished || ""), el("td", { class: "num" }, fmt(r.inputs)),
      el("td", { class: "num" }, fmt(r.records)), el("td", { class: "num" }, fmt(r.documents)),
      el("td", { class: "num" }, Number(r.seconds).toFixed(1)),
      el("td", { class: "num" }, fmt(Math.round(r.records / Math.max(r.seconds, 1e-9)))),
      el("td", { class: "num" }, (r.bytes / 1e6 / Math.max(r.seconds, 1e-9)).toFixed(1)))));
}

// Runs an action from a click, showing its error in the status line.
async function guarded(action) {
  try {
    await action();
  } catch (e) {
    setStatus(e.message, true);
  }
}

// ---- filters and dropped documents ----

let browsing = { filter: "", reason: "", page: 0 };

async function loadFilters() {
  const data = await api("/api/filters");
  const rows = [];
  for (const f of data.filters) {
    rows.push(el("tr", { "data-filter": f.filter },
      el("td", {}, el("b", {}, f.filter)), el("td", { class: "num" }, fmt(f.seen)),
      el("td", { class: "num" }, fmt(f.kept)), el("td", { class: "num" }, fmt(f.dropped)),
      el("td", { class: "num" }, f.seen ? pct(f.dropped / f.seen) : ""),
      el("td", { class: "barcell" }, bar(f.seen ? f.dropped / f.seen : 0, true))));
    for (const r of f.reasons) {
      rows.push(el("tr", {},
        el("td", {}, el("span", { class: "reason", "data-reason": r.reason, onclick: () => guarded(() => browse(f.filter, r.reason, 0)) }, r.reason)),
        el("td", {}), el("td", {}), el("td", { class: "num" }, fmt(r.count)), el("td", { class: "num" }, pct(r.share)),
        el("td", { class: "barcell" }, bar(r.share, true))));
    }
  }
  table(document.getElementById("filter-table"), [["filter / reason"], ["seen", "num"], ["kept", "num"], ["dropped", "num"], ["drop %", "num"], [""]], rows);
}

function scoreLine(scores) {
  const line = el("div", { class: "scores" });
  for (const [key, value] of Object.entries(scores || {})) {
    const shown = typeof value === "number" ? (Number.isInteger(value) ? value : value.toFixed(4))
      : typeof value === "string" ? value : JSON.stringify(value);
    line.append(el("b", {}, key), " " + shown + "  ");
  }
  return line;
}

async function browse(filter, reason, page) {
  browsing = { filter, reason, page };
  const data = await api("/api/dropped?filter=" + encodeURIComponent(filter) + "&reason=" +
    encodeURIComponent(reason) + "&page=" + page + "&per_page=10");
  document.getElementById("dropped").hidden = false;
  document.getElementById("dropped-title").textContent = "Dropped by " + filter + ": " + reason;
  const pages = Math.max(1, Math.ceil(data.examples / data.per_page));
  document.getElementById("page-info").textContent = "page " + (page + 1) + " of " + pages + " · " +
    fmt(data.examples) + (data.examples === 1 ? " stored example" : " stored examples");
  document.getElementById("prev").disabled = page <= 0;
  document.getElementById("next").disabled = page + 1 >= pages;
  document.getElementById("dropped-list").replaceChildren(...data.items.map((d) => el("div", { class: "doc" },
    el("div", { class: "url" }, d.url),
    el("div", { class: "muted" }, [d.snapshot, d.date, fmt(d.chars) + " characters", d.id].filter((x) => x).join(" · ")),
    el("div", { class: "scores" }, el("b", {}, "reason"), " " + d.reason),
    scoreLine(d.scores),
    el("pre", {}, d.text + (d.text_truncated ? "\n…" : "")))));
  if (!data.items.length) document.getElementById("dropped-list").replaceChildren(el("p", { class: "muted" }, "No stored example for this reason."));
  document.getElementById("dropped").scrollIntoView({ block: "start" });
}

// ---- distributions ----

function chart(title, rows, note, drop) {
  const max = Math.max(1, ...rows.map((r) => r[1]));
  return el("div", { class: "chart" }, el("h3", {}, title), note ? el("div", { class: "muted" }, note) : null,
    rows.length ? null : el("div", { class: "muted" }, "none"),
    ...rows.map(([label, value]) => el("div", { class: "row" }, el("span", { class: "label", title: label }, label),
      bar(value / max, drop), el("span", { class: "num" }, fmt(value)))));
}

function histogramRows(h, digits) {
  return h.edges.map((edge, i) => [(i + 1 < h.edges.length ? edge.toFixed(digits) + "–" + h.edges[i + 1].toFixed(digits) : "≥ " + edge.toFixed(digits)), h.counts[i]]);
}

async function loadDistributions() {
  const d = await api("/api/distributions");
  document.getElementById("dist-note").textContent = fmt(d.documents_scanned) + " curated documents" +
    (d.truncated ? " (the first ones only)" : "") + "; dropped domains from the stored dropped examples.";
  const charts = [
    chart("document length (characters)", histogramRows(d.length, 0)),
    chart("language", d.languages.map((l) => [l.name, l.count])),
    chart("language score", histogramRows(d.language_score, 1)),
    chart("top domains kept", d.top_domains_kept.map((x) => [x.name, x.count])),
    chart("top domains dropped", d.top_domains_dropped.map((x) => [x.name, x.count]), null, true),
    chart("duplicate-cluster sizes", d.cluster_sizes.map((c) => ["size " + c.size, c.clusters])),
  ];
  for (const [filter, keys] of Object.entries(d.scores)) {
    for (const [name, s] of Object.entries(keys)) {
      if (!s.histogram) continue;
      charts.push(chart(filter + ": " + name, histogramRows(s.histogram, 1), "mean " + s.mean.toFixed(3)));
    }
  }
  document.getElementById("charts").replaceChildren(...charts);
}

// ---- jobs ----

async function loadJobs() {
  const all = await api("/api/jobs");
  const jobs = all.filter((j) => j.kind !== "train");
  table(document.getElementById("job-table"), [["job"], ["name"], ["state"], ["tasks done", "num"], ["failed", "num"], ["records", "num"], ["documents", "num"], ["records/s", "num"], ["ETA s", "num"]],
    jobs.map((j) => el("tr", {}, el("td", {}, j.job_id), el("td", {}, j.name), el("td", {}, j.state),
      el("td", { class: "num" }, fmt(j.tasks_done) + " / " + fmt(j.tasks_total)), el("td", { class: "num" }, fmt(j.tasks_failed)),
      el("td", { class: "num" }, fmt(j.records)), el("td", { class: "num" }, fmt(j.documents)),
      el("td", { class: "num" }, fmt(Math.round(j.records_per_second || 0))),
      el("td", { class: "num" }, j.eta_seconds < 0 ? "?" : fmt(Math.round(j.eta_seconds))))));
  if (!jobs.length) document.getElementById("job-table").replaceChildren(el("tr", {}, el("td", { class: "muted" }, all.length ? "No curation jobs." : "No cluster jobs (an embedded run).")));
  await loadTraining(all.filter((j) => j.kind === "train"));
}

// ---- training jobs ----

let trainingShown = null;  // the job whose curve is drawn
const num = (x, digits) => (typeof x === "number") ? x.toFixed(digits) : "—";

async function loadTraining(jobs) {
  const node = document.getElementById("training-table");
  table(node, [["job"], ["name"], ["state"], ["model"], ["step", "num"], ["loss", "num"], ["val loss", "num"], ["val bpb", "num"], ["tokens/s", "num"], ["MFU", "num"], ["ETA s", "num"], ["checkpoint"]],
    jobs.map((j) => {
      const t = j.training || {};
      const row = el("tr", { class: "clickable" + (j.job_id === trainingShown ? " selected" : ""), "data-job": j.job_id },
        el("td", {}, j.job_id), el("td", {}, j.name), el("td", {}, j.state + (j.error ? ": " + j.error : "")), el("td", {}, t.model),
        el("td", { class: "num" }, fmt(t.step) + " / " + fmt(t.steps)), el("td", { class: "num" }, t.step ? num(t.loss, 4) : "—"),
        el("td", { class: "num" }, num(t.val_loss, 4)), el("td", { class: "num" }, num(t.val_bpb, 4)),
        el("td", { class: "num" }, t.tokens_per_s ? fmt(Math.round(t.tokens_per_s)) : "—"), el("td", { class: "num" }, t.mfu ? pct(t.mfu) : "—"),
        el("td", { class: "num" }, j.state === "running" && j.eta_seconds >= 0 ? fmt(Math.round(j.eta_seconds)) : "—"),
        el("td", { class: "path" }, t.checkpoint ? t.worker + ":" + t.checkpoint : "—"));
      row.addEventListener("click", () => guarded(() => showCurve(j.job_id)));
      return row;
    }));
  if (!jobs.length) {
    node.replaceChildren(el("tr", {}, el("td", { class: "muted" }, "No training jobs: winnow submit --train CONFIG (or winnow train --coordinator) starts one.")));
    document.getElementById("training-curve").replaceChildren();
    return;
  }
  if (!jobs.some((j) => j.job_id === trainingShown)) trainingShown = jobs[jobs.length - 1].job_id;
  await showCurve(trainingShown);
}

const SVG = "http://www.w3.org/2000/svg";
function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

// The loss curve of one training job: training loss per step (a line) and validation loss (dots).
async function showCurve(job) {
  trainingShown = job;
  for (const row of document.querySelectorAll("#training-table tr[data-job]")) row.classList.toggle("selected", row.dataset.job === job);
  const { metrics } = await api("/api/training?job=" + encodeURIComponent(job));
  const box = document.getElementById("training-curve");
  const train = metrics.filter((m) => typeof m.loss === "number" && m.step > 0);
  const val = metrics.filter((m) => typeof m.val_loss === "number");
  if (!train.length && !val.length) {
    box.replaceChildren(el("p", { class: "muted" }, job + ": no steps reported yet."));
    return;
  }
  const W = 640, H = 260, L = 48, R = 12, T = 12, B = 32;
  const steps = metrics.map((m) => m.step);
  const losses = train.map((m) => m.loss).concat(val.map((m) => m.val_loss));
  const x0 = Math.min(...steps), x1 = Math.max(...steps, x0 + 1);
  let y0 = Math.min(...losses), y1 = Math.max(...losses);
  if (y1 - y0 < 1e-6) { y0 -= 0.5; y1 += 0.5; }
  const X = (s) => L + (s - x0) / (x1 - x0) * (W - L - R);
  const Y = (v) => T + (y1 - v) / (y1 - y0) * (H - T - B);
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "curve", role: "img", "aria-label": "loss curve of " + job });
  for (let i = 0; i <= 4; i++) {
    const v = y0 + (y1 - y0) * i / 4;
    chart.append(svg("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid" }));
    chart.append(svg("text", { x: L - 6, y: Y(v) + 4, "text-anchor": "end", class: "tick" }, v.toFixed(2)));
  }
  for (const s of [x0, Math.round((x0 + x1) / 2), x1]) {
    chart.append(svg("text", { x: X(s), y: H - B + 16, "text-anchor": "middle", class: "tick" }, s));
  }
  chart.append(svg("text", { x: (L + W - R) / 2, y: H - 4, "text-anchor": "middle", class: "tick" }, "step"));
  if (train.length) {
    chart.append(svg("polyline", { points: train.map((m) => X(m.step).toFixed(1) + "," + Y(m.loss).toFixed(1)).join(" "), class: "train-loss" }));
  }
  for (const m of val) chart.append(svg("circle", { cx: X(m.step), cy: Y(m.val_loss), r: 3.5, class: "val-loss" }));
  const last = metrics[metrics.length - 1];
  box.replaceChildren(el("h3", {}, job + " — training loss (line) and validation loss (dots)"), chart,
    el("p", { class: "muted" }, `${train.length} steps, ${val.length} evaluations; last step ${last.step}` +
      (typeof last.lr === "number" ? `, lr ${last.lr.toExponential(2)}` : "")));
}

// ---- tabs ----

const loaders = { overview: loadOverview, filters: loadFilters, distributions: loadDistributions, jobs: loadJobs };

async function show() {
  const tab = (location.hash || "#overview").slice(1);
  for (const section of document.querySelectorAll(".tab")) section.hidden = section.id !== tab;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.tab === tab);
  try {
    setStatus("loading…");
    await (loaders[tab] || loadOverview)();
    setStatus("updated " + new Date().toLocaleTimeString());
  } catch (e) {
    setStatus(e.message, true);
  }
}

window.addEventListener("hashchange", show);
document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("prev").addEventListener("click", () => guarded(() => browse(browsing.filter, browsing.reason, browsing.page - 1)));
  document.getElementById("next").addEventListener("click", () => guarded(() => browse(browsing.filter, browsing.reason, browsing.page + 1)));
  show();
  // Refresh the overview and jobs, unless the user is selecting text.
  setInterval(() => {
    const tab = location.hash || "#overview";
    if ((tab === "#overview" || tab === "#jobs") && String(window.getSelection()) === "") show();
  }, 10000);
});
