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
  const jobs = await api("/api/jobs");
  table(document.getElementById("job-table"), [["job"], ["name"], ["state"], ["tasks done", "num"], ["failed", "num"], ["records", "num"], ["documents", "num"], ["records/s", "num"], ["ETA s", "num"]],
    jobs.map((j) => el("tr", {}, el("td", {}, j.job_id), el("td", {}, j.name), el("td", {}, j.state),
      el("td", { class: "num" }, fmt(j.tasks_done) + " / " + fmt(j.tasks_total)), el("td", { class: "num" }, fmt(j.tasks_failed)),
      el("td", { class: "num" }, fmt(j.records)), el("td", { class: "num" }, fmt(j.documents)),
      el("td", { class: "num" }, fmt(Math.round(j.records_per_second || 0))),
      el("td", { class: "num" }, j.eta_seconds < 0 ? "?" : fmt(Math.round(j.eta_seconds))))));
  if (!jobs.length) document.getElementById("job-table").replaceChildren(el("tr", {}, el("td", { class: "muted" }, "No cluster jobs (an embedded run).")));
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
