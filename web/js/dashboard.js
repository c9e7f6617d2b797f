// The live dashboard (/dashboard): polls the server once a second and charts the last two minutes
// of load, latency and cache use, with tiles for the current numbers and tables of the loaded
// models and the requests in flight. Everything shown is derived in the browser from /metrics,
// /v1/engine/stats, /api/ps and /v1/engine/requests, so the server keeps no history for it.

import { apiFetch, apiKey, setApiKey, errorMessage, ServerStatus } from "./api.js";
import { LineChart } from "./chart.js";
import { parseMetrics, sumOf, counterIncrease, windowQuantile } from "./prometheus.js";

const POLL_MS = 1000;
const HISTORY_MS = 120_000;
const QUANTILE_WINDOW_MS = 30_000;   // latency quantiles and hit rate: recent, yet not jumpy
const FETCH_TIMEOUT_MS = 5000;       // a hung request must not stall the one-at-a-time loop

const SERIES = ["running", "waiting", "generated_tps", "prompt_tps", "ttft_p50_ms", "ttft_p99_ms",
  "itl_p50_ms", "itl_p99_ms", "kv_use_pct", "prefix_hit_pct"];
const history = Object.fromEntries(SERIES.map((k) => [k, []]));
// Read by tests (and handy from the console): the same arrays the charts draw.
const dashboard = { history, polls: 0 };
window.nagareDashboard = dashboard;

const $ = (id) => document.getElementById(id);
const errorLine = $("dashboard-error");
const status = new ServerStatus($("server-banner"), () => {
  // A server that comes back may be a newer build that has the requests endpoint.
  requestsSupported = true;
});

let requestsSupported = true;
let prevStats = null;       // { t, generated, prompt } of the previous poll, for rates
const snapshots = [];       // { t, metrics } of recent polls, for the 30 s windows

// --- formatting -------------------------------------------------------------------------------

