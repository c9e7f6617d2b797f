// A small canvas line chart for the dashboard: a sliding time window, a y axis with round ticks,
// gaps where data is missing, and an HTML legend with each series' latest value (HTML so that it
// stays crisp, selectable and readable by screen readers, which cannot see into a canvas).
// Colours come from theme.css's variables at every draw, so light and dark themes both work.

const FONT_PX = 12;
const PAD = { top: 10, right: 12, bottom: 22, left: 8 };

// Every chart on the page redraws when the system theme flips, since its colours are read
// from CSS variables only when drawing.
const charts = new Set();
window.matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => {
  for (const c of charts) c.draw();
});

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// A "nice" step (1, 2, 2.5 or 5 times a power of ten) giving about `count` ticks up to `max`.
function niceStep(max, count) {
  const raw = max / count;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 2.5, 5, 10].find((m) => m * pow >= raw);
  return unit * pow;
}

// Decimals that show a multiple of `step` exactly (2.5 needs one, 0.25 two, 20 none).
function decimalsFor(step) {
  let d = 0;
  while (d < 6 && Math.abs(Math.round(step * 10 ** d) - step * 10 ** d) > 1e-9) d++;
  return d;
}

export class LineChart {
  // series: [{ key, label, color: "--chart-1", dashed }]; options: windowMs (x range), gapMs (a
  // longer pause between points breaks the line), max (a fixed y top, e.g. 100 for percentages),
  // integer (ticks at whole numbers only), format(v) for the legend values.
  constructor(canvas, legend, series, options = {}) {
    this.canvas = canvas;
    this.series = series;
    this.windowMs = options.windowMs ?? 120_000;
    this.gapMs = options.gapMs ?? 5_000;
    this.max = options.max;
    this.integer = options.integer ?? false;
    this.format = options.format ?? ((v) => String(v));
    this.history = {};
    this.now = Date.now();
    this.values = new Map();
    legend.replaceChildren();
    for (const s of series) {
      const item = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = "swatch";
      swatch.setAttribute("aria-hidden", "true");
      // The dashed swatch matches the dashed line, so series differ by more than colour alone.
      swatch.style.borderTopColor = `var(${s.color})`;
      swatch.style.borderTopStyle = s.dashed ? "dashed" : "solid";
      const label = document.createElement("span");
      label.textContent = s.label + ": ";
      const value = document.createElement("span");
      value.className = "value";
      value.textContent = "–";
      item.append(swatch, label, value);
      legend.append(item);
      this.values.set(s.key, value);
    }
    // Redraw at the new size whenever layout changes the canvas's box (window resize, zoom).
    new ResizeObserver(() => this.draw()).observe(canvas);
    charts.add(this);
  }

  // history: { key: [{ t, v }] } (shared with the page, not copied); now: the window's right end.
  update(history, now = Date.now()) {
    this.history = history;
    this.now = now;
    for (const s of this.series) {
      const points = history[s.key] || [];
      const last = points[points.length - 1];
      this.values.get(s.key).textContent = last && last.v != null ? this.format(last.v) : "–";
    }
    this.draw();
  }

  draw() {
    const { canvas } = this;
    const width = canvas.clientWidth;
    const height = canvas.clientHeight;
    if (!width || !height) return;  // hidden: nothing to draw until it has a box
    const dpr = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
      canvas.width = Math.round(width * dpr);
      canvas.height = Math.round(height * dpr);
    }
    const ctx = canvas.getContext("2d");
    // Draw in CSS pixels; the transform maps them onto the device pixels of the backing store.
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const font = getComputedStyle(document.body).fontFamily;
    ctx.font = `${FONT_PX}px ${font}`;
    const muted = cssVar("--fg-muted");
    const grid = cssVar("--border");

    const start = this.now - this.windowMs;
    let top = this.max;
    if (top === undefined) {
      let seen = 0;
      for (const s of this.series)
        for (const p of this.history[s.key] || []) if (p.t >= start && p.v != null) seen = Math.max(seen, p.v);
      top = seen > 0 ? seen : 1;
    }
    let step = niceStep(top, 4);
    if (this.integer) step = Math.max(1, Math.ceil(step));
    top = Math.ceil(top / step - 1e-9) * step;
    const decimals = decimalsFor(step);
    const ticks = [];
    for (let v = 0; v <= top + step / 2; v += step) ticks.push(v);

    const labelWidth = Math.max(...ticks.map((v) => ctx.measureText(v.toFixed(decimals)).width));
    const left = PAD.left + labelWidth + 6;
    const right = width - PAD.right;
    const bottom = height - PAD.bottom;
    const x = (t) => left + ((t - start) / this.windowMs) * (right - left);
    const y = (v) => bottom - (v / top) * (bottom - PAD.top);

    // Horizontal grid lines with their values on the y axis.
    ctx.lineWidth = 1;
    ctx.strokeStyle = grid;
    ctx.fillStyle = muted;
    ctx.textAlign = "right";
    ctx.textBaseline = "middle";
    for (const v of ticks) {
      const py = Math.round(y(v)) + 0.5;  // on a pixel's centre, so 1px lines stay sharp
      ctx.beginPath();
      ctx.moveTo(left, py);
      ctx.lineTo(right, py);
      ctx.stroke();
      ctx.fillText(v.toFixed(decimals), left - 6, py);
    }
    // Time labels every 30 s, fixed to the window so the eye reads the lines scrolling by.
    ctx.textBaseline = "top";
    for (let ago = 0; ago <= this.windowMs; ago += 30_000) {
      ctx.textAlign = ago === 0 ? "right" : ago === this.windowMs ? "left" : "center";
      ctx.fillText(ago === 0 ? "now" : `−${ago / 1000} s`, x(this.now - ago), bottom + 6);
    }

    ctx.save();
    ctx.beginPath();
    ctx.rect(left, PAD.top - 2, right - left, bottom - PAD.top + 4);
    ctx.clip();  // points just before the window may start a line; only its visible part shows
    ctx.lineWidth = 2;
    ctx.lineJoin = "round";
    for (const s of this.series) this.drawSeries(ctx, s, x, y, start);
    ctx.restore();
  }

  drawSeries(ctx, s, x, y, start) {
    const color = cssVar(s.color);
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.setLineDash(s.dashed ? [6, 4] : []);
    const points = (this.history[s.key] || []).filter((p) => p.t >= start - this.gapMs);
    // Split into runs of consecutive points; a null value or a long pause ends a run.
    const runs = [];
    let run = [];
    let prevT = -Infinity;
    for (const p of points) {
      if (p.v == null || !Number.isFinite(p.v) || p.t - prevT > this.gapMs) {
        if (run.length) runs.push(run);
        run = [];
      }
      if (p.v != null && Number.isFinite(p.v)) run.push(p);
      prevT = p.t;
    }
    if (run.length) runs.push(run);
    for (const r of runs) {
      if (r.length === 1) {
        // A lone point between gaps would be invisible as a line: show it as a dot.
        ctx.beginPath();
        ctx.arc(x(r[0].t), y(r[0].v), 2.5, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      r.forEach((p, i) => (i ? ctx.lineTo(x(p.t), y(p.v)) : ctx.moveTo(x(p.t), y(p.v))));
      ctx.stroke();
    }
    ctx.setLineDash([]);
  }
}
