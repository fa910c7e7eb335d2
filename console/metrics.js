// Metrics: samples GET /v1/console/stats every 3 s from sign-in on, keeps the
// last 15 minutes, and draws small line charts on canvas (no library).

import { api } from "./api.js";
import { fill, h } from "./dom.js";

const PERIOD_MS = 3000;
const WINDOW_MS = 15 * 60 * 1000;
const samples = []; // {ts, stats}; bounded by WINDOW_MS
let timer = null;
let onSample = null;

async function sample() {
  try {
    const stats = await api("GET", "/v1/console/stats");
    samples.push({ ts: stats.ts, stats });
    while (samples.length && samples[0].ts < stats.ts - WINDOW_MS) samples.shift();
    onSample?.();
  } catch {
    /* a missed sample is a gap in the chart */
  }
}

/** Starts background sampling (idempotent). */
export function startSampling() {
  if (timer) return;
  sample();
  timer = setInterval(sample, PERIOD_MS);
}

/** Stops sampling and forgets the history. */
export function stopSampling() {
  clearInterval(timer);
  timer = null;
  samples.length = 0;
}

/** Per-second rate of a counter between consecutive samples. */
function rate(get) {
  const out = [];
  for (let i = 1; i < samples.length; i++) {
    const dt = (samples[i].ts - samples[i - 1].ts) / 1000;
    if (dt > 0) out.push([samples[i].ts, Math.max(0, (get(samples[i].stats) - get(samples[i - 1].stats)) / dt)]);
  }
  return out;
}

const SERIES = [
  ["Connections", () => samples.map((s) => [s.ts, s.stats.connections.websocket + s.stats.connections.sse])],
  ["Deliveries / s", () => rate((s) => s.events_delivered_total)],
  ["Writes / s", () => rate((s) => s.log_head)],
  ["Feed lag (changes)", () => samples.map((s) => [s.ts, s.stats.feed_lag])],
  ["Slow-consumer closes", () => samples.map((s) => [s.ts, s.stats.slow_consumers_closed_total])],
];

function draw(canvas, points) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 400;
  const hgt = canvas.clientHeight || 160;
  canvas.width = w * dpr;
  canvas.height = hgt * dpr;
  const ctx = canvas.getContext("2d");
  ctx.scale(dpr, dpr);
  const css = getComputedStyle(document.documentElement);
  const fg = css.getPropertyValue("--muted").trim() || "#666";
  const line = css.getPropertyValue("--chart1").trim() || "#06c";
  const grid = css.getPropertyValue("--line").trim() || "#ccc";
  const now = Date.now();
  const x0 = now - WINDOW_MS;
  const max = Math.max(1, ...points.map((p) => p[1]));
  const pad = { l: 44, r: 6, t: 8, b: 18 };
  const X = (t) => pad.l + ((t - x0) / WINDOW_MS) * (w - pad.l - pad.r);
  const Y = (v) => hgt - pad.b - (v / max) * (hgt - pad.t - pad.b);
  ctx.font = "11px system-ui, sans-serif";
  ctx.fillStyle = fg;
  ctx.strokeStyle = grid;
  ctx.lineWidth = 1;
  for (const v of [0, max / 2, max]) {
    ctx.beginPath();
    ctx.moveTo(pad.l, Y(v));
    ctx.lineTo(w - pad.r, Y(v));
    ctx.stroke();
    ctx.fillText(v >= 100 ? String(Math.round(v)) : String(Math.round(v * 10) / 10), 2, Y(v) + 4);
  }
  ctx.fillText("-15 min", pad.l, hgt - 4);
  ctx.fillText("now", w - pad.r - 22, hgt - 4);
  ctx.strokeStyle = line;
  ctx.lineWidth = 2;
  ctx.beginPath();
  points.forEach(([t, v], i) => (i ? ctx.lineTo(X(t), Y(v)) : ctx.moveTo(X(t), Y(v))));
  ctx.stroke();
}

export function render(main) {
  const charts = SERIES.map(([label, get]) => {
    const canvas = h("canvas", { role: "img", "aria-label": label });
    const value = h("span", { class: "muted" });
    return { label, get, canvas, value, node: h("figure", { class: "chart" }, h("figcaption", {}, label, " ", value), canvas) };
  });
  const redraw = () => {
    for (const c of charts) {
      const pts = c.get();
      fill(c.value, pts.length ? `now ${Math.round(pts[pts.length - 1][1] * 10) / 10}` : "waiting for samples…");
      draw(c.canvas, pts);
    }
  };
  fill(
    main,
    h("h2", {}, "Metrics"),
    h("p", { class: "muted" }, "This server, sampled every 3 s since sign-in; last 15 minutes."),
    h("div", { class: "charts" }, charts.map((c) => c.node)),
  );
  onSample = redraw;
  redraw();
  window.addEventListener("resize", redraw);
  return () => {
    onSample = null;
    window.removeEventListener("resize", redraw);
  };
}
