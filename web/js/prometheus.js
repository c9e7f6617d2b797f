// Reading /metrics in the browser: a parser of the Prometheus text exposition format (0.0.4) and
// the two computations the dashboard needs over a time window — how much counters grew, and
// histogram quantiles the way PromQL's histogram_quantile(q, increase(x_bucket[30s])) gives them.

// Parses exposition text into { samples: [{ name, labels, value }], types, help }. A line that
// does not parse is skipped rather than failing the whole scrape: one odd sample should not
// blank the dashboard.
export function parseMetrics(text) {
  const samples = [];
  const types = new Map();
  const help = new Map();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line) continue;
    if (line.startsWith("#")) {
      // Only "# HELP" and "# TYPE" carry meaning; any other comment is free text.
      const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/.exec(line);
      if (m && m[1] === "TYPE") types.set(m[2], (m[3] || "untyped").trim());
      else if (m) help.set(m[2], unescapeHelp(m[3] || ""));
      continue;
    }
    const sample = parseSample(line);
    if (sample) samples.push(sample);
  }
  return { samples, types, help };
}

// HELP text escapes only backslash and newline (label values also escape the double quote).
function unescapeHelp(s) {
  return s.replace(/\\(\\|n)/g, (_, c) => (c === "n" ? "\n" : "\\"));
}

// Go's ParseFloat, which Prometheus uses, accepts Inf/NaN spellings that Number() does not.
function parseValue(s) {
  const lower = s.toLowerCase();
  if (lower === "nan") return NaN;
  if (lower === "+inf" || lower === "inf") return Infinity;
  if (lower === "-inf") return -Infinity;
  const v = Number(s);
  return s !== "" && !Number.isNaN(v) ? v : undefined;
}

// name{label="value",...} value [timestamp]. Label values are scanned character by character
// because they may hold escaped quotes, commas, braces and spaces.
function parseSample(line) {
  const nameMatch = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(line);
  if (!nameMatch) return null;
  const name = nameMatch[0];
  const labels = {};
  let i = name.length;
  const skipSpace = () => { while (line[i] === " " || line[i] === "\t") i++; };
  skipSpace();
  if (line[i] === "{") {
    i++;
    for (;;) {
      skipSpace();
      if (line[i] === "}") { i++; break; }
      const key = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(line.slice(i));
      if (!key) return null;
      i += key[0].length;
      skipSpace();
      if (line[i++] !== "=") return null;
      skipSpace();
      if (line[i++] !== '"') return null;
      let value = "";
      for (;;) {
        if (i >= line.length) return null;  // unterminated value
        const c = line[i++];
        if (c === '"') break;
        if (c === "\\") {
          const e = line[i++];
          value += e === "n" ? "\n" : e === '"' ? '"' : e === "\\" ? "\\" : "\\" + (e ?? "");
        } else value += c;
      }
      labels[key[0]] = value;
      skipSpace();
      if (line[i] === ",") i++;  // a trailing comma before "}" is allowed
      else if (line[i] !== "}") return null;
    }
  }
  // What follows is the value and an optional timestamp, which the dashboard does not need.
  const rest = line.slice(i).trim().split(/\s+/);
  const value = parseValue(rest[0] ?? "");
  if (value === undefined) return null;
  return { name, labels, value };
}

// The sum of every sample of `name` (e.g. a gauge over all models); 0 when there is none.
export function sumOf(metrics, name) {
  let total = 0;
  for (const s of metrics.samples) if (s.name === name && !Number.isNaN(s.value)) total += s.value;
  return total;
}

// A stable key for a label set, ignoring `except` (used to group histogram buckets by series).
function seriesKey(labels, except = "") {
  return Object.keys(labels).filter((k) => k !== except).sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`).join(",");
}

function valuesByKey(metrics, name) {
  const out = new Map();
  for (const s of metrics.samples) if (s.name === name) out.set(seriesKey(s.labels), s.value);
  return out;
}

// How much counter `name` grew from `older` to `newer`, summed over its series. A series that is
// new (a model loaded since) counts from 0; one that went down was reset (the model reloaded or
// the server restarted), so all of its present value is the growth, as PromQL's increase() does.
export function counterIncrease(newer, older, name) {
  const before = valuesByKey(older, name);
  let total = 0;
  for (const [key, v] of valuesByKey(newer, name)) {
    const b = before.get(key) ?? 0;
    total += v >= b ? v - b : v;
  }
  return total;
}

// Cumulative buckets [{ le, count }] of histogram `name` observed between `older` and `newer`,
// summed over its series (models). Resets are judged per series from _count, so the buckets of
// one series stay consistent with each other.
export function bucketIncrease(newer, older, name) {
  const olderCounts = valuesByKey(older, name + "_count");
  const olderBuckets = new Map();
  for (const s of older.samples)
    if (s.name === name + "_bucket") olderBuckets.set(seriesKey(s.labels), s.value);
  const newerCounts = valuesByKey(newer, name + "_count");
  const byLe = new Map();
  for (const s of newer.samples) {
    if (s.name !== name + "_bucket" || s.labels.le === undefined) continue;
    const series = seriesKey(s.labels, "le");
    const reset = (newerCounts.get(series) ?? 0) < (olderCounts.get(series) ?? 0);
    const base = reset ? 0 : olderBuckets.get(seriesKey(s.labels)) ?? 0;
    const le = parseValue(s.labels.le);
    if (le === undefined || Number.isNaN(le)) continue;
    byLe.set(le, (byLe.get(le) ?? 0) + Math.max(0, s.value - base));
  }
  return [...byLe].map(([le, count]) => ({ le, count })).sort((a, b) => a.le - b.le);
}

// PromQL's histogram_quantile: the q-quantile assuming observations spread evenly inside their
// bucket. Returns null when there were no observations, so charts show a gap rather than a 0.
export function histogramQuantile(q, buckets) {
  if (buckets.length < 2 || buckets[buckets.length - 1].le !== Infinity) return null;
  // Rounding in the sum over series can make counts dip; quantiles need them monotonic.
  const counts = [];
  for (const b of buckets) counts.push(Math.max(b.count, counts.length ? counts[counts.length - 1] : 0));
  const total = counts[counts.length - 1];
  if (!(total > 0)) return null;
  const rank = q * total;
  let b = counts.findIndex((c) => c >= rank);
  if (b === buckets.length - 1) return buckets[b - 1].le;  // in the +Inf bucket: its lower bound
  if (b === 0 && buckets[0].le <= 0) return buckets[0].le;
  const start = b === 0 ? 0 : buckets[b - 1].le;
  const below = b === 0 ? 0 : counts[b - 1];
  const inBucket = counts[b] - below;
  if (inBucket <= 0) return start;
  return start + (buckets[b].le - start) * ((rank - below) / inBucket);
}

// The q-quantile of histogram `name` over the observations made between two scrapes.
export function windowQuantile(q, newer, older, name) {
  return histogramQuantile(q, bucketIncrease(newer, older, name));
}