function fixed(v, digits) {
  return v.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const fmtCount = (v) => fixed(v, 0);
const fmtRate = (v) => fixed(v, v < 100 ? 1 : 0);
const fmtPct = (v) => `${fixed(v, 1)} %`;
const fmtMs = (v) => `${fixed(v, v < 10 ? 2 : v < 100 ? 1 : 0)} ms`;

function fmtBytes(n) {
  if (!Number.isFinite(n)) return "–";
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${fixed(n, i === 0 ? 0 : 1)} ${units[i]}`;
}

// Ollama says a pinned model expires in the year 9999; anything else is a countdown.
function fmtExpiry(iso) {
  const when = Date.parse(iso);
  if (!Number.isFinite(when) || new Date(when).getUTCFullYear() >= 9999) return "never";
  const s = Math.round((when - Date.now()) / 1000);
  if (s <= 0) return "now";
  return s < 120 ? `in ${s} s` : `in ${Math.round(s / 60)} min`;
}

// --- charts -----------------------------------------------------------------------------------

const charts = [
  new LineChart($("chart-requests"), $("legend-requests"), [
    { key: "running", label: "running", color: "--chart-1" },
    { key: "waiting", label: "waiting", color: "--chart-2", dashed: true },
  ], { integer: true, format: fmtCount }),
  new LineChart($("chart-tps"), $("legend-tps"), [
    { key: "generated_tps", label: "generated", color: "--chart-1" },
    { key: "prompt_tps", label: "prompt", color: "--chart-2", dashed: true },
  ], { format: fmtRate }),
  new LineChart($("chart-ttft"), $("legend-ttft"), [
    { key: "ttft_p50_ms", label: "p50", color: "--chart-1" },
    { key: "ttft_p99_ms", label: "p99", color: "--chart-2", dashed: true },
  ], { format: fmtMs }),
  new LineChart($("chart-itl"), $("legend-itl"), [
    { key: "itl_p50_ms", label: "p50", color: "--chart-1" },
    { key: "itl_p99_ms", label: "p99", color: "--chart-2", dashed: true },
  ], { format: fmtMs }),
  new LineChart($("chart-kv"), $("legend-kv"), [
    { key: "kv_use_pct", label: "KV use", color: "--chart-3" },
    { key: "prefix_hit_pct", label: "prefix-cache hits", color: "--chart-4", dashed: true },
  ], { max: 100, format: fmtPct }),
];

function record(t, values) {
  for (const key of SERIES) {
    const points = history[key];
    points.push({ t, v: values[key] ?? null });
    // Keep a little beyond the window so lines enter from the chart's left edge.
    while (points.length && points[0].t < t - HISTORY_MS - 5000) points.shift();
  }
  const now = Date.now();
  for (const c of charts) c.update(history, now);
}

// --- tiles and tables -------------------------------------------------------------------------

function setTile(id, value, format) {
  $(id).textContent = value == null ? "–" : format(value);
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

// Tables are rebuilt only when their data changed, so text selection and screen readers are
// not disturbed every second.
const lastRendered = new Map();
function changed(id, data) {
  const key = JSON.stringify(data);
  if (lastRendered.get(id) === key) return false;
  lastRendered.set(id, key);
  return true;
}

function renderModels(models, metrics) {
  // /metrics names a model without Ollama's ":latest" tag; match either spelling.
  const memory = new Map();
  for (const s of metrics.samples)
    if (s.name === "nagare:model_memory_bytes") memory.set(s.labels.model_name, s.value);
  const rows = models.map((m) => ({
    name: m.name,
    size: fmtBytes(m.size),
    memory: fmtBytes(memory.get(m.name) ?? memory.get(m.name.replace(/:latest$/, "")) ?? memory.get(m.model)),
    expires: fmtExpiry(m.expires_at),
  }));
  if (!changed("models", rows)) return;
  const body = $("models-table").tBodies[0];
  body.replaceChildren();
  for (const r of rows) {
    const tr = body.insertRow();
    cell(tr, r.name);
    cell(tr, r.size, "num");
    cell(tr, r.memory, "num");
    cell(tr, r.expires);
  }
  $("models-table").hidden = rows.length === 0;
  $("models-empty").hidden = rows.length > 0;
}

function renderRequests(list) {
  const rows = list.map((r) => ({
    model: r.model ?? "", user: r.user ?? "", state: r.state ?? "",
    age: Number.isFinite(r.age_s) ? fixed(r.age_s, 1) : "–",
    prompt: `${fmtCount(r.prompt_tokens ?? 0)} (${fmtCount(r.cached_tokens ?? 0)})`,
    generated: fmtCount(r.completion_tokens ?? 0),
  }));
  if (!changed("requests", rows)) return;
  // The user column only earns its space when requests carry users (API keys with names).
  const showUser = rows.some((r) => r.user);
  document.querySelector("#requests-table .col-user").hidden = !showUser;
  const body = $("requests-table").tBodies[0];
  body.replaceChildren();
  for (const r of rows) {
    const tr = body.insertRow();
    cell(tr, r.model);
    if (showUser) cell(tr, r.user);
    cell(tr, r.state, `state state-${r.state.replace(/[^a-z]/g, "")}`);
    cell(tr, r.age, "num");
    cell(tr, r.prompt, "num");
    cell(tr, r.generated, "num");
  }
  $("requests-table").hidden = rows.length === 0;
  $("requests-empty").hidden = rows.length > 0;
}

function showError(text) {
  errorLine.textContent = text;
  errorLine.hidden = !text;
}

// --- polling ----------------------------------------------------------------------------------

function get(path) {
  return apiFetch(path, { cache: "no-store", signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
}

// The snapshot that starts the 30 s window: the newest one at least 30 s old, or the oldest
// kept while the page has not yet run that long. Older ones are no longer needed.
function windowStart(t) {
  let i = 0;
  while (i + 1 < snapshots.length && snapshots[i + 1].t <= t - QUANTILE_WINDOW_MS) i++;
  snapshots.splice(0, i);
  return snapshots[0];
}

async function refresh() {
  // While the server is down ServerStatus polls /health itself; fetching here too would only
  // add failed requests. The charts get a gap for the time it is away.
  if (status.down) return record(Date.now(), {});
  let responses;
  try {
    responses = await Promise.all([get("/metrics"), get("/v1/engine/stats"), get("/api/ps"),
      requestsSupported ? get("/v1/engine/requests") : null]);
  } catch {
    status.check();  // unreachable or timed out: let the banner say so and retry
    return record(Date.now(), {});
  }
  const [metricsRes, statsRes, psRes, requestsRes] = responses;
  const refused = [metricsRes, statsRes, psRes].find((r) => !r.ok);
  if (refused) {
    // 401 needs the key typed above. A 5xx may be the server loading or draining, or a proxy
    // in front of it that cannot reach it: /health tells which, and the banner says so.
    if (refused.status >= 500) status.check();
    showError(await errorMessage(refused));
    return record(Date.now(), {});
  }
  const [metricsText, stats, ps] = await Promise.all([metricsRes.text(), statsRes.json(), psRes.json()]);
  let requests = null;
  if (requestsRes && requestsRes.status === 404) requestsSupported = false;  // an older server
  else if (requestsRes && requestsRes.ok) requests = (await requestsRes.json()).data || [];
  $("requests-section").hidden = !requestsSupported;

  const t = Date.now();
  const metrics = parseMetrics(metricsText);
  const values = {
    running: sumOf(metrics, "nagare:num_requests_running"),
    waiting: sumOf(metrics, "nagare:num_requests_waiting"),
    kv_use_pct: stats.kv_blocks_total > 0 ? (100 * stats.kv_blocks_in_use) / stats.kv_blocks_total : null,
  };
  // Rates from the engine's counters; a counter that went down (a model reloaded, the server
  // restarted) gives no rate for this interval rather than a negative one.
  if (prevStats) {
    const dt = (t - prevStats.t) / 1000;
    const gen = stats.generated_tokens - prevStats.generated;
    const prompt = stats.prompt_tokens - prevStats.prompt;
    if (dt > 0 && gen >= 0 && prompt >= 0) {
      values.generated_tps = gen / dt;
      values.prompt_tps = prompt / dt;
    }
  }
  prevStats = { t, generated: stats.generated_tokens, prompt: stats.prompt_tokens };

  snapshots.push({ t, metrics });
  const start = windowStart(t).metrics;
  const ms = (q, name) => {
    const v = windowQuantile(q, metrics, start, name);
    return v == null ? null : v * 1000;
  };
  values.ttft_p50_ms = ms(0.5, "nagare:time_to_first_token_seconds");
  values.ttft_p99_ms = ms(0.99, "nagare:time_to_first_token_seconds");
  values.itl_p50_ms = ms(0.5, "nagare:inter_token_latency_seconds");
  values.itl_p99_ms = ms(0.99, "nagare:inter_token_latency_seconds");
  const queries = counterIncrease(metrics, start, "nagare:prefix_cache_queries_total");
  const hits = counterIncrease(metrics, start, "nagare:prefix_cache_hits_total");
  values.prefix_hit_pct = queries > 0 ? (100 * Math.min(hits, queries)) / queries : null;
  record(t, values);

  setTile("tile-running", values.running, fmtCount);
  setTile("tile-waiting", values.waiting, fmtCount);
  setTile("tile-tps", values.generated_tps, fmtRate);
  setTile("tile-kv", values.kv_use_pct, fmtPct);
  setTile("tile-hit", values.prefix_hit_pct, fmtPct);
  setTile("tile-served", sumOf(metrics, "nagare:request_success_total"), fmtCount);
  renderModels(ps.models || [], metrics);
  if (requests) renderRequests(requests);
  showError("");
  dashboard.polls++;
}

// One refresh at a time, started about a second after the previous one started: a slow server
// stretches the interval instead of piling up requests.
async function loop() {
  const started = performance.now();
  try {
    await refresh();
  } catch (e) {
    // A malformed answer: say so on the page and keep going, the next poll may be fine.
    showError(`Could not read the server's answer: ${e.message}`);
  }
  setTimeout(loop, Math.max(0, POLL_MS - (performance.now() - started)));
}

const keyInput = $("api-key");
keyInput.value = apiKey();
keyInput.addEventListener("change", () => setApiKey(keyInput.value));
// The field sits in a form so password managers and browsers treat it as one; Enter saves the
// key instead of reloading the page.
$("api-key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  setApiKey(keyInput.value);
});
loop();
